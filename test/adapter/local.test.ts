import { expect, it } from 'vitest';
import { LocalAdapter } from '../../src/adapter/local.js';
import { Stats } from '../../src/metrics/stats.js';
import { adapterSuite } from './adapter-suite.js';
import { FakeTopics } from './fake-topics.js';

adapterSuite('local', (topics, stats) => new LocalAdapter(topics, stats));

it('local: the sweep drops cached events whose TTL has passed', () => {
  const adapter = new LocalAdapter(new FakeTopics(), new Stats());
  adapter.cache('a1', 'cache-x', 'e', '"d"', 60);
  adapter.sweep(Date.now() + 59_000);
  expect(adapter.cached('a1', 'cache-x')).toMatchObject({ data: '"d"' });
  adapter.sweep(Date.now() + 61_000);
  expect(adapter.cached('a1', 'cache-x')).toBeUndefined();
});
