/**
 * What a phase cost Redis, from `INFO` deltas: commands executed (the round trips nodes make, as
 * pipelined commands count one each), bytes in and out (pub/sub deliveries included), and CPU from
 * /proc, summed over every server (the masters of a Redis Cluster). A bare RESP exchange on
 * node:net keeps the harness free of a Redis client library.
 */
import net from 'node:net';
import { TARGET_HOST } from './common.js';
import { CpuMeter } from './proc.js';

export interface RedisCounters {
  commands: number;
  /** Calls per command name (`evalsha`, `publish`, …). */
  byCommand: Map<string, number>;
  bytesIn: number;
  bytesOut: number;
  /** Size of this INFO reply, which the next reading's bytesOut includes. */
  replyBytes: number;
  /** `used_memory` (bytes allocated by Redis). */
  usedMemory: number;
  /** `used_cpu_user` + `used_cpu_sys`, Redis's own CPU account, in seconds. */
  cpuSec: number;
}

const INFO_REQUEST = '*2\r\n$4\r\nINFO\r\n$3\r\nall\r\n';

/** `INFO` parsed into counters: every `cmdstat_*` calls= summed, and the network totals. */
export async function redisCounters(port: number): Promise<RedisCounters> {
  const { text, replyBytes } = await info(port);
  let commands = 0;
  const byCommand = new Map<string, number>();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    commands += Number(m[2]);
    byCommand.set(m[1]!, Number(m[2]));
  }
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    commands,
    byCommand,
    bytesIn: field('total_net_input_bytes'),
    bytesOut: field('total_net_output_bytes'),
    replyBytes,
    usedMemory: field('used_memory'),
    cpuSec: field('used_cpu_user') + field('used_cpu_sys'),
  };
}

function info(port: number): Promise<{ text: string; replyBytes: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: TARGET_HOST, port });
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error('INFO timed out')));
    socket.on('connect', () => socket.write(INFO_REQUEST));
    socket.on('data', (b: Buffer) => {
      chunks.push(b);
      const all = Buffer.concat(chunks);
      const eol = all.indexOf('\r\n');
      if (eol < 0) return;
      const len = Number(all.subarray(1, eol).toString());
      if (all.length >= eol + 2 + len + 2) {
        socket.end();
        resolve({ text: all.subarray(eol + 2, eol + 2 + len).toString(), replyBytes: eol + 2 + len + 2 });
      }
    });
    socket.on('error', reject);
  });
}

export interface RedisPhase {
  cpuMs: number;
  commands: number;
  /** Calls per command name in the phase, the meter's INFOs left out. */
  byCommand: Map<string, number>;
  bytesIn: number;
  bytesOut: number;
  /** The same CPU as Redis accounts it (INFO cpu deltas), meter's INFO calls included. */
  infoCpuMs: number;
  /** Change of `used_memory`, bytes. */
  usedMemory: number;
}

/** A redis-server process and its port. */
export interface RedisServer {
  pid: number;
  port: number;
}

/** The counters of several servers added up (the reply size too: each INFO's reply lands in its own server's bytes). */
async function summedCounters(servers: readonly RedisServer[]): Promise<RedisCounters> {
  const all = await Promise.all(servers.map((s) => redisCounters(s.port)));
  const byCommand = new Map<string, number>();
  for (const c of all) for (const [name, calls] of c.byCommand) byCommand.set(name, (byCommand.get(name) ?? 0) + calls);
  const sum = (field: 'commands' | 'bytesIn' | 'bytesOut' | 'replyBytes' | 'usedMemory' | 'cpuSec') => all.reduce((n, c) => n + c[field], 0);
  return {
    commands: sum('commands'),
    byCommand,
    bytesIn: sum('bytesIn'),
    bytesOut: sum('bytesOut'),
    replyBytes: sum('replyBytes'),
    usedMemory: sum('usedMemory'),
    cpuSec: sum('cpuSec'),
  };
}

/** Start of a measured phase on Redis (every server of it); `read()` gives the deltas. */
export class RedisMeter {
  private constructor(
    private readonly servers: readonly RedisServer[],
    private readonly cpu: CpuMeter,
    private readonly start: RedisCounters,
  ) {}

  static async begin(servers: readonly RedisServer[]): Promise<RedisMeter> {
    const cpu = new CpuMeter(servers.map((s) => s.pid));
    return new RedisMeter(servers, cpu, await summedCounters(servers));
  }

  async read(): Promise<RedisPhase> {
    const cpuMs = this.cpu.read().cpuMs;
    const end = await summedCounters(this.servers);
    const infos = this.servers.length;
    const byCommand = new Map<string, number>();
    for (const [name, calls] of end.byCommand) {
      const n = calls - (this.start.byCommand.get(name) ?? 0) - (name === 'info' ? infos : 0);
      if (n > 0) byCommand.set(name, n);
    }
    return {
      byCommand,
      cpuMs,
      // Without the meter's own traffic: one INFO command per server, its request, the first INFO's reply.
      commands: end.commands - this.start.commands - infos,
      bytesIn: end.bytesIn - this.start.bytesIn - INFO_REQUEST.length * infos,
      bytesOut: end.bytesOut - this.start.bytesOut - this.start.replyBytes,
      infoCpuMs: (end.cpuSec - this.start.cpuSec) * 1000,
      usedMemory: end.usedMemory - this.start.usedMemory,
    };
  }
}
