/**
 * Issue #9, "Faults": a node killed with SIGKILL or frozen with SIGSTOP is cleaned up by the
 * survivors within the (short, configured) node deadline, with member_removed and watchlist offline
 * once each; a frozen node never slows a query; a node stopped with SIGTERM behind a round-robin
 * load balancer hands its clients to the survivors without presence flapping.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { disconnectAll, recorder, sleep, subscribed, until } from '../helpers/clients.js';
import { closeRaw, eventually, joinAs as join, memberEvents, pusherOn, rawOn, startClusterAuth, userIds } from '../helpers/cluster-clients.js';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import type { LaravelAuth } from '../helpers/laravel-auth.js';
import { startProxy, type TcpProxy } from '../helpers/proxy.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/** Seconds before a silent node is declared dead, in these tests. */
const NODE_TIMEOUT = 1.5;
/** The survivors' cleanup must land within the deadline plus this much slack (loaded CI box). */
const CLEANUP_SLACK_MS = 6000;

let redis: TestRedis | undefined;
let cluster: Cluster | undefined;
let auth: LaravelAuth | undefined;
let proxy: TcpProxy | undefined;

async function setUp(): Promise<ClusterNode[]> {
  redis = await startRedis();
  cluster = await startCluster(redis, { nodeTimeout: NODE_TIMEOUT });
  auth = await startClusterAuth();
  return cluster.nodes;
}

afterEach(async () => {
  disconnectAll();
  closeRaw();
  await proxy?.close();
  for (const node of cluster?.nodes ?? []) node.resume();
  await cluster?.close();
  await auth?.close();
  await redis?.close();
  [proxy, cluster, auth, redis] = [undefined, undefined, undefined, undefined];
});




async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

describe('a node killed with SIGKILL', () => {
  it('survivors remove its members, online users, connections and channels once, within the deadline; a new boot in its place starts clean', async () => {
    const [n0, n1, n2] = (await setUp()) as [ClusterNode, ClusterNode, ClusterNode];
    const ch = 'presence-crash';
    const observer = await join(n0, ch, 'observer');
    // u1 lives only on the doomed node; u2 also has a connection on node 1.
    const signedIn = async (node: ClusterNode, who: string) => {
      const { pusher } = await pusherOn(node, auth!, who);
      pusher.signin();
      await until(() => pusher.user.serverToUserChannel?.subscribed, `${who} signed in`, 5000);
      await subscribed(pusher, ch);
      return pusher;
    };
    const onDoomed = [await signedIn(n2, 'u1'), await signedIn(n2, 'u2')];
    await signedIn(n1, 'u2');
    const { pusher: watcher } = await pusherOn(n1, auth!, 'watcher');
    const online = recorder<{ user_ids: string[] }>('online');
    const offline = recorder<{ user_ids: string[] }>('offline');
    watcher.user.watchlist.bind('online', online.fn);
    watcher.user.watchlist.bind('offline', offline.fn);
    watcher.signin();
    await until(() => ['u1', 'u2'].every((u) => online.calls.some((c) => c.user_ids.includes(u))), 'u1 and u2 online', 5000);
    const feed = await rawOn(n2);
    feed.client.subscribe('crash-feed');
    await feed.client.next('pusher_internal:subscription_succeeded');
    await eventually(async () => userIds(await n0.get(`/channels/${ch}/users`)), ['observer', 'u1', 'u2'], 5000);
    expect(await n0.get('/connections')).toEqual({ status: 200, body: { connections: 6 } });

    await n2.kill();
    const within = NODE_TIMEOUT * 1000 + CLEANUP_SLACK_MS;
    await until(() => memberEvents(observer.client, ch, 'member_removed').length > 0, 'member_removed of u1', within);
    expect(await offline.next(within)).toEqual({ name: 'offline', user_ids: ['u1'] });
    await eventually(async () => userIds(await n1.get(`/channels/${ch}/users`)), ['observer', 'u2'], within);
    await eventually(() => n0.get(`/channels/${ch}`, { info: 'user_count,subscription_count' }), { status: 200, body: { occupied: true, user_count: 2, subscription_count: 2 } }, within);
    await eventually(() => n0.get('/connections'), { status: 200, body: { connections: 3 } }, within);
    await eventually(() => n1.get('/channels/crash-feed'), { status: 200, body: { occupied: false } }, within);
    await sleep(NODE_TIMEOUT * 1000);
    // Once, from whichever survivor claimed the dead node; nothing for u2, who is still on node 1.
    expect(memberEvents(observer.client, ch, 'member_removed')).toEqual(['u1']);
    expect(offline.calls).toHaveLength(1);
    expect((await n0.metric('herald_redis_nodes_declared_dead_total')) + (await n1.metric('herald_redis_nodes_declared_dead_total'))).toBe(1);

    // A new process in its place is a new node: nothing of the old one comes back. (On another
    // port: a freed port in the ephemeral range may meanwhile be some client's source port.)
    for (const pusher of onDoomed) pusher.disconnect();
    const reborn = await cluster!.addNode();
    expect(userIds(await reborn.get(`/channels/${ch}/users`))).toEqual(['observer', 'u2']);
    const u3 = await join(reborn, ch, 'u3');
    expect(u3.members).toEqual(['observer', 'u2', 'u3']);
    await until(() => memberEvents(observer.client, ch, 'member_added').includes('u3'), 'member_added u3', 5000);
    expect(memberEvents(observer.client, ch, 'member_added')).toEqual(['u1', 'u2', 'u3']);
  }, 60_000);
});

