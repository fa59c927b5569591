/**
 * How long `GET /apps/{id}/channels` holds the event loop at once when it lists 100k channels:
 * `node --max-semi-space-size=1 --import tsx scripts/channel-list-pauses.ts [channels]`.
 * The real handler and channel index run in this process (the unit-test harness stands in for uWS);
 * a callback that re-arms itself with `setImmediate` records the longest gap between its turns, in
 * wall time and in this process's CPU time.
 */
import { signRestQuery } from '../protocol/signing.js';
import { channelsHandler } from '../src/api/channels.js';
import { unitHarness } from '../test/api/unit-harness.js';

const channels = Number(process.argv[2] ?? 100_000);
const h = unitHarness();
const handler = channelsHandler(h.ctx);
// A few connections hold every channel: the harness's fake sockets would otherwise fill the heap
// with far more than a real node's connections, and their garbage collection would be measured.
const conns = Array.from({ length: 100 }, () => h.connect());
for (let i = 0; i < channels; i++) h.subscribe(conns[i % conns.length]!, JSON.parse(`"private-user.${1_000_000 + i}"`) as string);

/** This process's CPU time: on a shared box a pause in wall time also counts waiting for a core. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function measure(params: Record<string, string>): Promise<string> {
  let longest = 0;
  let longestCpu = 0;
  let last = performance.now();
  let lastCpu = cpuMs();
  let running = true;
  const tick = (): void => {
    const now = performance.now();
    const cpu = cpuMs();
    longest = Math.max(longest, now - last);
    longestCpu = Math.max(longestCpu, cpu - lastCpu);
    last = now;
    lastCpu = cpu;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const path = '/apps/app-id/channels';
  const query = signRestQuery('GET', path, 'app-key', 'app-secret', '', Math.floor(h.clock.now / 1000), params);
  const t0 = performance.now();
  const reply = await handler({ method: 'GET', path, query, params: ['app-id'], headers: {}, body: Buffer.alloc(0), secure: false, early: undefined });
  const total = performance.now() - t0;
  running = false;
  const bytes = typeof reply.body === 'string' ? reply.body.length : reply.body.byteLength;
  return `${JSON.stringify(params)}: ${reply.status}, ${(bytes / 1e6).toFixed(1)} MB in ${total.toFixed(1)} ms, longest pause ${longest.toFixed(1)} ms of wall time, ${longestCpu.toFixed(1)} ms of CPU`;
}

for (let rep = 0; rep < 3; rep++) {
  console.log(await measure({}));
  console.log(await measure({ info: 'subscription_count' }));
}
