import pino from 'pino';
import { RedisAdapter } from '../../src/cluster/redis-adapter.js';
import type { RedisTarget } from '../../src/cluster/redis-target.js';
import { appSchema } from '../../src/config/schema.js';
import { Lifecycle } from '../../src/events/lifecycle.js';
import { adapterSuite } from './adapter-suite.js';

const apps = ['a1', 'a2', 'a3', 'a4'].map((id) => appSchema.parse({ id, key: `k-${id}`, secret: 's' }));
let run = 0;

/** The adapter contract against the RedisAdapter on `target()`; each test gets its own key prefix, a fresh cluster on the same Redis. */
export function redisAdapterSuite(name: string, target: () => RedisTarget): void {
  adapterSuite(name, (topics, stats) =>
    RedisAdapter.start(topics, {
      redis: target(),
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
}