describe('a node frozen with SIGSTOP', () => {
  it('never slows a query or a subscribe on the others; it is declared dead, and on SIGCONT deletes none of the fresh state', async () => {
    const [n0, n1, n2] = (await setUp()) as [ClusterNode, ClusterNode, ClusterNode];
    const ch = 'presence-freeze';
    const observer = await join(n0, ch, 'observer');
    const frozen = await join(n2, ch, 'u1');
    await join(n1, ch, 'u2');
    const listener = await rawOn(n1);
    listener.client.subscribe('freeze-feed');
    await listener.client.next('pusher_internal:subscription_succeeded');

    n2.pause();
    const times: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (const node of [n0, n1]) {
        for (const query of [
          () => node.get('/channels'),
          () => node.get('/channels', { filter_by_prefix: 'presence-', info: 'user_count' }),
          () => node.get(`/channels/${ch}`, { info: 'user_count,subscription_count' }),
          () => node.get(`/channels/${ch}/users`),
          () => node.get('/connections'),
        ]) {
          const { ms, value } = await timed(query);
          expect(value.status).toBe(200);
          times.push(ms);
        }
        const { ms } = await timed(() => node.sdk().trigger('freeze-feed', 'tick', { round }, { info: 'subscription_count' }));
        times.push(ms);
      }
    }
    times.sort((a, b) => a - b);
    // Nothing waits on the frozen node: a peer-asking design would take its whole timeout here.
    expect(times[Math.floor(times.length / 2)]!, `query times ${times.map(Math.round).join(',')}`).toBeLessThan(100);
    expect(times.at(-1)!, `query times ${times.map(Math.round).join(',')}`).toBeLessThan(1000);
    for (let i = 0; i < 6; i++) expect(await listener.client.next('tick')).toMatchObject({ channel: 'freeze-feed' });
    const fresh = await timed(() => join(n1, ch, 'u3'));
    expect(fresh.ms).toBeLessThan(1000);

    // Declared dead after the deadline: u1 leaves once.
    await until(() => memberEvents(observer.client, ch, 'member_removed').includes('u1'), 'member_removed u1', NODE_TIMEOUT * 1000 + CLEANUP_SLACK_MS);
    await eventually(async () => userIds(await n0.get(`/channels/${ch}/users`)), ['observer', 'u2', 'u3'], 5000);

    // Thawed: the node finds it was declared dead. Its old state must not come back as a ghost nor
    // wipe what the others added meanwhile; whatever it does with its own client (keep it and
    // register it again, or close it) the list and the member events must say the same.
    n2.resume();
    const settled = async () => {
      const users = userIds(await n1.get(`/channels/${ch}/users`));
      const added = memberEvents(observer.client, ch, 'member_added').filter((u) => u === 'u1').length;
      const removed = memberEvents(observer.client, ch, 'member_removed');
      // The observer's own view of u1: +1 per member_added, -1 per member_removed.
      return { users, u1Present: added - removed.filter((u) => u === 'u1').length, othersRemoved: removed.filter((u) => u !== 'u1') };
    };
    const expected = () =>
      frozen.client.closeCode === undefined
        ? { users: ['observer', 'u1', 'u2', 'u3'], u1Present: 1, othersRemoved: [] }
        : { users: ['observer', 'u2', 'u3'], u1Present: 0, othersRemoved: [] };
    const deadline = Date.now() + NODE_TIMEOUT * 1000 + CLEANUP_SLACK_MS;
    let state = await settled();
    while (JSON.stringify(state) !== JSON.stringify(expected()) && Date.now() < deadline) {
      await sleep(100);
      state = await settled();
    }
    expect(state).toEqual(expected());
    expect(n2.alive).toBe(true);
  }, 60_000);
});

