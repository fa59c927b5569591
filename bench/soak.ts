/**
 * Soak: one Herald, a steady population of connections with churn, for a long time.
 *
 *   npx tsx bench/soak.ts [--minutes 30] [--connections 5000] [--churn 10] [--warmup-minutes 5]
 *     [--rest 30] [--client-events 50] [--results PATH] [--no-build]
 *
 * Every connection holds a public channel, a private channel and (one in three) a presence
 * channel. Each second `--churn` connections are told to leave, close 5 s later and are replaced
 * by fresh ones; REST triggers go to public, private and presence channels and connections send
 * client events on their private channels. Every message carries a marker, and each connection's
 * count of received markers must equal what was sent while it was subscribed and not leaving
 * (allowing up to 30 s for delivery on a loaded box): checked when it closes and for everyone at
 * the end (MESSAGE LOSS otherwise). Server RSS and V8
 * heap (from its Prometheus `herald_nodejs_heap_size_used_bytes`) are sampled every 10 s; the
 * slope per hour after the warm-up is a least-squares fit. The load runs in this process, which
 * is not the server's, and is left unpinned: it measures leaks and loss, not speed.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LostMessagesError, SOURCE_ADDRESSES, TARGET_HOST, printUsage, round, sleep, withTimeout } from './common.js';
import { type ChannelKind, PusherConn, benchData } from './load/ws-client.js';
import { rssKb } from './proc.js';
import { RestClient } from './rest-client.js';
import { freePort, startServer } from './servers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Options {
  minutes: number;
  warmupMinutes: number;
  connections: number;
  churnPerSec: number;
  restPerSec: number;
  clientEventsPerSec: number;
  results: string | null;
  build: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { minutes: 30, warmupMinutes: 5, connections: 5000, churnPerSec: 10, restPerSec: 30, clientEventsPerSec: 50, results: null, build: true };
  for (let i = 0; i < argv.length; i++) {
    const val = () => argv[++i] ?? '';
    switch (argv[i]) {
      case '--minutes':
        o.minutes = Number(val());
        break;
      case '--warmup-minutes':
        o.warmupMinutes = Number(val());
        break;
      case '--connections':
        o.connections = Number(val());
        break;
      case '--churn':
        o.churnPerSec = Number(val());
        break;
      case '--rest':
        o.restPerSec = Number(val());
        break;
      case '--client-events':
        o.clientEventsPerSec = Number(val());
        break;
      case '--results':
        o.results = val();
        break;
      case '--no-build':
        o.build = false;
        break;
      case '--help':
      case '-h':
        printUsage(import.meta.url);
      default:
        throw new Error(`unknown option ${argv[i]}`);
    }
  }
  return o;
}

const PUBLIC_CHANNELS = 50;
const PRIVATE_CHANNELS = 500;
const PRESENCE_CHANNELS = 100;
/** A leaving connection stays open this long, so everything sent before it left can arrive. */
const LEAVE_GRACE_MS = 5000;
/** A message not delivered this long after it was sent counts as lost. */
const DELIVERY_BOUND_MS = 30_000;

interface Sub {
  channel: string;
  kind: ChannelKind;
}

const subsOf = (slot: number): Sub[] => [
  { channel: `soak-pub-${slot % PUBLIC_CHANNELS}`, kind: 'public' },
  { channel: `private-soak-${slot % PRIVATE_CHANNELS}`, kind: 'private' },
  ...(slot % 3 === 0 ? [{ channel: `presence-soak-${slot % PRESENCE_CHANNELS}`, kind: 'presence' as const }] : []),
];

/** One connection of the population, with what it must have received. */
interface Member {
  conn: PusherConn;
  slot: number;
  expected: number;
  /** Counted as a recipient: subscribed everywhere and not leaving. */
  live: boolean;
  /** Markers it counts: sent from when it was live until it started leaving. */
  fromSeq: number;
  toSeq: number;
}

