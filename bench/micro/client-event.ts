/**
 * In-process cost of relaying one client event on a private channel (the `client-events` case:
 * pusher-js pairs), through Herald's frame handler and LocalAdapter, against what the bare peer
 * does in JS for the same frame: decode, JSON.parse, publish. Sockets are fakes that count.
 *
 *   npx tsx bench/micro/client-event.ts [--seconds 2] [--rounds 5]
 */
import { pino } from 'pino';
import { LocalAdapter } from '../../src/adapter/local.js';
import { StaticAppRegistry } from '../../src/apps/registry.js';
import { SubscriptionCounts } from '../../src/channels/subscription-count.js';
import { serverSchema } from '../../src/config/schema.js';
import { Lifecycle } from '../../src/events/lifecycle.js';
import { Stats } from '../../src/metrics/stats.js';
import { receive } from '../../src/pusher/dispatch.js';
import { Connection } from '../../src/rules/connection.js';
import type { ServerContext } from '../../src/rules/context.js';
import type { Socket } from '../../src/transport/uws.js';
import { arg, compare } from './measure.js';

// As bench/servers.ts configures Herald for the whole-process bench.
const config = serverSchema.parse({
  apps: [{ id: 'app-id', key: 'app-key', secret: 'app-secret', clientEvents: 'members', clientEventRateLimit: 0 }],
  metricsEnabled: false,
});
const app = config.apps[0]!;
const stats = new Stats();
let published = 0;
// Constant answers: the topic lookups behind these are uWS's native work, which this run leaves out.
const adapter = new LocalAdapter({ publish: () => (published++, true), numSubscribers: () => 2 }, stats);
const events = new Lifecycle();
const ctx: ServerContext = {
  config,
  apps: new StaticAppRegistry(config.apps),
  adapter,
  stats,
  logger: pino({ level: 'silent' }),
  counts: new SubscriptionCounts(adapter, events),
  events,
  isDraining: () => false,
};

function connect(): Connection {
  const conn = new Connection(app, 0, stats);
  const socket: Socket = {
    send: () => 1,
    subscribe: () => true,
    unsubscribe: () => true,
    isSubscribed: () => true,
    getTopics: () => [],
    publish: () => (published++, true),
    ping: () => 1,
    end: () => {},
    cork: (cb) => cb(),
  };
  conn.socket = socket;
  conn.open = true;
  adapter.addConnection(conn);
  return conn;
}

const PAIRS = 64;
const senders = Array.from({ length: PAIRS }, (_, i) => {
  const [a, b] = [connect(), connect()];
  for (const c of [a, b]) {
    adapter.subscribe(c, `private-pair.${i}`);
    c.joined(`private-pair.${i}`, undefined);
  }
  return a;
});
const frames = Array.from({ length: PAIRS }, (_, i) =>
  new TextEncoder().encode(JSON.stringify({ event: 'client-ping', channel: `private-pair.${i}`, data: { t: 1_700_000_000_000_000 + i, s: i } })).buffer,
);

function herald(i: number): void {
  receive(ctx, senders[i % PAIRS]!, frames[i % PAIRS]!, false);
}

const decoder = new TextDecoder();
let sink = 0;
function bare(i: number): void {
  const message = frames[i % PAIRS]!;
  const msg = JSON.parse(decoder.decode(message)) as { event: unknown; channel: unknown };
  if (typeof msg.event === 'string' && msg.event.startsWith('client-') && typeof msg.channel === 'string') sink += msg.channel.length;
}

compare(herald, bare, arg('--seconds', 2), arg('--rounds', 5), 1);
if (published === 0 || sink === 0) throw new Error('nothing was relayed');
