/**
 * CPU of the REST handlers alone, in process (no sockets, no uWS): a signed single trigger and a
 * signed batch of 10, each to private channels, as the `channels` case sends them. What Herald adds
 * per event on top of the transport, measured without the noise of a shared box's network path.
 *
 *   npx tsx scripts/handler-cpu.ts
 *
 * Prints the best of 7 rounds of process CPU time per call (user + system).
 */
import { signRestQuery } from '../protocol/signing.js';
import { batchEventsHandler } from '../src/api/batch-events.js';
import { eventsHandler } from '../src/api/events.js';
import type { HttpRequest } from '../src/transport/uws.js';
import { unitHarness } from '../test/api/unit-harness.js';

const h = unitHarness();
const now = Math.floor(h.clock.now / 1000);
const data = '~T123456789:42~' + 'x'.repeat(85);

function request(path: string, body: string): HttpRequest {
  const query = signRestQuery('POST', path, 'app-key', 'app-secret', body, now);
  return { method: 'POST', path, query, params: ['app-id'], headers: {}, body: Buffer.from(body), secure: false, early: undefined };
}

const single = request('/apps/app-id/events', JSON.stringify({ name: 'bench', channel: 'private-user.1', data }));
const batch = request(
  '/apps/app-id/batch_events',
  JSON.stringify({ batch: Array.from({ length: 10 }, (_, i) => ({ name: 'bench', channel: `private-user.${i}`, data })) }),
);
const singleHandler = eventsHandler(h.ctx);
const batchHandler = batchEventsHandler(h.ctx);

function cpuPerCall(call: () => void, n: number): number {
  for (let i = 0; i < n / 5; i++) call();
  let best = Infinity;
  for (let round = 0; round < 7; round++) {
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) call();
    const used = process.cpuUsage(before);
    best = Math.min(best, (used.user + used.system) / n);
  }
  return best;
}

const run = (handler: typeof singleHandler, req: HttpRequest) => () => {
  const reply = handler({ ...req });
  if (reply instanceof Promise || reply.status !== 200) throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
  if (h.deliveries.length > 1000) h.deliveries.length = 0;
};

const s = cpuPerCall(run(singleHandler, single), 50_000);
const b = cpuPerCall(run(batchHandler, batch), 10_000);
console.log(`single trigger: ${s.toFixed(2)} µs CPU per request`);
console.log(`batch of 10:    ${b.toFixed(2)} µs CPU per request, ${(b / 10).toFixed(2)} µs per event`);