class Population {
  readonly bySlot: (Member | undefined)[] = [];
  /** channel → its live members. */
  private readonly channels = new Map<string, Set<Member>>();
  private readonly byConn = new Map<PusherConn, Member>();
  lost: string[] = [];
  checked = 0;
  opened = 0;
  closedUnexpectedly = 0;
  firstCloseError = '';
  private nextIndex = 0;
  /** Sequence number of the next marker sent. */
  seq = 0;

  constructor(private readonly port: number) {}

  async open(slot: number): Promise<void> {
    const index = this.nextIndex++;
    const conn = new PusherConn(index, TARGET_HOST, this.port, SOURCE_ADDRESSES[index % SOURCE_ADDRESSES.length]!, {
      onBench: (c, _t, seq) => {
        const m = this.byConn.get(c);
        if (m && seq >= m.fromSeq && seq < m.toSeq) c.received++;
      },
      onClose: (c, expected) => {
        const m = this.byConn.get(c);
        if (!expected && m) {
          this.closedUnexpectedly++;
          if (!this.firstCloseError) this.firstCloseError = `connection ${c.index}: ${c.lastError || 'closed by peer'}`;
          this.forget(m);
        }
      },
    });
    const member: Member = { conn, slot, expected: 0, live: false, fromSeq: Infinity, toSeq: Infinity };
    this.byConn.set(conn, member);
    this.bySlot[slot] = member;
    await withTimeout(conn.ready(), 30_000, `connection ${index} established`);
    await withTimeout(Promise.all(subsOf(slot).map((s) => conn.subscribe(s.channel, s.kind, `u${slot}`))), 30_000, `connection ${index} subscribed`);
    member.live = true;
    member.fromSeq = this.seq;
    for (const s of subsOf(slot)) {
      let set = this.channels.get(s.channel);
      if (!set) this.channels.set(s.channel, (set = new Set()));
      set.add(member);
    }
    this.opened++;
  }

  /**
   * Stops counting it as a recipient now; after the grace period, waits (up to DELIVERY_BOUND_MS,
   * for a loaded box) until it has everything it is owed, then checks its count and closes it.
   */
  async leave(member: Member): Promise<void> {
    this.forget(member);
    await sleep(LEAVE_GRACE_MS);
    for (const deadline = Date.now() + DELIVERY_BOUND_MS; member.conn.received < member.expected && Date.now() < deadline; ) await sleep(100);
    this.check(member);
    member.conn.close();
    this.byConn.delete(member.conn);
  }

  /** A message to `channel` is now on its way to each live member except `sender`. */
  sent(channel: string, sender?: Member): number {
    const set = this.channels.get(channel);
    if (!set) return 0;
    let n = 0;
    for (const m of set) {
      if (m === sender) continue;
      m.expected++;
      n++;
    }
    return n;
  }

  check(m: Member): void {
    this.checked++;
    if (m.conn.received !== m.expected && this.lost.length < 10) {
      this.lost.push(`connection ${m.conn.index} (slot ${m.slot}) received ${m.conn.received} of ${m.expected}`);
    }
  }

  live(slot: number): Member | undefined {
    const m = this.bySlot[slot];
    return m?.live ? m : undefined;
  }

  private forget(m: Member): void {
    if (!m.live) return;
    m.live = false;
    m.toSeq = this.seq;
    for (const s of subsOf(m.slot)) this.channels.get(s.channel)?.delete(m);
    if (this.bySlot[m.slot] === m) this.bySlot[m.slot] = undefined;
  }
}

interface Sample {
  minute: number;
  rssMb: number;
  heapMb: number;
  connections: number;
}

async function heapMb(metricsPort: number): Promise<number> {
  const res = await fetch(`http://${TARGET_HOST}:${metricsPort}/metrics`);
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith('herald_nodejs_heap_size_used_bytes '));
  return line ? Number(line.split(' ')[1]) / 1024 / 1024 : Number.NaN;
}

