/**
 * Herald benchmark: `npm run bench -- [--scenario idle,fanout,channels,rest,presence,client]
 *   [--targets herald,soketi,bare] [--reps 3] [--quick] [--duration MS] [--idle-steps 1000,10000,19500]
 *   [--fanout-rate MSGS_PER_S] [--no-pin] [--no-build] [--results PATH] [--bail] [--profile] [--node-flag FLAG]…
 *   [--root DIR] [--root-node PATH] [--bare-extra-ns N] [--server-core 0|1]`
 *
 * Target `herald-root` runs Herald inside the Debian 13 / Node 24 root that `.ci/node24` builds and
 * installs Herald into (default /var/cache/herald/trixie-root; run that first), as root (chroot), with
 * the Node binary at --root-node inside it (default /opt/node/bin/node, the root's Node 24).
 *
 * --profile runs the servers under `node --cpu-prof` (profiles in bench/results/profiles/): for
 * finding hot spots only, since profiling changes the figures. --node-flag (repeatable) passes a Node
 * flag to every server, after the ones it is started with: `--perf-basic-prof` for `perf record`
 * (bench/README.md), `--trace-gc`, or `--max-semi-space-size=N` to try another young generation.
 * --bare-extra-ns makes the bare peer burn that much CPU per REST-published event: how much a known
 * amount of server work per event moves the CPU figures of this box (bench/RESULTS.md).
 * --server-core 1 puts the server on the load generator's core: no wake-up crosses cores.
 *
 * Runs every case against every target alternately (A B C A B C …), each on a freshly started server
 * pinned to core 0 with the load generator on core 1, prints one JSON line per case/target/rep, then
 * a table of medians with ratios, and writes it to bench/RESULTS.md (quick runs: bench/results/).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';
import { type Case, cases as allCases, goals } from './cases.js';
import { median, printUsage, round } from './common.js';
import type { Figures } from './load/scenarios.js';
import { BENCH_DIR, BUILD_DIR, DEFAULT_ROOT, DEFAULT_TARGETS, HERALD_CLI, ROOT, type Root, SOKETI_BIN, SOKETI_DIR, TARGETS, type TargetName, hasTaskset, isMultiNode, startServer } from './servers.js';

interface Options {
  scenarios: string[] | null;
  targets: TargetName[];
  reps: number;
  quick: boolean;
  durationMs: number | null;
  idleSteps: number[] | null;
  fanoutRate: number;
  pin: boolean;
  build: boolean;
  results: string | null;
  bail: boolean;
  profile: boolean;
  nodeFlags: string[];
  root: Root;
  bareExtraNs: number;
  /** Where the server runs when pinning; the load generator always has core 1. */
  serverCore: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { scenarios: null, targets: [...DEFAULT_TARGETS], reps: 0, quick: false, durationMs: null, idleSteps: null, fanoutRate: 20_000, pin: true, build: true, results: null, bail: false, profile: false, nodeFlags: [], root: DEFAULT_ROOT, bareExtraNs: 0, serverCore: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const name = a.split('=')[0];
    switch (name) {
      case '--scenario':
      case '--scenarios':
        o.scenarios = val().split(',').filter(Boolean);
        break;
      case '--targets':
      case '--target': {
        const t = val().split(',').filter(Boolean);
        for (const x of t) if (!(TARGETS as readonly string[]).includes(x)) throw new Error(`unknown target ${x} (${TARGETS.join(', ')})`);
        o.targets = t as TargetName[];
        break;
      }
      case '--reps':
        o.reps = Number(val());
        break;
      case '--quick':
        o.quick = true;
        break;
      case '--duration':
        o.durationMs = Number(val());
        break;
      case '--idle-steps': {
        const steps = val().split(',').map(Number);
        if (steps.some((n, k) => !Number.isInteger(n) || n < 1 || n > 19_500 || (k > 0 && n <= steps[k - 1]!))) {
          throw new Error('--idle-steps needs increasing connection counts up to 19500');
        }
        o.idleSteps = steps;
        break;
      }
      case '--fanout-rate':
        o.fanoutRate = Number(val());
        if (!Number.isInteger(o.fanoutRate) || o.fanoutRate < 1) throw new Error('--fanout-rate needs delivered messages per second');
        break;
      case '--no-pin':
        o.pin = false;
        break;
      case '--no-build':
        o.build = false;
        break;
      case '--results':
        o.results = val();
        break;
      case '--bail':
        o.bail = true;
        break;
      case '--profile':
        o.profile = true;
        break;
      case '--node-flag':
        o.nodeFlags.push(val());
        break;
      case '--bare-extra-ns':
        o.bareExtraNs = Number(val());
        if (!Number.isInteger(o.bareExtraNs) || o.bareExtraNs < 0) throw new Error('--bare-extra-ns needs nanoseconds per event');
        break;
      case '--server-core':
        o.serverCore = Number(val());
        if (o.serverCore !== 0 && o.serverCore !== 1) throw new Error('--server-core is 0 (its own core) or 1 (the load generator\'s)');
        break;
      case '--root':
        o.root = { ...o.root, dir: val() };
        break;
      case '--root-node':
        o.root = { ...o.root, node: val() };
        break;
      case '--help':
      case '-h':
        printUsage(import.meta.url);
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  if (!o.reps) o.reps = o.quick ? 1 : 3;
  if (!Number.isInteger(o.reps) || o.reps < 1 || o.reps > 20) throw new Error('--reps must be 1..20');
  return o;
}

const log = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};

