import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { WORKER_ENV, type HeraldConfig } from '../config/schema.js';
import { wantsJson, type StatsJson } from '../metrics/json-stats.js';
import { mergeExpositions, mergeStatsJson } from '../metrics/merge.js';

/** What a worker tells its supervisor once it listens. */
export interface WorkerReady {
  type: 'herald:ready';
  /** Its own metrics server, on loopback, that the supervisor scrapes. */
  metricsPort?: number;
}

export function workerCount(workers: HeraldConfig['workers']): number {
  return workers === 'auto' ? availableParallelism() : workers;
}

/** The worker index when this process is a worker, else undefined. */
export function workerIndex(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[WORKER_ENV];
  return raw === undefined || !/^\d+$/.test(raw) ? undefined : Number(raw);
}

/** A worker that lived this long had started fine: its next death restarts it after the shortest delay. */
const STABLE_MS = 10_000;
const FIRST_RESTART_MS = 100;
const MAX_RESTART_MS = 10_000;
const SCRAPE_TIMEOUT_MS = 2_000;

interface Worker {
  index: number;
  child: ChildProcess;
  startedAt: number;
  ready: boolean;
  restarts: number;
  metricsPort?: number;
}

/**
 * `herald start --workers N`: N copies of this command, each an ordinary cluster node sharing the
 * port (SO_REUSEPORT) and the Redis. The supervisor restarts a worker that dies (with backoff),
 * forwards SIGTERM/SIGINT so every worker drains with 4200, exits when all have stopped, and serves
 * one metrics scrape covering every worker (each sample labelled `worker`) and `/stats` totals.
 */
export async function supervise(config: HeraldConfig, count: number, args: readonly string[], logger: Logger): Promise<void> {
  const workers: Worker[] = [];
  let stopping = false;
  let exitCode = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));

  const spawn = (index: number, restarts: number): void => {
    const child = fork(process.argv[1]!, ['start', ...args], {
      env: { ...process.env, [WORKER_ENV]: String(index) },
      stdio: 'inherit',
    });
    const worker: Worker = { index, child, startedAt: Date.now(), ready: false, restarts };
    workers[index] = worker;
    child.on('message', (msg: WorkerReady) => {
      if (msg?.type !== 'herald:ready') return;
      worker.ready = true;
      worker.metricsPort = msg.metricsPort;
      logger.info({ worker: index, pid: child.pid }, 'worker ready');
    });
    child.on('exit', (code, signal) => {
      if (stopping) {
        if (code !== 0) exitCode = 1;
        if (workers.every((w) => w.child.exitCode !== null || w.child.signalCode !== null)) resolveDone();
        return;
      }
      if (!worker.ready) {
        // A worker that cannot even start (port taken, bad TLS file) would fail the same way again.
        logger.fatal({ worker: index, code, signal }, 'worker failed to start: stopping');
        exitCode = 1;
        stop('SIGTERM');
        return;
      }
      const stable = Date.now() - worker.startedAt >= STABLE_MS;
      const next = stable ? 0 : restarts + 1;
      const delay = Math.min(MAX_RESTART_MS, FIRST_RESTART_MS * 2 ** next);
      logger.error({ worker: index, code, signal, restartInMs: delay }, 'worker died: restarting');
      setTimeout(() => stopping || spawn(index, next), delay);
    });
  };

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill(signal);
    if (workers.every((w) => w.child.exitCode !== null || w.child.signalCode !== null)) resolveDone();
  };

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: killing workers');
      for (const w of workers) w.child.kill('SIGKILL');
      process.exit(1);
    }
    logger.info({ signal, workers: count }, 'stopping workers');
    stop(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  for (let i = 0; i < count; i++) spawn(i, 0);
  logger.info({ workers: count, port: config.port }, `supervising ${count} workers on port ${config.port}`);

  const metrics = config.metricsEnabled ? await serveMergedMetrics(config, () => workers, logger) : undefined;
  await done;
  await new Promise<void>((resolve) => (metrics ? metrics.close(() => resolve()) : resolve()));
  logger.info({ exitCode }, 'all workers stopped');
  process.exit(exitCode);
}

/**
 * The metrics port of a node, for all its workers: `/metrics` is every worker's exposition merged,
 * `/stats` (and `/metrics` asked for JSON) every worker's stats added up. Each request asks every
 * live worker's own loopback metrics server; nothing is kept between requests.
 */
async function serveMergedMetrics(config: HeraldConfig, workers: () => readonly Worker[], logger: Logger): Promise<Server> {
  const ask = async (path: string, accept: string) => {
    const live = workers().filter((w) => w.ready && w.metricsPort !== undefined && w.child.exitCode === null && w.child.signalCode === null);
    const results = await Promise.allSettled(
      live.map(async (w) => {
        const reply = await fetch(`http://127.0.0.1:${w.metricsPort}${path}`, { headers: { Accept: accept }, signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
        if (!reply.ok) throw new Error(`${path}: HTTP ${reply.status}`);
        return { worker: String(w.index), text: await reply.text() };
      }),
    );
    const parts = [];
    const failed: number[] = [];
    for (const [i, r] of results.entries()) {
      if (r.status === 'fulfilled') parts.push(r.value);
      else {
        failed.push(live[i]!.index);
        logger.warn({ worker: live[i]!.index, path, err: r.reason }, 'worker metrics scrape failed');
      }
    }
    return { parts, failed };
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/stats' || (path === '/metrics' && wantsJson(req.headers.accept))) {
      // Totals missing a worker would be wrong numbers (a worker fails them while Redis is away): 503 instead.
      void ask('/stats', 'application/json').then(({ parts, failed }) => {
        if (failed.length > 0) {
          res.writeHead(503, { 'Content-Type': 'application/json', Vary: 'Accept' });
          res.end(JSON.stringify({ error: `stats unavailable from worker ${failed.join(', ')}` }));
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/json', Vary: 'Accept' });
        res.end(JSON.stringify(mergeStatsJson(parts.map((p) => JSON.parse(p.text) as StatsJson))));
      });
      return;
    }
    if (path === '/metrics') {
      // A worker that does not answer in time is left out of this scrape (its samples are labelled) rather than failing it whole.
      void ask('/metrics', 'text/plain').then(({ parts }) => {
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', Vary: 'Accept' });
        res.end(mergeExpositions(parts));
      });
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.metricsPort, config.metricsHost, () => resolve());
  });
  logger.info({ port: (server.address() as AddressInfo).port }, 'metrics of every worker on one port');
  return server;
}
