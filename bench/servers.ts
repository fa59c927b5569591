/**
 * How to start each benchmark target as a child process on a given port with the bench app
 * (id `bench`, key `bench-key`, secret `bench-secret`, client events on, no connection or rate limits),
 * optionally pinned to one core with `taskset`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APP, TARGET_HOST, sleep } from './common.js';
import type { RedisServer } from './redis-stats.js';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(BENCH_DIR, '..');
/** Compiled bench (plain JS, so measured children run without a TypeScript loader). */
export const BUILD_DIR = join(BENCH_DIR, '.build');
export const SOKETI_DIR = join(BENCH_DIR, 'peers', 'soketi');
export const SOKETI_BIN = join(SOKETI_DIR, 'node_modules', '@soketi', 'soketi', 'bin', 'server.js');
export const HERALD_CLI = join(ROOT, 'dist', 'src', 'cli.js');
export const LOG_DIR = join(BENCH_DIR, 'results', 'logs');

export const TARGETS = ['herald', 'soketi', 'bare', 'herald-root', 'herald-3', 'herald-3-cluster', 'herald-w2'] as const;
/** `herald-root`: the Debian 13 + Node 24 root `.ci/node24` builds, with Herald installed in /herald. */
export const DEFAULT_ROOT: Root = { dir: '/var/cache/herald/trixie-root', node: '/opt/node/bin/node' };

/** A root directory and the Node binary inside it that runs Herald there. */
export interface Root {
  dir: string;
  node: string;
}
export type TargetName = (typeof TARGETS)[number];
/** What runs when --targets is not given: the multi-node target only when asked for. */
export const DEFAULT_TARGETS: TargetName[] = ['herald', 'soketi', 'bare'];
/** `herald-3`: three Herald processes joined by one redis-server, all on the server core. */
export const CLUSTER_NODES = 3;
/** `herald-3-cluster`: the same three nodes on a Redis Cluster of this many masters (no replicas). */
export const REDIS_CLUSTER_MASTERS = 3;
/** The targets made of several Herald nodes and Redis. */
export type MultiNodeTarget = 'herald-3' | 'herald-3-cluster';
export const isMultiNode = (t: TargetName): t is MultiNodeTarget => t === 'herald-3' || t === 'herald-3-cluster';
/** `herald-w2`: `herald start --workers 2`, one port, both cores. */
export const WORKERS = 2;

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

/** Prefix `cmd args` with `taskset -c core` (a core or a list such as `0,1`) when pinning. */
export function pinned(core: number | string | null, cmd: string, args: string[]): [string, string[]] {
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
  /** The first (or only) server process and its port: where REST calls go. */
  pid: number;
  port: number;
  /** Every server process (CPU is summed over them) and every port clients are spread over. */
  pids: number[];
  ports: number[];
  /** The redis-servers joining the nodes (a Redis Cluster's masters), none for a single node. */
  redis: RedisServer[];
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
  /** Where in `args` Node's own flags go (default 0: `cmd` is node). */
  nodeArgsAt?: number;
}

/** Herald's bench config, written into `dir`; returns the file. */
function heraldConfig(dir: string, extra: Record<string, unknown>): string {
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
      ...extra,
    }),
  );
  return config;
}

