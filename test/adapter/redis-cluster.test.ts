/**
 * Several RedisAdapters in one process on one real redis-server: the cluster rules that the
 * contract suite (one node) cannot show. The multi-process tests in test/cluster run the same
 * rules through real Herald processes and official clients.
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { memberAdded, memberRemoved } from '../../protocol/frames.js';
import { SharedStateUnavailable } from '../../src/adapter/adapter.js';
import type { JoinOutcome, JoinResult } from '../../src/channels/channels.js';
import { RedisAdapter } from '../../src/cluster/redis-adapter.js';
import { appSchema } from '../../src/config/schema.js';
import { Lifecycle, type LifecycleEvent } from '../../src/events/lifecycle.js';
import { Stats } from '../../src/metrics/stats.js';
import { Connection } from '../../src/rules/connection.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { FakeTopics, type FakeSocket } from './fake-topics.js';

const app = appSchema.parse({ id: 'app', key: 'k', secret: 's', maxPresenceMembers: 1000 });

interface Node {
  adapter: RedisAdapter;
  topics: FakeTopics;
  stats: Stats;
  events: LifecycleEvent[];
}

let redis: TestRedis;
let run = 0;
let nodes: Node[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.close());
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.adapter.close()));
  nodes = [];
});

async function cluster(count: number, options: { nodeTimeout?: number; presenceTimeout?: number; queueSize?: number } = {}): Promise<[Node, Node, Node]> {
  const prefix = `c${++run}:`;
  const started = await Promise.all(
    Array.from({ length: count }, async () => {
      const topics = new FakeTopics();
      const stats = new Stats();
      const lifecycle = new Lifecycle();
      const events: LifecycleEvent[] = [];
      lifecycle.on((e) => events.push(e));
      const adapter = await RedisAdapter.start(topics, {
        redis: { kind: 'server', url: redis.url },
        prefix,
        nodeTimeout: options.nodeTimeout ?? 30,
        presenceTimeout: options.presenceTimeout ?? 2,
        queueSize: options.queueSize ?? 100,
        apps: [app],
        stats,
        logger: pino({ level: process.env.HERALD_TEST_LOG ?? 'silent' }),
        events: lifecycle,
      });
      return { adapter, topics, stats, events };
    }),
  );
  nodes.push(...started);
  // Destructured up to the count asked for.
  return started as [Node, Node, Node];
}

async function connect(node: Node): Promise<Connection> {
  const conn = new Connection(app, Date.now(), new Stats());
  conn.socket = node.topics.socket();
  conn.open = true;
  expect(await node.adapter.addConnection(conn)).toBe(true);
  return conn;
}

async function join(node: Node, conn: Connection, channel: string, userId?: string): Promise<JoinOutcome> {
  const result: JoinResult = await node.adapter.subscribe(conn, channel, userId === undefined ? undefined : { id: userId, info: { name: userId } });
  if ('refused' in result) throw new Error(`refused: ${result.refused}`);
  return result;
}

const inbox = (conn: Connection) => (conn.socket as unknown as FakeSocket).received;
const ended = (conn: Connection) => (conn.socket as unknown as FakeSocket).ended;

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** What a crash leaves: no heartbeat, no withdraw, the connection to Redis just gone. */
function crash(node: Node): void {
  const internals = node.adapter as unknown as { membership: { heartbeat: NodeJS.Timeout }; link: { cmd: { disconnect(): void }; sub: { disconnect(): void } } };
  clearInterval(internals.membership.heartbeat);
  internals.link.cmd.disconnect();
  internals.link.sub.disconnect();
  nodes = nodes.filter((n) => n !== node);
}

