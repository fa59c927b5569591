/**
 * In-process cost of one `POST /batch_events` (10 events to 10 private channels, ~100-byte data)
 * on Herald's route, against what the bare peer does in JS for the same body: JSON.parse, one
 * JSON.stringify per event. No sockets and no uWS, so the difference is Herald's own JS work per
 * request, measured with far less noise than the whole-process bench.
 *
 *   npx tsx bench/micro/rest-batch.ts [--seconds 2] [--rounds 5]
 */
import { pino } from 'pino';
import { signRestQuery } from '../../protocol/signing.js';
import { LocalAdapter } from '../../src/adapter/local.js';
import { apiContext, apiRoutes, instrument } from '../../src/api/routes.js';
import { StaticAppRegistry } from '../../src/apps/registry.js';
import { serverSchema } from '../../src/config/schema.js';
import { Lifecycle } from '../../src/events/lifecycle.js';
import { Stats } from '../../src/metrics/stats.js';
import type { HttpHandler, HttpRequest } from '../../src/transport/uws.js';
import { arg, compare } from './measure.js';

const APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' };
// As bench/servers.ts configures Herald for the whole-process bench.
const config = serverSchema.parse({ apps: [APP], metricsEnabled: false });
const stats = new Stats();
let published = 0;
const adapter = new LocalAdapter({ publish: () => (published++, true), numSubscribers: () => 1 }, stats);
const now = 1_700_000_000_000;
const ctx = apiContext(
  {
    config,
    apps: new StaticAppRegistry(config.apps),
    adapter,
    stats,
    logger: pino({ level: 'silent' }),
    events: new Lifecycle(),
    startedAt: now,
    isDraining: () => false,
  },
  () => 1,
  () => now,
);
const route = apiRoutes(ctx).find((r) => r.endpoint === 'batch_events')!;
const handler: HttpHandler = instrument(ctx, route.endpoint, route.handlers.post!);

/** Distinct bodies, as the load generator sends (a timestamp and sequence number in every data). */
const VARIANTS = 64;
const requests = Array.from({ length: VARIANTS }, (_, v) => {
  const batch = Array.from({ length: 10 }, (_, k) => ({
    channel: `private-user.${(v * 10 + k) % 10_000}`,
    name: 'bench',
    data: `{"t":${1_700_000_000_000_000 + v * 10 + k},"s":${v * 10 + k},"p":"${'x'.repeat(60)}"}`,
  }));
  const body = JSON.stringify({ batch });
  const path = '/apps/app-id/batch_events';
  return { path, query: signRestQuery('POST', path, APP.key, APP.secret, body, now / 1000), body: Buffer.from(body) };
});

function herald(i: number): void {
  const r = requests[i % VARIANTS]!;
  const req: HttpRequest = {
    method: 'POST',
    path: r.path,
    query: r.query,
    params: ['app-id'],
    headers: {},
    body: r.body,
    secure: false,
    early: undefined,
  };
  const early = handler.beforeBody?.(req);
  if (early) throw new Error(`refused before body: ${JSON.stringify(early)}`);
  const reply = handler(req);
  if (reply instanceof Promise || reply.status !== 200) throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
}

let sink = 0;
function bare(i: number): void {
  const r = requests[i % VARIANTS]!;
  const parsed = JSON.parse(r.body.toString()) as { batch: { name: string; channel: string; data: string }[] };
  for (const ev of parsed.batch) sink += JSON.stringify({ event: ev.name, channel: ev.channel, data: ev.data }).length;
}

compare(herald, bare, arg('--seconds', 2), arg('--rounds', 5), 10);
if (published === 0 || sink === 0) throw new Error('nothing was published');
