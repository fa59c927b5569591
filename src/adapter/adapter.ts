import type { CachedEvent } from '../channels/cache.js';
import type { ChannelPage, ChannelQuery } from '../channels/channel-index.js';
import type { JoinResult, LeaveOutcome, PresenceMember, PresenceSnapshot } from '../channels/channels.js';
import type { Connection } from '../rules/connection.js';

export interface ChannelInfo {
  occupied: boolean;
  subscriptionCount: number;
  /** Distinct presence users (0 for other channel types). */
  userCount: number;
}

/**
 * A value the local adapter has at once and a shared one may have to fetch. Callers take the
 * synchronous branch when there is one (`when`), so the single-node path never waits on a Promise.
 */
export type Maybe<T> = T | Promise<T>;

export function when<T>(value: Maybe<T>, then: (value: T) => void, failed: (error: unknown) => void): void {
  if (value instanceof Promise) value.then(then).catch(failed);
  else then(value);
}

/** The shared state a query needs cannot be reached (Redis is down): REST answers 503, not a wrong number. */
export class SharedStateUnavailable extends Error {
  constructor(message = 'Shared state (Redis) is unavailable') {
    super(message);
    this.name = 'SharedStateUnavailable';
  }
}

/**
 * Fan-out and shared state. The local adapter keeps everything in this process; the Redis adapter
 * (src/cluster) implements the same interface so that counts, presence and delivery span every
 * node. The shared test suite (test/adapter) runs against each implementation.
 *
 * Membership changes answer synchronously on one node; in a cluster they answer once the shared
 * state has taken them (the WebSocket layer holds the connection's next frames until then).
 * Outcomes such as `occupied` or `memberAdded` are true on exactly one node of the cluster: the one
 * whose update caused the change, so lifecycle events are emitted once.
 */
export interface Adapter {
  /**
   * Delivers one serialized frame to every subscriber of the channel, except `exceptSocketId`.
   * `localOnly` keeps it on this node: for sources every node receives anyway (Redis ingest), so
   * that each subscriber still gets the event once.
   */
  publish(appId: string, channel: string, frame: string, exceptSocketId?: string, localOnly?: boolean): void;

  /**
   * A presence member event, to every subscriber except the member's own connection. `seq` is
   * the join's or leave's `memberSeq`: with it, the shared state has already sent the event to
   * the other nodes, and this node orders it against the member lists its subscribers were given.
   */
  publishMember(appId: string, channel: string, frame: string, socketId: string, seq: number | undefined): void;

  /**
   * Registers an opened connection and gives it its socket id. False when the app is over its
   * `maxConnections` (cluster-wide): the caller closes it with 4004.
   */
  addConnection(conn: Connection): Maybe<boolean>;
  removeConnection(conn: Connection): void;
  /** This node's connections. */
  connection(socketId: string): Connection | undefined;
  connectionCount(appId?: string): number;
  connections(): Iterable<Connection>;
  /** The app's connections on every node. */
  clusterConnectionCount(appId: string): Promise<number>;

  /** Checks the app's `maxPresenceMembers` for a presence member in the same step as the join. */
  subscribe(conn: Connection, channel: string, member?: PresenceMember): Maybe<JoinResult>;
  unsubscribe(conn: Connection, channel: string): Maybe<LeaveOutcome>;
  /**
   * The transport reports that the socket left the channel, with the subscribers this node has
   * left there: every channel of a closing socket, and also each `unsubscribe` above, which is
   * already counted (then undefined).
   */
  dropped(conn: Connection, channel: string, remaining: number): Maybe<LeaveOutcome> | undefined;
  presence(appId: string, channel: string): Maybe<PresenceSnapshot>;

  /** True when the user came online (first signed-in connection anywhere). */
  signIn(conn: Connection): Maybe<boolean>;
  /** True when the user went offline (last signed-in connection anywhere closed). */
  signOut(conn: Connection): Maybe<boolean>;
  isOnline(appId: string, userId: string): Maybe<boolean>;
  /** Those of `userIds` that are online. */
  onlineUsers(appId: string, userIds: readonly string[]): Maybe<string[]>;
  watch(conn: Connection): void;
  unwatch(conn: Connection): void;
  /** Sends `frame` to every connection watching the user, on every node. */
  notifyWatchers(appId: string, userId: string, frame: string, exceptSocketId?: string): void;
  /** Ids of the app's signed-in users, on every node (for `/stats`, not a hot path). */
  signedInUsers(appId: string): Promise<string[]>;
  /** Connections on this node signed in as that user. */
  userConnections(appId: string, userId: string): Promise<Connection[]>;
  /** Closes (4009) every connection signed in as that user, on every node. */
  terminateUser(appId: string, userId: string, code: number, message: string): void;

  cached(appId: string, channel: string): Maybe<CachedEvent | undefined>;
  /**
   * Marks a webhook leave (`channel_vacated`, `member_removed`) as held back for `ttlMs`, so that
   * the re-join of a page reload on another node finds it (`claimLeave`) and both go unsent.
   */
  markLeave(appId: string, key: string, ttlMs: number): void;
  /** Removes the mark; true for exactly one caller while it stands (the re-join, or the leave's own release). */
  claimLeave(appId: string, key: string): Maybe<boolean>;
  cache(appId: string, channel: string, event: string, data: string, ttlSeconds: number): void;

  channelInfo(appId: string, channel: string): Promise<ChannelInfo>;
  /**
   * One page of the occupied channels starting with `query.prefix`, in name order, without
   * `#server-to-user-*`; callers page with `next` so that no call holds the event loop for long.
   */
  channels(appId: string, query: ChannelQuery): Promise<ChannelPage>;
  /** Distinct presence user ids. */
  users(appId: string, channel: string): Promise<string[]>;

  /** Where shared state lives and whether it can be reached: `local`, or Redis `connected` / `disconnected`. */
  sharedState(): 'local' | 'connected' | 'disconnected';

  /** Periodic housekeeping (expired cache entries). */
  sweep(now: number): void;
  /** After every connection has closed on a graceful stop: withdraws this node from the cluster. */
  close(): Promise<void>;
}
