import { channelKind, USER_CHANNEL_PREFIX } from '../../protocol/names.js';
import { EventCache, type CachedEvent } from '../channels/cache.js';
import { ChannelIndex, type ChannelPage, type ChannelQuery } from '../channels/channel-index.js';
import { PresenceTable, type JoinOutcome, type JoinResult, type LeaveOutcome, type PresenceMember } from '../channels/channels.js';
import { channelOfTopic, topicOf } from '../channels/topics.js';
import { UserIndex } from '../channels/users.js';
import type { Stats } from '../metrics/stats.js';
import type { Socket } from '../transport/uws.js';
import type { Connection } from '../rules/connection.js';
import type { Adapter, ChannelInfo } from './adapter.js';
import { ConnectionIndex } from './connection-index.js';

/** The part of the transport the adapter fans out through. */
export interface Publisher {
  /** Skips `except`. */
  publish(topic: string, message: string, except?: Socket): boolean;
  /** uWS's own count: the one source of subscription counts on this node. */
  numSubscribers(topic: string): number;
}

const FULL: JoinResult = Object.freeze({ refused: 'full' });

export class LocalAdapter implements Adapter {
  private readonly table = new PresenceTable();
  private readonly signedIn = new UserIndex<Connection>();
  private readonly eventCache = new EventCache();
  private readonly index = new ChannelIndex(USER_CHANNEL_PREFIX);
  private readonly sockets = new ConnectionIndex();
  private readonly perApp = new Map<string, number>();
  /** `markLeave` marks: `{appId}\0{key}` → expiry (ms). */
  private readonly leaves = new Map<string, number>();
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
      this.publisher.publish(topic, frame, except.socket);
      this.stats.sent(frame, this.stats.messagesOf(appId), recipients - 1);
    } else {
      this.publisher.publish(topic, frame);
      this.stats.sent(frame, this.stats.messagesOf(appId), recipients);
    }
  }

  publishMember(appId: string, channel: string, frame: string, socketId: string): void {
    this.publish(appId, channel, frame, socketId);
  }

  addConnection(conn: Connection): boolean {
    conn.socketId = this.sockets.add(conn);
    const count = (this.perApp.get(conn.app.id) ?? 0) + 1;
    this.perApp.set(conn.app.id, count);
    return conn.app.maxConnections === 0 || count <= conn.app.maxConnections;
  }

  /** False when it was not (or no longer) registered. */
  removeConnection(conn: Connection): boolean {
    if (!this.sockets.remove(conn)) return false;
    const left = (this.perApp.get(conn.app.id) ?? 1) - 1;
    if (left > 0) this.perApp.set(conn.app.id, left);
    else this.perApp.delete(conn.app.id);
    return true;
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

  async clusterConnectionCount(appId: string): Promise<number> {
    return this.connectionCount(appId);
  }

  subscribe(conn: Connection, channel: string, member?: PresenceMember): JoinResult {
    const appId = conn.app.id;
    if (member && !this.table.hasMember(appId, channel, member.id) && this.table.memberCount(appId, channel) >= conn.app.maxPresenceMembers) {
      return FULL;
    }
    const outcome = this.attach(conn, channel, member);
    if (member) outcome.presence = this.table.presence(appId, channel);
    if (channelKind(channel).cache) outcome.cached = this.cached(appId, channel) ?? null;
    return outcome;
  }

  /** Puts the socket in the channel on this node; the shared adapter calls it once the cluster has the join. */
  attach(conn: Connection, channel: string, member?: PresenceMember): JoinOutcome {
    const topic = topicOf(conn.app.id, channel);
    conn.socket.subscribe(topic);
    conn.joined(channel, member?.id);
    const subscriptionCount = this.publisher.numSubscribers(topic);
    this.index.set(conn.app.id, channel, subscriptionCount);
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
    this.index.set(conn.app.id, channel, remaining);
    const memberRemoved = userId !== undefined && this.table.leave(conn.app.id, channel, userId);
    return { subscriptionCount: remaining, vacated: remaining === 0, memberRemoved };
  }

  presence(appId: string, channel: string) {
    return this.table.presence(appId, channel);
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

  onlineUsers(appId: string, userIds: readonly string[]): string[] {
    return userIds.filter((id) => this.signedIn.isOnline(appId, id));
  }

  watch(conn: Connection): void {
    if (conn.user) this.signedIn.watch(conn.app.id, conn.user.watchlist, conn);
  }

  unwatch(conn: Connection): void {
    if (conn.user) this.signedIn.unwatch(conn.app.id, conn.user.watchlist, conn);
  }

  notifyWatchers(appId: string, userId: string, frame: string, exceptSocketId?: string): void {
    for (const watcher of this.signedIn.watchersOf(appId, userId)) {
      if (watcher.socketId !== exceptSocketId) watcher.send(frame);
    }
  }

  terminateUser(appId: string, userId: string, code: number, message: string): void {
    for (const conn of this.signedIn.connections(appId, userId)) conn.terminate(code, message);
  }

  cached(appId: string, channel: string): CachedEvent | undefined {
    return this.eventCache.get(appId, channel, Date.now());
  }

  cache(appId: string, channel: string, event: string, data: string, ttlSeconds: number): void {
    this.eventCache.set(appId, channel, event, data, ttlSeconds, Date.now());
  }

  markLeave(appId: string, key: string, ttlMs: number): void {
    this.leaves.set(`${appId}\0${key}`, Date.now() + ttlMs);
  }

  claimLeave(appId: string, key: string): boolean {
    const at = `${appId}\0${key}`;
    const expiry = this.leaves.get(at);
    this.leaves.delete(at);
    return expiry !== undefined && expiry > Date.now();
  }

  async channelInfo(appId: string, channel: string): Promise<ChannelInfo> {
    return this.info(appId, channel);
  }

  async channels(appId: string, query: ChannelQuery): Promise<ChannelPage> {
    const page = this.index.page(appId, query);
    if (query.withUserCounts) page.userCounts = page.names.map((name) => this.table.memberCount(appId, name));
    return page;
  }

  private info(appId: string, channel: string): ChannelInfo {
    const subscriptionCount = this.index.count(appId, channel);
    return { occupied: subscriptionCount > 0, subscriptionCount, userCount: this.table.memberCount(appId, channel) };
  }

  async users(appId: string, channel: string): Promise<string[]> {
    return this.table.presence(appId, channel).ids;
  }

  async signedInUsers(appId: string): Promise<string[]> {
    return this.signedIn.online(appId);
  }

  async userConnections(appId: string, userId: string): Promise<Connection[]> {
    return [...this.signedIn.connections(appId, userId)];
  }

  sweep(now: number): void {
    this.eventCache.sweep(now);
    for (const [at, expiry] of this.leaves) if (expiry <= now) this.leaves.delete(at);
  }

  sharedState(): 'local' {
    return 'local';
  }

  async close(): Promise<void> {}

  /** This node's part of the app's shared state, as the Redis adapter writes it after a reconnect. */
  contribution(appId: string, counts: (conn: Connection) => boolean): NodeContribution {
    const part: NodeContribution = { connections: 0, channels: new Map(), members: [], users: new Map() };
    const members = new Map<string, [channel: string, userId: string, connections: number, info: unknown]>();
    for (const conn of this.sockets.values()) {
      if (conn.app.id !== appId || !counts(conn)) continue;
      part.connections++;
      if (conn.user) part.users.set(conn.user.id, (part.users.get(conn.user.id) ?? 0) + 1);
      if (!conn.open) continue;
      for (const topic of conn.socket.getTopics()) {
        const channel = channelOfTopic(appId, topic);
        part.channels.set(channel, (part.channels.get(channel) ?? 0) + 1);
        const userId = conn.presenceId(channel);
        if (userId === undefined) continue;
        const key = `${channel}\n${userId}`;
        const entry = members.get(key);
        if (entry) entry[2]++;
        else members.set(key, [channel, userId, 1, this.table.info(appId, channel, userId)]);
      }
    }
    part.members = [...members.values()];
    return part;
  }
}

export interface NodeContribution {
  connections: number;
  /** Channel → this node's subscribers. */
  channels: Map<string, number>;
  members: [channel: string, userId: string, connections: number, info: unknown][];
  /** Signed-in user → this node's connections. */
  users: Map<string, number>;
}
