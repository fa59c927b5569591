/**
 * A real redis-server of the test's own, on a free port and with a password (the system one on
 * 6379 belongs to others). `restart()` kills it and starts it again on the same port, for outage tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { freePort } from './net.js';

export interface TestRedis {
  port: number;
  password: string;
  /** `redis://:password@127.0.0.1:port/0` */
  url: string;
  /** A plain client (for PUBLISH and EVAL), closed by `stop()`. */
  client(): Redis;
  /** Kills the server (SIGKILL: an outage, not a shutdown), optionally waits, and starts it again. */
  restart(downMs?: number): Promise<void>;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** PEM files for a TLS-only server; the URL then is `rediss://…@localhost` (the certificate's name). */
export interface RedisTls {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export async function startRedis(password = 'test-redis-pw', tls?: RedisTls): Promise<TestRedis> {
  const port = await freePort();
  const listen = tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  let proc: ChildProcess | undefined;
  const clients: Redis[] = [];

  const start = async () => {
    proc = spawn('redis-server', [...listen, '--bind', '127.0.0.1', '--requirepass', password, '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      proc!.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc!.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}: ${out}`));
      });
    });
    proc.stdout!.resume();
  };
  const kill = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    port,
    password,
    url: tls ? `rediss://:${encodeURIComponent(password)}@localhost:${port}/0` : `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}/0`,
    client() {
      const c = new Redis({
        port,
        host: tls ? 'localhost' : '127.0.0.1',
        password,
        maxRetriesPerRequest: 1,
        retryStrategy: (n) => Math.min(n * 100, 1000),
        ...(tls ? { tls: { ca: readFileSync(tls.caFile) } } : {}),
      });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    async restart(downMs = 0) {
      await kill();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
    kill,
    start,
    async stop() {
      for (const c of clients) c.disconnect();
      await kill();
    },
  };
}
