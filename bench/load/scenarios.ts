/**
 * Scenarios that run entirely inside one load-generator process (pinned to the load core): the
 * connections, the REST triggers and the latency clock are all here, so trigger-to-receive latency is
 * measured on one clock. Server CPU is read from /proc/{pid} of every server process (summed over
 * the nodes of a cluster) around each measured phase, and for a cluster what the phase cost Redis.
 */
import { APP, LostMessagesError, median, nowUs, round, sleep, withTimeout } from '../common.js';
import { Histogram } from '../histogram.js';
import { CpuMeter } from '../proc.js';
import { RedisMeter, type RedisPhase, type RedisServer } from '../redis-stats.js';
import { RestClient } from '../rest-client.js';
import { Pool } from './pool.js';
import { benchData, type PusherConn } from './ws-client.js';

export interface Env {
  host: string;
  /** Where REST calls go: the first node. */
  port: number;
  /** Every node; connection i goes to ports[i % ports.length]. */
  ports: number[];
  serverPids: number[];
  /** The cluster's redis-servers (a Redis Cluster's masters), none for a single node. */
  redis: RedisServer[];
  log: (msg: string) => void;
}

export type Figures = Record<string, number | string>;

/** Server CPU over a phase, every node summed, plus the phase's cost on Redis for a cluster. */
class PhaseMeter {
  private constructor(
    private readonly cpu: CpuMeter,
    private readonly redis: RedisMeter | null,
  ) {}

  static async begin(env: Env): Promise<PhaseMeter> {
    const redis = env.redis.length > 0 ? await RedisMeter.begin(env.redis) : null;
    return new PhaseMeter(new CpuMeter(env.serverPids), redis);
  }

  async read(): Promise<{ cpuMs: number; wallMs: number; util: number; redis: RedisPhase | null }> {
    const cpu = this.cpu.read();
    return { ...cpu, redis: this.redis ? await this.redis.read() : null };
  }
}

/** Redis commands, bytes (in + out) and CPU per unit of work, named `{prefix}redis_…_per_{unit}`; none without Redis. */
function redisFigures(prefix: string, unit: string, redis: RedisPhase | null, count: number): Figures {
  if (!redis || count === 0) return {};
  const mix = [...redis.byCommand]
    .sort((a, b) => b[1] - a[1])
    .map(([name, calls]) => `${name} ${round(calls / count, 2)}`)
    .join(', ');
  return {
    [`${prefix}redis_cmds_per_${unit}`]: round(redis.commands / count, 2),
    [`${prefix}redis_mix_per_${unit}`]: mix,
    [`${prefix}redis_bytes_per_${unit}`]: round((redis.bytesIn + redis.bytesOut) / count, 0),
    [`${prefix}redis_cpu_us_per_${unit}`]: round((redis.cpuMs * 1000) / count, 2),
  };
}

/** The load generator's own CPU use over a phase, as a fraction of one core. */
class LoadMeter {
  private readonly u0 = process.cpuUsage();
  private readonly t0 = performance.now();
  util(): number {
    const u = process.cpuUsage(this.u0);
    return (u.user + u.system) / 1000 / (performance.now() - this.t0);
  }
}

/** Wait until `done()` holds, polling; throws `LostMessagesError(describe())` after `timeoutMs`. */
async function waitFor(done: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new LostMessagesError(describe());
    await sleep(5);
  }
}

function checkPerConn(conns: PusherConn[], expected: (c: PusherConn) => number, what: string): void {
  let bad = 0;
  let first = '';
  for (const c of conns) {
    const e = expected(c);
    if (c.received !== e) {
      bad++;
      if (!first) first = `connection ${c.index} got ${c.received}, expected ${e}`;
    }
  }
  if (bad) throw new LostMessagesError(`${what}: ${bad} connection(s) with wrong counts, first: ${first}`);
}

const PAYLOAD = 100;
/** Deliveries allowed in flight (triggered, not yet received) in open-loop trigger phases. */
const MAX_IN_FLIGHT = 8192;

