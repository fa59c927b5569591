/**
 * Several real Herald processes (`herald start --redis …`, run from source) joined by one
 * test Redis, each on its own free port with its own metrics port, started with short deadlines so
 * that node-death and outage tests finish in seconds. A node can be stopped (SIGTERM), frozen
 * (SIGSTOP/SIGCONT), killed (SIGKILL) and replaced by a fresh process on the same port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
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
  /** Command-line options after `herald start`; default `--host 127.0.0.1 --port PORT --redis URL`. */
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

export interface Cluster {
  readonly redis: TestRedis;
  readonly nodes: ClusterNode[];
  /** Starts one more node (a new boot, fresh node id) on `port` or a free port. */
  addNode(port?: number): Promise<ClusterNode>;
  /** Kills every node still running. */
  close(): Promise<void>;
}

export const CLUSTER_APP: AppCredentials = { appId: TEST_APP.id, key: TEST_APP.key, secret: TEST_APP.secret };

export async function startCluster(redis: TestRedis, options: ClusterOptions = {}): Promise<Cluster> {
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
  const start = async (index: number, port: number, metricsPort: number): Promise<ClusterNode> => {
    const node = await startNode(index, port, metricsPort, args(port, redis.url), env, credentials);
    nodes[index] = node;
    return node;
  };
  // Every port a node may still be using (or is about to) stays out of the next picks.
  const taken = () => nodes.flatMap((n) => [n.port, n.metricsPort]);
  const addNode = async (port?: number): Promise<ClusterNode> => {
    const [at, metrics] = port === undefined ? await distinctFreePorts(2, taken()) : [port, (await distinctFreePorts(1, [port, ...taken()]))[0]];
    return start(nodes.length, at!, metrics!);
  };
  const count = options.nodes ?? 3;
  const ports = await distinctFreePorts(2 * count);
  // Together: each spends seconds compiling with tsx, mostly waiting on the other cores' work.
  const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => start(i, ports[i]!, ports[count + i]!)));
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

/**
 * Ports that were free a moment ago, all different: each is held until every one is found (a port
 * released and asked for again is often handed out again).
 */
async function distinctFreePorts(count: number, avoid: number[] = []): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  while (ports.length < count) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    held.push(server);
    const port = (server.address() as AddressInfo).port;
    if (!avoid.includes(port)) ports.push(port);
  }
  await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

async function startNode(
  index: number,
  port: number,
  metricsPort: number,
  args: string[],
  env: Record<string, string>,
  credentials: AppCredentials,
): Promise<ClusterNode> {
  const child: ChildProcess = spawn(process.execPath, [await cliBundle(), 'start', ...args], {
    cwd: root,
    env: { ...cleanEnv, ...env, HERALD_METRICS_PORT: String(metricsPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!alive) throw new Error(`herald node ${index} exited (${await exited}) before it was ready:\n${out}`);
    if (out.includes('Herald listening')) {
      try {
        if ((await node.metric('herald_redis_connected')) === 1) return node;
      } catch {
        // metrics server not up yet
      }
    }
    if (Date.now() > deadline) {
      await node.kill();
      throw new Error(`herald node ${index} not ready within 30 s (listening, herald_redis_connected 1):\n${out}`);
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