function sh(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
}

function prepare(o: Options): void {
  log('compiling bench/ (tsc -p bench/tsconfig.json)');
  sh(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(BENCH_DIR, 'tsconfig.json')], ROOT);
  if (!existsSync(join(BUILD_DIR, 'load', 'worker.js'))) throw new Error('bench build produced no load/worker.js');
  const withRedis = o.targets.filter((t) => isMultiNode(t) || t === 'herald-w2');
  if (withRedis.length > 0) {
    const redis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
    if (redis.status !== 0) throw new Error(`target ${withRedis.join(', ')} needs redis-server (apt-get install redis-server)`);
  }
  if (o.targets.includes('herald') || withRedis.length > 0) {
    if (o.build) {
      log('building Herald (npm run build)');
      sh('npm', ['run', 'build', '--silent'], ROOT);
    }
    if (!existsSync(HERALD_CLI)) throw new Error(`${HERALD_CLI} does not exist: Herald is not built yet (or leave it out with --targets soketi,bare)`);
  }
  if (o.targets.includes('soketi') && !existsSync(SOKETI_BIN)) {
    log('installing Soketi 1.6.1 into bench/peers/soketi (npm install from its lock, uWebSockets.js overridden to the npm build)');
    // `npm install` from the committed lock (`npm ci` trips over optional platform packages missing from it).
    sh('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], SOKETI_DIR);
  }
}

