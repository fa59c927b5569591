/**
 * Issue #10, Redis Cluster: three Herald processes started with `--redis-cluster` on a real
 * 3-master Redis Cluster (each master with a replica), keep everything #9 guarantees: fan-out once
 * and in order over sharded pub/sub, exact presence under same-user races, counts, Laravel's
 * redis broadcaster (plain PUBLISH), a shard failing over during traffic, and `kill -9` cleanup.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep, until } from '../helpers/clients.js';
import {
  closeRaw,
  eventually,
  expectInOrderOnce,
  joinAs as join,
  memberEvents,
  rawOn,
  sendJoin,
  subscribersOn,
  subscriptionAnswer,
  tearDown,
  tickTraffic,
  ticks,
  userIds,
} from '../helpers/cluster-clients.js';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import { TEST_APP } from '../helpers/herald.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';

/** Seconds before a silent node is declared dead. */
const NODE_TIMEOUT = 1.5;
/** The app's bus channel (its hash tag names the slot, so the shard, of everything the app has). */
const BUS = `herald:{${TEST_APP.id}}:bus`;

let redis: TestRedisCluster;
let cluster: Cluster<{ url: string }>;
let n0: ClusterNode, n1: ClusterNode, n2: ClusterNode;

beforeAll(async () => {
  redis = await startRedisCluster({ masters: 3, replicas: 3 });
  cluster = await startCluster(
    { url: redis.seeds },
    {
      nodeTimeout: NODE_TIMEOUT,
      args: (port, seeds) => ['--host', '127.0.0.1', '--port', String(port), '--redis-cluster', seeds],
      env: { HERALD_REDIS_INGEST: 'laravel' },
    },
  );
  [n0, n1, n2] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
}, 90_000);

afterEach(() => closeRaw());
afterAll(() => tearDown({ cluster, redis }));

