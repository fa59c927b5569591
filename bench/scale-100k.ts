/**
 * 100k connections on one box: Herald nodes joined by one redis-server, load spread over several
 * processes (each is capped at 20,000 open files here), every connection on one public channel,
 * then REST broadcasts that must reach all of them.
 *
 *   npx tsx bench/scale-100k.ts [--connections 99500] [--nodes 5] [--generators 7]
 *     [--broadcasts 5] [--no-build] [--results bench/results/scale-100k.md]
 *
 * Figures: connect+subscribe rate, server CPU and Redis commands/CPU per join; RSS per connection
 * over the Herald processes (after minus before the connections, summed); Redis `used_memory` per
 * connection; per broadcast: time from the first delivery to the last (anywhere), p50/p99 of
 * trigger→receive latency (wall clock, which every process on the box shares), server CPU per
 * delivered message and Redis CPU per event (INFO cpu deltas and /proc). Nothing is pinned: the
 * nodes, Redis and the generators share every core, as they would on a small VM.
 *
 * Each node gets `prlimit --nofile` of its share plus its own files, which must fit under the hard
 * limit (`ulimit -Hn`): here 20,000 per process, so 5 nodes hold 99,500 (the default); on a box
 * with a higher limit, `--connections 100000` or more.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { MANY_SOURCE_ADDRESSES, TARGET_HOST, epochUs, printUsage, round, sleep } from './common.js';
import { Histogram, type HistogramSnapshot } from './histogram.js';
import type { BroadcastResult } from './load/broadcast.js';
import { benchData } from './load/ws-client.js';
import { LoadWorker } from './load-worker-handle.js';
import { CpuMeter, rssKb } from './proc.js';
import { RedisMeter, redisCounters } from './redis-stats.js';
import { RestClient } from './rest-client.js';
import { BENCH_DIR, ROOT, startHeraldNode, startRedis, type ServerHandle } from './servers.js';

interface Options {
  connections: number;
  nodes: number;
  generators: number;
  broadcasts: number;
  build: boolean;
  results: string;
}

/** A node's own files (stdio, epoll, Redis links, listening socket) beside its connections. */
const NODE_FILES = 100;
/** Per load process, under the box's cap of 20,000 open files. */
const MAX_PER_GENERATOR = 19_000;
const CHANNEL = 'broadcast';
const PAYLOAD = 100;

function options(argv: string[]): Options {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      connections: { type: 'string', default: '99500' },
      nodes: { type: 'string', default: '5' },
      generators: { type: 'string', default: '7' },
      broadcasts: { type: 'string', default: '5' },
      'no-build': { type: 'boolean', default: false },
      results: { type: 'string', default: join(BENCH_DIR, 'results', 'scale-100k.md') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) printUsage(import.meta.url);
  const o: Options = {
    connections: Number(v.connections),
    nodes: Number(v.nodes),
    generators: Number(v.generators),
    broadcasts: Number(v.broadcasts),
    build: !v['no-build'],
    results: v.results,
  };
  const nofile = Number(execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim());
  if (Math.ceil(o.connections / o.nodes) + NODE_FILES > nofile) {
    throw new Error(`--connections: at most ${nofile - NODE_FILES} per node under this box's open-files limit (${nofile}); add --nodes or raise ulimit -Hn`);
  }
  if (Math.ceil(o.connections / o.generators) > MAX_PER_GENERATOR) throw new Error(`--generators: at most ${MAX_PER_GENERATOR} connections per load process`);
  return o;
}

const log = (msg: string): void => {
  process.stderr.write(`[scale] ${msg}\n`);
};

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
const sumRssKb = (pids: number[]): number => pids.reduce((s, p) => s + rssKb(p), 0);