// ───────────────────────────── fan-out ─────────────────────────────

export interface FanoutParams {
  subscribers: number;
  durationMs: number;
  warmupMs: number;
  /** Events in flight in the flat-out phase (closed loop: the next event is triggered when one is fully delivered). */
  window: number;
  /** Delivered messages per second in the fixed-rate phase (events/s = this / subscribers). */
  rateMsgsPerSec: number;
  maxEvents: number;
}

export async function fanout(env: Env, p: FanoutParams): Promise<Figures> {
  const channel = 'fanout';
  const pool = new Pool(env.host, env.ports);
  const rest = new RestClient({ host: env.host, port: env.port, connections: Math.max(2, p.window) });
  const subscribing = await PhaseMeter.begin(env);
  const conn = await pool.connect(0, p.subscribers, () => [{ channel, kind: 'public' }]);
  const subscribeCost = redisFigures('', 'subscribe', (await subscribing.read()).redis, p.subscribers);
  env.log(`fanout: ${p.subscribers} subscribed in ${Math.round(conn.ms)} ms over ${env.ports.length} node(s)`);

  const delivered = new Int32Array(p.maxEvents * 3 + 10);
  const hist = new Histogram();
  let seq = 0;
  let totalDelivered = 0;
  let onComplete: (s: number) => void = () => {};
  pool.onBench = (c, t, s) => {
    c.received++;
    totalDelivered++;
    hist.record(nowUs() - t);
    const n = ++delivered[s]!;
    if (n === p.subscribers) onComplete(s);
    else if (n > p.subscribers) fail(new LostMessagesError(`fanout: event ${s} delivered ${n} times to ${p.subscribers} subscribers`));
  };
  const fire = (): number => {
    const s = seq++;
    if (s >= delivered.length) throw new Error('fanout: event buffer exhausted');
    rest.trigger(channel, 'bench', benchData(nowUs(), s, PAYLOAD)).catch((e: Error) => fail(e));
    return s;
  };
  let failure: Error | null = null;
  const fail = (e: Error): void => {
    failure ??= e;
  };
  const describeMissing = (from: number, to: number): string => {
    const bad: string[] = [];
    for (let s = from; s < to && bad.length < 5; s++) if (delivered[s]! !== p.subscribers) bad.push(`event ${s}: ${delivered[s]}/${p.subscribers}`);
    return `fanout ${p.subscribers}: events not fully delivered (${bad.join(', ')})`;
  };

  // Closed loop with `window` events in flight until `ms` elapsed or maxEvents.
  const closedLoop = async (ms: number): Promise<{ events: number; first: number }> => {
    const first = seq;
    const stopAt = performance.now() + ms;
    let outstanding = 0;
    let lastProgress = performance.now();
    onComplete = () => {
      outstanding--;
      lastProgress = performance.now();
      if (performance.now() < stopAt && seq - first < p.maxEvents) {
        outstanding++;
        fire();
      }
    };
    for (let i = 0; i < p.window; i++) {
      outstanding++;
      fire();
    }
    while (outstanding > 0) {
      if (failure) throw failure;
      if (performance.now() - lastProgress > 10_000) throw new LostMessagesError(describeMissing(first, seq));
      await sleep(2);
    }
    return { events: seq - first, first };
  };

  // Warm-up (JIT, buffers), not measured.
  await closedLoop(p.warmupMs);
  hist.reset();

  // Flat-out.
  let cpu = await PhaseMeter.begin(env);
  let load = new LoadMeter();
  const d0 = totalDelivered;
  const flat = await closedLoop(p.durationMs);
  const flatCpu = await cpu.read();
  const flatLoad = load.util();
  const flatMsgs = totalDelivered - d0;
  const flatLat = hist.summaryMs();
  hist.reset();
  await sleep(300);

  // Fixed rate.
  const evRate = p.rateMsgsPerSec / p.subscribers;
  // At least 50 events, so one scheduling hiccup cannot own the p99 (10k subscribers: 25 s at 2 events/s).
  const events = Math.max(50, Math.round((evRate * p.durationMs) / 1000));
  onComplete = () => {};
  cpu = await PhaseMeter.begin(env);
  load = new LoadMeter();
  const d1 = totalDelivered;
  const first = seq;
  const t0 = performance.now();
  let sent = 0;
  while (sent < events) {
    if (failure) throw failure;
    const due = Math.min(events, Math.floor(((performance.now() - t0) * evRate) / 1000) + 1);
    while (sent < due) {
      fire();
      sent++;
    }
    const nextAt = t0 + (sent * 1000) / evRate;
    await sleep(Math.max(0, nextAt - performance.now() - 1));
    if (performance.now() - t0 > ((events / evRate) * 1000) * 2 + 10_000) throw new Error('fanout: fixed-rate phase overran its time bound');
  }
  await waitFor(() => totalDelivered - d1 === events * p.subscribers || failure !== null, 15_000, () => describeMissing(first, seq));
  if (failure) throw failure;
  const rateCpu = await cpu.read();
  const rateLoad = load.util();
  const rateLat = hist.summaryMs();
  const rateMsgs = totalDelivered - d1;

  checkPerConn(pool.conns, () => seq, 'fanout');
  pool.assertHealthy('fanout');
  rest.close();
  pool.closeAll();
  return {
    subscribers: p.subscribers,
    flat_events: flat.events,
    flat_msgs_per_s: round((flatMsgs / flatCpu.wallMs) * 1000, 0),
    flat_cpu_us_per_msg: round((flatCpu.cpuMs * 1000) / flatMsgs, 3),
    flat_server_util: round(flatCpu.util, 2),
    flat_load_util: round(flatLoad, 2),
    flat_p50_ms: flatLat.p50,
    flat_p99_ms: flatLat.p99,
    flat_max_ms: flatLat.max,
    rate_events_per_s: round(evRate, 2),
    rate_msgs_per_s: round((rateMsgs / rateCpu.wallMs) * 1000, 0),
    rate_cpu_us_per_msg: round((rateCpu.cpuMs * 1000) / rateMsgs, 3),
    rate_server_util: round(rateCpu.util, 2),
    rate_load_util: round(rateLoad, 2),
    rate_p50_ms: rateLat.p50,
    rate_p99_ms: rateLat.p99,
    rate_max_ms: rateLat.max,
    delivered_total: totalDelivered,
    nodes: env.ports.length,
    ...subscribeCost,
    ...redisFigures('flat_', 'event', flatCpu.redis, flat.events),
  };
}

