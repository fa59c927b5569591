/**
 * Issue #9, "What every client and caller must see, whichever node it is on": three Herald
 * processes on one Redis, pusher-js and Echo clients spread over them, the official `pusher` SDK
 * calling a node other than (most of) the subscribers.
 */
import type { PresenceChannel } from 'pusher-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TEST_APP } from '../helpers/herald.js';
import { listen, pusherOf, recorder, sleep, subscribed, until, type Pusher, type Recorder } from '../helpers/clients.js';
import {
  closeClients,
  echoOn,
  eventually,
  memberIds,
  pusherOn,
  rawOn,
  sendJoin,
  sendPrivate,
  startClusterAuth,
  subscriptionAnswer,
  tearDown,
} from '../helpers/cluster-clients.js';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import type { LaravelAuth } from '../helpers/laravel-auth.js';
import type { AppCredentials } from '../helpers/laravel-broadcast.js';
import { dataOf } from '../helpers/raw-client.js';
import { parseInfo, startRedis, type TestRedis } from '../helpers/redis.js';

const API_KEY = 'cluster-api-key';
/** A quiet app for exact connection counts and subscription_count events. */
const COUNT_APP: AppCredentials = { appId: 'count-app', key: 'count-key', secret: 'count-secret' };

let redis: TestRedis;
let cluster: Cluster;
let auth: LaravelAuth;
let n0: ClusterNode, n1: ClusterNode, n2: ClusterNode;

beforeAll(async () => {
  redis = await startRedis();
  cluster = await startCluster(redis, {
    apps: [
      { ...TEST_APP, apiKeys: [API_KEY] },
      { id: COUNT_APP.appId, key: COUNT_APP.key, secret: COUNT_APP.secret, subscriptionCount: true },
    ],
  });
  [n0, n1, n2] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
  auth = await startClusterAuth();
}, 90_000);

afterEach(async () => {
  // The next test starts from an empty cluster (as far as the cluster-wide count can tell).
  await closeClients(n0, [undefined, COUNT_APP]);
});

afterAll(() => tearDown({ cluster, auth, redis }));

async function subscribedEcho(echo: ReturnType<typeof echoOn>, channel: string): Promise<void> {
  await until(() => pusherOf(echo).channel(channel)?.subscribed, `Echo subscribed to ${channel}`, 5000);
}

