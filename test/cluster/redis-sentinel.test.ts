/**
 * Issue #10, Redis Sentinel: three Herald processes find their Redis through a sentinel
 * (`HERALD_REDIS_SENTINELS`, `HERALD_REDIS_SENTINEL_NAME`); the primary is killed during traffic,
 * the sentinel promotes the replica, and every node follows: delivery resumes, presence is right.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { connect, redisTarget } from '../../src/cluster/redis-target.js';
import { until } from '../helpers/clients.js';
import { closeRaw, eventually, joinAs as join, memberEvents, tearDown, userIds } from '../helpers/cluster-clients.js';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import { killPrimaryUnderTraffic, SENTINEL_NAME, startSentinel, type TestSentinel } from '../helpers/redis-sentinel.js';

let sentinel: TestSentinel;
let cluster: Cluster<{ url: string }>;
let nodes: ClusterNode[];

beforeAll(async () => {
  sentinel = await startSentinel();
  cluster = await startCluster(
    { url: sentinel.sentinels },
    {
      nodeTimeout: 3,
      args: (port) => ['--host', '127.0.0.1', '--port', String(port)],
      env: { HERALD_REDIS_SENTINELS: sentinel.sentinels, HERALD_REDIS_SENTINEL_NAME: SENTINEL_NAME },
    },
  );
  nodes = cluster.nodes;
}, 90_000);

afterEach(() => closeRaw());
afterAll(() => tearDown({ cluster, redis: sentinel }));

it('the primary killed during traffic: the replica takes over, delivery resumes on every node, presence is right', async () => {
  const [n0, n1, n2] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  const ch = 'presence-sentinel';
  const observer = await join(n0, ch, 'observer');
  await join(n1, ch, 'u1');
  await killPrimaryUnderTraffic(sentinel, nodes, n2);
  expect(nodes.map((n) => n.alive)).toEqual([true, true, true]);

  const late = await join(n2, ch, 'u2');
  expect(late.members).toEqual(['observer', 'u1', 'u2']);
  await until(() => memberEvents(observer.client, ch, 'member_added').includes('u2'), 'member_added u2', 5000);
  for (const node of nodes) {
    await eventually(async () => userIds(await node.get(`/channels/${ch}/users`)), ['observer', 'u1', 'u2'], 5000);
  }
  expect(memberEvents(observer.client, ch, 'member_added')).toEqual(['u1', 'u2']);
  expect(memberEvents(observer.client, ch, 'member_removed')).toEqual([]);
}, 60_000);

it('a Sentinel client that ioredis ends on its own is started again; one its owner closed stays closed', async () => {
  // ioredis 6.0 ends a Sentinel client for good when a failover's `+switch-master` lands while it
  // is reconnecting (src/cluster/redis-target.ts); here the client is ended without its owner's word.
  const target = redisTarget({ redisSentinels: sentinel.sentinels, redisSentinelName: SENTINEL_NAME, redisTls: false })!;
  let closed = false;
  const options = { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50, enableAutoPipelining: false, closed: () => closed };
  const client = connect(target, options) as Redis;
  await client.connect();
  client.disconnect();
  await until(() => client.status === 'end', 'ended', 2000);
  await until(() => client.status === 'ready', 'started again', 5000);
  expect(await client.ping()).toBe('PONG');

  closed = true;
  client.disconnect();
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(client.status).toBe('end');
});
