import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/codes.js';
import { memberAdded, memberRemoved, watchlistEvents } from '../../protocol/frames.js';
import { channelKind } from '../../protocol/names.js';
import { SharedStateUnavailable, type Adapter, type ChannelInfo, type Maybe } from '../adapter/adapter.js';
import { LocalAdapter, type NodeContribution, type Publisher } from '../adapter/local.js';
import type { CachedEvent } from '../channels/cache.js';
import type { ChannelPage, ChannelQuery } from '../channels/channel-index.js';
import type { JoinOutcome, JoinResult, LeaveOutcome, PresenceMember, PresenceSnapshot } from '../channels/channels.js';
import type { AppConfig } from '../config/schema.js';
import type { Lifecycle } from '../events/lifecycle.js';
import type { Stats } from '../metrics/stats.js';
import type { Connection } from '../rules/connection.js';
import { ClusterBus, type BusMessage } from './bus.js';
import { ClusterKeys } from './keys.js';
import { MemberOrder } from './member-order.js';
import { NodeMembership } from './membership.js';
import { RedisLink } from './redis-link.js';
import type { RedisTarget } from './redis-target.js';
import { DEAD } from './scripts.js';

export interface RedisAdapterOptions {
  redis: RedisTarget;
  prefix: string;
  /** Seconds of missed heartbeats before a node is declared dead. */
  nodeTimeout: number;
  /** Seconds a presence subscribe waits for an unreachable Redis. */
  presenceTimeout: number;
  queueSize: number;
  apps: readonly AppConfig[];
  stats: Stats;
  logger: Logger;
  events: Lifecycle;
}

const UNAVAILABLE: JoinResult = Object.freeze({ refused: 'unavailable' });
const FULL: JoinResult = Object.freeze({ refused: 'full' });
const CLOSED: JoinResult = Object.freeze({ refused: 'closed' });

/**
 * The adapter of a node in a cluster: this node's sockets, uWS topics and watchers stay in a
 * `LocalAdapter`; shared state (counts, presence, signed-in users, connections, cache) lives in
 * Redis, changed by one atomic script per operation; events cross nodes on the app's bus.
 *
 * The node's part of each total is kept apart in Redis (`NodeMembership` beats, reaps silent
 * nodes and rewrites this node's part on each connect); this adapter announces what a departed
 * part left behind (`member_removed`, watchlist `offline`, lifecycle events) once to the cluster.
 */
export class RedisAdapter implements Adapter {
  private readonly local: LocalAdapter;
  private readonly keys: ClusterKeys;
  private readonly link: RedisLink;
  private readonly bus: ClusterBus;
  private readonly apps = new Map<string, AppConfig>();
  private readonly membership: NodeMembership;
  private readonly memberOrder = new MemberOrder();
  /** Connections of a previous node id (declared dead): closing, and kept out of shared state. */
  private orphans = new WeakSet<Connection>();
  /** Joins sent to Redis and not answered yet, per app: a rewrite now would miss them (see `NodeMembership.resettle`). */
  private readonly joining = new Map<string, number>();
  /** App → channels first subscribed on this node while Redis was away, for the next rewrite. */
  private readonly occupiedAlone = new Map<string, Set<string>>();
  /** Refused by the app's cluster-wide quota: never counted in Redis. */
  private readonly refused = new WeakSet<Connection>();
  private constructor(
    publisher: Publisher,
    private readonly options: RedisAdapterOptions,
  ) {
    this.local = new LocalAdapter(publisher, options.stats);
    this.keys = new ClusterKeys(options.prefix);
    for (const app of options.apps) this.apps.set(app.id, app);
    this.link = new RedisLink(
      options.redis,
      options.stats,
      options.logger,
      () => this.membership.rewrite(),
      () => this.membership.shardLost(),
    );
    this.bus = new ClusterBus(this.link, this.keys, options.queueSize, options.stats, options.logger, () => this.nodeId);
    this.membership = new NodeMembership(this.link, this.keys, [...this.apps.keys()], options, {
      part: (appId) => this.part(appId),
      joining: (appId) => (this.joining.get(appId) ?? 0) > 0,
      departed: (appId, removed, vacated, offline, occupied) => this.departed(appId, removed, vacated, offline, occupied),
      // Messages queued during an outage go out right behind the rewrite, ahead of anything new.
      rewriteSent: () => this.bus.flush(),
      rejoined: (oldNode, node) => this.rejoined(oldNode, node),
    });
  }

