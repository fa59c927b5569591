/**
 * Issue #10, Redis Sentinel: three Herald processes find their Redis through a sentinel
 * (`HERALD_REDIS_SENTINELS`, `HERALD_REDIS_SENTINEL_NAME`); the primary is killed during traffic,
 * the sentinel promotes the replica, and every node follows: delivery resumes, presence is right.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { until } from '../helpers/clients.js';
import { closeRaw, eventually, expectInOrderOnce, joinAs as join, memberEvents, subscribersOn, tearDown, tickTraffic, ticks, userIds } from '../helpers/cluster-clients.js';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import { SENTINEL_NAME, startSentinel, type TestSentinel } from '../helpers/redis-sentinel.js';

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
  const clients = await subscribersOn([n0, n1, n2], 'live');
  const traffic = tickTraffic(n2, 'live');
  await until(() => clients.every((c) => ticks(c, 'live').length > 10), 'traffic flowing', 10_000);

  await sentinel.primary.kill();
  await eventually(() => sentinel.primaryPort(), sentinel.replica.port, 15_000);

  const after = traffic.sent() + 20;
  await until(() => clients.every((c) => ticks(c, 'live').some((i) => i >= after)), 'delivery resumed on every node', 15_000);
  await traffic.stop();
  for (const client of clients) expectInOrderOnce(ticks(client, 'live'));
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
