import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { freePort } from '../helpers/net.js';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parse as parseYaml } from 'yaml';
import { appSchema, serverSchema, type OptionMeta } from '../../src/config/schema.js';

/**
 * There is no Docker engine here, so the Dockerfile is checked by parsing it and by running what it
 * runs outside Docker: its COPY lines into a temporary tree, the build, the production-only install,
 * then its ENTRYPOINT/CMD (as uid 1000, like `USER node`) probed with its own HEALTHCHECK command.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  body: Instruction[];
}

/** Instructions (continuations joined, comments dropped) grouped by FROM. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // comment inside a continued instruction
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(current + line);
    current = '';
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const space = line.search(/\s/);
    const op = line.slice(0, space).toUpperCase();
    const args = line.slice(space + 1).trim();
    if (op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ from: m?.[1] ?? args, name: m?.[2], body: [] });
    } else {
      if (stages.length === 0) throw new Error(`${op} before FROM`);
      stages.at(-1)!.body.push({ op, args });
    }
  }
  return stages;
}

/** An exec-form (JSON array) argument, or the shell form wrapped in `sh -c`. */
const argv = (args: string): string[] => (args.startsWith('[') ? (JSON.parse(args) as string[]) : ['sh', '-c', args]);
const all = (stage: Stage, op: string) => stage.body.filter((i) => i.op === op);
const only = (stage: Stage, op: string) => {
  const found = all(stage, op);
  expect(found, `${op} in stage ${stage.name}`).toHaveLength(1);
  return found[0]!;
};

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const build = stages[0]!;
const runtime = stages.at(-1)!;
const healthcheck = only(runtime, 'HEALTHCHECK').args;
const healthcheckCmd = argv(healthcheck.slice(healthcheck.indexOf('CMD ') + 4).trim());

describe('Dockerfile', () => {
  it('is multi-stage on Node 20 / Debian bookworm slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.from).toBe('node:20-bookworm-slim');
    expect(build.name).toBe('build');
    expect(all(runtime, 'COPY').some((c) => c.args.startsWith(`--from=${build.name} `) && c.args.includes('/dist'))).toBe(true);
  });

  it('installs production dependencies only in the runtime stage', () => {
    const installs = all(runtime, 'RUN').filter((r) => /\bnpm (ci|install|i)\b/.test(r.args));
    expect(installs).toHaveLength(1);
    expect(installs[0]!.args).toMatch(/npm ci\b[^&]*--omit=dev/);
    expect(installs[0]!.args).toContain('--ignore-scripts');
    // Sources stay in the build stage.
    for (const copy of all(runtime, 'COPY')) expect(copy.args).not.toMatch(/^(src|protocol|test)\b/);
  });

  it('runs as a non-root user, exposes both ports and checks /up', () => {
    const user = only(runtime, 'USER').args;
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(user).toBe('node');
    expect(only(runtime, 'EXPOSE').args.split(/\s+/).sort()).toEqual(['8080', '9601']);
    expect(healthcheck).toMatch(/--interval=\S+/);
    expect(healthcheckCmd[0]).toBe('node');
    expect(healthcheckCmd.join(' ')).toContain('/up');
    const command = [...argv(only(runtime, 'ENTRYPOINT').args), ...argv(only(runtime, 'CMD').args)];
    expect(command).toEqual(['node', '--max-semi-space-size=1', 'dist/src/cli.js', 'start']);
  });

  it('copies nothing that .dockerignore leaves out of the context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const toRegExp = (p: string) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/.*)?$`);
    for (const copy of stages.flatMap((s) => all(s, 'COPY')).filter((c) => !c.args.startsWith('--from='))) {
      for (const source of copy.args.split(/\s+/).slice(0, -1)) {
        expect(existsSync(join(ROOT, source)), `${source} exists`).toBe(true);
        for (const pattern of ignored) expect(toRegExp(pattern).test(source), `${source} vs .dockerignore ${pattern}`).toBe(false);
      }
    }
  });
});


/**
 * Replays one stage's WORKDIR/COPY/RUN into `dir` (standing for its WORKDIR). The build stage's
 * `npm ci` is replaced by the repository's node_modules: CI has just run the same `npm ci` on the
 * same lockfile. `npm cache clean` is skipped: outside a container it would empty the machine's cache.
 */
