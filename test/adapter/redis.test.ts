import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { RedisAdapter } from '../../src/cluster/redis-adapter.js';
import { appSchema } from '../../src/config/schema.js';
import { Lifecycle } from '../../src/events/lifecycle.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { adapterSuite } from './adapter-suite.js';

let redis: TestRedis;
let run = 0;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.close());

const apps = ['a1', 'a2', 'a3', 'a4'].map((id) => appSchema.parse({ id, key: `k-${id}`, secret: 's' }));

// Each test gets its own key prefix: a fresh cluster on the same redis-server.
adapterSuite('redis', (topics, stats) =>
  RedisAdapter.start(topics, {
    redis: { kind: 'server', url: redis.url },
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
