/**
 * Issue #10: a Redis Cluster reached over TLS with a password, the way managed clusters are:
 * TLS-only nodes (cluster bus included) with `requirepass`, and Herald nodes given `rediss://`
 * seeds (`HERALD_REDIS_CLUSTER`) that carry the password, trusting the CA via NODE_EXTRA_CA_CERTS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { until } from '../helpers/clients.js';
import { joinAs, memberEvents, subscribersOn, tearDown, ticks } from '../helpers/cluster-clients.js';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import { redisCertificates } from '../helpers/redis-certs.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';

const PASSWORD = 'cluster pw';
const dir = mkdtempSync(join(tmpdir(), 'herald-cluster-tls-'));
let redis: TestRedisCluster;
let cluster: Cluster<{ url: string }>;

beforeAll(async () => {
  const tls = redisCertificates(dir);
  redis = await startRedisCluster({ password: PASSWORD, tls });
  const seeds = redis.seeds
    .split(',')
    .map((seed) => `rediss://:${encodeURIComponent(PASSWORD)}@${seed}`)
    .join(',');
  cluster = await startCluster(
    { url: seeds },
    { nodes: 2, args: (port) => ['--host', '127.0.0.1', '--port', String(port)], env: { HERALD_REDIS_CLUSTER: seeds, NODE_EXTRA_CA_CERTS: tls.caFile } },
  );
}, 90_000);

afterAll(async () => {
  await tearDown({ cluster, redis });
  rmSync(dir, { recursive: true, force: true });
});

it('events and presence cross nodes over a TLS, password-protected Redis Cluster', async () => {
  const [n0, n1] = cluster.nodes as [ClusterNode, ClusterNode];
  const [subscriber] = await subscribersOn([n1], 'feed');
  await n0.sdk().trigger('feed', 'tick', { i: 0 });
  await until(() => ticks(subscriber!, 'feed').length > 0, 'tick across nodes', 5000);
  expect(ticks(subscriber!, 'feed')).toEqual([0]);

  const a = await joinAs(n0, 'presence-tls', 'u1');
  const b = await joinAs(n1, 'presence-tls', 'u2');
  expect(b.members).toEqual(['u1', 'u2']);
  await until(() => memberEvents(a.client, 'presence-tls', 'member_added').includes('u2'), 'member_added u2', 5000);
});