// ───────────────────────────── many channels ─────────────────────────────

export interface ChannelsParams {
  connections: number;
  durationMs: number;
  /** Concurrent REST requests (keep-alive sockets). */
  concurrency: number;
  batchSize: number;
}

export async function channels(env: Env, p: ChannelsParams): Promise<Figures> {
  const pool = new Pool(env.host, env.ports);
  const rest = new RestClient({ host: env.host, port: env.port, connections: p.concurrency });
  const conn = await pool.connect(0, p.connections, (i) => [{ channel: `private-user.${i}`, kind: 'private' }]);
  env.log(`channels: ${p.connections} private channels subscribed in ${Math.round(conn.ms)} ms`);
  const expected = new Int32Array(p.connections);
  const hist = new Histogram();
  let delivered = 0;
  pool.onBench = (c, t) => {
    c.received++;
    delivered++;
    hist.record(nowUs() - t);
  };
  let seq = 0;
  let sentEvents = 0;
  let rand = 12345;
  const pick = (): number => {
    rand = (Math.imul(rand, 1103515245) + 12345) >>> 0;
    return rand % p.connections;
  };

  const phase = async (batch: boolean, ms: number): Promise<Figures> => {
    hist.reset();
    const cpu = await PhaseMeter.begin(env);
    const load = new LoadMeter();
    const d0 = delivered;
    let events = 0;
    let requests = 0;
    const stopAt = performance.now() + ms;
    const lane = async (): Promise<void> => {
      while (performance.now() < stopAt) {
        // Keep deliveries in flight bounded, so a fast server cannot overrun the load generator.
        for (let k = 0; k < 10_000 && sentEvents - delivered > MAX_IN_FLIGHT; k++) await sleep(1);
        if (batch) {
          const items = [];
          for (let k = 0; k < p.batchSize; k++) {
            const r = pick();
            expected[r]!++;
            sentEvents++;
            items.push({ channel: `private-user.${r}`, name: 'bench', data: benchData(nowUs(), seq++, PAYLOAD) });
          }
          await rest.triggerBatch(items);
          events += p.batchSize;
        } else {
          const r = pick();
          expected[r]!++;
          sentEvents++;
          await rest.trigger(`private-user.${r}`, 'bench', benchData(nowUs(), seq++, PAYLOAD));
          events++;
        }
        requests++;
      }
    };
    await Promise.all(Array.from({ length: p.concurrency }, lane));
    await waitFor(
      () => delivered - d0 === events,
      15_000,
      () => `channels (${batch ? 'batch' : 'single'}): ${delivered - d0} of ${events} events delivered`,
    );
    const c = await cpu.read();
    const lat = hist.summaryMs();
    const pre = batch ? 'batch' : 'single';
    return {
      [`${pre}_events_per_s`]: round((events / c.wallMs) * 1000, 0),
      [`${pre}_requests_per_s`]: round((requests / c.wallMs) * 1000, 0),
      [`${pre}_cpu_us_per_event`]: round((c.cpuMs * 1000) / events, 2),
      [`${pre}_server_util`]: round(c.util, 2),
      [`${pre}_load_util`]: round(load.util(), 2),
      [`${pre}_p50_ms`]: lat.p50,
      [`${pre}_p99_ms`]: lat.p99,
      [`${pre}_max_ms`]: lat.max,
      ...redisFigures(`${pre}_`, 'event', c.redis, events),
    };
  };

  await phase(false, Math.min(1000, p.durationMs)); // warm-up
  const single = await phase(false, p.durationMs);
  const batched = await phase(true, p.durationMs);
  checkPerConn(pool.conns, (c) => expected[c.index]!, 'channels');
  pool.assertHealthy('channels');
  const opened = rest.socketsOpened;
  rest.close();
  pool.closeAll();
  return { connections: p.connections, ...single, ...batched, http_connections_opened: opened, delivered_total: delivered };
}

