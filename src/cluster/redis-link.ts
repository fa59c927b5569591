import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Stats } from '../metrics/stats.js';
import { connect, type ClientOptions, type RedisTarget } from './redis-target.js';
import { CHANNELS, COUNT, HEARTBEAT, JOIN, LEAVE, RELAY, REPLACE, SIGN } from './scripts.js';

/** Reconnect attempts back off to this, so cross-node delivery resumes within about a second of Redis. */
const MAX_RETRY_MS = 1000;

type Reply = unknown;
type Script = (...keysThenArgs: (string | number)[]) => Promise<Reply>;

/** The scripts of scripts.ts, as ioredis commands (EVALSHA with a fallback to EVAL). */
export interface Scripts {
  join: Script;
  leave: Script;
  sign: Script;
  count: Script;
  replace: Script;
  heartbeat: Script;
  channels: Script;
  relay: Script;
}

const SCRIPTS: Record<keyof Scripts, [keys: number, lua: string]> = {
  join: [8, JOIN],
  leave: [7, LEAVE],
  sign: [3, SIGN],
  count: [2, COUNT],
  replace: [8, REPLACE],
  heartbeat: [2, HEARTBEAT],
  channels: [1, CHANNELS],
  relay: [2, RELAY],
};

/**
 * The two Redis connections of a node: `cmd` for scripts, queries and publishes (one connection,
 * or one per shard of a Redis Cluster: every key and the bus channel of one app share a hash tag,
 * so a node's changes to one app reach Redis in the order it made them) and `sub` for the bus.
 *
 * On a Redis Cluster the bus is sharded pub/sub (SSUBSCRIBE/SPUBLISH): an app's messages travel
 * only through the shard that owns its slot, and `sub` holds one connection per master.
 *
 * Nothing waits in ioredis while Redis is away: the offline queue is off and a command in flight
 * when the connection drops fails at once (no retry), so callers see the outage and fall back; the
 * node rewrites its part of the state when `ready` fires again. Reconnection never gives up.
 */
export class RedisLink {
  readonly cmd: Redis & Scripts;
  private readonly sub: Redis | Cluster;
  private readonly sharded: boolean;
  private connectedOnce = false;
  private outageLogged = false;
  private stopping = false;
  private readonly readyWaiters = new Set<() => void>();

  constructor(
    target: RedisTarget,
    private readonly stats: Stats,
    private readonly logger: Logger,
    /** Runs first thing on every `ready`, before any other command can be sent. */
    private readonly onReady: () => void,
    /** A Redis Cluster shard's connection was lost (it may be failing over): its apps need a rewrite once it answers. */
    onShardLost: () => void = () => {},
  ) {
    const options: ClientOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RETRY_MS),
      enableAutoPipelining: true,
      closed: () => this.stopping,
    };
    this.sharded = target.kind === 'cluster';
    // A Cluster client has the same commands (routed by key slot); only its pub/sub differs (see `subscribe`).
    this.cmd = connect(target, options) as Redis & Scripts;
    // The bus messages scripts publish (member events, relayed batches) are sharded pub/sub on a
    // cluster: SPUBLISH from a script reaches the shard of the app's slot, which is the script's own.
    const publish = `local PUBLISH = '${this.sharded ? 'SPUBLISH' : 'PUBLISH'}'\n`;
    for (const [name, [numberOfKeys, lua]] of Object.entries(SCRIPTS)) this.cmd.defineCommand(name, { numberOfKeys, lua: publish + lua });
    // The subscriber only sends SUBSCRIBE (again after each reconnect): its queue holds at most those.
    this.sub = connect(target, { ...options, enableOfflineQueue: true, maxRetriesPerRequest: null, enableAutoPipelining: false, sharded: true });

    this.cmd.on('ready', () => this.ready());
    this.cmd.on('close', () => this.lost());
    this.cmd.on('-node', () => {
      if (!this.stopping) onShardLost();
    });
    this.cmd.on('error', (err: Error) => {
      if (!this.outageLogged) logger.warn({ err: err.message }, 'redis error');
      this.outageLogged = true;
    });
    this.sub.on('error', () => {});
  }

  /** Hands every bus message to `handler` (`smessage` on a cluster). */
  onMessage(handler: (channel: string, message: string) => void): void {
    this.sub.on(this.sharded ? 'smessage' : 'message', handler);
  }

  /** SUBSCRIBE, or SSUBSCRIBE one channel at a time on a cluster (each call must stay in one slot); renewed after reconnects. */
  async subscribe(channels: readonly string[]): Promise<void> {
    if (!this.sharded) {
      await this.sub.subscribe(...channels);
      return;
    }
    await Promise.all(channels.map((channel) => this.sub.ssubscribe(channel)));
  }

  get isReady(): boolean {
    return this.cmd.status === 'ready';
  }

  /** Starts connecting; resolves when connected or after `timeoutMs` (the node then runs alone until Redis comes). */
  async start(timeoutMs: number): Promise<boolean> {
    this.cmd.connect().catch(() => {});
    this.sub.connect().catch(() => {});
    return this.waitReady(timeoutMs);
  }

  /** Resolves true once `cmd` is ready, false after `timeoutMs`. */
  waitReady(timeoutMs: number): Promise<boolean> {
    if (this.isReady) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.readyWaiters.delete(wake);
        resolve(ok);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.readyWaiters.add(wake);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([this.cmd.quit(), this.sub.quit()]);
    this.cmd.disconnect();
    this.sub.disconnect();
  }

  private ready(): void {
    this.stats.redisConnected = 1;
    this.outageLogged = false;
    if (this.connectedOnce) {
      this.stats.redisReconnects++;
      this.logger.info('redis reconnected: rewriting this node’s shared state');
    } else {
      this.logger.info('redis connected');
    }
    this.connectedOnce = true;
    this.onReady();
    for (const wake of [...this.readyWaiters]) wake();
  }

  private lost(): void {
    if (this.stats.redisConnected === 0) return;
    this.stats.redisConnected = 0;
    if (this.stopping) return;
    this.logger.warn('redis connection lost: local delivery continues, cross-node publishes are queued (bounded)');
  }
}