  /** Connects (waiting at most `presenceTimeout`: without Redis the node starts alone and catches up), subscribes, beats. */
  static async start(publisher: Publisher, options: RedisAdapterOptions): Promise<RedisAdapter> {
    const adapter = new RedisAdapter(publisher, options);
    const subscribed = adapter.bus.listen([...adapter.apps.keys()], (appId, message) => adapter.received(appId, message));
    subscribed.catch((err: unknown) => options.logger.error({ err }, 'redis bus subscribe failed'));
    const connected = await adapter.link.start(options.presenceTimeout * 1000);
    if (connected) await Promise.race([subscribed, sleep(options.presenceTimeout * 1000)]);
    else options.logger.warn('redis unreachable at start: running alone until it answers');
    adapter.membership.start();
    options.logger.info({ node: adapter.nodeId, prefix: options.prefix }, 'cluster mode: sharing state over redis');
    return adapter;
  }

  get node(): string {
    return this.membership.node;
  }

  private get nodeId(): string {
    return this.membership.node;
  }

  // ---- fan-out ----------------------------------------------------------------------------

  publish(appId: string, channel: string, frame: string, exceptSocketId?: string, localOnly?: boolean): void {
    this.local.publish(appId, channel, frame, exceptSocketId);
    if (!localOnly) this.bus.publish(appId, channel, frame, exceptSocketId);
  }

  publishMember(appId: string, channel: string, frame: string, socketId: string, seq: number | undefined): void {
    // Numbered: the script that made the change published it to the others. Unnumbered (Redis
    // was down, the change is this node's alone for now): an ordinary event.
    if (seq === undefined) return this.publish(appId, channel, frame, socketId);
    this.deliverMember(appId, channel, seq, frame, socketId);
  }

  /** A member event of a departed node's part, numbered `seq` by the script that removed it. */
  private member(appId: string, channel: string, seq: number, frame: string): void {
    this.deliverMember(appId, channel, seq, frame, undefined);
    this.bus.member(appId, channel, seq, frame);
  }

  private deliverMember(appId: string, channel: string, seq: number, frame: string, except: string | undefined): void {
    this.memberOrder.deliver(appId, channel, seq, frame, except, () => this.local.publish(appId, channel, frame, except));
  }

  private received(appId: string, message: BusMessage): void {
    switch (message.kind) {
      case 'publish':
        return this.local.publish(appId, message.channel, message.frame, message.except || undefined);
      case 'member':
        return this.deliverMember(appId, message.channel, message.seq, message.frame, message.except || undefined);
      case 'watchers':
        return this.local.notifyWatchers(appId, message.userId, message.frame, message.except || undefined);
      case 'terminate':
        return this.local.terminateUser(appId, message.userId, message.code, message.message);
    }
  }

  // ---- connections ------------------------------------------------------------------------

  addConnection(conn: Connection): Maybe<boolean> {
    const withinNode = this.local.addConnection(conn);
    const app = conn.app;
    if (!withinNode || !this.link.isReady) {
      // Over quota on this node alone is over quota everywhere; without Redis the rewrite counts it.
      if (!withinNode) this.refused.add(conn);
      return withinNode;
    }
    const node = this.nodeId;
    const admitted = this.link.cmd
      .count(this.keys.connections(app.id), this.keys.dead(app.id, node), node, 1, app.maxConnections)
      .then((reply) => {
        if (reply === DEAD) this.membership.declaredDead(node);
        if (reply !== 1) this.refused.add(conn);
        return reply === 1;
      }, () => true);
    // Only a quota needs the answer before the connection is confirmed.
    return app.maxConnections > 0 ? admitted : true;
  }