describe('fan-out across nodes', () => {
  it('REST, batch and /api/broadcast events reach pusher-js and Echo subscribers on all three nodes once each, in publish order', async () => {
    const clients: Pusher[] = [];
    for (const node of [n0, n1, n2, n0, n1, n2]) clients.push((await pusherOn(node, auth)).pusher);
    const ticks = await Promise.all(clients.map(async (p) => listen(await subscribed(p, 'feed'), 'tick')));
    const apiTicks = clients.map((p) => listen(p.channel('feed'), 'api-tick'));
    // Echo on the nodes the publishers do not call, with both broadcasters.
    const echoTicks = [recorder('echo reverb'), recorder('echo pusher')];
    const reverb = echoOn('reverb', n1, auth, 'u1');
    const pusherEcho = echoOn('pusher', n2, auth, 'u2');
    reverb.channel('feed').listen('.tick', echoTicks[0]!.fn);
    pusherEcho.channel('feed').listen('.tick', echoTicks[1]!.fn);
    await subscribedEcho(reverb, 'feed');
    await subscribedEcho(pusherEcho, 'feed');

    const sdk = n0.sdk();
    for (let i = 0; i < 20; i++) await sdk.trigger('feed', 'tick', { i });
    await sdk.triggerBatch(Array.from({ length: 10 }, (_, k) => ({ channel: 'feed', name: 'tick', data: JSON.stringify({ i: 20 + k }) })));
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${n1.url}/api/broadcast`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-API-Key': API_KEY },
        body: JSON.stringify({ channel: 'feed', event: 'api-tick', data: JSON.stringify({ i }) }),
      });
      expect(res.status).toBe(200);
    }

    const expected = Array.from({ length: 30 }, (_, i) => ({ i }));
    for (const got of [...ticks, ...echoTicks]) await until(() => got.calls.length >= 30, 'every tick', 10_000);
    for (const got of apiTicks) await until(() => got.calls.length >= 5, 'every api-tick', 10_000);
    await sleep(300);
    for (const got of [...ticks, ...echoTicks]) expect(got.calls).toEqual(expected);
    for (const got of apiTicks) expect(got.calls).toEqual(expected.slice(0, 5));
  });

  it('client events reach the members on the other nodes once each, in order, and never the sender', async () => {
    const sender = await subscribed((await pusherOn(n0, auth, 'u1')).pusher, 'private-room.1');
    const receivers = [
      listen(await subscribed((await pusherOn(n1, auth, 'u2')).pusher, 'private-room.1'), 'client-typing'),
      listen(await subscribed((await pusherOn(n2, auth, 'u3')).pusher, 'private-room.1'), 'client-typing'),
    ];
    const echoed = listen(sender, 'client-typing');
    for (let i = 0; i < 8; i++) expect(sender.trigger('client-typing', { i })).toBe(true);
    for (const got of receivers) await until(() => got.calls.length >= 8, 'client events', 5000);
    await sleep(300);
    for (const got of receivers) expect(got.calls).toEqual(Array.from({ length: 8 }, (_, i) => ({ i })));
    expect(echoed.calls).toEqual([]);
  });

  it('socket_id excludes that socket wherever it lives, and only it', async () => {
    const [a, b, c] = await Promise.all([pusherOn(n1, auth), pusherOn(n2, auth), pusherOn(n0, auth)]);
    const got = await Promise.all([a, b, c].map(async ({ pusher }) => listen(await subscribed(pusher, 'excl'), 'x')));
    const sdk = n0.sdk();
    await sdk.trigger('excl', 'x', { n: 1 }, { socket_id: a.socketId }); // on another node than the REST call
    await sdk.trigger('excl', 'x', { n: 2 }, { socket_id: c.socketId }); // on the node the REST call reached
    await sdk.trigger('excl', 'x', { n: 3 });
    for (const r of got) await until(() => r.calls.some((e) => (e as { n: number }).n === 3), 'the last event', 5000);
    await sleep(200);
    expect(got.map((r) => r.calls)).toEqual([
      [{ n: 2 }, { n: 3 }],
      [{ n: 1 }, { n: 2 }, { n: 3 }],
      [{ n: 1 }, { n: 3 }],
    ]);
  });

  it('at most one Redis publish per event and channel, not one per node or per subscriber', async () => {
    const got: Recorder[] = [];
    for (const node of [n0, n1, n2, n1, n2]) {
      const { pusher } = await pusherOn(node, auth);
      got.push(listen(await subscribed(pusher, 'pub-a'), 'x'), listen(await subscribed(pusher, 'pub-b'), 'x'));
    }
    await sleep(300);
    const publishes = async () => {
      const info = parseInfo(String(await redis.command('INFO', 'commandstats')));
      let calls = 0;
      for (const cmd of ['publish', 'spublish']) calls += Number(/calls=(\d+)/.exec(info.get(`cmdstat_${cmd}`) ?? '')?.[1] ?? 0);
      return calls;
    };
    const before = await publishes();
    const sdk = n0.sdk();
    for (let i = 0; i < 20; i++) await sdk.trigger(['pub-a', 'pub-b'], 'x', { i });
    // Every subscriber on the other nodes got all of them: they went through Redis.
    for (const r of got) await until(() => r.calls.length >= 20, 'every event on every node', 5000);
    const delta = (await publishes()) - before;
    // 40 at most (events close in time may share one): per node it would be 120, per subscriber 200.
    // Heartbeats may add a few.
    expect(delta).toBeGreaterThanOrEqual(1);
    expect(delta).toBeLessThanOrEqual(55);
    await sleep(200);
    expect(got.map((r) => r.calls.length)).toEqual(got.map(() => 20));
  });
});

describe('subscriptions are confirmed once the cluster knows them', () => {
  it('an event published on another node right after subscription_succeeded is never missed nor doubled (public, private, presence)', async () => {
    const { client, socketId } = await rawOn(n1);
    const sdk = n0.sdk();
    for (let i = 0; i < 24; i++) {
      const ch = [`confirm-${i}`, `private-confirm-${i}`, `presence-confirm-${i}`][i % 3]!;
      if (i % 3 === 0) client.subscribe(ch);
      else if (i % 3 === 1) sendPrivate(client, socketId, ch);
      else sendJoin(client, socketId, ch, 'u1');
      expect((await subscriptionAnswer(client, ch)).event).toBe('pusher_internal:subscription_succeeded');
      await sdk.trigger(ch, 'after', { i });
      expect(await client.next('after', 5000)).toMatchObject({ channel: ch });
    }
    await sleep(300);
    expect(client.frames.filter((f) => f.event === 'after').map((f) => f.channel)).toHaveLength(24);
  });

  it('frames a client sends while a subscription is being confirmed keep their order', async () => {
    const receiver = await rawOn(n2);
    sendPrivate(receiver.client, receiver.socketId, 'private-order');
    await subscriptionAnswer(receiver.client, 'private-order');
    const { client, socketId } = await rawOn(n0);
    // All in one go: the presence join needs Redis, the rest must wait their turn behind it.
    sendJoin(client, socketId, 'presence-order', 'u1');
    sendPrivate(client, socketId, 'private-order');
    client.send({ event: 'client-hello', channel: 'private-order', data: { n: 1 } });
    client.send({ event: 'pusher:ping', data: {} });
    await client.next('pusher:pong', 5000);
    expect(client.frames.slice(1).map((f) => `${f.event} ${f.channel ?? ''}`.trim())).toEqual([
      'pusher_internal:subscription_succeeded presence-order',
      'pusher_internal:subscription_succeeded private-order',
      'pusher:pong',
    ]);
    const hello = await receiver.client.next('client-hello', 5000);
    expect([hello.channel, dataOf(hello)]).toEqual(['private-order', { n: 1 }]);
  });
});

describe('counts come from the cluster, on every node', () => {
  it('/channels, /channels/{name}, /users and trigger info agree on every node and follow leaves', async () => {
    // presence-counts: u1 twice (nodes 0 and 1), u2 once (node 2): 2 users, 3 subscriptions.
    const joins = [];
    for (const [node, user] of [[n0, 'u1'], [n1, 'u1'], [n2, 'u2']] as const) {
      const { client, socketId } = await rawOn(node);
      sendJoin(client, socketId, 'presence-counts', user);
      expect((await subscriptionAnswer(client, 'presence-counts')).event).toBe('pusher_internal:subscription_succeeded');
      joins.push(client);
    }
    for (const node of [n0, n2]) await subscribed((await pusherOn(node, auth)).pusher, 'counts-news');
    const { client: priv, socketId: privId } = await rawOn(n1);
    sendPrivate(priv, privId, 'private-counts');
    expect((await subscriptionAnswer(priv, 'private-counts')).event).toBe('pusher_internal:subscription_succeeded');

    for (const node of [n0, n1, n2]) {
      await eventually(() => node.get('/channels', { filter_by_prefix: 'presence-counts', info: 'user_count' }), {
        status: 200,
        body: { channels: { 'presence-counts': { user_count: 2 } } },
      });
      expect(await node.get('/channels', { filter_by_prefix: 'counts-', info: 'subscription_count' })).toEqual({
        status: 200,
        body: { channels: { 'counts-news': { subscription_count: 2 } } },
      });
      const all = await node.get('/channels');
      expect(Object.keys((all.body as { channels: object }).channels)).toEqual(expect.arrayContaining(['presence-counts', 'counts-news', 'private-counts']));
      expect(await node.get('/channels/presence-counts', { info: 'user_count,subscription_count' })).toEqual({
        status: 200,
        body: { occupied: true, user_count: 2, subscription_count: 3 },
      });
      expect(await node.get('/channels/counts-news', { info: 'subscription_count' })).toEqual({ status: 200, body: { occupied: true, subscription_count: 2 } });
      expect(await node.get('/channels/private-counts')).toEqual({ status: 200, body: { occupied: true } });
      const users = await node.get('/channels/presence-counts/users');
      expect(users.status).toBe(200);
      expect((users.body as { users: { id: string }[] }).users.map((u) => u.id).sort()).toEqual(['u1', 'u2']);
      const triggered = await node.sdk().trigger('presence-counts', 'x', {}, { info: 'user_count,subscription_count' });
      expect(await triggered.json()).toEqual({ channels: { 'presence-counts': { user_count: 2, subscription_count: 3 } } });
    }

    // u1 leaves node 1 (still on node 0): one subscription fewer, still 2 users; then u1 leaves for good.
    joins[1]!.close();
    await eventually(() => n2.get('/channels/presence-counts', { info: 'user_count,subscription_count' }), {
      status: 200,
      body: { occupied: true, user_count: 2, subscription_count: 2 },
    });
    joins[0]!.close();
    await eventually(() => n1.get('/channels/presence-counts', { info: 'user_count,subscription_count' }), {
      status: 200,
      body: { occupied: true, user_count: 1, subscription_count: 1 },
    });
    priv.close();
    await eventually(() => n0.get('/channels/private-counts'), { status: 200, body: { occupied: false } });
    await eventually(async () => Object.keys(((await n2.get('/channels')).body as { channels: object }).channels).includes('private-counts'), false);
  });

  it('/connections counts the whole cluster on every node', async () => {
    const opened = [];
    for (const node of [n0, n0, n1, n2, n2, n2]) opened.push((await rawOn(node, COUNT_APP.key)).client);
    for (const node of [n0, n1, n2]) await eventually(() => node.connections(COUNT_APP), 6);
    opened[0]!.close();
    opened[3]!.close();
    for (const node of [n0, n1, n2]) await eventually(() => node.connections(COUNT_APP), 4);
  });

  it('pusher:subscription_count reaches subscribers on every node with the cluster-wide count', async () => {
    const counts: Recorder<{ subscription_count: number }>[] = [];
    const clients: Pusher[] = [];
    for (const node of [n0, n1, n2]) {
      const pusher = (await pusherOn(node, auth, undefined, COUNT_APP.key)).pusher;
      clients.push(pusher);
      const channel = pusher.subscribe('sc-room');
      const got = recorder<{ subscription_count: number }>('subscription_count');
      channel.bind('pusher:subscription_count', got.fn);
      counts.push(got);
      await until(() => channel.subscribed, 'subscribed', 5000);
    }
    const last = () => counts.map((c) => c.calls.at(-1)?.subscription_count);
    await until(() => last().every((n) => n === 3), `every node's subscribers to see 3 (saw ${JSON.stringify(last())})`, 8000);
    clients[2]!.disconnect();
    await until(() => last().slice(0, 2).every((n) => n === 2), `the others to see 2 (saw ${JSON.stringify(last())})`, 8000);
  });
});

