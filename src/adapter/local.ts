import { PRESENCE_CHANNEL_PREFIX } from '../../protocol/names.js';
import { EventCache, type CachedEvent } from '../channels/cache.js';
import { PresenceTable, type JoinOutcome, type LeaveOutcome, type PresenceMember } from '../channels/channels.js';
import { channelOfTopic, topicOf } from '../channels/topics.js';
import { UserIndex } from '../channels/users.js';
import type { Stats } from '../metrics/stats.js';
import type { Connection } from '../ws/connection.js';
import type { Adapter, ChannelInfo } from './adapter.js';
import { ConnectionIndex } from './connection-index.js';

/** The part of the transport the adapter fans out through. */
export interface Publisher {
  publish(topic: string, message: string): boolean;
  /** uWS's own count: the one source of subscription counts on this node. */
  numSubscribers(topic: string): number;
}

export class LocalAdapter implements Adapter {
  private readonly table = new PresenceTable();
  private readonly signedIn = new UserIndex<Connection>();
  private readonly eventCache = new EventCache();
  private readonly sockets = new ConnectionIndex();
  private readonly perApp = new Map<string, number>();
  /** Set while this adapter unsubscribes a socket: uWS then reports a leave that is already counted. */
  private unsubscribing = false;

  constructor(
    private readonly publisher: Publisher,
    private readonly stats: Stats,
  ) {}

  publish(appId: string, channel: string, frame: string, exceptSocketId?: string): void {
    const topic = topicOf(appId, channel);
    const except = exceptSocketId === undefined ? undefined : this.sockets.get(exceptSocketId);
    const recipients = this.publisher.numSubscribers(topic);
    // Publishing from the excluded socket makes uWS skip it, with no per-subscriber work in JS.
    // Only while it holds some channel: uWS silently drops a publish from a socket that holds no
    // subscriptions at all (never subscribed, or just left its last channel). Whether it holds
    // this one is not asked (a second topic lookup per client event, after the sender's own
    // membership check): a socket outside the channel is skipped by nobody, and only the sent
    // count is then one short.
    if (except && except.open && except.channelCount > 0 && except.app.id === appId) {
      except.socket.publish(topic, frame);
      this.stats.sent(frame, recipients - 1);
    } else {
      this.publisher.publish(topic, frame);
      this.stats.sent(frame, recipients);
    }
  }

  addConnection(conn: Connection): void {
    conn.socketId = this.sockets.add(conn);
    this.perApp.set(conn.app.id, (this.perApp.get(conn.app.id) ?? 0) + 1);
  }

  removeConnection(conn: Connection): void {
    if (!this.sockets.remove(conn)) return;
    const left = (this.perApp.get(conn.app.id) ?? 1) - 1;
    if (left > 0) this.perApp.set(conn.app.id, left);
    else this.perApp.delete(conn.app.id);
  }

  connection(socketId: string) {
    return this.sockets.get(socketId);
  }

  connectionCount(appId?: string): number {
    return appId === undefined ? this.sockets.size : (this.perApp.get(appId) ?? 0);
  }

  connections(): Iterable<Connection> {
    return this.sockets.values();
  }

  subscribe(conn: Connection, channel: string, member?: PresenceMember): JoinOutcome {
    const topic = topicOf(conn.app.id, channel);
    conn.socket.subscribe(topic);
    conn.joined(channel, member?.id);
    const subscriptionCount = this.publisher.numSubscribers(topic);
    const memberAdded = member !== undefined && this.table.join(conn.app.id, channel, member);
    return { subscriptionCount, occupied: subscriptionCount === 1, memberAdded };
  }

  unsubscribe(conn: Connection, channel: string): LeaveOutcome {
    const topic = topicOf(conn.app.id, channel);
    this.unsubscribing = true;
    conn.socket.unsubscribe(topic);
    this.unsubscribing = false;
    return this.leave(conn, channel, this.publisher.numSubscribers(topic));
  }

  dropped(conn: Connection, channel: string, remaining: number): LeaveOutcome | undefined {
    return this.unsubscribing ? undefined : this.leave(conn, channel, remaining);
  }

  private leave(conn: Connection, channel: string, remaining: number): LeaveOutcome {
    const userId = conn.left(channel);
    const memberRemoved = userId !== undefined && this.table.leave(conn.app.id, channel, userId);
    return { subscriptionCount: remaining, vacated: remaining === 0, memberRemoved };
  }

  presence(appId: string, channel: string) {
    return this.table.presence(appId, channel);
  }

  hasMember(appId: string, channel: string, userId: string) {
    return this.table.hasMember(appId, channel, userId);
  }

  memberCount(appId: string, channel: string) {
    return this.table.memberCount(appId, channel);
  }

  signIn(conn: Connection): boolean {
    return conn.user ? this.signedIn.add(conn.app.id, conn.user.id, conn) : false;
  }

  signOut(conn: Connection): boolean {
    return conn.user ? this.signedIn.remove(conn.app.id, conn.user.id, conn) : false;
  }

  isOnline(appId: string, userId: string) {
    return this.signedIn.isOnline(appId, userId);
  }

  watch(conn: Connection): void {
    if (conn.user) this.signedIn.watch(conn.app.id, conn.user.watchlist, conn);
  }

  unwatch(conn: Connection): void {
    if (conn.user) this.signedIn.unwatch(conn.app.id, conn.user.watchlist, conn);
  }

  watchersOf(appId: string, userId: string) {
    return this.signedIn.watchersOf(appId, userId);
  }

  cached(appId: string, channel: string): CachedEvent | undefined {
    return this.eventCache.get(appId, channel, Date.now());
  }

  cache(appId: string, channel: string, event: string, data: string, ttlSeconds: number): void {
    this.eventCache.set(appId, channel, event, data, ttlSeconds, Date.now());
  }

  async channelInfo(appId: string, channel: string): Promise<ChannelInfo> {
    return this.info(appId, channel);
  }

  /**
   * Presence channels are listed from the member table. Any other prefix walks this node's
   * connections and asks uWS for each one's topics: a cost per request that grows with the
   * connections, paid instead of a name and a map entry per channel held all the time.
   */
  async channels(appId: string, prefix = ''): Promise<Map<string, ChannelInfo>> {
    const names = new Set<string>();
    if (prefix.startsWith(PRESENCE_CHANNEL_PREFIX)) {
      for (const name of this.table.channels(appId)) if (name.startsWith(prefix)) names.add(name);
    } else {
      for (const conn of this.sockets.values()) {
        if (conn.app.id !== appId || !conn.open) continue;
        for (const topic of conn.socket.getTopics()) {
          const name = channelOfTopic(appId, topic);
          if (name.startsWith(prefix)) names.add(name);
        }
      }
    }
    const result = new Map<string, ChannelInfo>();
    for (const name of names) {
      const info = this.info(appId, name);
      if (info.occupied) result.set(name, info);
    }
    return result;
  }

  private info(appId: string, channel: string): ChannelInfo {
    const subscriptionCount = this.publisher.numSubscribers(topicOf(appId, channel));
    return { occupied: subscriptionCount > 0, subscriptionCount, userCount: this.table.memberCount(appId, channel) };
  }

  async users(appId: string, channel: string): Promise<string[]> {
    return this.table.presence(appId, channel).ids;
  }

  async userConnections(appId: string, userId: string): Promise<Connection[]> {
    return [...this.signedIn.connections(appId, userId)];
  }

  sweep(now: number): void {
    this.eventCache.sweep(now);
  }
}