describe('three nodes on a Redis Cluster', () => {
  it('events reach subscribers on every node once each, in order, over sharded pub/sub on the app’s shard only', async () => {
    const clients = await subscribersOn([n0, n1, n2, n0, n1, n2], 'feed');
    const sdk = n1.sdk();
    for (let i = 0; i < 30; i++) await sdk.trigger('feed', 'tick', { i });
    const all = Array.from({ length: 30 }, (_, i) => i);
    for (const client of clients) await until(() => ticks(client, 'feed').length >= 30, 'every tick', 10_000);
    await sleep(200);
    for (const client of clients) expect(ticks(client, 'feed')).toEqual(all);

    // Each node holds a sharded subscription on the master of the app's slot, none on plain pub/sub.
    const master = await redis.masterOf(BUS);
    expect(await master.command('PUBSUB', 'SHARDNUMSUB', BUS)).toEqual([BUS, 3]);
    for (const server of redis.servers) expect(await server.command('PUBSUB', 'NUMSUB', BUS)).toEqual([BUS, 0]);
  });

  it("Laravel's redis broadcaster (plain PUBLISH on any cluster node) reaches subscribers on every node once", async () => {
    const clients = await subscribersOn([n0, n1, n2], 'ingest-feed');
    // Published on a master that does not serve the app: plain pub/sub crosses the whole cluster.
    const appMaster = await redis.masterOf(BUS);
    const other = redis.servers.find((s) => s !== appMaster)!;
    for (let i = 0; i < 5; i++) await other.command('PUBLISH', 'laravel_database_ingest-feed', JSON.stringify({ event: 'tick', data: { i } }));
    for (const client of clients) await until(() => ticks(client, 'ingest-feed').length >= 5, 'every ingested tick', 10_000);
    await sleep(200);
    for (const client of clients) expect(ticks(client, 'ingest-feed')).toEqual([0, 1, 2, 3, 4]);
  });

  it('two nodes adding and removing the same user at the same moment: one member_added, one member_removed (20 rounds)', async () => {
    const observer = await rawOn(n2);
    const left = await rawOn(n0);
    const right = await rawOn(n1);
    for (let round = 0; round < 20; round++) {
      const ch = `presence-race-${round}`;
      sendJoin(observer.client, observer.socketId, ch, 'observer');
      expect((await subscriptionAnswer(observer.client, ch)).event).toBe('pusher_internal:subscription_succeeded');
      sendJoin(left.client, left.socketId, ch, 'racer');
      sendJoin(right.client, right.socketId, ch, 'racer');
      for (const answer of await Promise.all([subscriptionAnswer(left.client, ch), subscriptionAnswer(right.client, ch)])) {
        expect(answer.event).toBe('pusher_internal:subscription_succeeded');
      }
      await until(() => memberEvents(observer.client, ch, 'member_added').length > 0, 'member_added', 5000);
      left.client.send({ event: 'pusher:unsubscribe', data: { channel: ch } });
      right.client.send({ event: 'pusher:unsubscribe', data: { channel: ch } });
      await until(() => memberEvents(observer.client, ch, 'member_removed').length > 0, 'member_removed', 5000);
    }
    await sleep(300);
    for (let round = 0; round < 20; round++) {
      const ch = `presence-race-${round}`;
      expect([ch, memberEvents(observer.client, ch, 'member_added'), memberEvents(observer.client, ch, 'member_removed')]).toEqual([ch, ['racer'], ['racer']]);
    }
  }, 60_000);

  it('presence lists and counts are the cluster’s on every node', async () => {
    const ch = 'presence-room';
    const a = await join(n0, ch, 'u1');
    const b = await join(n1, ch, 'u2');
    const c = await join(n2, ch, 'u1');
    expect([a.members, b.members, c.members]).toEqual([['u1'], ['u1', 'u2'], ['u1', 'u2']]);
    for (const node of [n0, n1, n2]) {
      expect(await node.get(`/channels/${ch}`, { info: 'user_count,subscription_count' })).toEqual({ status: 200, body: { occupied: true, user_count: 2, subscription_count: 3 } });
      expect(userIds(await node.get(`/channels/${ch}/users`))).toEqual(['u1', 'u2']);
      await eventually(() => node.get('/connections'), { status: 200, body: { connections: 3 } });
    }
  });

  it('a shard failing over during traffic: nodes stay up, delivery resumes, presence is right afterwards', async () => {
    const ch = 'presence-failover';
    const observer = await join(n0, ch, 'observer');
    await join(n1, ch, 'u1');
    const clients = await subscribersOn([n0, n1, n2], 'live');
    const traffic = tickTraffic(n2, 'live');
    await until(() => clients.every((c) => ticks(c, 'live').length > 10), 'traffic flowing', 10_000);

    const master = await redis.masterOf(BUS);
    await master.kill();
    await redis.waitHealthy(BUS);
    expect((await redis.masterOf(BUS)).port).not.toBe(master.port);

    // Events sent from now on reach every node again (within 5 s of the new master).
    const after = traffic.sent() + 20;
    await until(() => clients.every((c) => ticks(c, 'live').some((i) => i >= after)), 'delivery resumed on every node', 10_000);
    await traffic.stop();
    for (const client of clients) expectInOrderOnce(ticks(client, 'live'));
    expect([n0.alive, n1.alive, n2.alive]).toEqual([true, true, true]);

    // Presence after the failover: the old members are still listed; a newcomer is added once.
    const late = await join(n2, ch, 'u2');
    expect(late.members).toEqual(['observer', 'u1', 'u2']);
    await until(() => memberEvents(observer.client, ch, 'member_added').includes('u2'), 'member_added u2', 5000);
    await eventually(() => n1.get(`/channels/${ch}`, { info: 'user_count' }), { status: 200, body: { occupied: true, user_count: 3 } }, 5000);
    expect(memberEvents(observer.client, ch, 'member_added')).toEqual(['u1', 'u2']);
    expect(memberEvents(observer.client, ch, 'member_removed')).toEqual([]);
  }, 60_000);

  it('kill -9 of a node: the survivors remove its members and counts once, within the deadline', async () => {
    const ch = 'presence-crash';
    const observer = await join(n0, ch, 'observer');
    await join(n2, ch, 'doomed');
    await join(n1, ch, 'survivor');
    await until(() => memberEvents(observer.client, ch, 'member_added').length === 2, 'both added', 5000);

    await n2.kill();
    const within = NODE_TIMEOUT * 1000 + 6000;
    await until(() => memberEvents(observer.client, ch, 'member_removed').length > 0, 'member_removed of the dead node’s user', within);
    await eventually(async () => userIds(await n1.get(`/channels/${ch}/users`)), ['observer', 'survivor'], within);
    await eventually(() => n0.get(`/channels/${ch}`, { info: 'user_count,subscription_count' }), { status: 200, body: { occupied: true, user_count: 2, subscription_count: 2 } }, within);
    await sleep(NODE_TIMEOUT * 1000);
    expect(memberEvents(observer.client, ch, 'member_removed')).toEqual(['doomed']);
    expect((await n0.metric('herald_redis_nodes_declared_dead_total')) + (await n1.metric('herald_redis_nodes_declared_dead_total'))).toBe(1);
  }, 30_000);
});
