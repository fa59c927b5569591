/** Shared by the in-process micro-benchmarks: alternate rounds of Herald's path and the bare peer's. */
import { median } from '../common.js';

export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** µs per call of `fn`, over `seconds`. */
function timePerCall(fn: (i: number) => void, seconds: number): number {
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let n = 0;
  while (performance.now() < deadline) for (let k = 0; k < 1000; k++) fn(n++);
  return ((performance.now() - t0) * 1000) / n;
}

/** Prints each round and the medians; `events` per call turns the difference into µs per event. */
export function compare(herald: (i: number) => void, bare: (i: number) => void, seconds: number, rounds: number, events: number): void {
  const h: number[] = [];
  const b: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    h.push(timePerCall(herald, seconds));
    b.push(timePerCall(bare, seconds));
    console.log(`round ${round}: herald ${h.at(-1)!.toFixed(3)} µs, bare JS ${b.at(-1)!.toFixed(3)} µs per call`);
  }
  const [mh, mb] = [median(h), median(b)];
  console.log(`median: herald ${mh.toFixed(3)} µs, bare JS ${mb.toFixed(3)} µs; Herald adds ${((mh - mb) / events).toFixed(3)} µs per event`);
}