// ───────────────────────────── REST throughput ─────────────────────────────

export interface RestParams {
  subscribers: number;
  durationMs: number;
  concurrency: number;
}

export async function restThroughput(env: Env, p: RestParams): Promise<Figures> {
  const channel = `rest-${p.subscribers}`;
  const pool = new Pool(env.host, env.ports);
  if (p.subscribers > 0) await pool.connect(0, p.subscribers, () => [{ channel, kind: 'public' }]);
  let delivered = 0;
  pool.onBench = (c) => {
    c.received++;
    delivered++;
  };
  const rest = new RestClient({ host: env.host, port: env.port, connections: p.concurrency });
  const hist = new Histogram();
  let total = 0;
  const phase = async (ms: number): Promise<Figures> => {
    hist.reset();
    const opened0 = rest.socketsOpened;
    const cpu = await PhaseMeter.begin(env);
    const load = new LoadMeter();
    let requests = 0;
    const stopAt = performance.now() + ms;
    const lane = async (): Promise<void> => {
      while (performance.now() < stopAt) {
        for (let k = 0; k < 10_000 && total * p.subscribers - delivered > MAX_IN_FLIGHT; k++) await sleep(1);
        const t = nowUs();
        await rest.trigger(channel, 'bench', benchData(t, total++, PAYLOAD));
        hist.record(nowUs() - t);
        requests++;
      }
    };
    await Promise.all(Array.from({ length: p.concurrency }, lane));
    await waitFor(
      () => delivered === total * p.subscribers,
      15_000,
      () => `rest ${p.subscribers}: ${delivered} of ${total * p.subscribers} deliveries`,
    );
    const c = await cpu.read();
    const lat = hist.summaryMs();
    return {
      ...redisFigures('', 'request', c.redis, requests),
      requests_per_s: round((requests / c.wallMs) * 1000, 0),
      cpu_us_per_request: round((c.cpuMs * 1000) / requests, 2),
      events_per_cpu_s: round(requests / (c.cpuMs / 1000), 0),
      server_util: round(c.util, 2),
      load_util: round(load.util(), 2),
      http_connections_opened: rest.socketsOpened - opened0,
      requests,
      request_p50_ms: lat.p50,
      request_p99_ms: lat.p99,
    };
  };
  await phase(Math.min(1000, p.durationMs));
  const figures = await phase(p.durationMs);
  checkPerConn(pool.conns, () => total, 'rest');
  pool.assertHealthy('rest');
  rest.close();
  pool.closeAll();
  return { subscribers: p.subscribers, concurrency: p.concurrency, ...figures };
}