async function replay(stage: Stage, dir: string, stageDirs: Map<string, string>): Promise<void> {
  let workdir: string | undefined;
  const local = (p: string) => {
    if (!workdir) throw new Error('COPY/RUN before WORKDIR');
    return join(dir, p.startsWith(workdir) ? p.slice(workdir.length) : p);
  };
  for (const { op, args } of stage.body) {
    if (op === 'WORKDIR') workdir = args;
    else if (op === 'COPY') {
      const parts = args.split(/\s+/);
      const from = parts[0]!.startsWith('--from=') ? parts.shift()!.slice('--from='.length) : undefined;
      const dest = parts.pop()!;
      for (const source of parts) {
        const src = from ? join(stageDirs.get(from)!, source.replace(/^\/app\/?/, '')) : join(ROOT, source);
        const target = dest.endsWith('/') ? join(local(dest), source.split('/').pop()!) : local(dest);
        mkdirSync(dirname(target), { recursive: true });
        cpSync(src, target, { recursive: true });
      }
    } else if (op === 'RUN') {
      for (const command of args.split('&&').map((c) => c.trim())) {
        if (stage === build && /^npm ci\b/.test(command)) {
          symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
          continue;
        }
        if (/^npm cache clean\b/.test(command)) continue;
        await run('sh', ['-c', command], { cwd: dir, env: { ...process.env, npm_config_update_notifier: 'false' }, maxBuffer: 16 << 20 });
      }
    }
  }
}

describe('the Dockerfile commands, outside Docker', () => {
  let tmp: string;
  let buildDir: string;
  let appDir: string;
  let child: ChildProcess | undefined;
  let output = '';
  const logs: Record<string, unknown>[] = [];
  const env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'herald-docker-'));
    chmodSync(tmp, 0o755);
    buildDir = join(tmp, 'build');
    appDir = join(tmp, 'app');
    mkdirSync(buildDir);
    mkdirSync(appDir);
    const dirs = new Map([[build.name!, buildDir]]);
    await replay(build, buildDir, dirs);
    await replay(runtime, appDir, dirs);
    for (const e of all(runtime, 'ENV')) {
      for (const [, k, v] of e.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[k!] = v!.replace(/^"|"$/g, '');
    }
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('builds dist/ and installs no dev dependency', () => {
    expect(existsSync(join(appDir, 'dist/src/cli.js'))).toBe(true);
    expect(existsSync(join(appDir, 'dist/src/metrics/prometheus.js'))).toBe(true);
    expect(existsSync(join(appDir, 'src'))).toBe(false);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(appDir, 'node_modules', dep)), dep).toBe(true);
    for (const dep of Object.keys(pkg.devDependencies)) expect(existsSync(join(appDir, 'node_modules', dep)), dep).toBe(false);
  });

  it('validates the example config files with the built CLI', async () => {
    const cli = join(appDir, 'dist/src/cli.js');
    const check = await run('node', [cli, 'check', '--config', join(ROOT, 'deploy/herald.json')], { cwd: appDir, env: { PATH: process.env.PATH } });
    expect(check.stdout.trim()).toBe('ok');
    const fromEnvFile = await run('node', [cli, 'config', '--env-file', join(ROOT, 'deploy/laravel.env.example')], { cwd: appDir, env: { PATH: process.env.PATH } });
    const { config } = JSON.parse(fromEnvFile.stdout) as { config: { apps: { id: string; key: string }[] } };
    expect(config.apps).toHaveLength(1);
    expect(config.apps[0]).toMatchObject({ id: '123456', key: 'replace-with-a-random-key' });
  });

  it('starts as a non-root user, passes its HEALTHCHECK, serves WebSockets and metrics, and exits 0 on SIGTERM', async () => {
    const command = [...argv(only(runtime, 'ENTRYPOINT').args), ...argv(only(runtime, 'CMD').args)];
    const asUser = process.getuid?.() === 0 ? { uid: 1000, gid: 1000 } : {};
    child = spawn(command[0]!, command.slice(1), {
      cwd: appDir,
      ...asUser,
      env: {
        PATH: process.env.PATH,
        ...env,
        HERALD_HOST: '127.0.0.1',
        HERALD_PORT: '0',
        HERALD_METRICS_HOST: '127.0.0.1',
        HERALD_METRICS_PORT: '0',
        HERALD_APP_ID: 'app-id',
        HERALD_APP_KEY: 'app-key',
        HERALD_APP_SECRET: 'app-secret',
        HERALD_SHUTDOWN_GRACE_PERIOD: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line.startsWith('{')) logs.push(JSON.parse(line) as Record<string, unknown>);
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

    const logged = (msg: RegExp) => logs.find((l) => typeof l.msg === 'string' && msg.test(l.msg));
    // Both lines: they can reach this process in separate chunks.
    await expect.poll(() => child!.exitCode ?? (logged(/^Prometheus metrics on/) && logged(/^Herald listening/)), { timeout: 15_000 }).toBeTypeOf('object');
    const port = logged(/^Herald listening/)!.port as number;
    const metricsPort = logged(/^Prometheus metrics on/)!.port as number;
    expect(port).toBeGreaterThan(0);

    // The image's own HEALTHCHECK command, against this server and against a closed port.
    const probe = (p: number) =>
      run(healthcheckCmd[0]!, healthcheckCmd.slice(1), { env: { PATH: process.env.PATH, ...env, HERALD_PORT: String(p) } }).then(
        () => 0,
        (err: { code?: number }) => err.code ?? -1,
      );
    expect(await probe(port)).toBe(0);
    expect(await probe(await freePort())).toBe(1);

    const ws = new WebSocket(`ws://127.0.0.1:${port}/app/app-key?protocol=7&client=js&version=8.6.0`);
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data) => resolve(String(data)));
      ws.once('error', reject);
    });
    expect(JSON.parse(first)).toMatchObject({ event: 'pusher:connection_established' });
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toContain('herald_connections{app="app-id"} 1');

    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await closed).toBe(4200);
    expect(await exited, output).toBe(0);
  }, 30_000);
});