describe('users across nodes', () => {
  async function signedIn(node: ClusterNode, who: string): Promise<Pusher> {
    const { pusher } = await pusherOn(node, auth, who);
    pusher.signin();
    await until(() => pusher.user.serverToUserChannel?.subscribed, `${who} signed in`, 5000);
    return pusher;
  }

  it('sendToUser reaches every connection of the user on every node once; terminate_connections closes them all', async () => {
    const u5 = [await signedIn(n0, 'u5'), await signedIn(n1, 'u5')];
    const u6 = await signedIn(n2, 'u6');
    const got = u5.map((p) => {
      const r = recorder('user event');
      p.user.bind('hello', r.fn);
      return r;
    });
    const other = recorder('u6 user event');
    u6.user.bind('hello', other.fn);
    await n2.sdk().sendToUser('u5', 'hello', { n: 1 });
    for (const r of got) expect(await r.next(5000)).toEqual({ n: 1 });
    await sleep(300);
    expect(got.map((r) => r.calls.length)).toEqual([1, 1]);
    expect(other.calls).toEqual([]);

    const errors = u5.map((p) => {
      const r = recorder<{ data?: { code: number } }>('error');
      p.connection.bind('error', r.fn);
      return r;
    });
    await n2.sdk().terminateUserConnections('u5');
    for (const p of u5) await until(() => p.connection.state === 'disconnected', 'u5 disconnected', 5000);
    for (const r of errors) expect(r.calls.map((e) => e.data?.code)).toContain(4009);
    expect(u6.connection.state).toBe('connected');
  });

  it('watchlist online/offline follows the first and last connection anywhere in the cluster', async () => {
    await signedIn(n1, 'u1');
    const { pusher: watcher } = await pusherOn(n0, auth, 'watcher');
    const online = recorder<{ user_ids: string[] }>('online');
    const offline = recorder<{ user_ids: string[] }>('offline');
    watcher.user.watchlist.bind('online', online.fn);
    watcher.user.watchlist.bind('offline', offline.fn);
    watcher.signin();
    expect(await online.next(5000)).toMatchObject({ user_ids: ['u1'] });
    expect(await offline.next(5000)).toMatchObject({ user_ids: ['u2'] });

    const first = await signedIn(n2, 'u2');
    expect(await online.next(5000)).toMatchObject({ user_ids: ['u2'] });
    const second = await signedIn(n1, 'u2');
    first.disconnect();
    await online.none(500);
    await offline.none(0);
    second.disconnect();
    expect(await offline.next(5000)).toMatchObject({ user_ids: ['u2'] });
    await offline.none(300);
    expect(online.calls).toHaveLength(2);
  });
});