  removeConnection(conn: Connection): void {
    if (!this.local.removeConnection(conn) || !this.shares(conn) || this.refused.has(conn)) return;
    const app = conn.app.id;
    this.link.cmd.count(this.keys.connections(app), this.keys.dead(app, this.nodeId), this.nodeId, -1, 0).catch(() => {});
  }

  connection(socketId: string) {
    return this.local.connection(socketId);
  }

  connectionCount(appId?: string): number {
    return this.local.connectionCount(appId);
  }

  connections(): Iterable<Connection> {
    return this.local.connections();
  }

  async clusterConnectionCount(appId: string): Promise<number> {
    const counts = await this.query(() => this.link.cmd.hvals(this.keys.connections(appId)));
    return counts.reduce((sum, n) => sum + Number(n), 0);
  }

  // ---- channels ---------------------------------------------------------------------------

  subscribe(conn: Connection, channel: string, member?: PresenceMember): Maybe<JoinResult> {
    if (this.orphans.has(conn)) return CLOSED;
    if (this.link.isReady) return this.join(conn, channel, member);
    // Without Redis a public or private channel still works on this node (the rewrite on reconnect
    // shares it); a presence member list could be wrong, so presence waits for Redis a bounded time.
    if (!member) return this.subscribeAlone(conn, channel);
    return this.link.waitReady(this.options.presenceTimeout * 1000).then((ok) => (ok && conn.open ? this.join(conn, channel, member) : UNAVAILABLE));
  }

  private async join(conn: Connection, channel: string, member: PresenceMember | undefined): Promise<JoinResult> {
    if (!member) return this.joinShared(conn, channel, undefined);
    this.memberOrder.joining(conn, channel);
    const result = await this.joinShared(conn, channel, member);
    if ('refused' in result) this.memberOrder.left(conn, channel);
    return result;
  }

  private async joinShared(conn: Connection, channel: string, member: PresenceMember | undefined): Promise<JoinResult> {
    const app = conn.app;
    const cache = channelKind(channel).cache;
    const node = this.nodeId;
    let reply: [count: number, added: number, roster: string[] | null, cached: string | null, seen: number];
    this.joining.set(app.id, (this.joining.get(app.id) ?? 0) + 1);
    try {
      reply = (await this.link.cmd.join(
        ...this.channelKeys(app.id, channel, node),
        this.keys.cache(app.id, channel),
        channel,
        member?.id ?? '',
        JSON.stringify(member?.info ?? null),
        app.maxPresenceMembers,
        cache ? '1' : '0',
        ...(member ? this.bus.memberMessage(app.id, channel, memberAdded(channel, member.id, member.info), conn.socketId) : []),
      )) as typeof reply;
    } catch {
      // Redis went away mid-call: the rewrite on reconnect settles whether it counted.
      if (member || !conn.open) return member ? UNAVAILABLE : CLOSED;
      return this.subscribeAlone(conn, channel);
    } finally {
      // The join is attached below in this same turn: never seen half done.
      this.joining.set(app.id, this.joining.get(app.id)! - 1);
    }
    const [count, added, roster, cached, seen] = reply;
    if (count === DEAD) {
      this.membership.declaredDead(node);
      return CLOSED;
    }
    if (count === -2) return FULL;
    if (!conn.open || this.orphans.has(conn)) {
      // Closed while the join was on its way: take it back (a member added is removed again).
      this.leaveShared(conn, channel, member?.id);
      return CLOSED;
    }
    this.local.attach(conn, channel, member);
    if (member) this.memberOrder.joined(conn, channel, seen);
    const outcome: JoinOutcome = { subscriptionCount: count, occupied: count === 1, memberAdded: added > 0 };
    if (added > 0) outcome.memberSeq = added;
    if (roster) outcome.presence = snapshot(roster);
    if (cache) outcome.cached = cached ? (JSON.parse(cached) as CachedEvent) : null;
    return outcome;
  }

  /**
   * Without Redis: confirmed on this node alone. Whether the channel is newly occupied is for the
   * rewrite on reconnect to tell (`channel_occupied` once, from the node that rewrites it first).
   */
  private subscribeAlone(conn: Connection, channel: string): JoinResult {
    const result = this.local.subscribe(conn, channel);
    if ('refused' in result) return result;
    if (result.occupied) {
      let alone = this.occupiedAlone.get(conn.app.id);
      if (!alone) this.occupiedAlone.set(conn.app.id, (alone = new Set()));
      alone.add(channel);
    }
    return { ...result, occupied: false };
  }

