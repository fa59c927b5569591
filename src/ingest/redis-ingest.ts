import type { Cluster, Redis } from 'ioredis';
import { connect, type RedisTarget } from '../cluster/redis-target.js';
import type { Logger } from 'pino';
import type { Adapter } from '../adapter/adapter.js';
import { publishEvent } from '../channels/publish.js';
import type { HeraldConfig } from '../config/schema.js';
import type { Stats } from '../metrics/stats.js';
import { laravelRoute, patternRoute, type DropReason, type IngestRoute } from './routes.js';

export interface IngestDeps {
  config: HeraldConfig;
  adapter: Adapter;
  stats: Stats;
  logger: Logger;
}

/** One warning per window, with how many were suppressed: a flood of bad messages or reconnect errors must not flood the log. */
const LOG_WINDOW_MS = 10_000;

class RateLimitedWarning {
  private suppressed = 0;
  private last = -Infinity;

  constructor(private readonly logger: Logger) {}

  warn(fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - this.last < LOG_WINDOW_MS) {
      this.suppressed++;
      return;
    }
    this.logger.warn({ ...fields, ...(this.suppressed > 0 ? { suppressedSinceLastWarning: this.suppressed } : {}) }, msg);
    this.last = now;
    this.suppressed = 0;
  }
}

/** Reconnect delays: quick at first, then every 2 s; never gives up. */
const retryDelay = (times: number) => Math.min(100 * times, 2000);

/** The routes every configured source asks for: Laravel's broadcaster (first app) and each app's mapped patterns. */
export function ingestRoutes(config: HeraldConfig): IngestRoute[] {
  const routes: IngestRoute[] = [];
  const first = config.apps[0];
  if (config.redisIngest === 'laravel' && first) routes.push(laravelRoute(first, config.redisIngestPrefix));
  for (const app of config.apps) for (const rule of app.redisIngest) routes.push(patternRoute(app, rule));
  return routes;
}

/**
 * Relays Redis PUBLISH traffic to subscribers. Every node of a cluster subscribes and receives each
 * message itself, so each delivers to its own connections only (`localOnly`): every subscriber
 * gets the event once. The subscriber connection has no offline queue (nothing piles up during an
 * outage: messages published meanwhile are lost, as Redis pub/sub loses them for any subscriber)
 * and subscribes again on every reconnect. On a Redis Cluster it is plain pub/sub too (PSUBSCRIBE
 * on one node: a plain PUBLISH on any node reaches every node's subscribers).
 */
export class RedisIngest {
  private readonly redis: Redis | Cluster;
  private readonly byGlob = new Map<string, IngestRoute[]>();
  private readonly badInput: RateLimitedWarning;
  private readonly connection: RateLimitedWarning;
  private subscribedOnce!: () => void;
  private closed = false;
  /** Resolves once the first PSUBSCRIBE is confirmed. */
  readonly ready = new Promise<void>((resolve) => (this.subscribedOnce = resolve));

  constructor(
    target: RedisTarget,
    routes: readonly IngestRoute[],
    private readonly deps: Omit<IngestDeps, 'config'>,
  ) {
    this.badInput = new RateLimitedWarning(deps.logger);
    this.connection = new RateLimitedWarning(deps.logger);
    for (const route of routes) this.byGlob.set(route.glob, [...(this.byGlob.get(route.glob) ?? []), route]);
    this.redis = connect(target, {
      lazyConnect: true,
      enableOfflineQueue: false,
      // Subscribed again by hand on each 'ready', so a failed first attempt is retried the same way.
      autoResubscribe: false,
      maxRetriesPerRequest: null,
      retryStrategy: retryDelay,
      enableAutoPipelining: false,
      connectionName: 'herald-ingest',
      closed: () => this.closed,
    });
    this.redis.on('ready', () => void this.subscribe());
    this.redis.on('pmessage', (glob: string, channel: string, message: string) => this.receive(glob, channel, message));
    this.redis.on('error', (err: Error) => this.connection.warn({ err: err.message }, 'Redis ingest connection error; reconnecting'));
  }

  /** Connects in the background: Herald serves clients while Redis is unreachable and catches up when it comes. */
  start(): void {
    this.redis.connect().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.redis.disconnect();
  }

  private async subscribe(): Promise<void> {
    const globs = [...this.byGlob.keys()];
    try {
      await this.redis.psubscribe(...globs);
      this.deps.logger.info({ patterns: globs }, 'Redis ingest subscribed');
      this.subscribedOnce();
    } catch (err) {
      this.connection.warn({ err: (err as Error).message }, 'Redis ingest PSUBSCRIBE failed; retrying on reconnect');
    }
  }

  private receive(glob: string, channel: string, message: string): void {
    const { stats, adapter } = this.deps;
    stats.ingestReceived++;
    for (const route of this.byGlob.get(glob) ?? []) {
      const parsed = route.parse(channel, message);
      if (!parsed) continue;
      if (!parsed.ok) {
        this.dropped(parsed.reason, channel, parsed.detail);
        continue;
      }
      const { app, channel: target, event, data, exceptSocketId } = parsed.delivery;
      publishEvent(adapter, app, target, event, data, exceptSocketId, /* localOnly */ true);
      stats.ingestDelivered++;
    }
  }

  private dropped(reason: DropReason, channel: string, detail: string): void {
    this.deps.stats.ingestDropped.set(reason, (this.deps.stats.ingestDropped.get(reason) ?? 0) + 1);
    this.badInput.warn({ reason, redisChannel: channel.slice(0, 200), detail }, 'Redis ingest dropped a message');
  }
}
