import { afterAll, beforeAll } from 'vitest';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { redisAdapterSuite } from './redis-suite.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.close());

redisAdapterSuite('redis', () => ({ kind: 'server', url: redis.url }));
