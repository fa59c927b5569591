import type { CachedEvent } from '../channels/cache.js';
import type { ChannelPage, ChannelQuery } from '../channels/channel-index.js';
import type { JoinOutcome, LeaveOutcome, PresenceMember, PresenceSnapshot } from '../channels/channels.js';
import type { Connection } from '../ws/connection.js';

export interface ChannelInfo {
  occupied: boolean;
  subscriptionCount: number;
  /** Distinct presence users (0 for other channel types). */
  userCount: number;
}

/**
 * Fan-out and shared state. The local adapter keeps everything in this process; a Redis adapter
 * implements the same interface so that counts, presence and delivery span every node. The shared
 * test suite (test/adapter) runs against each implementation.
 *
 * Membership changes are synchronous because a subscription must be confirmed before the client's
 * next frame is handled; queries that a shared implementation answers over the network are async.
 */
export interface Adapter {
  /**
   * Delivers one serialized frame to every subscriber of the channel, except `exceptSocketId`.
   * `localOnly` keeps it on this node: for sources every node receives anyway (Redis ingest), so
   * that each subscriber still gets the event once.
   */
  publish(appId: string, channel: string, frame: string, exceptSocketId?: string, localOnly?: boolean): void;

  /** Registers an opened connection and gives it its socket id. */
  addConnection(conn: Connection): void;
  removeConnection(conn: Connection): void;
  connection(socketId: string): Connection | undefined;
  connectionCount(appId?: string): number;
  connections(): Iterable<Connection>;

  subscribe(conn: Connection, channel: string, member?: PresenceMember): JoinOutcome;
  unsubscribe(conn: Connection, channel: string): LeaveOutcome;
  /**
   * The transport reports that the socket left the channel, with the subscribers this node has
   * left there: every channel of a closing socket, and also each `unsubscribe` above, which is
   * already counted (then undefined).
   */
  dropped(conn: Connection, channel: string, remaining: number): LeaveOutcome | undefined;
  presence(appId: string, channel: string): PresenceSnapshot;
  hasMember(appId: string, channel: string, userId: string): boolean;
  memberCount(appId: string, channel: string): number;

  /** Returns true when the user came online (first signed-in connection). */
  signIn(conn: Connection): boolean;
  /** Returns true when the user went offline (last signed-in connection closed). */
  signOut(conn: Connection): boolean;
  isOnline(appId: string, userId: string): boolean;
  watch(conn: Connection): void;
  unwatch(conn: Connection): void;
  watchersOf(appId: string, userId: string): Iterable<Connection>;

  cached(appId: string, channel: string): CachedEvent | undefined;
  cache(appId: string, channel: string, event: string, data: string, ttlSeconds: number): void;

  channelInfo(appId: string, channel: string): Promise<ChannelInfo>;
  /**
   * One page of the occupied channels starting with `query.prefix`, in name order, without
   * `#server-to-user-*`; callers page with `next` so that no call holds the event loop for long.
   */
  channels(appId: string, query: ChannelQuery): Promise<ChannelPage>;
  /** Distinct presence user ids. */
  users(appId: string, channel: string): Promise<string[]>;
  /** Connections signed in as that user, on every node. */
  userConnections(appId: string, userId: string): Promise<Connection[]>;

  /** Periodic housekeeping (expired cache entries). */
  sweep(now: number): void;
}