  unsubscribe(conn: Connection, channel: string): Maybe<LeaveOutcome> {
    const memberId = conn.presenceId(channel);
    const left = this.local.unsubscribe(conn, channel);
    if (memberId !== undefined) this.memberOrder.left(conn, channel);
    return this.shares(conn) ? this.leaveShared(conn, channel, memberId, left) : quiet(left);
  }

  dropped(conn: Connection, channel: string, remaining: number): Maybe<LeaveOutcome> | undefined {
    const memberId = conn.presenceId(channel);
    const left = this.local.dropped(conn, channel, remaining);
    if (!left) return undefined;
    if (memberId !== undefined) this.memberOrder.left(conn, channel);
    return this.shares(conn) ? this.leaveShared(conn, channel, memberId, left) : quiet(left);
  }

  /** Without Redis a leave is only local: the rewrite on reconnect reports what really changed. */
  private leaveShared(conn: Connection, channel: string, memberId: string | undefined, local?: LeaveOutcome): Maybe<LeaveOutcome> {
    const fallback = quiet(local ?? { subscriptionCount: 0, vacated: false, memberRemoved: false });
    if (!this.link.isReady) return fallback;
    const node = this.nodeId;
    const app = conn.app.id;
    const announce = memberId === undefined ? [] : this.bus.memberMessage(app, channel, memberRemoved(channel, memberId), conn.socketId);
    return this.link.cmd.leave(...this.channelKeys(app, channel, node), channel, memberId ?? '', ...announce).then(
      (reply) => {
        const [count, removed] = reply as [number, number];
        if (count === DEAD) {
          this.membership.declaredDead(node);
          return fallback;
        }
        const outcome: LeaveOutcome = { subscriptionCount: count, vacated: count === 0, memberRemoved: removed > 0 };
        if (removed > 0) outcome.memberSeq = removed;
        return outcome;
      },
      () => fallback,
    );
  }

  private channelKeys(appId: string, channel: string, node: string): string[] {
    const k = this.keys;
    return [
      k.channels(appId),
      k.nodeChannels(appId, node),
      k.dead(appId, node),
      k.members(appId, channel),
      k.info(appId, channel),
      k.nodeMembers(appId, node),
      k.seq(appId),
    ];
  }

  presence(appId: string, channel: string): Maybe<PresenceSnapshot> {
    if (!this.link.isReady) return this.local.presence(appId, channel);
    return this.link.cmd.hgetall(this.keys.info(appId, channel)).then(
      (hash) => snapshot(Object.entries(hash).flat()),
      () => this.local.presence(appId, channel),
    );
  }

  // ---- users ------------------------------------------------------------------------------

  signIn(conn: Connection): Maybe<boolean> {
    this.local.signIn(conn);
    return this.sign(conn, 1).then((n) => n === 1);
  }

  signOut(conn: Connection): Maybe<boolean> {
    this.local.signOut(conn);
    return this.sign(conn, -1).then((n) => n === 0);
  }

  /** The user's connections on every node after the change, or -1 when unknown (no events then). */
  private async sign(conn: Connection, delta: 1 | -1): Promise<number> {
    if (!conn.user || !this.shares(conn) || !this.link.isReady) return -1;
    const app = conn.app.id;
    const node = this.nodeId;
    try {
      const n = (await this.link.cmd.sign(this.keys.users(app), this.keys.nodeUsers(app, node), this.keys.dead(app, node), conn.user.id, delta)) as number;
      if (n === DEAD) this.membership.declaredDead(node);
      return n;
    } catch {
      return -1;
    }
  }

  isOnline(appId: string, userId: string): Maybe<boolean> {
    return this.query(() => this.link.cmd.hexists(this.keys.users(appId), userId)).then((n) => n === 1);
  }