// ───────────────────────────── presence churn ─────────────────────────────

export interface PresenceParams {
  observers: number;
  churners: number;
  durationMs: number;
}

export async function presenceChurn(env: Env, p: PresenceParams): Promise<Figures> {
  const channel = 'presence-churn';
  const pool = new Pool(env.host, env.ports);
  // Observers: users o0..oN, joined once and kept.
  await pool.connect(0, p.observers, (i) => [{ channel, kind: 'presence', userId: `o${i}` }], 50);
  const observers = pool.conns.slice(0, p.observers);
  // Churners connect without subscribing; they join/leave in the measured loop.
  await pool.connect(p.observers, p.churners, () => []);
  const churners = pool.conns.slice(p.observers);

  const adds = new Int32Array(p.observers);
  const removes = new Int32Array(p.observers);
  const balance = new Map<string, number>(); // observer 0's view: user -> adds - removes
  // Closed loop: a churner starts its next join only once observer 0 has seen its previous leave, so
  // the member events queued towards observers stay bounded (no backpressure drops on a fast server).
  const seenRemoved = new Int32Array(p.observers + p.churners);
  const waiters = new Map<number, () => void>();
  let memberEvents = 0;
  let counting = false;
  pool.onMember = (c, ch, added, userId) => {
    if (ch !== channel) return;
    if (c.index === 0 && !added && userId.startsWith('c')) {
      const k = Number(userId.slice(1));
      seenRemoved[k]!++;
      waiters.get(k)?.();
    }
    if (!counting) return;
    memberEvents++;
    if (c.index < p.observers) {
      if (added) adds[c.index]!++;
      else removes[c.index]!++;
      if (c.index === 0) balance.set(userId, (balance.get(userId) ?? 0) + (added ? 1 : -1));
    }
  };

  const hist = new Histogram();
  let joins = 0;
  let failure: Error | null = null;
  const runChurn = async (ms: number, measure: boolean): Promise<number> => {
    const stopAt = performance.now() + ms;
    let n = 0;
    const lane = async (c: PusherConn): Promise<void> => {
      let cycles = seenRemoved[c.index]!;
      while (performance.now() < stopAt && !failure) {
        const t = nowUs();
        try {
          await c.subscribe(channel, 'presence', `c${c.index}`);
        } catch (e) {
          failure ??= e as Error;
          return;
        }
        if (measure) hist.record(nowUs() - t);
        n++;
        cycles++;
        const left = new Promise<void>((resolve) => {
          if (seenRemoved[c.index]! >= cycles) resolve();
          else waiters.set(c.index, () => seenRemoved[c.index]! >= cycles && resolve());
        });
        c.unsubscribe(channel);
        try {
          await withTimeout(left, 15_000, `observer 0 to see member_removed of c${c.index}`);
        } catch (e) {
          failure ??= new LostMessagesError((e as Error).message);
          return;
        }
        waiters.delete(c.index);
      }
    };
    await Promise.all(churners.map(lane));
    if (failure) throw failure;
    return n;
  };

  await sleep(200);
  counting = true;
  const warm = await runChurn(Math.min(1000, p.durationMs), false); // warm-up
  await waitFor(
    () => adds.every((a) => a === warm) && removes.every((r) => r === warm),
    10_000,
    () => `presence warm-up: observers did not all see ${warm} member_added/member_removed`,
  );
  adds.fill(0);
  removes.fill(0);
  balance.clear();
  memberEvents = 0;
  const cpu = await PhaseMeter.begin(env);
  const load = new LoadMeter();
  joins = await runChurn(p.durationMs, true);
  await waitFor(
    () => adds.every((a) => a === joins) && removes.every((r) => r === joins),
    15_000,
    () => {
      const i = adds.findIndex((a, k) => a !== joins || removes[k] !== joins);
      return `presence: observer ${i} saw ${adds[i]} member_added / ${removes[i]} member_removed, expected ${joins} each`;
    },
  );
  const c = await cpu.read();
  for (const [user, b] of balance) {
    if (b !== 0) throw new LostMessagesError(`presence: user ${user} has unbalanced member events (${b}) at observer 0`);
  }
  pool.assertHealthy('presence');
  const lat = hist.summaryMs();
  pool.closeAll();
  return {
    observers: p.observers,
    churners: p.churners,
    joins,
    joins_per_s: round((joins / c.wallMs) * 1000, 0),
    cpu_us_per_join_leave: round((c.cpuMs * 1000) / joins, 2),
    member_events_per_s: round((memberEvents / c.wallMs) * 1000, 0),
    server_util: round(c.util, 2),
    load_util: round(load.util(), 2),
    join_p50_ms: lat.p50,
    join_p99_ms: lat.p99,
    ...redisFigures('', 'join_leave', c.redis, joins),
  };
}

