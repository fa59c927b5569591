/**
 * Several real Herald processes (`herald start --redis …`, run from source) joined by one
 * test Redis, each on its own free port with its own metrics port, started with short deadlines so
 * that node-death and outage tests finish in seconds. A node can be stopped (SIGTERM), frozen
 * (SIGSTOP/SIGCONT), killed (SIGKILL) and replaced by a fresh process on the same port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AppInput } from '../../src/config/schema.js';
import { TEST_APP } from './herald.js';
import { nodePusher, type AppCredentials } from './laravel-broadcast.js';
import type { TestRedis } from './redis.js';

const root = join(import.meta.dirname, '..', '..');
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_')));

export interface ClusterOptions {
  nodes?: number;
  /**
   * Every node gets the same apps (HERALD_APPS); the first is the one `node.app` and `node.sdk()`
   * use. `null` leaves the apps to `args` (a Laravel `.env`, say); `credentials` then names the app.
   */
  apps?: AppInput[] | null;
  credentials?: AppCredentials;
  /** Command-line options after `herald start`; default `--host 127.0.0.1 --port PORT --redis URL` (PORT 0: any free port). */
  args?: (port: number, redisUrl: string) => string[];
  /** Seconds before a silent node is declared dead (HERALD_REDIS_NODE_TIMEOUT). */
  nodeTimeout?: number;
  /** Seconds a presence subscribe waits for Redis (HERALD_REDIS_PRESENCE_TIMEOUT). */
  presenceTimeout?: number;
  /** Extra HERALD_* variables for every node. */
  env?: Record<string, string>;
}

export interface ClusterNode {
  readonly index: number;
  readonly port: number;
  readonly wsHost: '127.0.0.1';
  /** `http://127.0.0.1:port` */
  readonly url: string;
  readonly metricsPort: number;
  readonly pid: number;
  readonly app: AppCredentials;
  /** Whether the process has not exited. */
  readonly alive: boolean;
  /** The exit code or signal once it exited. */
  readonly exited: Promise<number | string>;
  /** The official `pusher` SDK pointed at this node (first app unless another is given). */
  sdk(app?: AppCredentials): ReturnType<typeof nodePusher>;
  /** A signed REST GET through the SDK, e.g. `get('/channels', { info: 'user_count' })`; error statuses are returned, not thrown. */
  get(path: string, params?: Record<string, string>, app?: AppCredentials): Promise<RestAnswer>;
  /** The app's cluster-wide `GET /connections`, or -1 when the node does not answer 200. */
  connections(app?: AppCredentials): Promise<number>;
  /** Prometheus text of `GET /metrics`, parsed: `name{labels}` → value. */
  metrics(): Promise<Map<string, number>>;
  /** Sum of every sample of one metric (all label sets). */
  metric(name: string): Promise<number>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | string>;
  kill(): Promise<void>;
  pause(): void;
  resume(): void;
  /** Last lines of stdout and stderr, for failure messages. */
  output(): string;
}

export interface RestAnswer {
  status: number;
  /** Parsed JSON, or the raw text when it is not JSON. */
  body: unknown;
}

/** `R`: what joins the nodes, a `TestRedis` (or a Redis Cluster: its seeds as `url`, with `args` passing them). */
export interface Cluster<R extends { url: string } = TestRedis> {
  readonly redis: R;
  readonly nodes: ClusterNode[];
  /** Starts one more node (a new boot, fresh node id) on `port`, or on any free port. */
  addNode(port?: number): Promise<ClusterNode>;
  /** Kills every node still running. */
  close(): Promise<void>;
}

export const CLUSTER_APP: AppCredentials = { appId: TEST_APP.id, key: TEST_APP.key, secret: TEST_APP.secret };

export async function startCluster<R extends { url: string } = TestRedis>(redis: R, options: ClusterOptions = {}): Promise<Cluster<R>> {
  const apps = options.apps === undefined ? [TEST_APP] : options.apps;
  const first = apps?.[0];
  const credentials = options.credentials ?? (first ? { appId: first.id, key: first.key, secret: first.secret } : CLUSTER_APP);
  const args = options.args ?? ((port: number, url: string) => ['--host', '127.0.0.1', '--port', String(port), '--redis', url]);
  const env: Record<string, string> = {
    ...(apps ? { HERALD_APPS: JSON.stringify(apps) } : {}),
    HERALD_REDIS_NODE_TIMEOUT: String(options.nodeTimeout ?? 1.5),
    HERALD_REDIS_PRESENCE_TIMEOUT: String(options.presenceTimeout ?? 1),
    HERALD_SHUTDOWN_GRACE_PERIOD: '1',
    HERALD_METRICS_ENABLED: 'true',
    HERALD_METRICS_HOST: '127.0.0.1',
    HERALD_LOG_LEVEL: process.env.HERALD_TEST_LOG ?? 'info',
    HERALD_LOG_PRETTY: 'false',
    ...options.env,
  };
  const nodes: ClusterNode[] = [];
  const start = async (index: number, port: number): Promise<ClusterNode> => {
    const node = await startNode(index, args(port, redis.url), env, credentials);
    nodes[index] = node;
    return node;
  };
  // Port 0 (the node reports the port it got) unless a test asks for a given one: no race for ports.
  const addNode = (port = 0) => start(nodes.length, port);
  const count = options.nodes ?? 3;
  // Together: each spends seconds starting, mostly waiting on the other processes of a loaded box.
  const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => start(i, 0)));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(nodes.filter(Boolean).map((n) => n.kill()));
    throw failed.reason;
  }
  return {
    redis,
    nodes,
    addNode,
    close: async () => {
      await Promise.all(nodes.map((n) => n.kill()));
    },
  };
}