  onlineUsers(appId: string, userIds: readonly string[]): Maybe<string[]> {
    if (!this.link.isReady) return this.local.onlineUsers(appId, userIds);
    return this.link.cmd.hmget(this.keys.users(appId), ...userIds).then(
      (counts) => userIds.filter((_, i) => counts[i] !== null),
      () => this.local.onlineUsers(appId, userIds),
    );
  }

  watch(conn: Connection): void {
    this.local.watch(conn);
  }

  unwatch(conn: Connection): void {
    this.local.unwatch(conn);
  }

  notifyWatchers(appId: string, userId: string, frame: string, exceptSocketId?: string): void {
    this.local.notifyWatchers(appId, userId, frame, exceptSocketId);
    this.bus.toWatchers(appId, userId, frame, exceptSocketId);
  }

  userConnections(appId: string, userId: string): Promise<Connection[]> {
    return this.local.userConnections(appId, userId);
  }

  terminateUser(appId: string, userId: string, code: number, message: string): void {
    this.local.terminateUser(appId, userId, code, message);
    this.bus.terminate(appId, userId, code, message);
  }

  // ---- cache ------------------------------------------------------------------------------

  cached(appId: string, channel: string): Maybe<CachedEvent | undefined> {
    return this.query(() => this.link.cmd.get(this.keys.cache(appId, channel))).then((json) =>
      json === null ? undefined : (JSON.parse(json) as CachedEvent),
    );
  }

  cache(appId: string, channel: string, event: string, data: string, ttlSeconds: number): void {
    this.local.cache(appId, channel, event, data, ttlSeconds);
    if (!this.link.isReady) return;
    const ttl = ttlSeconds * 1000;
    const entry: CachedEvent = { event, data, expiresAt: Date.now() + ttl };
    this.link.cmd.set(this.keys.cache(appId, channel), JSON.stringify(entry), 'PX', ttl).catch(() => {});
  }

  // ---- held webhook leaves ------------------------------------------------------------------

  markLeave(appId: string, key: string, ttlMs: number): void {
    if (!this.link.isReady) return;
    this.link.cmd.set(this.keys.leave(appId, key), this.nodeId, 'PX', ttlMs).catch(() => {});
  }

  claimLeave(appId: string, key: string): Promise<boolean> {
    return this.query(() => this.link.cmd.del(this.keys.leave(appId, key))).then((n) => n === 1);
  }

  // ---- queries (one round trip each, never asking other nodes) ----------------------------

  async channelInfo(appId: string, channel: string): Promise<ChannelInfo> {
    const [count, users] = await this.query(() =>
      Promise.all([this.link.cmd.hget(this.keys.channels(appId), channel), this.link.cmd.hlen(this.keys.members(appId, channel))]),
    );
    const subscriptionCount = Number(count ?? 0);
    return { occupied: subscriptionCount > 0, subscriptionCount, userCount: users };
  }

  /** One page of the cluster's occupied channels: Redis reads only that page (CHANNELS in scripts.ts). */
  async channels(appId: string, query: ChannelQuery): Promise<ChannelPage> {
    const { prefix, after = '', limit } = query;
    const flat = (await this.query(() => this.link.cmd.channels(this.keys.channels(appId), this.keys.base(appId), prefix, after, limit))) as (string | number)[];
    const names: string[] = [];
    const subscriptionCounts: number[] = [];
    const userCounts: number[] = [];
    for (let i = 0; i < flat.length && names.length < limit; i += 3) {
      names.push(String(flat[i]));
      subscriptionCounts.push(Number(flat[i + 1]));
      userCounts.push(Number(flat[i + 2]));
    }
    return {
      names,
      subscriptionCounts,
      ...(query.withUserCounts ? { userCounts } : {}),
      next: flat.length > limit * 3 ? names[names.length - 1] : undefined,
    };
  }

  signedInUsers(appId: string): Promise<string[]> {
    return this.query(() => this.link.cmd.hkeys(this.keys.users(appId)));
  }

  users(appId: string, channel: string): Promise<string[]> {
    return this.query(() => this.link.cmd.hkeys(this.keys.members(appId, channel)));
  }