// ───────────────────────────── client events ─────────────────────────────

export interface ClientEventParams {
  pairs: number;
  durationMs: number;
}

export async function clientEvents(env: Env, p: ClientEventParams): Promise<Figures> {
  const pool = new Pool(env.host, env.ports);
  await pool.connect(0, p.pairs * 2, (i) => [{ channel: `private-pair.${i >> 1}`, kind: 'private' }]);
  const conns = pool.conns;
  const hist = new Histogram();
  let relayed = 0;
  let running = false;
  let measuring = false;
  const sentPings = new Int32Array(p.pairs);
  const gotPongs = new Int32Array(p.pairs);
  let seq = 0;
  const ping = (a: PusherConn): void => {
    const pair = a.index >> 1;
    sentPings[pair]!++;
    a.clientEvent(`private-pair.${pair}`, 'client-ping', benchData(nowUs(), seq++));
  };
  pool.onBench = (c, t, s) => {
    relayed++;
    c.received++;
    const pair = c.index >> 1;
    if (c.index & 1) {
      // B got a ping: answer with the same marker.
      c.clientEvent(`private-pair.${pair}`, 'client-pong', benchData(t, s));
    } else {
      gotPongs[pair]!++;
      if (measuring) hist.record(nowUs() - t);
      if (running) ping(c);
    }
  };
  const phase = async (ms: number): Promise<number> => {
    const r0 = relayed;
    running = true;
    for (let i = 0; i < conns.length; i += 2) ping(conns[i]!);
    const stopAt = performance.now() + ms;
    while (performance.now() < stopAt) {
      pool.assertHealthy('client events');
      await sleep(20);
    }
    running = false;
    await waitFor(
      () => gotPongs.every((g, i) => g === sentPings[i]),
      10_000,
      () => {
        const i = gotPongs.findIndex((g, k) => g !== sentPings[k]);
        return `client events: pair ${i} sent ${sentPings[i]} pings, got ${gotPongs[i]} pongs`;
      },
    );
    return relayed - r0;
  };
  await phase(Math.min(1000, p.durationMs));
  hist.reset();
  measuring = true;
  const cpu = await PhaseMeter.begin(env);
  const load = new LoadMeter();
  const n = await phase(p.durationMs);
  const c = await cpu.read();
  const lat = hist.summaryMs();
  // Every ping reached B exactly once and every pong reached A exactly once.
  checkPerConn(conns, (x) => (x.index & 1 ? sentPings[x.index >> 1]! : gotPongs[x.index >> 1]!), 'client events');
  pool.assertHealthy('client events');
  pool.closeAll();
  return {
    pairs: p.pairs,
    relayed_per_s: round((n / c.wallMs) * 1000, 0),
    cpu_us_per_relayed: round((c.cpuMs * 1000) / n, 2),
    server_util: round(c.util, 2),
    load_util: round(load.util(), 2),
    rtt_p50_ms: lat.p50,
    rtt_p99_ms: lat.p99,
    rtt_max_ms: lat.max,
  };
}