const TAIL = 16 * 1024;

let bundle: Promise<string> | undefined;

/**
 * `src/cli.ts` bundled once per test process with esbuild (the compiler tsx runs on every start),
 * placed under node_modules so that its packages resolve as from the source tree. A node then
 * starts in half the time of `node --import tsx`, which matters with a dozen starts per run.
 */
function cliBundle(): Promise<string> {
  bundle ??= (async () => {
    const { build } = await import('esbuild');
    const outfile = join(root, 'node_modules', '.cache', 'herald-cluster', `cli-${process.pid}.mjs`);
    await build({ entryPoints: [join(root, 'src', 'cli.ts')], outfile, bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'warning' });
    process.once('exit', () => rmSync(outfile, { force: true }));
    return outfile;
  })();
  return bundle;
}

async function startNode(index: number, args: string[], env: Record<string, string>, credentials: AppCredentials): Promise<ClusterNode> {
  const child: ChildProcess = spawn(process.execPath, [await cliBundle(), 'start', ...args], {
    cwd: root,
    env: { ...cleanEnv, ...env, HERALD_METRICS_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A test process that dies (timeout, crash) takes its nodes with it.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-TAIL);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let alive = true;
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      alive = false;
      resolve(code ?? signal ?? 'unknown');
    }),
  );

  // The ports the node got, from its log lines "Prometheus metrics on http://…:P/metrics" and "Herald listening on http://…:P".
  const deadline = Date.now() + 30_000;
  let port = 0;
  let metricsPort = 0;
  while (!port || !metricsPort) {
    if (!alive) throw new Error(`herald node ${index} exited (${await exited}) before it listened:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`herald node ${index} did not listen within 30 s:\n${out}`);
    }
    port = Number(/Herald listening on https?:\/\/[^ "]*:(\d+)/.exec(out)?.[1] ?? 0);
    metricsPort = Number(/Prometheus metrics on http:\/\/[^ "]*:(\d+)\/metrics/.exec(out)?.[1] ?? 0);
    await new Promise((r) => setTimeout(r, 25));
  }
  const url = `http://127.0.0.1:${port}`;

  const metrics = async (): Promise<Map<string, number>> => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    const samples = new Map<string, number>();
    for (const line of (await res.text()).split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const at = line.lastIndexOf(' ');
      samples.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return samples;
  };

  const node: ClusterNode = {
    index,
    port,
    wsHost: '127.0.0.1',
    url,
    metricsPort,
    pid: child.pid!,
    app: credentials,
    get alive() {
      return alive;
    },
    exited,
    sdk: (other = credentials) => nodePusher({ url, port }, { app: other }),
    get: async (path, params = {}, other = credentials) => {
      try {
        const res = await nodePusher({ url, port }, { app: other }).get({ path, params });
        return { status: res.status, body: parseJson(await res.text()) };
      } catch (err) {
        const failed = err as { status?: number; body?: string };
        if (failed.status === undefined) throw err;
        return { status: failed.status, body: parseJson(failed.body ?? '') };
      }
    },
    connections: async (other) => {
      const { status, body } = await node.get('/connections', {}, other);
      return status === 200 ? (body as { connections: number }).connections : -1;
    },
    metrics,
    metric: async (name) => {
      let sum = 0;
      for (const [key, value] of await metrics()) if (key === name || key.startsWith(`${name}{`)) sum += value;
      return sum;
    },
    stop: async () => {
      if (alive) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (alive) {
        // A frozen process dies of SIGKILL too.
        child.kill('SIGKILL');
      }
      await exited;
    },
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    output: () => out,
  };

  // Ready = listening and connected to Redis (the metric says so), so a test starts on a joined node.
  for (;;) {
    if (!alive) throw new Error(`herald node ${index} exited (${await exited}) before it was ready:\n${out}`);
    if ((await node.metric('herald_redis_connected').catch(() => 0)) === 1) return node;
    if (Date.now() > deadline) {
      await node.kill();
      throw new Error(`herald node ${index} not connected to Redis within 30 s (herald_redis_connected 1):\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
