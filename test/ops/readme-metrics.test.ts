import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { metricsMarkdown } from '../../src/metrics/prometheus.js';

it('README documents exactly the metrics the server exports', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const start = '<!-- metrics-table:start -->\n';
  const region = readme.slice(readme.indexOf(start) + start.length, readme.indexOf('\n<!-- metrics-table:end -->'));
  expect(region).toBe(metricsMarkdown());
});