async function specFor(target: Exclude<TargetName, MultiNodeTarget | 'herald-w2'>, port: number, root: Root, extra: Record<string, unknown> = {}): Promise<Spec> {
  switch (target) {
    case 'herald': {
      if (!existsSync(HERALD_CLI)) throw new Error(`Herald is not built: ${HERALD_CLI} is missing (npm run build)`);
      const dir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
      return {
        cmd: process.execPath,
        // Started as the Dockerfile and `npm start` start it (README, Memory).
        args: ['--max-semi-space-size=1', HERALD_CLI, 'start', '--port', String(port), '--config', heraldConfig(dir, extra)],
        // Extra Node flags go after the shipped one, so a `--node-flag --max-semi-space-size=N` wins.
        nodeArgsAt: 1,
        cwd: ROOT,
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
      };
    }
    case 'herald-root': {
      // The same start inside the root, with its own Node and node_modules (so its own uWebSockets.js).
      if (!existsSync(join(root.dir, 'herald', 'dist', 'src', 'cli.js'))) throw new Error(`no built Herald in ${root.dir}/herald: run .ci/node24 first`);
      const dir = mkdtempSync(join(root.dir, 'tmp', 'herald-bench-'));
      const config = `/${relative(root.dir, heraldConfig(dir, extra))}`;
      const shell = [root.dir, '/bin/sh', '-c', `cd /herald && exec ${root.node} "$@"`, 'sh'];
      return {
        cmd: 'chroot',
        args: [...shell, '--max-semi-space-size=1', 'dist/src/cli.js', 'start', '--port', String(port), '--config', config],
        nodeArgsAt: shell.length + 1,
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

export interface StartOptions {
  core: number | string | null;
  logName: string;
  nodeFlags?: string[];
  root?: Root;
  /** Options written into Herald's bench config on top of the defaults (e.g. metrics for the soak). */
  heraldConfig?: Record<string, unknown>;
  /** Open-files limit (soft and hard) for the process, through `prlimit` (raising it needs root). */
  nofile?: number;
  /** CPU the bare peer burns per REST-published event (ns): a calibration, see bench/README.md. */
  bareExtraNs?: number;
}

export async function startServer(target: TargetName, opts: StartOptions): Promise<ServerHandle> {
  if (isMultiNode(target)) return startCluster(target, opts);
  if (target === 'herald-w2') return startWorkers(opts);
  const extra = target === 'bare' && opts.bareExtraNs ? ['--extra-ns-per-event', String(opts.bareExtraNs)] : [];
  return startOne(target, opts, {}, extra);
}

/**
 * `herald start --workers 2` and its redis-server, allowed on every core: the point is one node
 * using the whole box, so the server shares core 1 with the load generator (compare CPU per
 * message, not throughput). CPU is summed over the supervisor and both workers.
 */
async function startWorkers(opts: StartOptions): Promise<ServerHandle> {
  // Children inherit the harness's own pinning (the load core), so "both cores" must be said.
  const core = opts.core === null ? null : `0-${cpus().length - 1}`;
  const redis = await startRedis('herald-w2', { ...opts, core }, 0, false);
  const metricsPort = await freePort();
  let node: ServerHandle;
  try {
    node = await startOne('herald', { ...opts, core, heraldConfig: { ...opts.heraldConfig, metricsEnabled: true, metricsPort } }, { redisUrl: `redis://${TARGET_HOST}:${redis.port}/0` }, [
      '--workers',
      String(WORKERS),
    ]);
  } catch (e) {
    await redis.stop();
    throw e;
  }
  const stop = async (): Promise<void> => {
    await node.stop();
    await redis.stop();
  };
  // The port answers once the first worker listens; the supervisor's merged scrape names every ready worker.
  const deadline = performance.now() + 30_000;
  for (;;) {
    const text = await fetch(`http://${TARGET_HOST}:${metricsPort}/metrics`).then((r) => r.text(), () => '');
    if (Array.from({ length: WORKERS }, (_, i) => `worker="${i}"`).every((w) => text.includes(w))) break;
    if (performance.now() > deadline || !node.alive()) {
      await stop();
      throw new Error(`herald --workers ${WORKERS}: not every worker ready within 30 s:\n${node.output()}`);
    }
    await sleep(100);
  }
  const workers = execFileSync('pgrep', ['-P', String(node.pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  return {
    ...node,
    target: 'herald-w2',
    pids: [node.pid, ...workers],
    redis: [{ pid: redis.pid, port: redis.port }],
    output: () => `${node.output()}\n--- redis\n${redis.output()}`,
    alive: () => redis.alive() && node.alive(),
    stop,
  };
}

/** The redis-server(s), then the nodes one by one; a failure stops what was started. */
async function startCluster(target: MultiNodeTarget, opts: StartOptions): Promise<ServerHandle> {
  const redis: ServerHandle[] = [];
  const nodes: ServerHandle[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(redis.map((r) => r.stop()));
  };
  try {
    const shards = target === 'herald-3-cluster' ? REDIS_CLUSTER_MASTERS : 0;
    for (let i = 0; i < Math.max(1, shards); i++) redis.push(await startRedis(target, opts, i, shards > 0));
    const redisConfig: Record<string, string> =
      shards > 0 ? { redisCluster: await createRedisCluster(redis) } : { redisUrl: `redis://${TARGET_HOST}:${redis[0]!.port}/0` };
    for (let i = 0; i < CLUSTER_NODES; i++) {
      // One profile per node (--profile), not three under one name.
      const nodeFlags = opts.nodeFlags?.map((f) => (f.startsWith('--cpu-prof-name=') ? f.replace(/\.cpuprofile$/, `-node${i}.cpuprofile`) : f));
      nodes.push(await startOne('herald', { ...opts, nodeFlags, logName: `${opts.logName}-node${i}` }, redisConfig));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    target,
    pid: nodes[0]!.pid,
    port: nodes[0]!.port,
    pids: nodes.map((n) => n.pid),
    ports: nodes.map((n) => n.port),
    redis: redis.map((r) => ({ pid: r.pid, port: r.port })),
    output: () => [...nodes, ...redis].map((n, i) => `--- ${i < nodes.length ? `node ${i}` : `redis ${i - nodes.length}`}\n${n.output()}`).join('\n'),
    alive: () => redis.every((r) => r.alive()) && nodes.every((n) => n.alive()),
    stop,
  };
}

/** One redis-server on the server core (`--cluster-enabled` for a Redis Cluster member, its bus on another free port). */
export async function startRedis(target: MultiNodeTarget | 'herald-w2', opts: StartOptions, index: number, clustered: boolean): Promise<ServerHandle> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-redis-'));
  const cluster = clustered ? ['--cluster-enabled', 'yes', '--cluster-port', String(await freePort()), '--cluster-config-file', 'nodes.conf', '--dir', dir] : [];
  return startProcess(
    target,
    port,
    { cmd: 'redis-server', args: ['--port', String(port), '--bind', TARGET_HOST, '--save', '', '--appendonly', 'no', ...cluster], cleanup: () => rmSync(dir, { recursive: true, force: true }) },
    { ...opts, logName: `${opts.logName}-redis${index}`, nodeFlags: [] },
  );
}

/** Joins the servers into a Redis Cluster (masters only) and waits for `cluster_state:ok`; returns the seeds. */
async function createRedisCluster(servers: ServerHandle[]): Promise<string> {
  const seeds = servers.map((s) => `${TARGET_HOST}:${s.port}`);
  execFileSync('redis-cli', ['--cluster', 'create', ...seeds, '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' });
  const deadline = performance.now() + 30_000;
  for (const s of servers) {
    while (!execFileSync('redis-cli', ['-h', TARGET_HOST, '-p', String(s.port), 'CLUSTER', 'INFO']).toString().includes('cluster_state:ok')) {
      if (performance.now() > deadline) throw new Error(`redis cluster not ok within 30 s (${seeds.join(',')})`);
      await sleep(50);
    }
  }
  return seeds.join(',');
}

/** One Herald node joined to the redis-server at `redisUrl` (bench/scale-100k.ts). */
export const startHeraldNode = (opts: StartOptions, redisUrl: string, extraArgs: string[] = []): Promise<ServerHandle> =>
  startOne('herald', opts, { redisUrl }, extraArgs);

async function startOne(
  target: Exclude<TargetName, MultiNodeTarget | 'herald-w2'>,
  opts: StartOptions,
  redisConfig: Record<string, string> = {},
  extraArgs: string[] = [],
): Promise<ServerHandle> {
  const port = await freePort();
  const spec = await specFor(target, port, opts.root ?? DEFAULT_ROOT, { ...opts.heraldConfig, ...redisConfig });
  return startProcess(target, port, { ...spec, args: [...spec.args, ...extraArgs] }, opts);
}

async function startProcess(target: TargetName, port: number, spec: Spec, opts: StartOptions): Promise<ServerHandle> {
  const at = spec.nodeArgsAt ?? 0;
  const [pinnedCmd, pinnedArgs] = pinned(opts.core, spec.cmd, [...spec.args.slice(0, at), ...(opts.nodeFlags ?? []), ...spec.args.slice(at)]);
  // prlimit and taskset both exec the command, so the pid is the server's.
  const [cmd, args] = opts.nofile === undefined ? [pinnedCmd, pinnedArgs] : ['prlimit', [`--nofile=${opts.nofile}:${opts.nofile}`, pinnedCmd, ...pinnedArgs]];
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
    pids: [child.pid!],
    ports: [port],
    redis: [],
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