describe('presence seen through pusher-js and Echo on different nodes', () => {
  it('Echo here() on one node lists the members of the others; joining/leaving fire once', async () => {
    const a = await pusherOn(n0, auth, 'u7');
    const b = await pusherOn(n1, auth, 'u8');
    await subscribed(a.pusher, 'presence-lobby');
    await subscribed(b.pusher, 'presence-lobby');
    const echo = echoOn('reverb', n2, auth, 'u9');
    const here = recorder<{ name: string }[]>('here');
    const joining = recorder<{ name: string }>('joining');
    const leaving = recorder<{ name: string }>('leaving');
    echo.join('lobby').here(here.fn).joining(joining.fn).leaving(leaving.fn);
    const members = await here.next(5000);
    expect(members.map((m) => m.name).sort()).toEqual(['User 7', 'User 8', 'User 9']);
    await until(() => (a.pusher.channel('presence-lobby') as PresenceChannel).members.count === 3, 'u7 to see u9', 5000);

    const c = await pusherOn(n0, auth, 'u10');
    await subscribed(c.pusher, 'presence-lobby');
    expect(await joining.next(5000)).toEqual({ name: 'User 10' });
    b.pusher.disconnect();
    expect(await leaving.next(5000)).toEqual({ name: 'User 8' });
    await sleep(300);
    expect([joining.calls.length, leaving.calls.length]).toEqual([1, 1]);
  });

  it('subscription_succeeded on a raw socket lists members joined on other nodes', async () => {
    const { client, socketId } = await rawOn(n2);
    const others = [];
    for (const [node, user] of [[n0, 'u11'], [n1, 'u12']] as const) {
      const joined = await rawOn(node);
      sendJoin(joined.client, joined.socketId, 'presence-list', user);
      await subscriptionAnswer(joined.client, 'presence-list');
      others.push(joined);
    }
    sendJoin(client, socketId, 'presence-list', 'u13');
    expect(memberIds(await subscriptionAnswer(client, 'presence-list'))).toEqual(['u11', 'u12', 'u13']);
  });
});

describe('cache channels across nodes', () => {
  it('a subscriber on another node gets the last event from Redis; an empty one gets cache_miss', async () => {
    const sdk = n0.sdk();
    await sdk.trigger('cache-quotes', 'price', { p: 1 });
    await sdk.trigger('cache-quotes', 'price', { p: 2 });
    const { pusher } = await pusherOn(n2, auth);
    const channel = pusher.subscribe('cache-quotes');
    const got = recorder('cached');
    const miss = recorder('miss');
    channel.bind('price', got.fn);
    channel.bind('pusher:cache_miss', miss.fn);
    expect(await got.next(5000)).toEqual({ p: 2 });
    const empty = pusher.subscribe('cache-never');
    const emptyMiss = recorder('empty miss');
    empty.bind('pusher:cache_miss', emptyMiss.fn);
    await emptyMiss.next(5000);
    expect(miss.calls).toEqual([]);
    const info = await n1.get('/channels/cache-quotes', { info: 'cache' });
    expect(info.status).toBe(200);
    expect((info.body as { cache: { data: unknown; ttl: number } }).cache).toMatchObject({ ttl: expect.any(Number) });
  });
});