describe('docker-compose.yml', () => {
  const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { build?: string; image?: string; environment?: Record<string, string>; ports?: string[]; volumes?: string[]; expose?: string[] }>;
    volumes?: Record<string, unknown>;
  };
  const knownEnv = new Set(
    [...Object.values(serverSchema.shape), ...Object.values(appSchema.shape)].map((s) => (s.meta() as OptionMeta | undefined)?.env).filter(Boolean),
  );

  it('runs Herald, Redis and Caddy', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['caddy', 'herald', 'redis']);
    const { herald, redis, caddy } = compose.services;
    expect(herald!.build).toBe('.');
    expect(redis!.image).toMatch(/^redis:/);
    expect(caddy!.image).toMatch(/^caddy:2/);
  });

  it('configures Herald with known HERALD_* variables and the Laravel app credentials', () => {
    const env = compose.services.herald!.environment!;
    for (const name of Object.keys(env)) expect(knownEnv.has(name), `${name} is a Herald option`).toBe(true);
    expect(env.HERALD_APP_ID).toContain('REVERB_APP_ID');
    expect(env.HERALD_APP_KEY).toContain('REVERB_APP_KEY');
    expect(env.HERALD_APP_SECRET).toContain('REVERB_APP_SECRET');
    expect(compose.services.herald!.expose).toEqual(expect.arrayContaining([env.HERALD_PORT, env.HERALD_METRICS_PORT]));
  });

  it('points Caddy at this Caddyfile and the Herald service', () => {
    const caddy = compose.services.caddy!;
    expect(caddy.volumes).toContain('./Caddyfile:/etc/caddy/Caddyfile:ro');
    expect(caddy.environment!.HERALD_UPSTREAM).toBe(`herald:${compose.services.herald!.environment!.HERALD_PORT}`);
    expect(caddy.ports).toEqual(expect.arrayContaining(['80:80', '443:443']));
    const caddyfile = readFileSync(join(ROOT, 'Caddyfile'), 'utf8');
    expect(caddyfile).toContain('{$HERALD_UPSTREAM:herald:8080}');
    expect(caddyfile).toContain('{$HERALD_SITE_ADDRESS');
    for (const volume of (caddy.volumes ?? []).concat(compose.services.redis!.volumes ?? [])) {
      const source = volume.split(':')[0]!;
      if (!source.startsWith('.')) expect(compose.volumes, `named volume ${source}`).toHaveProperty(source);
    }
  });

  it('documents every variable the compose file needs in deploy/laravel.env.example', () => {
    const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    const example = readFileSync(join(ROOT, 'deploy/laravel.env.example'), 'utf8');
    const required = [...text.matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]!);
    expect(required.length).toBeGreaterThan(0);
    for (const name of required) expect(example).toMatch(new RegExp(`^${name}=`, 'm'));
    expect(example).toMatch(/^HERALD_SITE_ADDRESS=/m);
  });
});