// ───────────────────────────── channel queries under load ─────────────────────────────

export interface QueriesParams {
  /** Connections, each on its own `private-user.{id}` channel. */
  connections: number;
  /** The first this many connections also subscribe to `fanout`, which gets events at a steady rate. */
  fanoutSubscribers: number;
  fanoutEventsPerSec: number;
  /** Length of the quiet phase and of the query phase. */
  durationMs: number;
  /** Pause between two `GET /channels` calls in the query phase (they alternate unfiltered and filtered). */
  queryIntervalMs: number;
}

/**
 * Ids spread so that one decimal prefix matches a tenth of the channels: connection i is user
 * 1{i%10}{i/10, 4 digits}, so `private-user.13` holds exactly the connections with i % 10 === 3.
 */
const queryUserId = (i: number): number => 100_000 + (i % 10) * 10_000 + Math.floor(i / 10);
const QUERY_FILTER = 'private-user.13';

/** Members in a `{"channels":{…}}` body, counted without parsing it (this process also times deliveries). */
function countListed(body: string): number {
  let n = 0;
  for (let at = body.indexOf('":{'); at !== -1; at = body.indexOf('":{', at + 3)) n++;
  return n - 1;
}

/**
 * `GET /channels` (unfiltered, then filtered to a tenth) against a node holding many channels, while
 * a steady fan-out runs: the time per call, and the fan-out's delivery latency without and with the
 * queries (a call that holds the event loop shows up as a p99 bump).
 */
