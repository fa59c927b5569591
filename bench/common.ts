/** Shared constants and small helpers for the benchmark harness. */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The one app every target is configured with. */
export const APP = { id: 'bench', key: 'bench-key', secret: 'bench-secret' } as const;

/** Source addresses the load generator spreads its connections over (all loopback). */
export const SOURCE_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;
/**
 * More of them for 100k connections. A connect from a chosen address binds first, and the kernel
 * picks a bound port from half the ephemeral range (~14k ports): with 8 addresses, 12k sockets each
 * made every bind a long search (the load processes at 100% system time, and the server's 10 s
 * HTTP timeout closing upgrades they were too slow to send). At 32, each address holds ~3k.
 */
export const MANY_SOURCE_ADDRESSES = Array.from({ length: 32 }, (_, i) => `127.0.0.${i + 1}`);

/** The only address a target listens on and the load generator sends to. */
export const TARGET_HOST = '127.0.0.1';

export function assertLoopback(host: string): void {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) {
    throw new Error(`refusing to send traffic to ${host}: the benchmark only targets 127.0.0.0/8`);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Monotonic microseconds on this process's clock (performance.now based). */
export const nowUs = (): number => Math.round(performance.now() * 1000);
/** Microseconds on the wall clock: comparable across the load processes of one box (nowUs is not). */
export const epochUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** `{key}:{hmac}` for private channels (`socket_id:channel`) and presence (`socket_id:channel:channel_data`). */
export function channelAuth(socketId: string, channel: string, channelData?: string): string {
  const toSign = channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
  return `${APP.key}:${createHmac('sha256', APP.secret).update(toSign).digest('hex')}`;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function round(v: number, digits = 2): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Throws with a loud, greppable message: every scenario uses this for lost or duplicated messages. */
export class LostMessagesError extends Error {
  constructor(what: string) {
    super(`MESSAGE LOSS: ${what}`);
    this.name = 'LostMessagesError';
  }
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Reject after `ms` with `what` in the message. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** `--help` of a bench entry point: the usage block that opens its file (its first comment). */
export function printUsage(moduleUrl: string): never {
  console.log(readFileSync(new URL(moduleUrl), 'utf8').split('*/')[0]);
  process.exit(0);
}