interface Round {
  seq: number;
  spreadMs: number;
  firstMs: number;
  lastMs: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerMsg: number;
  redisCpuMsInfo: number;
  /** Less Redis's idle CPU over the same time. */
  redisCpuMsNet: number;
  redisBytes: number;
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const command = `npx tsx bench/scale-100k.ts ${process.argv.slice(2).join(' ')}`.trim();
  const startLoad = load();
  log(`load average ${startLoad}`);
  sh(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(BENCH_DIR, 'tsconfig.json')]);
  if (o.build) sh('npm', ['run', 'build', '--silent']);

  const perNode = Math.ceil(o.connections / o.nodes);
  const opts = { core: null, logName: `scale-${new Date().toISOString().replace(/[:.]/g, '-')}`, nodeFlags: [] };
  const redis = await startRedis('herald-3', opts, 0, false);
  const nodes: ServerHandle[] = [];
  const generators: LoadWorker[] = [];
  try {
    for (let i = 0; i < o.nodes; i++) {
      nodes.push(await startHeraldNode({ ...opts, logName: `${opts.logName}-node${i}`, nofile: perNode + NODE_FILES }, `redis://${TARGET_HOST}:${redis.port}/0`));
    }
    const pids = nodes.map((n) => n.pid);
    const cluster = { ports: nodes.map((n) => n.port), pids, redis: [{ pid: redis.pid, port: redis.port }] };
    for (let k = 0; k < o.generators; k++) generators.push(new LoadWorker(null));
    await Promise.all(generators.map((g) => g.init(cluster)));
    await sleep(1000);
    const rss0 = sumRssKb(pids);
    const redis0 = await redisCounters(redis.port);

    // Connect + subscribe in two halves, every generator at once: the second half's RSS growth is
    // the marginal cost of a connection, without the first connections' one-time heap growth.
    log(`connecting ${o.connections} over ${o.generators} load processes to ${o.nodes} nodes`);
    const share = Math.ceil(o.connections / o.generators);
    const half = Math.ceil(share / 2);
    const connectHalf = async (second: boolean) => {
      const cpu = new CpuMeter(pids);
      const redisMeter = await RedisMeter.begin([{ pid: redis.pid, port: redis.port }]);
      const counts = await Promise.all(
        generators.map(async (g, k) => {
          const end = Math.min((k + 1) * share, o.connections);
          const from = k * share + (second ? half : 0);
          const count = Math.max(0, second ? end - from : Math.min(half, end - from));
          if (count > 0) await g.call('connectBroadcast', { from, count, channel: CHANNEL, addressOffset: k, concurrency: 100 }, 600_000);
          return count;
        }),
      );
      const n = counts.reduce((a, b) => a + b, 0);
      const r = { n, ...cpu.read(), redis: await redisMeter.read() };
      log(`${second ? 'second' : 'first'} half: ${n} connected in ${Math.round(r.wallMs)} ms; load average ${load()}`);
      await sleep(5000);
      return { ...r, rssKb: sumRssKb(pids) };
    };
    const first = await connectHalf(false);
    const second = await connectHalf(true);
    const redis1 = await redisCounters(redis.port);

    // Redis's own background work (timers, node heartbeats), to subtract from each broadcast's CPU.
    const idleMeter = await RedisMeter.begin([{ pid: redis.pid, port: redis.port }]);
    const idleT0 = performance.now();
    await sleep(5000);
    const idleCpuMsPerS = ((await idleMeter.read()).infoCpuMs * 1000) / (performance.now() - idleT0);

    // Broadcasts: one REST trigger on node 0, every connection must get it exactly once.
    const rest = new RestClient({ host: TARGET_HOST, port: nodes[0]!.port, connections: 1, timeoutMs: 30_000 });
    const rounds: Round[] = [];
    for (let seq = 1; seq <= o.broadcasts; seq++) {
      await Promise.all(generators.map((g) => g.call('armBroadcast', { seq }, 10_000)));
      const cpu = new CpuMeter(pids);
      const meter = await RedisMeter.begin([{ pid: redis.pid, port: redis.port }]);
      const sentUs = epochUs();
      await rest.trigger(CHANNEL, 'bench', benchData(sentUs, seq, PAYLOAD));
      const results = await Promise.all(generators.map((g) => g.call<BroadcastResult>('collectBroadcast', { timeoutMs: 120_000 }, 130_000)));
      const server = cpu.read();
      const r = await meter.read();
      const redisIdleMs = (idleCpuMsPerS * server.wallMs) / 1000;
      const received = results.reduce((s, x) => s + x.received, 0);
      const unexpected = results.reduce((s, x) => s + x.unexpected, 0);
      if (received !== o.connections || unexpected > 0) throw new Error(`MESSAGE LOSS: broadcast ${seq} reached ${received} of ${o.connections} (${unexpected} unexpected)`);
      const latency = merged(results.map((x) => x.latency));
      const first = Math.min(...results.map((x) => x.firstUs));
      const last = Math.max(...results.map((x) => x.lastUs));
      const one: Round = {
        seq,
        spreadMs: round((last - first) / 1000, 1),
        firstMs: round((first - sentUs) / 1000, 1),
        lastMs: round((last - sentUs) / 1000, 1),
        p50Ms: latency.summaryMs().p50,
        p99Ms: latency.summaryMs().p99,
        cpuUsPerMsg: round((server.cpuMs * 1000) / o.connections, 2),
        redisCpuMsInfo: round(r.infoCpuMs, 2),
        redisCpuMsNet: round(r.infoCpuMs - redisIdleMs, 2),
        redisBytes: r.bytesIn + r.bytesOut,
      };
      rounds.push(one);
      log(`broadcast ${seq}: ${JSON.stringify(one)}`);
      await sleep(2000);
    }
    rest.close();

    const both = first.n + second.n;
    const joinRedis = (m: keyof typeof first.redis & ('commands' | 'infoCpuMs')) => (first.redis[m] + second.redis[m]) / both;
    const figures = {
      connections: o.connections,
      nodes: o.nodes,
      generators: o.generators,
      connect_ms: Math.round(first.wallMs + second.wallMs),
      connects_per_s: Math.round((both / (first.wallMs + second.wallMs)) * 1000),
      server_cpu_us_per_join: round(((first.cpuMs + second.cpuMs) * 1000) / both, 1),
      redis_cmds_per_join: round(joinRedis('commands'), 2),
      redis_cpu_us_per_join: round(joinRedis('infoCpuMs') * 1000, 2),
      redis_bytes_per_join: Math.round((first.redis.bytesIn + first.redis.bytesOut + second.redis.bytesIn + second.redis.bytesOut) / both),
      rss_mb_before: round(rss0 / 1024, 1),
      rss_mb_after: round(second.rssKb / 1024, 1),
      rss_kb_per_conn: round((second.rssKb - rss0) / both, 2),
      rss_kb_per_conn_second_half: round((second.rssKb - first.rssKb) / second.n, 2),
      redis_used_memory_mb: round(redis1.usedMemory / 2 ** 20, 1),
      redis_bytes_per_conn: Math.round((redis1.usedMemory - redis0.usedMemory) / both),
      redis_idle_cpu_ms_per_s: round(idleCpuMsPerS, 2),
    };
    console.log(JSON.stringify({ ...figures, rounds }));
    writeFileSync(o.results, report(o, command, figures, rounds, startLoad));
    log(`wrote ${relative(ROOT, o.results)}`);
  } finally {
    await Promise.all(generators.map((g) => g.stop()));
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.stop();
  }
}

