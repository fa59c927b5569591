/**
 * Issue #12 in cluster mode: Socket.IO clients (Laravel Echo's socket.io connector, token clients)
 * and pusher-js clients on different Herald processes of one Redis, the REST calls reaching a
 * third node. Each kind gets each event once; presence lists and announces members of both kinds
 * from every node; socket_id excludes a Socket.IO sender wherever the call lands.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TEST_APP } from '../helpers/herald.js';
import { recorder, sleep, until, type Recorder } from '../helpers/clients.js';
import { closeClients, echoOn, eventually, startClusterAuth, tearDown } from '../helpers/cluster-clients.js';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import { sessionHeaders, type LaravelAuth } from '../helpers/laravel-auth.js';
import type { AppCredentials } from '../helpers/laravel-broadcast.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { closeSocketIoClients, sioClient, sioConnected, sioListen, socketIoEcho, socketOf } from '../helpers/socketio.js';

/** One connection at most, cluster-wide. */
const CAPPED: AppCredentials = { appId: 'capped-app', key: 'capped-key', secret: 'capped-secret' };

let redis: TestRedis;
let cluster: Cluster;
let auth: LaravelAuth;
let n0: ClusterNode, n1: ClusterNode, n2: ClusterNode;

beforeAll(async () => {
  redis = await startRedis();
  auth = await startClusterAuth();
  cluster = await startCluster(redis, {
    apps: [
      { ...TEST_APP, socketIo: true, authEndpoint: auth.authEndpoint, userEndpoint: `${auth.url}/api/user` },
      { id: CAPPED.appId, key: CAPPED.key, secret: CAPPED.secret, socketIo: true, maxConnections: 1 },
    ],
  });
  [n0, n1, n2] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
}, 90_000);

afterEach(async () => {
  closeSocketIoClients();
  await closeClients(n0, [undefined, CAPPED]);
});

afterAll(async () => {
  closeSocketIoClients();
  await tearDown({ cluster, auth, redis });
});

/** The cluster-wide subscription count of a channel, as any node reports it. */
const subscriptions = async (node: ClusterNode, channel: string) =>
  ((await node.get(`/channels/${channel}`, { info: 'subscription_count' })).body as { subscription_count?: number }).subscription_count ?? 0;

/** Each recorder got exactly `expected`, and nothing more arrives shortly after. */
async function exactly(recorders: Recorder<unknown>[], expected: unknown[]): Promise<void> {
  for (const got of recorders) for (let i = 0; i < expected.length; i++) expect(await got.next()).toEqual(expected[i]);
  await sleep(300);
  for (const got of recorders) expect(got.calls).toEqual(expected);
}