export async function channelQueries(env: Env, p: QueriesParams): Promise<Figures> {
  const pool = new Pool(env.host, env.ports);
  const conn = await pool.connect(0, p.connections, (i) => [
    { channel: `private-user.${queryUserId(i)}`, kind: 'private' },
    ...(i < p.fanoutSubscribers ? [{ channel: 'fanout', kind: 'public' as const }] : []),
  ]);
  env.log(`queries: ${p.connections} private channels subscribed in ${Math.round(conn.ms)} ms`);
  const expectAll = p.connections + 1;
  let expectFiltered = 0;
  for (let i = 0; i < p.connections; i++) if (String(queryUserId(i)).startsWith(QUERY_FILTER.slice('private-user.'.length))) expectFiltered++;

  const rest = new RestClient({ host: env.host, port: env.port, connections: 2 });
  // Its own socket, so that a trigger never waits behind a query in this process.
  const queryClient = new RestClient({ host: env.host, port: env.port, connections: 1 });
  const hist = new Histogram();
  let seq = 0;
  let delivered = 0;
  let failure: Error | null = null;
  pool.onBench = (c, t) => {
    c.received++;
    delivered++;
    hist.record(nowUs() - t);
  };
  /** Fixed-rate fan-out for `ms`; resolves once every event reached every subscriber. */
  const fanout = async (ms: number): Promise<void> => {
    const d0 = delivered;
    const events = Math.max(1, Math.round((p.fanoutEventsPerSec * ms) / 1000));
    const t0 = performance.now();
    for (let sent = 0; sent < events; sent++) {
      if (failure) throw failure;
      await sleep(Math.max(0, t0 + (sent * 1000) / p.fanoutEventsPerSec - performance.now()));
      rest.trigger('fanout', 'bench', benchData(nowUs(), seq++, PAYLOAD)).catch((e: Error) => (failure ??= e));
    }
    await waitFor(
      () => delivered - d0 === events * p.fanoutSubscribers || failure !== null,
      15_000,
      () => `queries: ${delivered - d0} of ${events * p.fanoutSubscribers} fan-out deliveries`,
    );
    if (failure) throw failure;
  };

  const calls = { all: [] as number[], filtered: [] as number[] };
  const query = async (filtered: boolean): Promise<void> => {
    const t0 = performance.now();
    const body = await queryClient.get(`/apps/${APP.id}/channels`, filtered ? { filter_by_prefix: QUERY_FILTER } : {});
    (filtered ? calls.filtered : calls.all).push(performance.now() - t0);
    const listed = countListed(body);
    const want = filtered ? expectFiltered : expectAll;
    if (listed !== want) throw new Error(`queries: GET /channels${filtered ? ` filter_by_prefix=${QUERY_FILTER}` : ''} listed ${listed}, expected ${want}`);
  };

  await fanout(1000); // warm-up
  for (let k = 0; k < 2; k++) {
    await query(false);
    await query(true);
  }
  calls.all.length = calls.filtered.length = 0;

  // Server CPU per call, from back-to-back calls with nothing else running: wall times on a shared
  // box include waiting for a core, CPU time does not.
  const cpuPerCall = async (filtered: boolean, n: number): Promise<number> => {
    const meter = new CpuMeter(env.serverPids);
    for (let k = 0; k < n; k++) await query(filtered);
    return meter.read().cpuMs / n;
  };
  const allCpuMs = await cpuPerCall(false, 10);
  const filteredCpuMs = await cpuPerCall(true, 10);
  calls.all.length = calls.filtered.length = 0;

  hist.reset();
  let cpu = new CpuMeter(env.serverPids);
  await fanout(p.durationMs);
  const quietCpu = cpu.read();
  const quiet = hist.summaryMs();

  hist.reset();
  cpu = new CpuMeter(env.serverPids);
  let querying = true;
  const queries = (async () => {
    for (let k = 0; querying; k++) {
      await query(k % 2 === 1);
      await sleep(p.queryIntervalMs);
    }
  })();
  await fanout(p.durationMs);
  querying = false;
  await queries;
  const busyCpu = cpu.read();
  const busy = hist.summaryMs();

  checkPerConn(pool.conns, (c) => (c.index < p.fanoutSubscribers ? seq : 0), 'queries');
  pool.assertHealthy('queries');
  rest.close();
  queryClient.close();
  pool.closeAll();
  const ms = (v: number) => round(v, 2);
  return {
    connections: p.connections,
    listed_all: expectAll,
    listed_filtered: expectFiltered,
    calls_all: calls.all.length,
    calls_filtered: calls.filtered.length,
    all_median_ms: ms(median(calls.all)),
    all_max_ms: ms(Math.max(...calls.all)),
    filtered_median_ms: ms(median(calls.filtered)),
    filtered_max_ms: ms(Math.max(...calls.filtered)),
    all_cpu_ms: ms(allCpuMs),
    filtered_cpu_ms: ms(filteredCpuMs),
    quiet_p50_ms: quiet.p50,
    quiet_p99_ms: quiet.p99,
    quiet_max_ms: quiet.max,
    queries_p50_ms: busy.p50,
    queries_p99_ms: busy.p99,
    queries_max_ms: busy.max,
    quiet_server_util: round(quietCpu.util, 2),
    queries_server_util: round(busyCpu.util, 2),
  };
}