/** Least-squares slope of y over x (x in minutes), per hour. */
function slopePerHour(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return (num / den) * 60;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const log = (msg: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  if (o.build) spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  // Two free ports picked one after the other can be the same one: then Herald cannot start; retry.
  let metricsPort = 0;
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  for (let attempt = 1; !server; attempt++) {
    metricsPort = await freePort();
    try {
      server = await startServer('herald', {
        core: null,
        logName: `soak-${Date.now()}`,
        heraldConfig: { metricsEnabled: true, metricsHost: TARGET_HOST, metricsPort },
      });
    } catch (error) {
      if (attempt === 5) throw error;
    }
  }
  log(`herald pid ${server.pid} on port ${server.port}, metrics on ${metricsPort}`);
  const pop = new Population(server.port);
  // One keep-alive connection, never idle for uWS's 10 s HTTP timeout: a pool connection left idle
  // that long can be closed by the server just as a request is written (ECONNRESET).
  const rest = new RestClient({ host: TARGET_HOST, port: server.port, connections: 1 });
  const samples: Sample[] = [];
  const started = Date.now();
  const minute = () => (Date.now() - started) / 60_000;
  let restSent = 0;
  let restFailed = '';
  let clientSent = 0;
  let delivered = 0;
  let failure: Error | undefined;
  const leaving: Promise<void>[] = [];

  try {
    // Ramp up.
    for (let slot = 0; slot < o.connections; slot += 100) {
      await Promise.all(Array.from({ length: Math.min(100, o.connections - slot) }, (_, k) => pop.open(slot + k)));
    }
    log(`${o.connections} connections up in ${round(minute() * 60, 1)} s`);

    const endAt = started + o.minutes * 60_000;
    let nextSample = 0;
    const tickMs = 100;
    const perTick = (perSec: number) => perSec / (1000 / tickMs);
    let churnDebt = 0;
    let restDebt = 0;
    let clientDebt = 0;
    while (Date.now() < endAt && !failure) {
      const tickStart = Date.now();
      if (pop.closedUnexpectedly > 0) throw new Error(`${pop.closedUnexpectedly} connection(s) closed unexpectedly, first: ${pop.firstCloseError}`);

      // Churn: leave, and a replacement in the same slot once the old one is gone from the counts.
      for (churnDebt += perTick(o.churnPerSec); churnDebt >= 1; churnDebt--) {
        const slot = Math.floor(Math.random() * o.connections);
        const m = pop.live(slot);
        if (!m) continue;
        leaving.push(pop.leave(m));
        pop.open(slot).catch((e: Error) => (failure ??= e));
      }
      // REST: public, private and presence channels in turn.
      for (restDebt += perTick(o.restPerSec); restDebt >= 1; restDebt--) {
        const seq = pop.seq++;
        const r = seq % 3;
        const channel = r === 0 ? `soak-pub-${seq % PUBLIC_CHANNELS}` : r === 1 ? `private-soak-${seq % PRIVATE_CHANNELS}` : `presence-soak-${(seq % 34) * 3}`;
        delivered += pop.sent(channel);
        restSent++;
        rest.trigger(channel, 'soak', benchData(0, seq)).catch((e: Error) => (restFailed ||= e.message));
      }
      // Client events from a live connection to the other members of its private channel.
      for (clientDebt += perTick(o.clientEventsPerSec); clientDebt >= 1; clientDebt--) {
        const m = pop.live(Math.floor(Math.random() * o.connections));
        if (!m || !m.conn.open) continue;
        const channel = `private-soak-${m.slot % PRIVATE_CHANNELS}`;
        delivered += pop.sent(channel, m);
        clientSent++;
        m.conn.clientEvent(channel, 'client-soak', benchData(0, pop.seq++));
      }
      if (Date.now() - started >= nextSample) {
        nextSample += 10_000;
        const sample = { minute: round(minute(), 2), rssMb: round(rssKb(server.pid) / 1024, 1), heapMb: round(await heapMb(metricsPort), 1), connections: pop.opened };
        samples.push(sample);
        if (samples.length % 6 === 0) log(`min ${sample.minute}: RSS ${sample.rssMb} MB, heap ${sample.heapMb} MB, ${pop.opened} opened, ${restSent} REST, ${clientSent} client events, ${pop.checked} checked`);
      }
      if (restFailed) throw new Error(`REST trigger failed: ${restFailed}`);
      if (pop.lost.length > 0) throw new LostMessagesError(pop.lost.join('; '));
      await sleep(Math.max(0, tickMs - (Date.now() - tickStart)));
    }
    if (failure) throw failure;
    log('load stopped; waiting for the last deliveries and leaving connections');
    await Promise.all(leaving);
    const owed = () => pop.bySlot.some((m) => m && m.conn.received < m.expected);
    for (const deadline = Date.now() + DELIVERY_BOUND_MS; owed() && Date.now() < deadline; ) await sleep(100);
    for (const m of pop.bySlot) if (m) pop.check(m);
    if (pop.lost.length > 0) throw new LostMessagesError(pop.lost.join('; '));
    if (!server.alive()) throw new Error(`herald died:\n${server.output().slice(-2000)}`);
  } finally {
    rest.close();
    for (const m of pop.bySlot) m?.conn.close();
    await server.stop();
  }

  const after = samples.filter((s) => s.minute >= o.warmupMinutes);
  const rssSlope = slopePerHour(after.map((s) => ({ x: s.minute, y: s.rssMb })));
  const heapSlope = slopePerHour(after.map((s) => ({ x: s.minute, y: s.heapMb })));
  const first = after[0];
  const last = samples[samples.length - 1];
  const figures = {
    minutes: o.minutes,
    connections: o.connections,
    connections_opened: pop.opened,
    rest_triggers: restSent,
    client_events: clientSent,
    deliveries_checked: delivered,
    connections_checked: pop.checked,
    lost: 0,
    rss_mb_after_warmup: first?.rssMb,
    rss_mb_end: last?.rssMb,
    rss_slope_mb_per_hour: round(rssSlope, 1),
    heap_mb_after_warmup: first?.heapMb,
    heap_mb_end: last?.heapMb,
    heap_slope_mb_per_hour: round(heapSlope, 1),
  };
  const command = `npx tsx bench/soak.ts ${process.argv.slice(2).join(' ')}`.trim();
  const md = [
    `## Soak (${new Date(started).toISOString()})`,
    '',
    `- Command: \`${command}\``,
    `- ${o.connections} connections for ${o.minutes} min, ${o.churnPerSec} replaced per second (${pop.opened} opened in all), ${o.restPerSec} REST triggers/s (public, private, presence in turn), ${o.clientEventsPerSec} client events/s; warm-up ${o.warmupMinutes} min; load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')} (shared box)`,
    `- Messages: ${restSent} REST triggers and ${clientSent} client events, ${delivered} deliveries counted per connection, ${pop.checked} connections checked: **none lost, none duplicated**`,
    `- RSS: ${first?.rssMb} MB after warm-up, ${last?.rssMb} MB at the end, slope ${round(rssSlope, 1)} MB/hour`,
    `- V8 heap used: ${first?.heapMb} MB after warm-up, ${last?.heapMb} MB at the end, slope ${round(heapSlope, 1)} MB/hour`,
    '',
    `Samples (minute, RSS MB, heap MB): ${samples.filter((_, i) => i % 6 === 0).map((s) => `${s.minute}/${s.rssMb}/${s.heapMb}`).join(', ')}`,
    '',
  ].join('\n');
  console.log(JSON.stringify(figures));
  console.log(md);
  const out = o.results ?? join(ROOT, 'bench', 'results', `soak-${new Date(started).toISOString().replace(/[:.]/g, '-')}.md`);
  writeFileSync(out, md);
  log(`wrote ${out}`);
}

main().catch((e: Error) => {
  process.stderr.write(`[soak] FAILED: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