describe('Socket.IO clients in a cluster', () => {
  it('a REST trigger on a third node reaches Socket.IO and pusher-js subscribers on the other nodes once each', async () => {
    const sio = socketIoEcho(n0, { headers: sessionHeaders('u1') });
    const pusher = echoOn('reverb', n1, auth, 'u2');
    const got = [recorder<unknown>('socket.io on n0'), recorder<unknown>('pusher-js on n1')];
    const room = [recorder<unknown>('socket.io private on n0'), recorder<unknown>('pusher-js private on n1')];
    for (const [i, echo] of [sio, pusher].entries()) {
      echo.channel('orders').listen('.shipped', got[i]!.fn);
      echo.private('room.1').listen('.said', room[i]!.fn);
    }
    await eventually(() => subscriptions(n2, 'orders'), 2);
    await eventually(() => subscriptions(n2, 'private-room.1'), 2);
    const sdk = n2.sdk();
    for (let i = 0; i < 5; i++) await sdk.trigger(['orders', 'private-room.1'], i % 2 ? 'said' : 'shipped', { i });
    await exactly(got, [{ i: 0 }, { i: 2 }, { i: 4 }]);
    await exactly(room, [{ i: 1 }, { i: 3 }]);
  });

  it('presence: members of both kinds from every node; joining and leaving once per user', async () => {
    const here = [recorder<unknown>('here n0'), recorder<unknown>('here n2')];
    const joining = recorder<unknown>('joining seen by socket.io u1');
    const leaving = recorder<unknown>('leaving seen by socket.io u1');
    const a = socketIoEcho(n0, { headers: sessionHeaders('u1') });
    a.join('chat.1').here(here[0]!.fn).joining(joining.fn).leaving(leaving.fn);
    expect(await here[0]!.next()).toEqual([{ name: 'User 1' }]);

    const pusherHere = recorder<unknown>('here pusher-js n1');
    const pusherJoining = recorder<unknown>('joining seen by pusher-js u2');
    const pusherLeaving = recorder<unknown>('leaving seen by pusher-js u2');
    const b = echoOn('reverb', n1, auth, 'u2');
    b.join('chat.1').here(pusherHere.fn).joining(pusherJoining.fn).leaving(pusherLeaving.fn);
    const names = (members: unknown) => (members as { name: string }[]).map((m) => m.name).sort();
    expect(names(await pusherHere.next())).toEqual(['User 1', 'User 2']);
    expect(await joining.next()).toEqual({ name: 'User 2' });

    const c = socketIoEcho(n2, { headers: sessionHeaders('u3') });
    c.join('chat.1').here(here[1]!.fn);
    expect(names(await here[1]!.next())).toEqual(['User 1', 'User 2', 'User 3']);
    expect(await joining.next()).toEqual({ name: 'User 3' });
    expect(await pusherJoining.next()).toEqual({ name: 'User 3' });

    // u1 again, on another node: no joining anywhere; its going is no leaving either.
    const again = socketIoEcho(n1, { headers: sessionHeaders('u1') });
    const againHere = recorder<unknown>('here u1 again');
    again.join('chat.1').here(againHere.fn);
    expect(((await againHere.next()) as unknown[]).length).toBe(3);
    again.disconnect();
    await eventually(() => subscriptions(n0, 'presence-chat.1'), 3);

    c.disconnect();
    expect(await leaving.next()).toEqual({ name: 'User 3' });
    expect(await pusherLeaving.next()).toEqual({ name: 'User 3' });
    await sleep(300);
    expect(joining.calls).toEqual([{ name: 'User 2' }, { name: 'User 3' }]);
    expect(pusherJoining.calls).toEqual([{ name: 'User 3' }]);
    expect(leaving.calls).toEqual([{ name: 'User 3' }]);
    expect(pusherLeaving.calls).toEqual([{ name: 'User 3' }]);
    const users = await n2.get('/channels/presence-chat.1/users');
    expect((users.body as { users: { id: string }[] }).users.map((u) => u.id).sort()).toEqual(['u1', 'u2']);
  });

  it("a token client's private-user.{id} notification reaches it from another node", async () => {
    const socket = sioClient(n1, { auth: { token: 'u3' }, transports: ['websocket'] });
    const got = sioListen(socket, 'notification.sent');
    await sioConnected(socket);
    await eventually(() => subscriptions(n2, 'private-user.u3'), 1);
    await n2.sdk().trigger('private-user.u3', 'notification.sent', { title: 'Hi' });
    expect(await got.next()).toEqual(['private-user.u3', { title: 'Hi' }]);
    await sleep(300);
    expect(got.calls).toHaveLength(1);
  });

  it("toOthers(): a Socket.IO sender's socket id keeps it out wherever the REST call lands; everyone else gets the event", async () => {
    const sender = socketIoEcho(n0, { headers: sessionHeaders('u1') });
    const other = socketIoEcho(n1, { headers: sessionHeaders('u2') });
    const pusher = echoOn('reverb', n2, auth, 'u3');
    const got = [recorder<unknown>('sender n0'), recorder<unknown>('socket.io n1'), recorder<unknown>('pusher-js n2')];
    for (const [i, echo] of [sender, other, pusher].entries()) echo.channel('news').listen('.posted', got[i]!.fn);
    await eventually(() => subscriptions(n2, 'news'), 3);
    const senderId = await sioConnected(socketOf(sender));
    expect(senderId).toMatch(/^\d+\.\d+$/);
    // Through a node other than the sender's, then through the sender's own.
    await n2.sdk().trigger('news', 'posted', { n: 1 }, { socket_id: senderId });
    await n0.sdk().trigger('news', 'posted', { n: 2 }, { socket_id: senderId });
    await n1.sdk().trigger('news', 'posted', { n: 3 });
    // Calls to different nodes are not ordered with each other: what each got, in any order.
    for (const r of got.slice(1)) await until(() => r.calls.length >= 3, "three events each", 5000);
    await until(() => got[0]!.calls.length >= 1, 'the event for the sender', 5000);
    await sleep(300);
    const ns = (r: Recorder<unknown>) => r.calls.map((e) => (e as { n: number }).n).sort();
    expect(got.map(ns)).toEqual([[3], [1, 2, 3], [1, 2, 3]]);
  });
  it("the app's connection limit holds for the cluster: a Socket.IO client over it on another node is sent away with 4004", async () => {
    const first = sioClient(n0, { transports: ['websocket'] }, `/${CAPPED.key}`);
    await sioConnected(first);
    await eventually(() => n2.connections(CAPPED), 1);
    const second = sioClient(n1, { transports: ['websocket'] }, `/${CAPPED.key}`);
    const errors = sioListen(second, 'herald:error');
    const reason = new Promise<string>((resolve) => second.on('disconnect', resolve));
    expect(await errors.next()).toEqual([{ code: 4004, message: 'Application is over connection quota' }]);
    expect(await reason).toBe('io server disconnect');
    expect(first.connected).toBe(true);
    await eventually(() => n2.connections(CAPPED), 1);
  });
});
