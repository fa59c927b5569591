/**
 * Prometheus exposition on its own port. Nothing here runs on the hot path: every metric is a
 * collector that copies the plain `Stats` counters (and the adapter's connection counts) into a
 * private registry when `GET /metrics` is scraped.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ChannelType } from '../../protocol/names.js';
import type { Adapter } from '../adapter/adapter.js';
import { DROP_REASONS } from '../ingest/routes.js';
import { statsJson, wantsJson } from './json-stats.js';
import type { Stats } from './stats.js';

export const METRICS_PREFIX = 'herald_';

export interface MetricDoc {
  name: string;
  type: 'counter' | 'gauge';
  labels: readonly string[];
  help: string;
}

/** Herald's own metrics, in README order. Process metrics (below) come on top of these. */
export const METRICS = [
  { name: 'herald_connections', type: 'gauge', labels: ['app'], help: 'Open WebSocket connections on this node, per app.' },
  { name: 'herald_connections_opened_total', type: 'counter', labels: [], help: 'WebSocket connections accepted (after the handshake checks).' },
  { name: 'herald_connections_closed_total', type: 'counter', labels: [], help: 'Accepted WebSocket connections that have closed, for any reason.' },
  { name: 'herald_ws_messages_received_total', type: 'counter', labels: [], help: 'WebSocket frames received from clients.' },
  { name: 'herald_ws_received_bytes_total', type: 'counter', labels: [], help: 'Bytes of WebSocket frames received from clients.' },
  { name: 'herald_ws_messages_sent_total', type: 'counter', labels: [], help: 'WebSocket frames sent to clients.' },
  { name: 'herald_ws_sent_bytes_total', type: 'counter', labels: [], help: 'Size of WebSocket frames sent to clients (UTF-16 code units, equal to bytes for ASCII payloads).' },
  { name: 'herald_http_requests_total', type: 'counter', labels: ['endpoint', 'status'], help: 'HTTP API requests, by endpoint (events, batch_events, channels, …, not_found) and response status.' },
  { name: 'herald_subscriptions_total', type: 'counter', labels: ['type'], help: 'Successful channel subscriptions, by channel type (public, private, encrypted, presence, user).' },
  { name: 'herald_client_events_total', type: 'counter', labels: [], help: 'Client events (`client-*`) accepted from connections.' },
  { name: 'herald_errors_total', type: 'counter', labels: ['code'], help: 'Pusher errors sent to clients (`pusher:error` and refused connections), by error code (`null` when the error has no code).' },
  {
    name: 'herald_socketio_overflows_total',
    type: 'counter',
    labels: [],
    help: 'Socket.IO clients closed with more than `maxBackpressure` bytes waiting for them in Engine.IO\'s write buffer (a long-polling client that stopped polling).',
  },
  { name: 'herald_webhook_events_sent_total', type: 'counter', labels: [], help: 'Webhook events delivered (the receiver answered 2xx).' },
  { name: 'herald_webhook_retries_total', type: 'counter', labels: [], help: 'Webhook requests that failed (non-2xx, network error, timeout) and were scheduled for a retry.' },
  {
    name: 'herald_webhook_events_dropped_total',
    type: 'counter',
    labels: ['reason'],
    help: 'Webhook events given up: `queue_full` (the app\'s queue was full, oldest dropped) or `expired` (failed for the whole retry window).',
  },
  { name: 'herald_webhook_events_queued', type: 'gauge', labels: [], help: 'Webhook events waiting, held back (leave delay) or in flight.' },
  { name: 'herald_ingest_messages_total', type: 'counter', labels: [], help: 'Messages received from Redis ingest subscriptions.' },
  { name: 'herald_ingest_delivered_total', type: 'counter', labels: [], help: 'Redis ingest messages delivered as events (each rule that matched counts once).' },
  {
    name: 'herald_ingest_dropped_total',
    type: 'counter',
    labels: ['reason'],
    help: 'Redis ingest messages dropped, by reason: `not_json`, `missing_fields`, `invalid_channel`, `invalid_event`, `too_large`.',
  },
  { name: 'herald_redis_connected', type: 'gauge', labels: [], help: 'Cluster mode: 1 while this node is connected to Redis, else 0 (always 0 without `redisUrl`).' },
  { name: 'herald_redis_reconnects_total', type: 'counter', labels: [], help: 'Times this node reconnected to Redis after losing it (each followed by a rewrite of its shared state).' },
  { name: 'herald_redis_dropped_messages_total', type: 'counter', labels: [], help: 'Cross-node messages dropped while Redis was unreachable (queue of `redisQueueSize` full, or in flight when the connection dropped).' },
  { name: 'herald_redis_nodes_declared_dead_total', type: 'counter', labels: [], help: 'Other nodes this node found silent past `redisNodeTimeout` and removed from the shared state.' },
] as const satisfies readonly MetricDoc[];

/** prom-client's default metrics, registered with the `herald_` prefix. */
export const PROCESS_METRICS_DOC =
  'Process and runtime metrics from prom-client `collectDefaultMetrics`, prefixed `herald_`: CPU (`herald_process_cpu_seconds_total`), memory ' +
  '(`herald_process_resident_memory_bytes`, `herald_nodejs_heap_size_used_bytes`, …), open file descriptors, event-loop lag ' +
  '(`herald_nodejs_eventloop_lag_seconds`, `herald_nodejs_eventloop_lag_p99_seconds`, …), GC durations, active handles and the Node.js version.';

/** Reported at 0 before their first subscription, so rates and alerts see every series from the start. */
const CHANNEL_TYPES = ['public', 'private', 'encrypted', 'presence', 'user'] as const satisfies readonly ChannelType[];

type MetricName = (typeof METRICS)[number]['name'];

