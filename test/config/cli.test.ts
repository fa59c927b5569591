import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UWS_BUILDS, loadBuild, supportedCombinations } from '../../src/transport/engine.js';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'herald-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The environment without HERALD_* so the developer's shell cannot change results. */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_')));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function herald(args: string[], env: Record<string, string> = {}, node = process.execPath): Promise<Run> {
  return new Promise((resolve) => {
    // Same as `npx tsx src/cli.ts`, minus the npm and tsx wrapper processes (keeps the suite fast).
    const argv = ['--import', 'tsx', 'src/cli.ts', ...args];
    execFile(node, argv, { cwd: root, env: { ...cleanEnv, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const stderrLines = (r: Run): string[] => r.stderr.split('\n').filter((l) => l !== '');

describe.concurrent('herald CLI', { timeout: 60_000 }, () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const r = await herald(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('--help lists the commands', async () => {
    const r = await herald(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/herald start/);
    expect(r.stdout).toMatch(/herald config/);
    expect(r.stdout).toMatch(/herald check/);
  });

  it('start --help shows the start usage without starting', async () => {
    const r = await herald(['start', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: herald start/);
    expect(r.stdout).toMatch(/--env-file FILE/);
  });

  it('unknown commands and flags are usage errors (exit 2)', async () => {
    const [cmd, flag] = await Promise.all([herald(['serve']), herald(['check', '--prot', '1'])]);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toMatch(/unknown command "serve"/);
    expect(cmd.stderr).toMatch(/Usage:/);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--prot/);
    expect(flag.stderr).toMatch(/Usage: herald check/);
  });

  it('check prints ok for a good config', async () => {
    const file = join(dir, 'good.json');
    writeFileSync(file, JSON.stringify({ port: 6001, apps: [{ id: '1', key: 'k', secret: 's' }] }));
    const r = await herald(['check', '--config', file]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('ok');
    expect(stderrLines(r)).toEqual([]);
  });

  it('check prints one line per problem and exits 1 for a bad config', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ port: 70000, apps: [{ id: '1', key: 'k', secret: 's', clientEvents: 'everyone' }] }));
    const r = await herald(['check', '--config', file], { HERALD_APP_MAX_CONNECTIONS: '-1' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(stderrLines(r).sort()).toEqual([
      `apps[0].clientEvents: expected one of none, members, all, got "everyone" (from config file ${file})`,
      'apps[0].maxConnections: expected a non-negative integer, got -1 (from HERALD_APP_MAX_CONNECTIONS)',
      `port: expected an integer from 0 to 65535, got 70000 (from config file ${file})`,
    ]);
  });

  it('config --env-file prints the config with masked secrets and sources', async () => {
    const envFile = join(dir, '.env');
    writeFileSync(envFile, 'REVERB_APP_ID=42\nREVERB_APP_KEY=laravel-key\nREVERB_APP_SECRET="laravel-secret-xy"\nREVERB_SERVER_PORT=6001\n');
    const r = await herald(['config', '--env-file', envFile, '--debug']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('laravel-secret-xy');
    const out = JSON.parse(r.stdout) as { config: { port: number; logLevel: string; apps: { id: string; key: string; secret: string }[] }; sources: Record<string, string> };
    expect(out.config.port).toBe(6001);
    expect(out.config.logLevel).toBe('debug');
    expect(out.config.apps[0]).toMatchObject({ id: '42', key: 'laravel-key', secret: '****xy' });
    expect(out.sources).toEqual({
      'apps[0].id': `env-file:${envFile} (REVERB_APP_ID)`,
      'apps[0].key': `env-file:${envFile} (REVERB_APP_KEY)`,
      'apps[0].secret': `env-file:${envFile} (REVERB_APP_SECRET)`,
      port: `env-file:${envFile} (REVERB_SERVER_PORT)`,
      logLevel: 'flag:--debug',
    });
  });
});

// After the concurrent block, one process at a time: each one starts Node, tsx and a native addon.
describe('herald CLI when no uWebSockets.js build loads', { timeout: 60_000 }, () => {
  // The issue's own case: a current Node on an older distribution. `.ci/node24` leaves the official Node 24
  // binary in its root; on a glibc < 2.38 host (Debian 12) neither build loads under it.
  const otherNode = process.env.HERALD_TEST_OTHER_NODE ?? '/var/cache/herald/trixie-root/opt/node/bin/node';
  const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime ?? '0';
  const olderGlibc = Number(glibc.split('.')[1]) < 38 && glibc.startsWith('2.');
  it.skipIf(!existsSync(otherNode) || !olderGlibc)('under Node 24 on glibc < 2.38, start and check say in one line that no build loads', async () => {
    const file = join(dir, 'node24.json');
    writeFileSync(file, JSON.stringify({ port: 0, metricsEnabled: false, apps: [{ id: '1', key: 'k', secret: 's' }] }));
    for (const command of ['start', 'check']) {
      const r = await herald([command, '--config', file], {}, otherNode);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      const lines = stderrLines(r);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^herald: no native uWebSockets\\.js build loads on Node v\\d+\\.\\d+\\.\\d+ \\(ABI \\d+\\) on linux-x64, glibc ${glibc.replace('.', '\\.')}: `));
      expect(lines[0]).toMatch(/: v20\.57: \S+libc\.so\.6: version `GLIBC_2\.38' not found/);
      expect(lines[0]).toMatch(/; v20\.4x: no binary for linux-x64 Node ABI \d+\. Supported: /);
      expect(lines[0]).toContain(supportedCombinations());
    }
  });

  // On Node 20 / Debian 12 v20.57 cannot load (glibc 2.36); on Node 24 (.ci/node24) v20.4x cannot.
  const refused = UWS_BUILDS.find((build) => 'reason' in loadBuild(build));
  it.skipIf(refused === undefined)('start and check exit 1 with one line when the uWebSockets.js build cannot load', async () => {
    const file = join(dir, 'engine.json');
    writeFileSync(file, JSON.stringify({ port: 0, metricsEnabled: false, apps: [{ id: '1', key: 'k', secret: 's' }] }));
    for (const command of ['start', 'check']) {
      const r = await herald([command, '--config', file], { HERALD_UWS: refused!.version });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      const lines = stderrLines(r);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^herald: no native uWebSockets\\.js build loads on Node ${process.version.replace(/\./g, '\\.')} `));
      expect(lines[0]).toContain(`(uws is set to ${refused!.version}): v${refused!.version}: `);
      expect(lines[0]).toContain(supportedCombinations());
    }
  });
});
