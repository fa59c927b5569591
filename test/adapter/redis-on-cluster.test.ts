/**
 * The adapter contract against a real 3-master Redis Cluster: every script touches one slot (one
 * app's hash tag; a CROSSSLOT or a key of another node would fail here) and the bus runs over
 * sharded pub/sub. The apps' slots are spread over the shards, so several masters carry traffic.
 */
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { RedisAdapter } from '../../src/cluster/redis-adapter.js';
import { redisTarget } from '../../src/cluster/redis-target.js';
import { appSchema, serverSchema } from '../../src/config/schema.js';
import { Lifecycle } from '../../src/events/lifecycle.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import { adapterSuite } from './adapter-suite.js';

let cluster: TestRedisCluster;
let run = 0;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(() => cluster?.close());

const apps = ['a1', 'a2', 'a3', 'a4'].map((id) => appSchema.parse({ id, key: `k-${id}`, secret: 's' }));

adapterSuite('redis cluster', (topics, stats) =>
  RedisAdapter.start(topics, {
    redis: redisTarget(serverSchema.parse({ redisCluster: cluster.seeds }))!,
    prefix: `t${++run}:`,
    nodeTimeout: 30,
    presenceTimeout: 2,
    queueSize: 100,
    apps,
    stats,
    logger: pino({ level: process.env.HERALD_TEST_LOG ?? 'silent' }),
    events: new Lifecycle(),
  }),
);
