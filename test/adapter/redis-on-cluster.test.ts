/**
 * The adapter contract against a real 3-master Redis Cluster: every script touches one slot (one
 * app's hash tag; a CROSSSLOT or a key of another node would fail here) and the bus runs over
 * sharded pub/sub. The apps' slots are spread over the shards, so several masters carry traffic.
 */
import { afterAll, beforeAll } from 'vitest';
import { redisTarget } from '../../src/cluster/redis-target.js';
import { serverSchema } from '../../src/config/schema.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import { redisAdapterSuite } from './redis-suite.js';

let cluster: TestRedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(() => cluster?.close());

redisAdapterSuite('redis cluster', () => redisTarget(serverSchema.parse({ redisCluster: cluster.seeds }))!);
