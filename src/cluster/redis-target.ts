import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { HeraldConfig } from '../config/schema.js';

interface Address {
  host: string;
  port: number;
}

/** Where Herald's Redis is: one server (URL), a Redis Cluster (seed nodes), or a primary that Sentinel names. */
export type RedisTarget =
  | { kind: 'server'; url: string }
  | { kind: 'cluster'; seeds: Address[]; node: RedisOptions }
  | { kind: 'sentinel'; sentinels: Address[]; name: string; node: RedisOptions; sentinelPassword: string | undefined };

type RedisChoice = Pick<
  HeraldConfig,
  'redisUrl' | 'redisCluster' | 'redisSentinels' | 'redisSentinelName' | 'redisSentinelPassword' | 'redisUsername' | 'redisPassword' | 'redisTls'
>;

export function redisTarget(config: RedisChoice): RedisTarget | undefined {
  if (config.redisUrl !== undefined) return { kind: 'server', url: config.redisUrl };
  const node: RedisOptions = {};
  if (config.redisUsername !== undefined) node.username = config.redisUsername;
  if (config.redisPassword !== undefined) node.password = config.redisPassword;
  if (config.redisTls) node.tls = {};
  if (config.redisCluster !== undefined) return { kind: 'cluster', seeds: addresses(config.redisCluster, node), node };
  if (config.redisSentinels !== undefined) {
    return { kind: 'sentinel', sentinels: addresses(config.redisSentinels, node), name: config.redisSentinelName, node, sentinelPassword: config.redisSentinelPassword };
  }
  return undefined;
}

export const redisConfigured = (config: RedisChoice): boolean => redisTarget(config) !== undefined;

/** How a client behaves, whatever the target (a subset of ioredis' options). */
export interface ClientOptions {
  lazyConnect?: boolean;
  enableOfflineQueue: boolean;
  maxRetriesPerRequest: number | null;
  retryStrategy: (attempt: number) => number;
  enableAutoPipelining: boolean;
  autoResubscribe?: boolean;
  connectionName?: string;
  /** Cluster only: pub/sub on this client is sharded (SSUBSCRIBE, one connection per master). */
  sharded?: boolean;
  /** True once the owner has closed the client on purpose: until then a Sentinel client that ends is started again. */
  closed?: () => boolean;
}

const NEVER_CLOSED = (): boolean => false;

/** A client for the target: `Redis` for a server or Sentinel, `Cluster` for a Redis Cluster. */
export function connect(target: RedisTarget, options: ClientOptions): Redis | Cluster {
  const { sharded = false, retryStrategy, closed = NEVER_CLOSED, ...common } = options;
  switch (target.kind) {
    case 'server':
      return new Redis(target.url, { ...common, retryStrategy });
    case 'sentinel': {
      const client = new Redis({
        ...common,
        ...target.node,
        retryStrategy,
        sentinels: target.sentinels,
        name: target.name,
        sentinelPassword: target.sentinelPassword,
        enableTLSForSentinelMode: target.node.tls !== undefined,
        ...(target.node.tls !== undefined ? { sentinelTLS: target.node.tls } : {}),
        sentinelRetryStrategy: retryStrategy,
        // Told by the sentinels of a failover at once, rather than when the old primary's connection drops.
        failoverDetector: true,
        // A primary demoted under us answers writes with READONLY: find the new one.
        reconnectOnError: (err) => err.message.startsWith('READONLY'),
      });
      restartWhenEnded(client, closed, retryStrategy);
      return client;
    }
    case 'cluster': {
      const cluster: ClusterOptions = {
        lazyConnect: common.lazyConnect ?? false,
        enableOfflineQueue: common.enableOfflineQueue,
        enableAutoPipelining: common.enableAutoPipelining,
        clusterRetryStrategy: retryStrategy,
        shardedSubscribers: sharded,
        // A command that meets a failing shard fails at once, like one on a dropped connection:
        // ioredis' retries would send it after newer ones (events out of order, a leave before its
        // join). Callers fall back, and the node rewrites its part once the shard answers again.
        retryDelayOnFailover: 0,
        retryDelayOnClusterDown: 0,
        // Node addresses are the ones the nodes announce: TLS names are checked against those.
        redisOptions: {
          ...target.node,
          maxRetriesPerRequest: common.maxRetriesPerRequest,
          autoResubscribe: common.autoResubscribe ?? true,
          ...(common.connectionName !== undefined ? { connectionName: common.connectionName } : {}),
        },
      };
      return new Cluster(target.seeds, cluster);
    }
  }
}

/**
 * ioredis 6.0 can end a Sentinel client for good in a failover: when the `+switch-master` that the
 * previous connection's failover detector waits for arrives while the client is already
 * reconnecting through the sentinels, the detector closes the connector mid-connect, the connect
 * fails, and a failed connect ends the client (status `end`, no retry), leaving the node without
 * Redis until restarted. Unless its owner closed it, it is started again; it then subscribes again
 * as after any reconnect.
 */
function restartWhenEnded(client: Redis, closed: () => boolean, retryStrategy: (attempt: number) => number): void {
  let attempt = 0;
  client.on('ready', () => (attempt = 0));
  client.on('end', () => {
    if (closed()) return;
    setTimeout(() => {
      if (!closed() && client.status === 'end') client.connect().catch(() => {});
    }, retryStrategy(++attempt));
  });
}

/**
 * `host:port,…`; an entry may be a `redis[s]://[user:pass@]host:port` URL, whose scheme and
 * credentials then apply to every node (`node`) unless set by their own options.
 */
function addresses(list: string, node: RedisOptions): Address[] {
  return list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      if (!/^rediss?:\/\//.test(entry)) {
        const at = entry.lastIndexOf(':');
        return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) };
      }
      const url = new URL(entry);
      if (url.protocol === 'rediss:') node.tls ??= {};
      if (url.username !== '') node.username ??= decodeURIComponent(url.username);
      if (url.password !== '') node.password ??= decodeURIComponent(url.password);
      return { host: url.hostname, port: Number(url.port || 6379) };
    });
}