  /** A query needs Redis: without it the caller gets `SharedStateUnavailable` (REST answers 503). */
  private async query<T>(run: () => Promise<T>): Promise<T> {
    if (!this.link.isReady) throw new SharedStateUnavailable();
    try {
      return await run();
    } catch (err) {
      throw new SharedStateUnavailable(`Shared state (Redis) is unavailable: ${(err as Error).message}`);
    }
  }

  sweep(now: number): void {
    this.local.sweep(now);
  }

  sharedState(): 'connected' | 'disconnected' {
    return this.link.isReady ? 'connected' : 'disconnected';
  }

  // ---- this node in the cluster -----------------------------------------------------------

  /** Connections of a dead node id are out of shared state. */
  private shares(conn: Connection): boolean {
    return !this.orphans.has(conn);
  }

  /** This node's part of the app's state, from its connections (those of a dead id excluded). */
  private part(appId: string): string {
    const part: NodeContribution = this.local.contribution(appId, (conn) => this.shares(conn));
    // Handed to this rewrite only (lost if Redis drops during it: no channel_occupied then).
    const alone = [...(this.occupiedAlone.get(appId) ?? [])].filter((channel) => part.channels.has(channel));
    this.occupiedAlone.delete(appId);
    return JSON.stringify({
      connections: part.connections,
      channels: [...part.channels].flat(),
      members: part.members.flatMap(([channel, user, n, info]) => [channel, user, n, JSON.stringify(info ?? null)]),
      users: [...part.users].flat(),
      occupied: alone,
    });
  }

  /**
   * What a dead node's clients (or this node's during an outage) left behind, and the channels
   * first occupied on this node during an outage, told once to the cluster.
   */
  private departed(appId: string, removed: string[], vacated: string[], offline: string[], occupied: string[]): void {
    const { events } = this.options;
    for (let i = 0; i < removed.length; i += 3) {
      const channel = removed[i]!;
      const userId = removed[i + 1]!;
      this.member(appId, channel, Number(removed[i + 2]), memberRemoved(channel, userId));
      events.emit({ type: 'member_removed', appId, channel, userId });
    }
    for (const channel of vacated) events.emit({ type: 'channel_vacated', appId, channel });
    for (const channel of occupied) events.emit({ type: 'channel_occupied', appId, channel });
    const app = this.apps.get(appId);
    for (const userId of offline) {
      if (app?.watchlistEvents) this.notifyWatchers(appId, userId, watchlistEvents([{ name: 'offline', user_ids: [userId] }]));
      events.emit({ type: 'user_disconnected', appId, userId, socketId: '' });
    }
  }

  /**
   * Declared dead: its old state is gone from Redis and its clients may have been announced as
   * left. Rather than resurrect that state, it closes them with 4200 (they reconnect and resubscribe).
   */
  private rejoined(oldNode: string, node: string): void {
    const closing = [...this.local.connections()];
    for (const conn of closing) this.orphans.add(conn);
    this.options.logger.warn({ old_node: oldNode, node, connections: closing.length }, 'this node was declared dead: closing its connections (4200) and rejoining under a new id');
    for (const conn of closing) conn.terminate(ErrorCode.Reconnect, 'Node rejoining the cluster');
  }

  /** Graceful stop, once clients have gone: removes what is left of this node's part at once. */
  async close(): Promise<void> {
    await Promise.race([this.membership.withdraw().catch(() => undefined), sleep(this.options.presenceTimeout * 1000)]);
    this.bus.sendBatches();
    await this.link.stop();
  }
}

/** Leave outcomes that announce nothing: the shared state will say what changed. */
function quiet(local: LeaveOutcome): LeaveOutcome {
  return { subscriptionCount: local.subscriptionCount, vacated: false, memberRemoved: false };
}

/** A presence snapshot from a flat `[user, info JSON, …]` list. */
function snapshot(flat: string[]): PresenceSnapshot {
  const ids: string[] = [];
  const hash: Record<string, unknown> = {};
  for (let i = 0; i < flat.length; i += 2) {
    ids.push(flat[i]!);
    hash[flat[i]!] = JSON.parse(flat[i + 1]!);
  }
  return { ids, hash, count: ids.length };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