describe('redis cluster (in process)', () => {
  it('delivers an event published on one node once to every subscriber on every node, skipping the excluded socket wherever it is', async () => {
    const [a, b] = await cluster(2);
    const onA = await connect(a);
    const onB = await connect(b);
    const otherOnB = await connect(b);
    await Promise.all([join(a, onA, 'news'), join(b, onB, 'news'), join(b, otherOnB, 'news')]);
    a.adapter.publish('app', 'news', 'F1');
    a.adapter.publish('app', 'news', 'F2', onB.socketId);
    await until(() => inbox(otherOnB).length === 2, 'both frames on node b');
    expect(inbox(onA)).toEqual(['F1', 'F2']);
    expect(inbox(onB)).toEqual(['F1']);
    expect(inbox(otherOnB)).toEqual(['F1', 'F2']);
    // localOnly stays on the publishing node.
    b.adapter.publish('app', 'news', 'L', undefined, true);
    a.adapter.publish('app', 'news', 'F3');
    await until(() => inbox(onB).length === 3, 'F3 on node b');
    expect(inbox(onA)).toEqual(['F1', 'F2', 'F3']);
    expect(inbox(onB)).toEqual(['F1', 'L', 'F3']);
  });

  it('sends an event over Redis only when another node holds subscribers of its channel', async () => {
    const [a, b] = await cluster(2);
    const spy = new Redis(redis.url);
    const heard: string[] = [];
    spy.on('message', (_channel: string, raw: string) => heard.push(raw));
    await spy.subscribe(`c${run}:{app}:bus`);
    try {
      const [onA, onB] = [await connect(a), await connect(b)];
      await join(a, onA, 'here-only');
      await join(a, onA, 'both');
      await join(b, onB, 'both');
      a.adapter.publish('app', 'here-only', 'LOCAL');
      a.adapter.publish('app', 'nobody', 'NOWHERE');
      a.adapter.publish('app', 'both', 'SHARED');
      await until(() => inbox(onB).includes('SHARED'), 'the shared event on node b');
      expect(inbox(onA)).toEqual(['LOCAL', 'SHARED']);
      expect(inbox(onB)).toEqual(['SHARED']);
      // A subscription on node b, confirmed: from now on node a's events of that channel travel.
      await join(b, onB, 'here-only');
      a.adapter.publish('app', 'here-only', 'LATER');
      await until(() => inbox(onB).includes('LATER'), 'the event after node b subscribed');
      await new Promise((r) => setTimeout(r, 50));
      expect(heard.join()).not.toMatch(/LOCAL|NOWHERE/);
      expect(heard.join()).toMatch(/SHARED[^]*LATER/);
    } finally {
      spy.disconnect();
    }
  });

  it('reads one page of GET /channels from Redis, not every channel of the app', async () => {
    const [a, b] = await cluster(2);
    const [onA, onB] = [await connect(a), await connect(b)];
    for (let i = 0; i < 300; i++) await join(i % 2 ? a : b, i % 2 ? onA : onB, `room-${String(i).padStart(3, '0')}`);
    await join(a, onA, 'presence-lobby', 'ada');
    const probe = new Redis(redis.url);
    const sent = async () => Number(/total_net_output_bytes:(\d+)/.exec(await probe.info('stats'))![1]);
    try {
      const before = await sent();
      const page = await b.adapter.channels('app', { prefix: 'room-', after: 'room-099', limit: 3 });
      expect(page).toEqual({ names: ['room-100', 'room-101', 'room-102'], subscriptionCounts: [1, 1, 1], next: 'room-102' });
      // What Redis sent meanwhile (the page, and the first INFO's reply): not the app's 301 channels (6.5 KB).
      expect((await sent()) - before).toBeLessThan(3000);
    } finally {
      probe.disconnect();
    }
    expect(await a.adapter.channels('app', { prefix: 'presence-', limit: 10, withUserCounts: true })).toEqual({
      names: ['presence-lobby'],
      subscriptionCounts: [1],
      userCounts: [1],
      next: undefined,
    });
    expect((await a.adapter.channels('app', { prefix: 'room-', after: 'room-298', limit: 10 })).names).toEqual(['room-299']);
    await b.adapter.unsubscribe(onB, 'room-298');
    expect((await a.adapter.channels('app', { prefix: 'room-29', after: 'room-296', limit: 10 })).names).toEqual(['room-297', 'room-299']);
  });

  it('counts channels, members and connections across nodes, in one answer on any node', async () => {
    const [a, b] = await cluster(2);
    const [a1, a2, b1] = [await connect(a), await connect(a), await connect(b)];
    expect((await join(a, a1, 'presence-room', 'ada')).memberAdded).toBe(true);
    expect((await join(b, b1, 'presence-room', 'ada')).memberAdded).toBe(false);
    const third = await join(a, a2, 'presence-room', 'bob');
    expect(third.presence?.count).toBe(2);
    for (const node of [a, b]) {
      expect(await node.adapter.channelInfo('app', 'presence-room')).toEqual({ occupied: true, subscriptionCount: 3, userCount: 2 });
      expect(await node.adapter.clusterConnectionCount('app')).toBe(3);
      expect((await node.adapter.users('app', 'presence-room')).sort()).toEqual(['ada', 'bob']);
    }
    expect((await a.adapter.unsubscribe(a1, 'presence-room')).memberRemoved).toBe(false);
    expect((await b.adapter.unsubscribe(b1, 'presence-room')).memberRemoved).toBe(true);
  });

  it('two nodes adding the same user at the same moment: exactly one member_added, then one member_removed (50 rounds)', async () => {
    const [a, b] = await cluster(2);
    const onA = await connect(a);
    const onB = await connect(b);
    for (let round = 0; round < 50; round++) {
      const channel = `presence-race-${round}`;
      const joins = await Promise.all([join(a, onA, channel, 'same'), join(b, onB, channel, 'same')]);
      expect(joins.filter((j) => j.memberAdded)).toHaveLength(1);
      const leaves = await Promise.all([a.adapter.unsubscribe(onA, channel), b.adapter.unsubscribe(onB, channel)]);
      expect(leaves.filter((l) => l.memberRemoved)).toHaveLength(1);
      expect(leaves.filter((l) => l.vacated)).toHaveLength(1);
    }
  });

  it('a member event reaches exactly the subscribers whose member list did not have the change yet, on every node', async () => {
    const [a, b] = await cluster(2);
    const ch = 'presence-crossing';
    const [joiner, leaver] = [await connect(a), await connect(a)];
    const [before, between, after] = [await connect(b), await connect(b), await connect(b)];
    await join(b, before, ch, 'before');
    await join(a, leaver, ch, 'leaver');
    // Node b reads its bus late (a busy event loop): the events reach it after it has read
    // member lists that already hold the changes.
    const busOfB = (b.adapter as unknown as { link: { sub: { stream: { pause(): void; resume(): void } } } }).link.sub.stream;
    busOfB.pause();
    // Each event goes out as the WebSocket layer sends it: as soon as the join or leave settles.
    const joined = await join(a, joiner, ch, 'u1');
    expect(joined.memberAdded).toBe(true);
    a.adapter.publishMember('app', ch, memberAdded(ch, 'u1', { name: 'u1' }), joiner.socketId, joined.memberSeq);
    expect((await join(b, between, ch, 'between')).presence?.ids.sort()).toEqual(['before', 'between', 'leaver', 'u1']);
    const left = await a.adapter.unsubscribe(leaver, ch);
    expect(left.memberRemoved).toBe(true);
    a.adapter.publishMember('app', ch, memberRemoved(ch, 'leaver'), leaver.socketId, left.memberSeq);
    expect((await join(b, after, ch, 'after')).presence?.ids.sort()).toEqual(['after', 'before', 'between', 'u1']);
    busOfB.resume();
    a.adapter.publish('app', ch, 'MARK');
    await until(() => [before, between, after].every((c) => inbox(c).includes('MARK')), 'the marker on node b');
    const events = (conn: Connection) => inbox(conn).map((f) => (f === 'MARK' ? f : `${JSON.parse(f).event} ${JSON.parse(JSON.parse(f).data).user_id}`));
    expect(events(before)).toEqual(['pusher_internal:member_added leaver', 'pusher_internal:member_added u1', 'pusher_internal:member_removed leaver', 'MARK']);
    expect(events(between)).toEqual(['pusher_internal:member_removed leaver', 'MARK']);
    expect(events(after)).toEqual(['MARK']);
    expect(events(joiner).filter((e) => e.endsWith(' leaver'))).toEqual(['pusher_internal:member_removed leaver']);
    // Later events reach every subscriber, through the channel's topic again.
    a.adapter.publish('app', ch, 'NEXT');
    await until(() => inbox(after).includes('NEXT'), 'a plain event on node b');
    expect([before, between].map((c) => inbox(c).at(-1))).toEqual(['NEXT', 'NEXT']);
  });

  it('enforces maxPresenceMembers and maxConnections cluster-wide', async () => {
    const [a, b] = await cluster(2);
    const small = appSchema.parse({ ...app, maxPresenceMembers: 1, maxConnections: 2 });
    const make = (node: Node) => {
      const conn = new Connection(small, Date.now(), new Stats());
      conn.socket = node.topics.socket();
      conn.open = true;
      return conn;
    };
    const [x, y, z] = [make(a), make(b), make(b)];
    expect(await a.adapter.addConnection(x)).toBe(true);
    expect(await b.adapter.addConnection(y)).toBe(true);
    expect(await b.adapter.addConnection(z)).toBe(false);
    b.adapter.removeConnection(z);
    expect(await a.adapter.clusterConnectionCount('app')).toBe(2);
    await a.adapter.subscribe(x, 'presence-vip', { id: 'first', info: null });
    expect(await b.adapter.subscribe(y, 'presence-vip', { id: 'second', info: null })).toEqual({ refused: 'full' });
  });

  it('reaps a crashed node: its members, channels, users and connections go, each announced once', async () => {
    const [a, b, c] = await cluster(3, { nodeTimeout: 0.6 });
    const watcher = await connect(b);
    const onA = await connect(a);
    await join(b, watcher, 'presence-room', 'watcher');
    await join(a, onA, 'presence-room', 'ghost');
    await join(a, onA, 'private-only-a');
    watcher.user = { id: 'watcher', info: undefined, watchlist: ['ghost'] };
    b.adapter.watch(watcher);
    onA.user = { id: 'ghost', info: undefined, watchlist: [] };
    expect(await a.adapter.signIn(onA)).toBe(true);
    crash(a);
    await until(async () => (await b.adapter.users('app', 'presence-room')).length === 1, 'the ghost to be reaped', 10_000);
    // The ghost's join was announced by its script; its removal by the reaper.
    await until(() => inbox(watcher).length === 3, 'member_removed and offline on node b');
    expect(inbox(watcher).map((f) => JSON.parse(f).event).sort()).toEqual(['pusher_internal:member_added', 'pusher_internal:member_removed', 'pusher_internal:watchlist_events']);
    expect(await b.adapter.channelInfo('app', 'private-only-a')).toEqual({ occupied: false, subscriptionCount: 0, userCount: 0 });
    expect(await c.adapter.clusterConnectionCount('app')).toBe(1);
    expect(await c.adapter.isOnline('app', 'ghost')).toBe(false);
    // One reaper among the survivors: each event once in the whole cluster.
    const all = [...b.events, ...c.events];
    expect(all.filter((e) => e.type === 'member_removed')).toEqual([{ type: 'member_removed', appId: 'app', channel: 'presence-room', userId: 'ghost' }]);
    expect(all.filter((e) => e.type === 'channel_vacated').map((e) => 'channel' in e && e.channel)).toEqual(['private-only-a']);
    expect(all.filter((e) => e.type === 'user_disconnected')).toHaveLength(1);
    expect(b.stats.redisNodesDeclaredDead + c.stats.redisNodesDeclaredDead).toBe(1);
  });

  it('a node that finds it was declared dead closes its clients with 4200 and rejoins under a new id, deleting nothing', async () => {
    const [a, b] = await cluster(2, { nodeTimeout: 0.6 });
    const stale = await connect(a);
    const fresh = await connect(b);
    await join(a, stale, 'presence-room', 'u');
    await join(b, fresh, 'presence-room', 'u');
    const membership = (a.adapter as unknown as { membership: { heartbeat: NodeJS.Timeout; beat(): void } }).membership;
    const oldId = a.adapter.node;
    clearInterval(membership.heartbeat); // frozen
    await until(() => b.stats.redisNodesDeclaredDead === 1, 'node a declared dead', 10_000);
    membership.beat(); // thawed
    await until(() => ended(stale) === 4200, 'its client closed with 4200');
    expect(a.adapter.node).not.toBe(oldId);
    // The stale connection's close must not touch the fresh state of node b.
    await a.adapter.dropped(stale, 'presence-room', 0);
    a.adapter.removeConnection(stale);
    expect(await b.adapter.users('app', 'presence-room')).toEqual(['u']);
    expect(await b.adapter.clusterConnectionCount('app')).toBe(1);
    // The new id is a full member again.
    const again = await connect(a);
    expect((await join(a, again, 'presence-room', 'v')).memberAdded).toBe(true);
  });

  it('a graceful stop withdraws the node at once', async () => {
    const [a, b] = await cluster(2);
    const onA = await connect(a);
    await join(a, onA, 'presence-room', 'leaving');
    await a.adapter.close();
    nodes = nodes.filter((n) => n !== a);
    expect(await b.adapter.users('app', 'presence-room')).toEqual([]);
    expect(await b.adapter.clusterConnectionCount('app')).toBe(0);
    expect(b.events.filter((e) => e.type === 'member_removed')).toHaveLength(0);
    expect(a.events.filter((e) => e.type === 'member_removed')).toHaveLength(1);
  });

  it('without Redis: local delivery and public subscribes go on, presence waits then refuses, queries throw, publishes queue bounded; all catches up on return', async () => {
    const [a, b] = await cluster(2, { presenceTimeout: 0.3, queueSize: 3 });
    const onA = await connect(a);
    const onB = await connect(b);
    await join(a, onA, 'news');
    await join(b, onB, 'news');
    await redis.stop();
    await until(() => a.stats.redisConnected === 0 && b.stats.redisConnected === 0, 'both nodes to see the outage');

    const late = await connect(a);
    expect(await join(a, late, 'news')).toMatchObject({ subscriptionCount: 2 });
    // First subscriber anywhere, but the cluster cannot know that yet: no channel_occupied now.
    expect(await join(a, late, 'quiet-room')).toMatchObject({ subscriptionCount: 1, occupied: false });
    expect(await a.adapter.subscribe(late, 'presence-room', { id: 'x', info: null })).toEqual({ refused: 'unavailable' });
    await expect(a.adapter.channelInfo('app', 'news')).rejects.toBeInstanceOf(SharedStateUnavailable);
    for (let i = 0; i < 5; i++) a.adapter.publish('app', 'news', `Q${i}`);
    expect(inbox(onA)).toEqual(['Q0', 'Q1', 'Q2', 'Q3', 'Q4']);
    expect(a.stats.redisDropped).toBe(2);

    await redis.start();
    await until(() => a.stats.redisConnected === 1 && b.stats.redisConnected === 1, 'both nodes back on Redis');
    // Node a sends what it held as soon as it is back; node b hears it only if its own subscription
    // came back first (pub/sub keeps nothing), so b gets the held batch whole or not at all, never
    // the dropped Q0/Q1, and in order. Cross-node delivery itself must resume.
    await until(async () => {
      a.adapter.publish('app', 'news', 'Q5');
      await new Promise((r) => setTimeout(r, 50));
      return inbox(onB).includes('Q5');
    }, 'cross-node delivery again');
    const held = inbox(onB).slice(0, inbox(onB).indexOf('Q5'));
    expect([[], ['Q2', 'Q3', 'Q4']]).toContainEqual(held);
    expect(a.stats.redisReconnects).toBe(1);
    // Redis restarted empty: each node rewrote its part.
    await until(async () => (await b.adapter.channelInfo('app', 'news')).subscriptionCount === 3, 'counts rewritten');
    expect(await b.adapter.clusterConnectionCount('app')).toBe(3);
    // The channel first occupied during the outage is announced once, by the node that holds it;
    // 'news', occupied before the outage, is not announced again.
    expect([...a.events, ...b.events].filter((e) => e.type === 'channel_occupied')).toEqual([{ type: 'channel_occupied', appId: 'app', channel: 'quiet-room' }]);
  });
});