function merged(parts: HistogramSnapshot[]): Histogram {
  const h = new Histogram();
  for (const p of parts) h.merge(p);
  return h;
}

const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function report(o: Options, command: string, f: Record<string, number>, rounds: Round[], startLoad: string): string {
  const row = (r: Round) =>
    `| ${r.seq} | ${r.firstMs} | ${r.lastMs} | ${r.spreadMs} | ${r.p50Ms} | ${r.p99Ms} | ${r.cpuUsPerMsg} | ${r.redisCpuMsInfo} | ${r.redisCpuMsNet} | ${r.redisBytes} |`;
  return [
    `# ${o.connections} connections, ${o.nodes} Herald nodes, one Redis`,
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Command: \`${command}\` at \`${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()}\``,
    `- Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${round(totalmem() / 2 ** 30, 1)} GiB; Node ${process.version}; nothing pinned`,
    `- Load average at the start: ${startLoad}; at the end: ${load()} (other engineers' test suites share the box: latencies are upper bounds)`,
    `- ${o.generators} load processes (raw WebSocket clients, ${MANY_SOURCE_ADDRESSES.length} loopback source addresses), every connection on \`${CHANNEL}\`; connection i on node i mod ${o.nodes}; broadcasts are REST triggers (${PAYLOAD}-byte data) on node 0`,
    '',
    '| figure | value |',
    '|---|---:|',
    `| connect+subscribe of all ${o.connections} | ${f.connect_ms} ms (${f.connects_per_s}/s) |`,
    `| server CPU per connect+subscribe (all nodes) | ${f.server_cpu_us_per_join} µs |`,
    `| Redis commands per connect+subscribe | ${f.redis_cmds_per_join} |`,
    `| Redis CPU per connect+subscribe (INFO cpu) | ${f.redis_cpu_us_per_join} µs |`,
    `| Redis bytes per connect+subscribe | ${f.redis_bytes_per_join} |`,
    `| Herald RSS, all nodes, before → after | ${f.rss_mb_before} → ${f.rss_mb_after} MB |`,
    `| RSS per connection (nodes summed): all / second half only | ${f.rss_kb_per_conn} / ${f.rss_kb_per_conn_second_half} KB |`,
    `| Redis used_memory after / per connection | ${f.redis_used_memory_mb} MB / ${f.redis_bytes_per_conn} B |`,
    `| broadcast first → last delivery (median of ${rounds.length}) | ${med(rounds.map((r) => r.spreadMs))} ms |`,
    `| broadcast p50 / p99 latency (median of ${rounds.length}) | ${med(rounds.map((r) => r.p50Ms))} / ${med(rounds.map((r) => r.p99Ms))} ms |`,
    `| server CPU per delivered message (median) | ${med(rounds.map((r) => r.cpuUsPerMsg))} µs |`,
    `| Redis CPU per broadcast (INFO cpu, median), less its idle ${f.redis_idle_cpu_ms_per_s} ms/s | ${med(rounds.map((r) => r.redisCpuMsNet))} ms |`,
    '',
    'Per broadcast (ms from the trigger unless said; Redis CPU in ms from INFO cpu deltas, as measured and less the idle CPU over the same time; Redis bytes in+out, one INFO exchange included):',
    '',
    '| # | first | last | first → last | p50 | p99 | server CPU/msg (µs) | Redis CPU | Redis CPU net | Redis bytes |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rounds.map(row),
    '',
  ].join('\n');
}

main().catch((e: Error) => {
  log(`fatal: ${e.stack ?? e.message}`);
  process.exit(1);
});
