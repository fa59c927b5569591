import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Adapter } from '../../src/adapter/adapter.js';
import { appSchema } from '../../src/config/schema.js';
import { Stats } from '../../src/metrics/stats.js';
import { Connection } from '../../src/rules/connection.js';
import type { JoinOutcome, JoinResult, LeaveOutcome } from '../../src/channels/channels.js';
import { FakeTopics, type FakeSocket } from './fake-topics.js';

/**
 * The contract every adapter keeps, whatever holds its state. Run it against each implementation:
 * `adapterSuite('local', (topics, stats) => new LocalAdapter(topics, stats))`. Outcomes may come
 * synchronously or as Promises (a shared adapter); the suite awaits both.
 */
export function adapterSuite(name: string, create: (topics: FakeTopics, stats: Stats) => Adapter | Promise<Adapter>): void {
  describe(`adapter contract: ${name}`, () => {
    const app = appSchema.parse({ id: 'a1', key: 'k1', secret: 's1' });
    const other = appSchema.parse({ id: 'a2', key: 'k2', secret: 's2' });
    let topics: FakeTopics;
    let stats: Stats;
    let adapter: Adapter;
    // A shared adapter numbers each member change (`memberSeq`); the local one has nothing to order.
    const memberSeq: unknown = name === 'local' ? undefined : expect.any(Number);

    const owners = new Map<FakeSocket, Connection>();
    const connect = async (forApp = app) => {
      const conn = new Connection(forApp, Date.now(), new Stats());
      const socket = topics.socket();
      owners.set(socket, conn);
      conn.socket = socket;
      conn.open = true;
      expect(await adapter.addConnection(conn)).toBe(true);
      return conn;
    };
    const join = async (conn: Connection, channel: string, member?: { id: string; info: unknown }): Promise<JoinOutcome> => {
      const result: JoinResult = await adapter.subscribe(conn, channel, member);
      if ('refused' in result) throw new Error(`join refused: ${result.refused}`);
      return result;
    };
    /** Leave outcomes reported by the transport while a socket closes, settled. */
    let pendingLeaves: Promise<unknown>[] = [];
    const inbox = (conn: Connection) => (conn.socket as unknown as FakeSocket).received;
    const dropped = (socket: FakeSocket, topic: string, remaining: number) =>
      adapter.dropped(owners.get(socket)!, topic.slice(topic.indexOf(':') + 1), remaining);
    /** What the server does when a socket closes: uWS reports each topic it drops, then it is closed. */
    const close = async (conn: Connection) => {
      const left: [string, LeaveOutcome | undefined][] = [];
      const settling: Promise<void>[] = [];
      topics.onLeft = (socket, topic, remaining) => {
        settling.push(Promise.resolve(dropped(socket, topic, remaining)).then((outcome) => void left.push([topic, outcome])));
      };
      topics.close(conn.socket as unknown as FakeSocket);
      conn.open = false;
      adapter.removeConnection(conn);
      await Promise.all(settling);
      return left;
    };

    beforeEach(async () => {
      topics = new FakeTopics();
      stats = new Stats();
      adapter = await create(topics, stats);
      pendingLeaves = [];
      topics.onLeft = (socket, topic, remaining) => void pendingLeaves.push(Promise.resolve(dropped(socket, topic, remaining)));
    });

    afterEach(async () => {
      await Promise.all(pendingLeaves);
      await adapter.close();
    });

    it('delivers a published frame to every subscriber of that app and channel only', async () => {
      const a = await connect();
      const b = await connect();
      const elsewhere = await connect();
      const otherApp = await connect(other);
      await join(a, 'news');
      await join(b, 'news');
      await join(elsewhere, 'sport');
      await join(otherApp, 'news');
      adapter.publish('a1', 'news', 'F');
      expect([inbox(a), inbox(b), inbox(elsewhere), inbox(otherApp)]).toEqual([['F'], ['F'], [], []]);
    });

    it('skips the excluded socket id, and ignores an unknown or foreign one', async () => {
      const a = await connect();
      const b = await connect();
      const foreign = await connect(other);
      await join(a, 'news');
      await join(b, 'news');
      adapter.publish('a1', 'news', 'F1', a.socketId);
      adapter.publish('a1', 'news', 'F2', '999.999');
      adapter.publish('a1', 'news', 'F3', foreign.socketId);
      expect(inbox(a)).toEqual(['F2', 'F3']);
      expect(inbox(b)).toEqual(['F1', 'F2', 'F3']);
      // Delivered frames are counted per recipient, the excluded socket not among them.
      expect(stats.wsMessagesOut).toBe(5);
    });

    it('stops delivering after unsubscribe and reports occupancy changes', async () => {
      const a = await connect();
      const b = await connect();
      expect(await join(a, 'news')).toMatchObject({ occupied: true, subscriptionCount: 1 });
      expect(await join(b, 'news')).toMatchObject({ occupied: false, subscriptionCount: 2 });
      expect(await adapter.unsubscribe(a, 'news')).toMatchObject({ vacated: false, subscriptionCount: 1 });
      adapter.publish('a1', 'news', 'F');
      expect(inbox(a)).toEqual([]);
      expect(await adapter.unsubscribe(b, 'news')).toMatchObject({ vacated: true, subscriptionCount: 0 });
      expect(await adapter.channelInfo('a1', 'news')).toEqual({ occupied: false, subscriptionCount: 0, userCount: 0 });
    });

    it('counts a presence user once however many connections it has', async () => {
      const tab1 = await connect();
      const tab2 = await connect();
      const bob = await connect();
      expect((await join(tab1, 'presence-room', { id: '1', info: { n: 'ada' } })).memberAdded).toBe(true);
      expect((await join(tab2, 'presence-room', { id: '1', info: { n: 'ada' } })).memberAdded).toBe(false);
      const third = await join(bob, 'presence-room', { id: '2', info: undefined });
      expect(third.memberAdded).toBe(true);
      const everyone = { ids: ['1', '2'], hash: { '1': { n: 'ada' }, '2': null }, count: 2 };
      expect(sortedPresence(third.presence!)).toEqual(everyone);
      expect(sortedPresence(await adapter.presence('a1', 'presence-room'))).toEqual(everyone);
      expect(await adapter.channelInfo('a1', 'presence-room')).toEqual({ occupied: true, subscriptionCount: 3, userCount: 2 });
      expect((await adapter.unsubscribe(tab1, 'presence-room')).memberRemoved).toBe(false);
      expect((await adapter.unsubscribe(tab2, 'presence-room')).memberRemoved).toBe(true);
      expect(await adapter.users('a1', 'presence-room')).toEqual(['2']);
      expect((await adapter.channelInfo('a1', 'presence-room')).userCount).toBe(1);
    });

    it('sends a member event, with the number its join or leave was given, to every member but its own connection', async () => {
      const ada = await connect();
      const bob = await connect();
      await join(ada, 'presence-room', { id: '1', info: null });
      const joined = await join(bob, 'presence-room', { id: '2', info: null });
      expect(joined.memberSeq).toEqual(memberSeq);
      adapter.publishMember('a1', 'presence-room', 'added', bob.socketId, joined.memberSeq);
      const left = await adapter.unsubscribe(bob, 'presence-room');
      expect(left.memberSeq).toEqual(memberSeq);
      adapter.publishMember('a1', 'presence-room', 'removed', bob.socketId, left.memberSeq);
      // Events held for a subscription whose join is still settling go out a turn later.
      await expect.poll(() => inbox(ada)).toEqual(['added', 'removed']);
      expect(inbox(bob)).toEqual([]);
    });

    it('refuses a new member of a full presence channel, but not another connection of a member', async () => {
      const small = appSchema.parse({ id: 'a3', key: 'k3', secret: 's3', maxPresenceMembers: 2 });
      const [one, two, again, three] = await Promise.all([connect(small), connect(small), connect(small), connect(small)]);
      await join(one, 'presence-room', { id: '1', info: null });
      await join(two, 'presence-room', { id: '2', info: null });
      expect(await adapter.subscribe(three, 'presence-room', { id: '3', info: null })).toEqual({ refused: 'full' });
      expect(three.inChannel('presence-room')).toBe(false);
      expect((await join(again, 'presence-room', { id: '1', info: null })).memberAdded).toBe(false);
      expect(await adapter.users('a3', 'presence-room')).toHaveLength(2);
    });

    it('lists occupied channels per app, filtered by prefix', async () => {
      const a = await connect();
      const b = await connect(other);
      await join(a, 'presence-x', { id: '1', info: undefined });
      await join(a, 'private-y');
      await join(b, 'presence-z', { id: '9', info: undefined });
      await join(a, '#server-to-user-1');
      expect(await adapter.channels('a1', { prefix: '', limit: 10 })).toEqual({
        names: ['presence-x', 'private-y'],
        subscriptionCounts: [1, 1],
        next: undefined,
      });
      expect(await adapter.channels('a1', { prefix: 'presence-', limit: 10 })).toEqual({
        names: ['presence-x'],
        subscriptionCounts: [1],
        next: undefined,
      });
      const first = await adapter.channels('a1', { prefix: '', limit: 1 });
      expect(first).toEqual({ names: ['presence-x'], subscriptionCounts: [1], next: 'presence-x' });
      expect((await adapter.channels('a1', { prefix: '', after: first.next, limit: 1 })).names).toEqual(['private-y']);
      await adapter.unsubscribe(a, 'private-y');
      expect((await adapter.channels('a1', { prefix: 'private-', limit: 10 })).names).toEqual([]);
    });

    it('counts an unsubscribe once, and every channel of a closing socket', async () => {
      const a = await connect();
      const b = await connect();
      await join(a, 'news');
      await join(a, 'sport');
      await join(a, 'presence-room', { id: 'ada', info: null });
      await join(b, 'news');
      expect(a.channelCount).toBe(3);
      expect(await adapter.unsubscribe(a, 'sport')).toMatchObject({ vacated: true, subscriptionCount: 0 });
      expect(a.inChannel('sport')).toBe(false);
      expect(a.channelCount).toBe(2);

      expect((await close(a)).sort()).toEqual([
        ['a1:news', { subscriptionCount: 1, vacated: false, memberRemoved: false }],
        ['a1:presence-room', { subscriptionCount: 0, vacated: true, memberRemoved: true, memberSeq }],
      ]);
      expect(await adapter.channelInfo('a1', 'news')).toEqual({ occupied: true, subscriptionCount: 1, userCount: 0 });
      expect(await adapter.users('a1', 'presence-room')).toEqual([]);
      expect(a.inChannel('news')).toBe(false);
      adapter.publish('a1', 'news', 'F', a.socketId);
      expect(inbox(b)).toEqual(['F']);
    });

    it('tracks connections per app and by socket id', async () => {
      const a = await connect();
      await connect();
      const c = await connect(other);
      expect([adapter.connectionCount(), adapter.connectionCount('a1'), adapter.connectionCount('a2')]).toEqual([3, 2, 1]);
      expect(await adapter.clusterConnectionCount('a1')).toBe(2);
      expect(adapter.connection(a.socketId)).toBe(a);
      adapter.removeConnection(c);
      adapter.removeConnection(c);
      expect([adapter.connectionCount(), adapter.connectionCount('a2')]).toEqual([2, 0]);
      expect(await adapter.clusterConnectionCount('a2')).toBe(0);
      expect([...adapter.connections()]).toHaveLength(2);
    });

    it("refuses a connection beyond the app's maxConnections", async () => {
      const quota = appSchema.parse({ id: 'a4', key: 'k4', secret: 's4', maxConnections: 2 });
      const first = await connect(quota);
      await connect(quota);
      const third = new Connection(quota, Date.now(), new Stats());
      third.socket = topics.socket();
      third.open = true;
      expect(await adapter.addConnection(third)).toBe(false);
      adapter.removeConnection(third);
      adapter.removeConnection(first);
      expect(await adapter.clusterConnectionCount('a4')).toBe(1);
    });

    it('reports a user online from the first sign-in to the last sign-out, with watchers', async () => {
      const tab1 = await connect();
      const tab2 = await connect();
      const watcher = await connect();
      tab1.user = tab2.user = { id: 'u1', info: undefined, watchlist: [] };
      watcher.user = { id: 'w', info: undefined, watchlist: ['u1'] };
      adapter.watch(watcher);
      expect(await adapter.signIn(tab1)).toBe(true);
      expect(await adapter.signIn(tab2)).toBe(false);
      expect(await adapter.isOnline('a1', 'u1')).toBe(true);
      expect(await adapter.onlineUsers('a1', ['x', 'u1'])).toEqual(['u1']);
      // The watcher has a user but never signed in.
      expect(await adapter.signedInUsers('a1')).toEqual(['u1']);
      expect(await adapter.signedInUsers('a2')).toEqual([]);
      expect(await adapter.userConnections('a1', 'u1')).toEqual([tab1, tab2]);
      adapter.notifyWatchers('a1', 'u1', 'W1');
      adapter.notifyWatchers('a1', 'u1', 'W2', watcher.socketId);
      expect(inbox(watcher)).toEqual(['W1']);
      expect(await adapter.signOut(tab1)).toBe(false);
      expect(await adapter.signOut(tab2)).toBe(true);
      expect(await adapter.isOnline('a1', 'u1')).toBe(false);
      expect(await adapter.signedInUsers('a1')).toEqual([]);
      adapter.unwatch(watcher);
      adapter.notifyWatchers('a1', 'u1', 'W3');
      expect(inbox(watcher)).toEqual(['W1']);
    });

    it('terminates every connection signed in as the user', async () => {
      const tab1 = await connect();
      const tab2 = await connect();
      const bystander = await connect();
      tab1.user = tab2.user = { id: 'u1', info: undefined, watchlist: [] };
      bystander.user = { id: 'u2', info: undefined, watchlist: [] };
      await Promise.all([adapter.signIn(tab1), adapter.signIn(tab2), adapter.signIn(bystander)]);
      adapter.terminateUser('a1', 'u1', 4009, 'bye');
      const ended = (conn: Connection) => (conn.socket as unknown as FakeSocket).ended;
      expect([ended(tab1), ended(tab2), ended(bystander)]).toEqual([4009, 4009, undefined]);
    });

    it('keeps the last cached event and hands it to a new subscriber of the cache channel', async () => {
      const a = await connect();
      expect((await join(a, 'cache-x')).cached).toBeNull();
      adapter.cache('a1', 'cache-x', 'e', '"d1"', 60);
      adapter.cache('a1', 'cache-x', 'e', '"d2"', 60);
      expect(await adapter.cached('a1', 'cache-x')).toMatchObject({ event: 'e', data: '"d2"' });
      expect(await adapter.cached('a2', 'cache-x')).toBeUndefined();
      const b = await connect();
      expect((await join(b, 'cache-x')).cached).toMatchObject({ event: 'e', data: '"d2"' });
      expect((await join(b, 'news')).cached).toBeUndefined();
    });

    it('a held leave mark is claimed once, per app and key, and not after it expired', async () => {
      adapter.markLeave('a1', 'c:room', 5000);
      adapter.markLeave('a1', 'm:room\nu1', 30);
      // Writes may be in flight: a query of the same adapter comes after them.
      await adapter.channelInfo('a1', 'room');
      expect(await adapter.claimLeave('a2', 'c:room')).toBe(false);
      expect(await adapter.claimLeave('a1', 'c:room')).toBe(true);
      expect(await adapter.claimLeave('a1', 'c:room')).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(await adapter.claimLeave('a1', 'm:room\nu1')).toBe(false);
    });
  });
}

/** Member order is the implementation's; the contract is the set. */
function sortedPresence(p: { ids: string[]; hash: Record<string, unknown>; count: number }) {
  return { ids: [...p.ids].sort(), hash: p.hash, count: p.count };
}
