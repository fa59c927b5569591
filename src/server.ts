import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/codes.js';
import type { Adapter } from './adapter/adapter.js';
import { LocalAdapter } from './adapter/local.js';
import { registerHttpRoutes } from './api/routes.js';
import { RedisAdapter } from './cluster/redis-adapter.js';
import { StaticAppRegistry } from './apps/registry.js';
import { SubscriptionCounts } from './channels/subscription-count.js';
import type { HeraldConfig } from './config/schema.js';
import { Lifecycle } from './events/lifecycle.js';
import { startMetricsServer, type MetricsServer } from './metrics/prometheus.js';
import { Stats } from './metrics/stats.js';
import { loadUws } from './transport/engine.js';
import { startSocketIo } from './socketio/server.js';
import { TrustedProxies } from './transport/forwarded.js';
import { Transport } from './transport/uws.js';
import type { ServerContext } from './rules/context.js';
import { monotonicMs } from './rules/clock.js';
import { connectionHandlers } from './pusher/lifecycle.js';
import { sweepConnections, sweepInterval } from './rules/liveness.js';
import { Webhooks } from './webhooks/webhooks.js';
import { ingestRoutes, RedisIngest } from './ingest/redis-ingest.js';
import { redisTarget } from './cluster/redis-target.js';
import { keepStringMethodsFast } from './fast-strings.js';

export interface Herald {
  port: number;
  adapter: Adapter;
  stats: Stats;
  /** Channel, member and user events, for integrations. */
  events: Lifecycle;
  /** Redis PUBLISH ingest, when configured (`ingest.ready` resolves once it is subscribed). */
  ingest?: RedisIngest;
  /** Port of the Prometheus `GET /metrics` server; undefined when `metricsEnabled` is false. */
  metricsPort?: number;
  /** Graceful stop: refuse new connections (4100, `/ready` 503), close every client with 4200, stop listening within the grace period. */
  shutdown(): Promise<void>;
}

/** Close frames are queued by uWS; this long lets them reach clients before the process may exit. */
const CLOSE_FLUSH_MS = 200;

export interface StartOptions {
  /** A `--workers` worker: listen with SO_REUSEPORT beside its siblings instead of exclusively. */
  sharedPort?: boolean;
}

export async function startServer(config: HeraldConfig, logger: Logger, options: StartOptions = {}): Promise<Herald> {
  keepStringMethodsFast();
  const startedAt = Date.now();
  const stats = new Stats();
  const apps = new StaticAppRegistry(config.apps);
  const events = new Lifecycle();
  let draining = false;
  const isDraining = () => draining;

  const engine = loadUws(config.uws, config.maxRequestHeadSize);
  const transport = new Transport({
    uws: config.uws,
    tls: config.tlsCert && config.tlsKey ? { certFile: config.tlsCert, keyFile: config.tlsKey, passphrase: config.tlsPassphrase } : undefined,
    maxPayloadLength: config.maxPayloadLength,
    maxBackpressure: config.maxBackpressure,
    maxBodyBytes: config.maxRequestSize,
    maxDrainBytes: config.drainLimit,
    drainTimeoutMs: config.drainTimeout * 1000,
    trustedProxies: config.apps.some((app) => app.requireTls) ? new TrustedProxies(config.trustedProxies) : undefined,
    onError: (err) => logger.error({ err }, 'HTTP handler failed'),
  });
  const adapter = await createAdapter(config, transport, { stats, logger, events });
  const webhooks = Webhooks.wanted(config.apps) ? new Webhooks({ config, apps, adapter, stats, logger }) : undefined;
  webhooks?.attach(events);
  const ctx: ServerContext = { config, apps, adapter, stats, logger, counts: new SubscriptionCounts(adapter, events), events, isDraining };

  transport.ws(`${config.pathPrefix}/app/:key`, connectionHandlers(ctx));
  const socketIo = startSocketIo(ctx, transport);
  registerHttpRoutes(transport, { config, apps, adapter, stats, logger, events, startedAt, isDraining });
  const port = await transport.listen(config.host, config.port, options.sharedPort);
  const routes = ingestRoutes(config);
  const redis = redisTarget(config);
  const ingest = redis !== undefined && routes.length > 0 ? new RedisIngest(redis, routes, { adapter, stats, logger }) : undefined;
  ingest?.start();
  let metrics: MetricsServer | undefined;
  if (config.metricsEnabled) {
    try {
      metrics = await startMetricsServer({
        host: config.metricsHost,
        port: config.metricsPort,
        stats,
        adapter,
        appIds: config.apps.map((app) => app.id),
        webhooksQueued: webhooks && (() => webhooks.queued()),
        onError: (err) => logger.error({ err }, 'metrics scrape failed'),
      });
    } catch (err) {
      transport.stopListening();
      throw err;
    }
    logger.info({ host: config.metricsHost, port: metrics.port }, `Prometheus metrics on http://${config.metricsHost}:${metrics.port}/metrics`);
  }

  const sweeper = setInterval(() => {
    sweepConnections(ctx, monotonicMs());
    const now = Date.now();
    ctx.counts.flush(now);
    adapter.sweep(now);
  }, sweepInterval(ctx));

  const { build, packageVersion, skipped, maxHeadBytes } = engine;
  logger.info(
    { uws: build.version, package: `${build.package}@${packageVersion}`, node: process.version, skipped, maxRequestHeadSize: maxHeadBytes },
    `uWebSockets.js v${build.version} (${build.package}@${packageVersion}, native) on Node ${process.version}`,
  );
  const scheme = transport.secure ? 'https' : 'http';
  logger.info({ host: config.host, port, apps: config.apps.map((app) => app.id) }, `Herald listening on ${scheme}://${config.host}:${port}${config.pathPrefix}`);

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      // Keep listening while draining so `/ready` can answer 503; new sockets are refused with 4100.
      draining = true;
      // Nothing new is relayed to connections that are about to close.
      await ingest?.close();
      const open = adapter.connectionCount();
      logger.info({ connections: open }, 'shutting down: closing every connection with 4200');
      for (const conn of [...adapter.connections()]) conn.terminate(ErrorCode.Reconnect, 'Server shutting down');
      const deadline = Date.now() + config.shutdownGracePeriod * 1000;
      while (adapter.connectionCount() > 0 && Date.now() < deadline) await sleep(50);
      await sleep(Math.min(CLOSE_FLUSH_MS, Math.max(0, deadline - Date.now())));
      await socketIo?.close();
      // Webhooks for the closed connections (vacated, member_removed, user_disconnected) get the rest of the grace period.
      await webhooks?.drain(deadline);
      webhooks?.close();
      transport.stopListening();
      clearInterval(sweeper);
      await adapter.close();
      await metrics?.close();
      logger.info('stopped');
    })());

  return { port, adapter, stats, events, metricsPort: metrics?.port, ingest, shutdown };
}

/** In-process state, or shared over Redis when one is configured and `scaling` is on. */
async function createAdapter(
  config: HeraldConfig,
  transport: Transport,
  deps: { stats: Stats; logger: Logger; events: Lifecycle },
): Promise<Adapter> {
  const redis = redisTarget(config);
  if (!redis || !config.scaling) return new LocalAdapter(transport, deps.stats);
  return RedisAdapter.start(transport, {
    redis,
    prefix: config.redisPrefix,
    nodeTimeout: config.redisNodeTimeout,
    presenceTimeout: config.redisPresenceTimeout,
    queueSize: config.redisQueueSize,
    apps: config.apps,
    ...deps,
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
