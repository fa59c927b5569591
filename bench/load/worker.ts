/**
 * Load-generator process. Started by bench/run.ts (pinned to the load core) with an IPC channel;
 * answers `{id, cmd, args}` messages with `{id, ok, result | error}`.
 */
import { assertLoopback, MANY_SOURCE_ADDRESSES } from '../common.js';
import { BroadcastProbe } from './broadcast.js';
import { Pool, type SubSpec } from './pool.js';
import * as scenarios from './scenarios.js';
import type { RedisServer } from '../redis-stats.js';

interface Request {
  id: number;
  cmd: string;
  args: Record<string, unknown>;
}

let env: scenarios.Env | null = null;
let pool: Pool | null = null;
let probe: BroadcastProbe | null = null;
const log = (msg: string): void => {
  process.stderr.write(`[load ${process.pid}] ${msg}\n`);
};

function idleSubs(i: number, publicChannels: number): SubSpec[] {
  return [
    { channel: `idle-${i % publicChannels}`, kind: 'public' },
    { channel: `private-user.${i}`, kind: 'private' },
  ];
}

async function handle(cmd: string, args: Record<string, unknown>): Promise<unknown> {
  switch (cmd) {
    case 'init': {
      const host = String(args.host);
      assertLoopback(host);
      const ports = (args.ports as number[]).map(Number);
      const redis = args.redis as RedisServer[];
      env = { host, port: ports[0]!, ports, serverPids: (args.serverPids as number[]).map(Number), redis, log };
      return { pid: process.pid };
    }
    case 'connectIdle': {
      // Idle connections: each on `idle-{i % publicChannels}` and its own `private-user.{i}`.
      if (!env) throw new Error('init first');
      pool ??= new Pool(env.host, env.ports, Number(args.addressOffset ?? 0));
      pool.onBench = (c) => {
        c.received++;
      };
      const publicChannels = Number(args.publicChannels);
      const r = await pool.connect(Number(args.from), Number(args.count), (i) => idleSubs(i, publicChannels), Number(args.concurrency ?? 200));
      pool.assertHealthy('idle connect');
      return r;
    }
    case 'countIdle': {
      // How many connections received exactly `expected` bench messages.
      if (!pool) throw new Error('no pool');
      const expected = Number(args.expected);
      let ok = 0;
      let firstBad = '';
      for (const c of pool.conns) {
        if (c.received === expected) ok++;
        else if (!firstBad) firstBad = `connection ${c.index} got ${c.received}`;
      }
      return { ok, total: pool.conns.length, firstBad, unexpectedCloses: pool.unexpectedCloses, firstCloseError: pool.firstCloseError };
    }
    case 'connectBroadcast': {
      // bench/scale-100k.ts: every connection on one public channel, over the wider address set.
      if (!env) throw new Error('init first');
      pool ??= new Pool(env.host, env.ports, Number(args.addressOffset ?? 0), MANY_SOURCE_ADDRESSES);
      probe ??= new BroadcastProbe(pool);
      const channel = String(args.channel);
      const r = await pool.connect(Number(args.from), Number(args.count), () => [{ channel, kind: 'public' }], Number(args.concurrency ?? 200));
      pool.assertHealthy('broadcast connect');
      return r;
    }
    case 'armBroadcast':
      probe!.arm(Number(args.seq));
      return {};
    case 'collectBroadcast': {
      const r = await probe!.collect(Number(args.timeoutMs));
      pool!.assertHealthy('broadcast');
      return r;
    }
    case 'closeAll': {
      pool?.closeAll();
      return {};
    }
    case 'fanout':
      return scenarios.fanout(env!, args as unknown as scenarios.FanoutParams);
    case 'channels':
      return scenarios.channels(env!, args as unknown as scenarios.ChannelsParams);
    case 'rest':
      return scenarios.restThroughput(env!, args as unknown as scenarios.RestParams);
    case 'presence':
      return scenarios.presenceChurn(env!, args as unknown as scenarios.PresenceParams);
    case 'client':
      return scenarios.clientEvents(env!, args as unknown as scenarios.ClientEventParams);
    case 'queries':
      return scenarios.channelQueries(env!, args as unknown as scenarios.QueriesParams);
    default:
      throw new Error(`unknown command ${cmd}`);
  }
}

if (!process.send) {
  console.error('bench/load/worker must be started by bench/run.ts with an IPC channel');
  process.exit(2);
}

process.on('message', (m: Request) => {
  handle(m.cmd, m.args).then(
    (result) => process.send!({ id: m.id, ok: true, result }),
    (e: Error) => process.send!({ id: m.id, ok: false, error: `${e.name}: ${e.message}` }),
  );
});
process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (e) => {
  log(`uncaught: ${e.stack ?? e.message}`);
  process.exit(1);
});