describe('a node stopped with SIGTERM behind a round-robin load balancer', () => {
  it('its clients get 4200 and reconnect to a survivor; presence shows each user once throughout', async () => {
    const nodes = await setUp();
    const n2 = nodes[2]!;
    proxy = await startProxy(nodes.map((n) => n.port));
    const ch = 'presence-lb';
    const observer = await join(nodes[0]!, ch, 'observer');

    // Six pusher-js clients through the balancer land on nodes 0,1,2,0,1,2: user k owns clients 2k
    // and 2k+1, so every user has connections on two different nodes.
    const target = { port: proxy.port, wsHost: '127.0.0.1' as const, app: nodes[0]!.app } as ClusterNode;
    const clients = [];
    for (let i = 0; i < 6; i++) {
      const user = `u${(i >> 1) + 1}`;
      const { pusher } = await pusherOn(target, auth!, user);
      const errors = recorder<{ data?: { code: number } }>('error');
      pusher.connection.bind('error', errors.fn);
      await subscribed(pusher, ch);
      clients.push({ pusher, user, errors, node: proxy.routed.at(-1)! });
    }
    expect(clients.map((c) => c.node)).toEqual([0, 1, 2, 0, 1, 2].map((k) => nodes[k]!.port));
    // A bare socket on node 2 through the balancer shows the close code on the wire.
    const raw = await rawOn(proxy.port);
    expect(proxy.routed.at(-1)).toBe(nodes[0]!.port);
    const viaProxy = await join(proxy.port, ch, 'u1');
    expect(proxy.routed.at(-1)).toBe(nodes[1]!.port);
    raw.client.close();
    const rawOn2 = await rawOn(proxy.port);
    expect(proxy.routed.at(-1)).toBe(n2.port);
    await eventually(async () => userIds(await nodes[0]!.get(`/channels/${ch}/users`)), ['observer', 'u1', 'u2', 'u3'], 5000);

    // The balancer's health check takes node 2 out, then it is stopped.
    proxy.remove(n2.port);
    expect(await n2.stop()).toBe(0);
    expect(await rawOn2.client.closed).toBe(4200);
    const moved = clients.filter((c) => c.node === n2.port);
    for (const c of moved) await until(() => c.errors.calls.some((e) => e.data?.code === 4200), 'pusher-js to see 4200', 5000);
    for (const c of moved) {
      await until(() => c.pusher.connection.state === 'connected' && c.pusher.channel(ch)?.subscribed, 'reconnected and resubscribed', 10_000);
    }
    const reconnectedTo = proxy.routed.slice(-moved.length);
    expect(reconnectedTo.every((port) => port !== n2.port)).toBe(true);
    await eventually(() => nodes[0]!.get('/connections'), { status: 200, body: { connections: 8 } }, 5000);
    await eventually(async () => userIds(await nodes[1]!.get(`/channels/${ch}/users`)), ['observer', 'u1', 'u2', 'u3'], 5000);
    await sleep(500);
    // Every user kept a live connection throughout: no member_removed, no member_added again.
    expect(memberEvents(observer.client, ch, 'member_removed')).toEqual([]);
    expect(memberEvents(observer.client, ch, 'member_added').sort()).toEqual(['u1', 'u2', 'u3']);
    expect(memberEvents(viaProxy.client, ch, 'member_removed')).toEqual([]);
  }, 60_000);
});
