/**
 * Issue #10, Redis Sentinel the way a managed one runs: the primary, its replica and the sentinel
 * all TLS-only, the data nodes and the sentinel each with their own password. Herald is given
 * `HERALD_REDIS_SENTINELS`, `HERALD_REDIS_TLS`, `HERALD_REDIS_PASSWORD` and
 * `HERALD_REDIS_SENTINEL_PASSWORD`, trusting the CA through NODE_EXTRA_CA_CERTS; events and
 * presence cross nodes, and after the primary is killed every node follows the promoted replica.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { until } from '../helpers/clients.js';
import { closeRaw, joinAs, memberEvents, tearDown } from '../helpers/cluster-clients.js';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import { redisCertificates } from '../helpers/redis-certs.js';
import { killPrimaryUnderTraffic, SENTINEL_NAME, startSentinel, type TestSentinel } from '../helpers/redis-sentinel.js';

const PASSWORD = 'data-pw';
const SENTINEL_PASSWORD = 'sentinel-pw';
const dir = mkdtempSync(join(tmpdir(), 'herald-sentinel-tls-'));
let sentinel: TestSentinel;
let cluster: Cluster<{ url: string }>;

beforeAll(async () => {
  const tls = redisCertificates(dir);
  sentinel = await startSentinel({ tls, password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD });
  cluster = await startCluster(
    { url: sentinel.sentinels },
    {
      nodes: 2,
      nodeTimeout: 3,
      args: (port) => ['--host', '127.0.0.1', '--port', String(port)],
      env: {
        HERALD_REDIS_SENTINELS: sentinel.sentinels,
        HERALD_REDIS_SENTINEL_NAME: SENTINEL_NAME,
        HERALD_REDIS_TLS: 'true',
        HERALD_REDIS_PASSWORD: PASSWORD,
        HERALD_REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
        NODE_EXTRA_CA_CERTS: tls.caFile,
      },
    },
  );
}, 90_000);

afterEach(() => closeRaw());
afterAll(async () => {
  await tearDown({ cluster, redis: sentinel });
  rmSync(dir, { recursive: true, force: true });
});

it('events and presence cross nodes over TLS, and survive a failover of the TLS primary', async () => {
  const [n0, n1] = cluster.nodes as [ClusterNode, ClusterNode];
  const observer = await joinAs(n0, 'presence-sentinel-tls', 'u1');
  const joined = await joinAs(n1, 'presence-sentinel-tls', 'u2');
  expect(joined.members).toEqual(['u1', 'u2']);
  await until(() => memberEvents(observer.client, 'presence-sentinel-tls', 'member_added').includes('u2'), 'member_added u2', 5000);

  await killPrimaryUnderTraffic(sentinel, cluster.nodes, n1);
  expect(cluster.nodes.map((n) => n.alive)).toEqual([true, true]);
}, 60_000);
