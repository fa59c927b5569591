/**
 * How to start each benchmark target as a child process on a given port with the bench app
 * (id `bench`, key `bench-key`, secret `bench-secret`, client events on, no connection or rate limits),
 * optionally pinned to one core with `taskset`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APP, TARGET_HOST, sleep } from './common.js';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(BENCH_DIR, '..');
/** Compiled bench (plain JS, so measured children run without a TypeScript loader). */
export const BUILD_DIR = join(BENCH_DIR, '.build');
export const SOKETI_DIR = join(BENCH_DIR, 'peers', 'soketi');
export const SOKETI_BIN = join(SOKETI_DIR, 'node_modules', '@soketi', 'soketi', 'bin', 'server.js');
export const HERALD_CLI = join(ROOT, 'dist', 'src', 'cli.js');
export const LOG_DIR = join(BENCH_DIR, 'results', 'logs');

export const TARGETS = ['herald', 'soketi', 'bare'] as const;
export type TargetName = (typeof TARGETS)[number];

export interface Pinning {
  /** Core for the server (`taskset -c`), or null for no pinning. */
  server: number | null;
  /** Core for the load generators, or null. */
  load: number | null;
}

export function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Prefix `cmd args` with `taskset -c core` when pinning. */
export function pinned(core: number | null, cmd: string, args: string[]): [string, string[]] {
  return core === null ? [cmd, args] : ['taskset', ['-c', String(core), cmd, ...args]];
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, TARGET_HOST, () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = net.connect({ host: TARGET_HOST, port });
    const done = (ok: boolean): void => {
      s.destroy();
      res(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

export interface ServerHandle {
  target: TargetName;
  pid: number;
  port: number;
  /** Tail of the server's stdout+stderr (also written to bench/results/logs). */
  output(): string;
  alive(): boolean;
  stop(): Promise<void>;
}

interface Spec {
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  cleanup?: () => void;
}

async function specFor(target: TargetName, port: number, heraldConfig: Record<string, unknown> = {}): Promise<Spec> {
  switch (target) {
    case 'herald': {
      if (!existsSync(HERALD_CLI)) throw new Error(`Herald is not built: ${HERALD_CLI} is missing (npm run build)`);
      const dir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
      const config = join(dir, 'config.json');
      writeFileSync(
        config,
        JSON.stringify({
          host: TARGET_HOST,
          apps: [
            {
              id: APP.id,
              key: APP.key,
              secret: APP.secret,
              clientEvents: 'members',
              clientEventRateLimit: 0,
              maxPresenceMembers: 100_000,
              maxChannelsPerConnection: 1000,
            },
          ],
          metricsEnabled: false,
          logLevel: 'warn',
          ...heraldConfig,
        }),
      );
      return {
        cmd: process.execPath,
        // Started as the Dockerfile and `npm start` start it (README, Memory).
        args: ['--max-semi-space-size=1', HERALD_CLI, 'start', '--port', String(port), '--config', config],
        cwd: ROOT,
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
      };
    }
    case 'soketi': {
      if (!existsSync(SOKETI_BIN)) throw new Error(`Soketi is not installed (${SOKETI_BIN}); run: npm run bench -- --install`);
      const metricsPort = await freePort();
      const clusterPort = await freePort();
      return {
        cmd: process.execPath,
        args: [SOKETI_BIN, 'start'],
        cwd: SOKETI_DIR,
        env: {
          SOKETI_HOST: TARGET_HOST,
          SOKETI_PORT: String(port),
          SOKETI_DEFAULT_APP_ID: APP.id,
          SOKETI_DEFAULT_APP_KEY: APP.key,
          SOKETI_DEFAULT_APP_SECRET: APP.secret,
          SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true',
          SOKETI_DEFAULT_APP_MAX_CONNS: '-1',
          SOKETI_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC: '-1',
          SOKETI_DEFAULT_APP_MAX_CLIENT_EVENTS_PER_SEC: '-1',
          SOKETI_DEFAULT_APP_MAX_READ_REQ_PER_SEC: '-1',
          SOKETI_PRESENCE_MAX_MEMBERS: '100000',
          SOKETI_METRICS_ENABLED: 'false',
          SOKETI_METRICS_HOST: TARGET_HOST,
          SOKETI_METRICS_SERVER_PORT: String(metricsPort),
          // Soketi always starts node-discover (UDP, broadcast to 255.255.255.255 by default):
          // keep its hello packets on loopback, addressed to itself only.
          SOKETI_CLUSTER_HOST: TARGET_HOST,
          SOKETI_CLUSTER_PORT: String(clusterPort),
          SOKETI_CLUSTER_UNICAST_ADDRESSES: `${TARGET_HOST}:${clusterPort}`,
          SOKETI_DEBUG: 'false',
        },
      };
    }
    case 'bare':
      return {
        cmd: process.execPath,
        args: [join(BUILD_DIR, 'peers', 'bare.js'), '--port', String(port), '--host', TARGET_HOST],
        cwd: ROOT,
      };
  }
}

const TAIL = 64 * 1024;

export async function startServer(
  target: TargetName,
  opts: { core: number | null; logName: string; nodeFlags?: string[]; heraldConfig?: Record<string, unknown> },
): Promise<ServerHandle> {
  const port = await freePort();
  const spec = await specFor(target, port, opts.heraldConfig);
  const [cmd, args] = pinned(opts.core, spec.cmd, [...(opts.nodeFlags ?? []), ...spec.args]);
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = createWriteStream(join(LOG_DIR, `${opts.logName}.log`));
  // Only what the server needs: no NODE_OPTIONS or loader inherited from the tsx-run harness.
  const baseEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production' };
  const child: ChildProcess = spawn(cmd, args, {
    cwd: spec.cwd,
    env: { ...baseEnv, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  let exited: string | null = null;
  const onOut = (b: Buffer): void => {
    logFile.write(b);
    tail = (tail + b.toString()).slice(-TAIL);
  };
  child.stdout!.on('data', onOut);
  child.stderr!.on('data', onOut);
  const exitP = new Promise<void>((res) =>
    child.on('exit', (code, signal) => {
      exited = `exited with ${code ?? signal}`;
      logFile.end();
      spec.cleanup?.();
      res();
    }),
  );
  const handle: ServerHandle = {
    target,
    pid: child.pid!,
    port,
    output: () => tail,
    alive: () => exited === null,
    stop: async () => {
      if (exited === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exitP;
        clearTimeout(t);
      }
    },
  };
  const deadline = performance.now() + 30_000;
  for (let i = 0; i < 600; i++) {
    if (exited !== null) throw new Error(`${target} ${exited} before listening:\n${tail}`);
    if (await canConnect(port)) return handle;
    if (performance.now() > deadline) break;
    await sleep(50);
  }
  await handle.stop();
  throw new Error(`${target} did not listen on ${TARGET_HOST}:${port} within 30 s:\n${tail}`);
}
