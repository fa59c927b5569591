import { beforeEach, describe, expect, it } from 'vitest';
import type { Adapter } from '../../src/adapter/adapter.js';
import { appSchema } from '../../src/config/schema.js';
import { Stats } from '../../src/metrics/stats.js';
import { Connection } from '../../src/ws/connection.js';
import type { LeaveOutcome } from '../../src/channels/channels.js';
import { FakeTopics, type FakeSocket } from './fake-topics.js';

/**
 * The contract every adapter keeps, whatever holds its state. Run it against each implementation:
 * `adapterSuite('local', (topics, stats) => new LocalAdapter(topics, stats))`.
 */
export function adapterSuite(name: string, create: (topics: FakeTopics, stats: Stats) => Adapter): void {
  describe(`adapter contract: ${name}`, () => {
    const app = appSchema.parse({ id: 'a1', key: 'k1', secret: 's1' });
    const other = appSchema.parse({ id: 'a2', key: 'k2', secret: 's2' });
    let topics: FakeTopics;
    let stats: Stats;
    let adapter: Adapter;

    const owners = new Map<FakeSocket, Connection>();
    const connect = (forApp = app) => {
      const conn = new Connection(forApp, Date.now(), new Stats());
      const socket = topics.socket();
      owners.set(socket, conn);
      conn.socket = socket;
      conn.open = true;
      adapter.addConnection(conn);
      return conn;
    };
    const inbox = (conn: Connection) => (conn.socket as unknown as FakeSocket).received;
    const dropped = (socket: FakeSocket, topic: string, remaining: number) =>
      adapter.dropped(owners.get(socket)!, topic.slice(topic.indexOf(':') + 1), remaining);
    /** What the server does when a socket closes: uWS reports each topic it drops, then it is closed. */
    const close = (conn: Connection) => {
      const left: [string, LeaveOutcome | undefined][] = [];
      topics.onLeft = (socket, topic, remaining) => left.push([topic, dropped(socket, topic, remaining)]);
      topics.close(conn.socket as unknown as FakeSocket);
      conn.open = false;
      adapter.removeConnection(conn);
      return left;
    };

    beforeEach(() => {
      topics = new FakeTopics();
      stats = new Stats();
      adapter = create(topics, stats);
      topics.onLeft = (socket, topic, remaining) => dropped(socket, topic, remaining);
    });

    it('delivers a published frame to every subscriber of that app and channel only', () => {
      const a = connect();
      const b = connect();
      const elsewhere = connect();
      const otherApp = connect(other);
      adapter.subscribe(a, 'news');
      adapter.subscribe(b, 'news');
      adapter.subscribe(elsewhere, 'sport');
      adapter.subscribe(otherApp, 'news');
      adapter.publish('a1', 'news', 'F');
      expect([inbox(a), inbox(b), inbox(elsewhere), inbox(otherApp)]).toEqual([['F'], ['F'], [], []]);
    });

    it('skips the excluded socket id, and ignores an unknown or foreign one', () => {
      const a = connect();
      const b = connect();
      const foreign = connect(other);
      adapter.subscribe(a, 'news');
      adapter.subscribe(b, 'news');
      adapter.publish('a1', 'news', 'F1', a.socketId);
      adapter.publish('a1', 'news', 'F2', '999.999');
      adapter.publish('a1', 'news', 'F3', foreign.socketId);
      expect(inbox(a)).toEqual(['F2', 'F3']);
      expect(inbox(b)).toEqual(['F1', 'F2', 'F3']);
      // Delivered frames are counted per recipient, the excluded socket not among them.
      expect(stats.wsMessagesOut).toBe(5);
    });

    it('stops delivering after unsubscribe and reports occupancy changes', async () => {
      const a = connect();
      const b = connect();
      expect(adapter.subscribe(a, 'news')).toMatchObject({ occupied: true, subscriptionCount: 1 });
      expect(adapter.subscribe(b, 'news')).toMatchObject({ occupied: false, subscriptionCount: 2 });
      expect(adapter.unsubscribe(a, 'news')).toMatchObject({ vacated: false, subscriptionCount: 1 });
      adapter.publish('a1', 'news', 'F');
      expect(inbox(a)).toEqual([]);
      expect(adapter.unsubscribe(b, 'news')).toMatchObject({ vacated: true, subscriptionCount: 0 });
      expect(await adapter.channelInfo('a1', 'news')).toEqual({ occupied: false, subscriptionCount: 0, userCount: 0 });
    });

    it('counts a presence user once however many connections it has', async () => {
      const tab1 = connect();
      const tab2 = connect();
      const bob = connect();
      expect(adapter.subscribe(tab1, 'presence-room', { id: '1', info: { n: 'ada' } }).memberAdded).toBe(true);
      expect(adapter.subscribe(tab2, 'presence-room', { id: '1', info: { n: 'ada' } }).memberAdded).toBe(false);
      expect(adapter.subscribe(bob, 'presence-room', { id: '2', info: undefined }).memberAdded).toBe(true);
      expect(adapter.presence('a1', 'presence-room')).toEqual({ ids: ['1', '2'], hash: { '1': { n: 'ada' }, '2': null }, count: 2 });
      expect(await adapter.channelInfo('a1', 'presence-room')).toEqual({ occupied: true, subscriptionCount: 3, userCount: 2 });
      expect(adapter.unsubscribe(tab1, 'presence-room').memberRemoved).toBe(false);
      expect(adapter.unsubscribe(tab2, 'presence-room').memberRemoved).toBe(true);
      expect(await adapter.users('a1', 'presence-room')).toEqual(['2']);
      expect(adapter.hasMember('a1', 'presence-room', '1')).toBe(false);
      expect(adapter.memberCount('a1', 'presence-room')).toBe(1);
    });

    it('lists occupied channels per app, filtered by prefix', async () => {
      const a = connect();
      const b = connect(other);
      adapter.subscribe(a, 'presence-x', { id: '1', info: undefined });
      adapter.subscribe(a, 'private-y');
      adapter.subscribe(b, 'presence-z', { id: '9', info: undefined });
      adapter.subscribe(a, '#server-to-user-1');
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
      adapter.unsubscribe(a, 'private-y');
      expect((await adapter.channels('a1', { prefix: 'private-', limit: 10 })).names).toEqual([]);
    });

    it('counts an unsubscribe once, and every channel of a closing socket', async () => {
      const a = connect();
      const b = connect();
      adapter.subscribe(a, 'news');
      adapter.subscribe(a, 'sport');
      adapter.subscribe(a, 'presence-room', { id: 'ada', info: null });
      adapter.subscribe(b, 'news');
      expect(a.channelCount).toBe(3);
      expect(adapter.unsubscribe(a, 'sport')).toMatchObject({ vacated: true, subscriptionCount: 0 });
      expect(a.inChannel('sport')).toBe(false);
      expect(a.channelCount).toBe(2);

      expect(close(a).sort()).toEqual([
        ['a1:news', { subscriptionCount: 1, vacated: false, memberRemoved: false }],
        ['a1:presence-room', { subscriptionCount: 0, vacated: true, memberRemoved: true }],
      ]);
      expect(await adapter.channelInfo('a1', 'news')).toEqual({ occupied: true, subscriptionCount: 1, userCount: 0 });
      expect(await adapter.users('a1', 'presence-room')).toEqual([]);
      expect(a.inChannel('news')).toBe(false);
      adapter.publish('a1', 'news', 'F', a.socketId);
      expect(inbox(b)).toEqual(['F']);
    });

    it('tracks connections per app and by socket id', () => {
      const a = connect();
      connect();
      const c = connect(other);
      expect([adapter.connectionCount(), adapter.connectionCount('a1'), adapter.connectionCount('a2')]).toEqual([3, 2, 1]);
      expect(adapter.connection(a.socketId)).toBe(a);
      adapter.removeConnection(c);
      adapter.removeConnection(c);
      expect([adapter.connectionCount(), adapter.connectionCount('a2')]).toEqual([2, 0]);
      expect([...adapter.connections()]).toHaveLength(2);
    });

    it('reports a user online from the first sign-in to the last sign-out, with watchers', async () => {
      const tab1 = connect();
      const tab2 = connect();
      const watcher = connect();
      tab1.user = tab2.user = { id: 'u1', info: undefined, watchlist: [] };
      watcher.user = { id: 'w', info: undefined, watchlist: ['u1'] };
      adapter.watch(watcher);
      expect(adapter.signIn(tab1)).toBe(true);
      expect(adapter.signIn(tab2)).toBe(false);
      expect(adapter.isOnline('a1', 'u1')).toBe(true);
      expect(await adapter.userConnections('a1', 'u1')).toEqual([tab1, tab2]);
      expect([...adapter.watchersOf('a1', 'u1')]).toEqual([watcher]);
      expect(adapter.signOut(tab1)).toBe(false);
      expect(adapter.signOut(tab2)).toBe(true);
      expect(adapter.isOnline('a1', 'u1')).toBe(false);
      adapter.unwatch(watcher);
      expect([...adapter.watchersOf('a1', 'u1')]).toEqual([]);
    });

    it('keeps the last cached event until its TTL passes', () => {
      adapter.cache('a1', 'cache-x', 'e', '"d1"', 60);
      adapter.cache('a1', 'cache-x', 'e', '"d2"', 60);
      expect(adapter.cached('a1', 'cache-x')).toMatchObject({ event: 'e', data: '"d2"' });
      expect(adapter.cached('a2', 'cache-x')).toBeUndefined();
      adapter.sweep(Date.now() + 61_000);
      expect(adapter.cached('a1', 'cache-x')).toBeUndefined();
    });
  });
}
