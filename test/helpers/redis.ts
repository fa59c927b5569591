/**
 * A real `redis-server` of the test's own on a free port (the one on 6379 belongs to someone else),
 * optionally with a password and TLS only, which a test can stop, start again on the same port (with
 * its data, or empty), flush or kill -9. Persistence is off while it runs; keeping data over a
 * restart is one explicit `SHUTDOWN SAVE` into the server's own temporary directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';

/** PEM files for a TLS-only server; the URL then is `rediss://…@localhost` (the certificate's name). */
export interface RedisTls {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export interface RedisServerOptions {
  /** `requirepass`; none by default. */
  password?: string;
  tls?: RedisTls;
  /** More `redis-server` arguments, e.g. `['--cluster-enabled', 'yes']` or `['--replicaof', host, port]`. */
  args?: string[];
}

export interface TestRedis {
  port: number;
  password: string | undefined;
  /** `redis://[:password@]127.0.0.1:port/0` (`rediss://…@localhost` with TLS) */
  url: string;
  /** A plain client (for PUBLISH and EVAL) that reconnects on its own; disconnected by `close()`. */
  client(): Redis;
  /** Kills the server (SIGKILL: an outage, not a shutdown), optionally waits, and starts it again, empty. */
  restart(downMs?: number): Promise<void>;
  /** Whether the server process is up. */
  readonly running: boolean;
  /** Stops the server; `keepData` writes a snapshot that the next `start()` loads. */
  stop(options?: { keepData?: boolean }): Promise<void>;
  /** Starts it again on the same port (after `stop` or `kill`). */
  start(): Promise<void>;
  /** SIGKILL: no snapshot, the next start is empty. */
  kill(): Promise<void>;
  flushAll(): Promise<void>;
  /** One command on a short-lived connection, e.g. `command('INFO', 'commandstats')`. */
  command(...args: (string | number)[]): Promise<unknown>;
  /** Stops it for good and removes its directory. */
  close(): Promise<void>;
}

export async function startRedis({ password, tls, args = [] }: RedisServerOptions = {}): Promise<TestRedis> {
  const port = await portOutsideEphemeralRange();
  const dir = mkdtempSync(join(tmpdir(), 'herald-redis-'));
  const host = tls ? 'localhost' : '127.0.0.1';
  const connection: RedisOptions = { host, port, password, ...(tls ? { tls: { ca: readFileSync(tls.caFile) } } : {}) };
  const listen = tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const auth = password === undefined ? [] : ['--requirepass', password];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const clients: Redis[] = [];

  const launch = async (): Promise<void> => {
    const proc = spawn(
      'redis-server',
      [...listen, ...auth, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', 'dump.rdb', '--loglevel', 'warning', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    // A test process that dies (timeout, crash) takes its redis-server with it.
    const reap = () => proc.kill('SIGKILL');
    process.once('exit', reap);
    proc.once('exit', () => process.off('exit', reap));
    let out = '';
    proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`redis-server exited on port ${port}:\n${out}`);
      try {
        if ((await run(connection, ['PING'])) === 'PONG') return;
      } catch {
        // not accepting yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const down = async (signal: NodeJS.Signals | 'SHUTDOWN SAVE' | 'SHUTDOWN NOSAVE'): Promise<void> => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    if (signal.startsWith('SHUTDOWN')) {
      // The connection drops as the server exits: that is the reply.
      await run(connection, signal.split(' ')).catch(() => undefined);
    } else {
      child.kill(signal as NodeJS.Signals);
    }
    await exited;
    child = undefined;
  };

  await launch();
  const userInfo = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
  const redis: TestRedis = {
    port,
    password,
    url: `${tls ? 'rediss' : 'redis'}://${userInfo}${host}:${port}/0`,
    client() {
      const c = new Redis({ ...connection, maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 100, 1000) });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    async restart(downMs = 0) {
      await redis.kill();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await launch();
    },
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    stop: async ({ keepData = false } = {}) => {
      await down(keepData ? 'SHUTDOWN SAVE' : 'SHUTDOWN NOSAVE');
      if (!keepData) rmSync(join(dir, 'dump.rdb'), { force: true });
    },
    start: launch,
    kill: async () => {
      await down('SIGKILL');
      rmSync(join(dir, 'dump.rdb'), { force: true });
    },
    flushAll: async () => {
      await run(connection, ['FLUSHALL']);
    },
    command: (...args) => run(connection, args),
    close: async () => {
      for (const c of clients.splice(0)) c.disconnect();
      await down('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return redis;
}

/** One command on a fresh connection that neither retries nor queues. */
async function run(connection: RedisOptions, args: (string | number)[]): Promise<unknown> {
  const client = new Redis({ ...connection, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(String(args[0]), ...args.slice(1).map(String));
  } finally {
    client.disconnect();
  }
}

/** `INFO` output as `field → value` (one section or all). */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  return fields;
}

/**
 * A free port below the kernel's ephemeral range: Redis comes back on the same port after a stop,
 * and a port inside the range may meanwhile have become some outgoing connection's source port.
 */
export async function portOutsideEphemeralRange(): Promise<number> {
  let low = 32_768; // Linux's default
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // not Linux: keep the default
  }
  const from = 10_000;
  const span = Math.max(1000, low - from);
  for (;;) {
    const port = from + Math.floor(Math.random() * span);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}