function gitHead(): string {
  // `git` rather than reading .git/HEAD: in a worktree .git is a file.
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function machine(pin: { server: number | null; load: number | null }): string {
  const uname = (() => {
    try {
      return execFileSync('uname', ['-a'], { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  })();
  const cpu = cpus();
  const mem = readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/)?.[1];
  const nofile = (() => {
    try {
      return execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  })();
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return [
    `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${mem ? round(Number(mem) / 1024 / 1024, 1) : '?'} GiB RAM, open files limit ${nofile}`,
    `\`${uname}\``,
    `Node ${process.version}; pinning: ${pin.server === null ? 'none' : `server on core ${pin.server}, load generator on core ${pin.load}`}`,
    `load average at the end of the run: ${loadavg}; at the start: ${startLoadavg} (anything else running adds noise)`,
  ].join('  \n');
}

const startLoadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

interface RunRecord {
  caseName: string;
  scenario: string;
  target: TargetName;
  rep: number;
  figures: Figures | null;
  error: string | null;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1000) return String(Math.round(v));
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

function medianOf(records: RunRecord[], caseName: string, target: TargetName, key: string): number {
  const vals = records
    .filter((r) => r.caseName === caseName && r.target === target && r.figures && typeof r.figures[key] === 'number')
    .map((r) => r.figures![key] as number);
  return median(vals);
}

function table(o: Options, list: Case[], records: RunRecord[]): string {
  const base = o.targets[0]!;
  const others = o.targets.slice(1);
  const lines: string[] = [];
  lines.push(`| case | figure | ${o.targets.join(' | ')} | ${others.map((t) => `${base}/${t}`).join(' | ')} |`);
  lines.push(`|---|---|${o.targets.map(() => '---:').join('|')}|${others.map(() => '---:').join('|')}|`);
  for (const c of list) {
    for (const m of c.keyMetrics) {
      const vals = o.targets.map((t) => medianOf(records, c.name, t, m.key));
      if (vals.every((v) => !Number.isFinite(v))) continue;
      const ratios = others.map((_, k) => {
        const r = vals[0]! / vals[k + 1]!;
        return Number.isFinite(r) ? `${r.toFixed(2)}×` : '–';
      });
      lines.push(`| ${c.name} | ${m.label} (${m.better} is better) | ${vals.map(fmt).join(' | ')} | ${ratios.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

/**
 * Median of the per-repetition ratios: each Herald run against the peer's run of the same
 * repetition, started right after it. A slow spell of the machine that spans both runs of a
 * repetition cancels out here, where it would move one side's median alone.
 */
function pairedRatio(records: RunRecord[], caseName: string, peer: TargetName, key: string, peerOverHerald: boolean): { ratio: number; pairs: number } {
  const valueOf = (r: RunRecord | undefined): number => {
    const v = r?.figures?.[key];
    return typeof v === 'number' ? v : NaN;
  };
  const ratios: number[] = [];
  for (const r of records) {
    if (r.caseName !== caseName || r.target !== 'herald') continue;
    const h = valueOf(r);
    const p = valueOf(records.find((q) => q.caseName === caseName && q.target === peer && q.rep === r.rep));
    const ratio = peerOverHerald ? p / h : h / p;
    if (Number.isFinite(ratio)) ratios.push(ratio);
  }
  return { ratio: median(ratios), pairs: ratios.length };
}

function goalLines(o: Options, list: Case[], records: RunRecord[]): string[] {
  if (!o.targets.includes('herald')) return [];
  const out: string[] = [];
  for (const g of goals(list.map((c) => c.name))) {
    if (!o.targets.includes(g.peer)) continue;
    const h = medianOf(records, g.caseName, 'herald', g.metric);
    const p = medianOf(records, g.caseName, g.peer, g.metric);
    const r = g.peerOverHerald ? p / h : h / p;
    const limit =
      typeof g.limit === 'number' ? g.limit : medianOf(records, g.caseName, 'herald', g.limit) / medianOf(records, g.caseName, g.peer, g.limit);
    const limitText = typeof g.limit === 'number' ? String(g.limit) : `herald/${g.peer} ${g.limit} = ${Number.isFinite(limit) ? limit.toFixed(2) : 'n/a'}`;
    const ok = Number.isFinite(r) && Number.isFinite(limit) && (g.op === '<=' ? r <= limit : r >= limit);
    const ratio = g.peerOverHerald ? `${g.peer}/herald` : `herald/${g.peer}`;
    const paired = pairedRatio(records, g.caseName, g.peer, g.metric, g.peerOverHerald ?? false);
    const pairedText = paired.pairs > 1 ? `; median of the ${paired.pairs} per-repetition ratios ${paired.ratio.toFixed(2)}` : '';
    out.push(`- ${ok ? 'PASS' : 'MISS'} ${g.caseName}: ${g.text} — ${ratio} ${g.metric} = ${Number.isFinite(r) ? r.toFixed(2) : 'n/a'} (needs ${g.op} ${limitText})${pairedText}`);
  }
  return out;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const ncpu = cpus().length;
  const canPin = o.pin && ncpu >= 2 && hasTaskset();
  if (o.pin && !canPin) log(`not pinning: ${ncpu < 2 ? 'fewer than 2 cores' : 'taskset not found (apt-get install util-linux)'}`);
  const pin = canPin ? { server: o.serverCore, load: 1 } : { server: null, load: null };
  if (Number(startLoadavg.split(' ')[0]) > 0.5) log(`load average is ${startLoadavg}: other work on this machine will add noise`);
  if (canPin) {
    // The harness itself (mostly idle) runs on the load generator's core, off the server's unless --server-core 1.
    spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  }
  prepare(o);

  let list = allCases(o.quick);
  if (o.scenarios) {
    const want = o.scenarios;
    list = list.filter((c) => want.includes(c.scenario) || want.includes(c.name));
    if (list.length === 0) throw new Error(`no case matches --scenario ${want.join(',')}`);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const resultsDir = join(BENCH_DIR, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const jsonl = join(resultsDir, `${stamp}.jsonl`);
  const records: RunRecord[] = [];
  const started = new Date();

  outer: for (const c of list) {
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const target of o.targets) {
        const rec: RunRecord = { caseName: c.name, scenario: c.scenario, target, rep, figures: null, error: null };
        log(`${c.name} × ${target} (rep ${rep}/${o.reps})`);
        let server;
        try {
          const logName = `${stamp}-${c.name}-${target}-${rep}`;
          const profile = o.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(resultsDir, 'profiles')}`, `--cpu-prof-name=${logName}.cpuprofile`] : [];
          const nodeFlags = [...profile, ...o.nodeFlags];
          server = await startServer(target, { core: pin.server, logName, nodeFlags, root: o.root, bareExtraNs: o.bareExtraNs });
          rec.figures = await c.run({ server, loadCore: pin.load, quick: o.quick, durationMs: o.durationMs, idleSteps: o.idleSteps, fanoutRate: o.fanoutRate, log });
          if (!server.alive()) throw new Error(`${target} died during the run:\n${server.output().slice(-2000)}`);
        } catch (e) {
          rec.error = (e as Error).message;
          log(`FAILED ${c.name} × ${target}: ${rec.error}`);
          if (server && !server.alive()) log(`server output:\n${server.output().slice(-3000)}`);
        } finally {
          await server?.stop();
        }
        records.push(rec);
        const line = JSON.stringify({ case: c.name, scenario: c.scenario, target, rep, ...(rec.figures ?? {}), ...(rec.error ? { error: rec.error } : {}) });
        console.log(line);
        appendFileSync(jsonl, `${line}\n`);
        if (rec.error && o.bail) break outer;
      }
    }
  }

  const failures = records.filter((r) => r.error);
  const tbl = table(o, list, records);
  const gl = goalLines(o, list, records);
  const md = [
    `# Herald benchmark results`,
    '',
    `- Date: ${started.toISOString()}`,
    `- Commit: \`${gitHead()}\``,
    `- Machine: ${machine(pin)}`,
    `- Command: \`${command}\``,
    `- Targets: ${o.targets.join(', ')}; medians of ${o.reps} repetition(s) per case, run alternately (${o.targets.join(' ')} ${o.targets.join(' ')} …), each on a freshly started server.`,
    `- Ratios are \`${o.targets[0]} / peer\` of the figure as measured (so < 1 is better for "lower is better" rows).`,
    ...(o.quick ? ['- **Quick run** (1k connections, short phases, 1 repetition by default): a smoke check, not comparable with the goals; the idle RSS step is far too small to mean anything.'] : []),
    '',
    tbl,
    '',
    ...(gl.length ? ['## Goals (issue: "Where Herald must land")', '', ...gl, ''] : []),
    ...(failures.length ? ['## Failed runs', '', ...failures.map((f) => `- ${f.caseName} × ${f.target} rep ${f.rep}: ${f.error!.split('\n')[0]}`), ''] : []),
    `Raw JSON lines: \`bench/results/${stamp}.jsonl\` (not committed). How the figures are made: \`bench/README.md\`.`,
    '',
  ].join('\n');
  console.log(`\n${tbl}\n`);
  for (const g of gl) console.log(g);
  const out = o.results ?? (o.quick ? join(resultsDir, 'RESULTS.quick.md') : join(BENCH_DIR, 'RESULTS.md'));
  writeFileSync(out, md);
  log(`wrote ${relative(ROOT, out)}`);
  if (failures.length) {
    log(`${failures.length} run(s) FAILED`);
    process.exit(1);
  }
}

main().catch((e: Error) => {
  log(`fatal: ${e.stack ?? e.message}`);
  process.exit(1);
});