const doc = (name: MetricName) => METRICS.find((m) => m.name === name)!;

export interface MetricsSources {
  stats: Stats;
  adapter: Adapter;
  /** App ids reported by `herald_connections` (every configured app, 0 included). */
  appIds: readonly string[];
  /** Webhook events not yet delivered; absent when no app has webhooks. */
  webhooksQueued?: () => number;
}

/** A private registry (never the global one, so several servers can share a process) with every Herald metric. */
export function createRegistry({ stats, adapter, appIds, webhooksQueued }: MetricsSources): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register, prefix: METRICS_PREFIX });

  const gauge = (name: MetricName, collect: (g: Gauge<string>) => void) => {
    const d = doc(name);
    new Gauge({
      name,
      help: d.help,
      labelNames: [...d.labels],
      registers: [register],
      collect() {
        collect(this);
      },
    });
  };
  /** A counter whose value is copied from a plain number: reset then inc, so the output is a real `counter`. */
  const counter = (name: MetricName, read: () => number) => {
    new Counter({
      name,
      help: doc(name).help,
      registers: [register],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  /** Same, for a Map of label value(s) → count. */
  const labelledCounter = (
    name: MetricName,
    map: ReadonlyMap<string, number>,
    labelsOf: (key: string) => Record<string, string>,
    always: readonly string[] = [],
  ) => {
    const d = doc(name);
    new Counter({
      name,
      help: d.help,
      labelNames: [...d.labels],
      registers: [register],
      collect() {
        this.reset();
        for (const key of always) if (!map.has(key)) this.inc(labelsOf(key), 0);
        for (const [key, value] of map) this.inc(labelsOf(key), value);
      },
    });
  };

  gauge('herald_connections', (g) => {
    g.reset();
    for (const app of appIds) g.set({ app }, adapter.connectionCount(app));
  });
  counter('herald_connections_opened_total', () => stats.connectionsOpened);
  counter('herald_connections_closed_total', () => stats.connectionsClosed);
  counter('herald_ws_messages_received_total', () => stats.wsMessagesIn);
  counter('herald_ws_received_bytes_total', () => stats.wsBytesIn);
  counter('herald_ws_messages_sent_total', () => stats.wsMessagesOut);
  counter('herald_ws_sent_bytes_total', () => stats.wsBytesOut);
  labelledCounter('herald_http_requests_total', stats.httpCalls, (key) => {
    // Stats keys are `${endpoint} ${status}`; endpoints contain no space.
    const space = key.lastIndexOf(' ');
    return { endpoint: key.slice(0, space), status: key.slice(space + 1) };
  });
  labelledCounter('herald_subscriptions_total', stats.subscriptions, (type) => ({ type }), CHANNEL_TYPES);
  counter('herald_client_events_total', () => stats.clientEvents);
  labelledCounter('herald_errors_total', stats.errors, (code) => ({ code }));
  counter('herald_socketio_overflows_total', () => stats.socketIoOverflows);
  counter('herald_webhook_events_sent_total', () => stats.webhookEventsSent);
  counter('herald_webhook_retries_total', () => stats.webhookRetries);
  labelledCounter('herald_webhook_events_dropped_total', stats.webhookEventsDropped, (reason) => ({ reason }), ['queue_full', 'expired']);
  gauge('herald_webhook_events_queued', (g) => g.set(webhooksQueued?.() ?? 0));
  counter('herald_ingest_messages_total', () => stats.ingestReceived);
  counter('herald_ingest_delivered_total', () => stats.ingestDelivered);
  labelledCounter('herald_ingest_dropped_total', stats.ingestDropped, (reason) => ({ reason }), DROP_REASONS);
  gauge('herald_redis_connected', (g) => g.set(stats.redisConnected));
  counter('herald_redis_reconnects_total', () => stats.redisReconnects);
  counter('herald_redis_dropped_messages_total', () => stats.redisDropped);
  counter('herald_redis_nodes_declared_dead_total', () => stats.redisNodesDeclaredDead);
  return register;
}

export interface MetricsServerOptions extends MetricsSources {
  host: string;
  /** 0 = any free port. */
  port: number;
  onError?(error: unknown): void;
}

export interface MetricsServer {
  /** The port actually bound. */
  port: number;
  registry: Registry;
  close(): Promise<void>;
}

/** `GET /metrics` (Prometheus text format) and `GET /` on a plain node:http server, separate from the uWS port. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const registry = createRegistry(options);
  const server = createServer((req, res) => {
    handle(registry, options, req, res).catch((error: unknown) => {
      options.onError?.(error);
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('metrics collection failed\n');
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    registry.clear();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }).then(() => registry.clear()));

  return { port, registry, close };
}

async function handle(registry: Registry, sources: MetricsSources, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('method not allowed\n');
    return;
  }
  if (path === '/stats' || (path === '/metrics' && wantsJson(req.headers.accept))) {
    const body = JSON.stringify(await statsJson(sources));
    res.writeHead(200, { 'Content-Type': 'application/json', Vary: 'Accept' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  if (path === '/metrics') {
    const body = await registry.metrics();
    res.writeHead(200, { 'Content-Type': registry.contentType, Vary: 'Accept' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  if (path === '/') {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : 'Herald metrics: GET /metrics (Prometheus text; JSON with Accept: application/json), GET /stats (JSON)\n');
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end('not found\n');
}

/** The README table of Herald's metrics. */
export function metricsMarkdown(): string {
  const rows = METRICS.map((m) => `| \`${m.name}\` | ${m.type} | ${m.labels.map((l) => `\`${l}\``).join(', ') || '—'} | ${m.help} |`);
  return ['| Metric | Type | Labels | Description |', '| --- | --- | --- | --- |', ...rows, '', PROCESS_METRICS_DOC].join('\n');
}
