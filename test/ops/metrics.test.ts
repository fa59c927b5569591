import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishEvent } from '../../src/channels/publish.js';
import { METRICS, metricsMarkdown } from '../../src/metrics/prometheus.js';
import { RawClient } from '../helpers/raw-client.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';

const scrape = async (port: number) => {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
};

/** The value of one sample line, `name{labels} value`; undefined when absent. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

/** Resolves true when something accepts TCP connections on the port. */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

describe('metrics enabled', () => {
  let h: TestHerald;
  let metricsPort: number;
  beforeAll(async () => {
    h = await startHerald({ server: { metricsEnabled: true, metricsHost: '127.0.0.1', metricsPort: 0 } });
    metricsPort = h.herald.metricsPort!;
  });
  afterAll(() => h?.stop());

  it('serves a port of its own, separate from the WebSocket port', async () => {
    expect(metricsPort).toBeGreaterThan(0);
    expect(metricsPort).not.toBe(h.port);
    const root = await fetch(`http://127.0.0.1:${metricsPort}/`);
    expect(root.status).toBe(200);
    expect(await root.text()).toContain('/metrics');
    expect((await fetch(`http://127.0.0.1:${metricsPort}/nope`)).status).toBe(404);
  });

  it('reports connections, traffic, subscriptions, HTTP calls and errors from the stats', async () => {
    const before = await scrape(metricsPort);
    expect(sample(before, 'herald_connections{app="app-id"}')).toBe(0);
    expect(sample(before, 'herald_connections_opened_total')).toBe(0);
    expect(before).toContain('# TYPE herald_connections gauge');
    expect(before).toContain('# TYPE herald_connections_opened_total counter');

    const { client } = await RawClient.established(h.port);
    client.subscribe('news', '');
    await client.next('pusher_internal:subscription_succeeded');
    publishEvent(h.herald.adapter, h.app, 'news', 'headline', 'hello');
    expect((await client.next('headline')).data).toBe('hello');
    client.send('this is not json');
    const error = await client.next('pusher:error');
    const code = String((error.data as { code: number | null }).code);
    expect((await fetch(`${h.url}/up`)).status).toBe(200);

    const text = await scrape(metricsPort);
    expect(text).toContain('herald_connections{app="app-id"} 1');
    expect(sample(text, 'herald_connections{app="app-id"}')).toBe(1);
    expect(sample(text, 'herald_connections_opened_total')).toBe(1);
    expect(sample(text, 'herald_connections_closed_total')).toBe(0);
    // subscribe + the bad frame
    expect(sample(text, 'herald_ws_messages_received_total')).toBe(2);
    expect(sample(text, 'herald_ws_received_bytes_total')).toBeGreaterThan(20);
    // connection_established, subscription_succeeded, pusher:error (fan-out deliveries may add more)
    expect(sample(text, 'herald_ws_messages_sent_total')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'herald_ws_sent_bytes_total')).toBeGreaterThan(100);
    expect(sample(text, 'herald_subscriptions_total{type="public"}')).toBe(1);
    expect(sample(text, `herald_errors_total{code="${code}"}`)).toBe(1);
    expect(sample(text, 'herald_client_events_total')).toBe(0);
    expect(text).toMatch(/^herald_http_requests_total\{endpoint="health",status="200"\} [1-9]/m);

    // Process metrics and event-loop lag from collectDefaultMetrics, under the same prefix.
    expect(text).toMatch(/^herald_process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^herald_process_resident_memory_bytes \d/m);
    expect(text).toMatch(/^herald_nodejs_eventloop_lag_seconds \d/m);
    expect(text).toMatch(/^herald_nodejs_heap_size_used_bytes \d/m);
    // Every sample is under the prefix.
    for (const line of text.split('\n')) if (line && !line.startsWith('#')) expect(line).toMatch(/^herald_/);
    // Every documented metric is exposed with its HELP and TYPE.
    for (const m of METRICS) {
      expect(text).toContain(`# HELP ${m.name} `);
      expect(text).toContain(`# TYPE ${m.name} ${m.type}`);
    }

    client.close();
    await client.closed;
    await expect.poll(async () => sample(await scrape(metricsPort), 'herald_connections_closed_total')).toBe(1);
    const after = await scrape(metricsPort);
    expect(sample(after, 'herald_connections{app="app-id"}')).toBe(0);
    // Counters keep counting across scrapes instead of being added up twice.
    expect(sample(after, 'herald_connections_opened_total')).toBe(1);
    expect(sample(after, 'herald_subscriptions_total{type="public"}')).toBe(1);
  });

  it('documents every metric for the README', () => {
    const table = metricsMarkdown();
    for (const m of METRICS) {
      expect(m.name.startsWith('herald_')).toBe(true);
      expect(table).toContain(`\`${m.name}\``);
    }
  });

  it('stops listening on shutdown', async () => {
    const other = await startHerald({ server: { metricsEnabled: true, metricsHost: '127.0.0.1', metricsPort: 0 } });
    const port = other.herald.metricsPort!;
    expect(await listening(port)).toBe(true);
    // A second server in the same process has its own registry.
    expect(sample(await scrape(port), 'herald_connections_opened_total')).toBe(0);
    await other.stop();
    expect(await listening(port)).toBe(false);
  });
});

describe('metrics disabled', () => {
  it('listens on no metrics port', async () => {
    const probe = await startHerald({ server: { metricsEnabled: true, metricsHost: '127.0.0.1', metricsPort: 0 } });
    const freed = probe.herald.metricsPort!;
    await probe.stop();

    const h = await startHerald({ server: { metricsEnabled: false, metricsHost: '127.0.0.1', metricsPort: freed } });
    try {
      expect(h.herald.metricsPort).toBeUndefined();
      expect(await listening(freed)).toBe(false);
      // The main port does not serve metrics either.
      const res = await fetch(`${h.url}/metrics`);
      expect(res.status).toBe(404);
    } finally {
      await h.stop();
    }
  });
});
