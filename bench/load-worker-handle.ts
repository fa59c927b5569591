/** The harness side of a load-generator process (bench/load/worker.ts, compiled, pinned to the load core). */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { TARGET_HOST } from './common.js';
import { BUILD_DIR, pinned, type ServerHandle } from './servers.js';

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export class LoadWorker {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited: string | null = null;

  constructor(core: number | null) {
    const [cmd, args] = pinned(core, process.execPath, [join(BUILD_DIR, 'load', 'worker.js')]);
    this.child = spawn(cmd, args, {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: Reply) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.result);
      else w.reject(new Error(m.error ?? 'worker error'));
    });
    this.child.on('exit', (code, signal) => {
      this.exited = `load worker exited with ${code ?? signal}`;
      for (const w of this.waiting.values()) w.reject(new Error(this.exited));
      this.waiting.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Points the worker at a server: clients spread over its ports, CPU summed over its processes. */
  async init(server: Pick<ServerHandle, 'ports' | 'pids' | 'redis'>): Promise<void> {
    await this.call('init', { host: TARGET_HOST, ports: server.ports, serverPids: server.pids, redis: server.redis }, 10_000);
  }

  call<T = Record<string, unknown>>(cmd: string, args: Record<string, unknown>, timeoutMs: number): Promise<T> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`load worker: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, cmd, args });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await done;
    clearTimeout(t);
  }
}
