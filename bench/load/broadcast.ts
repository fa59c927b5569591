/**
 * One broadcast reaching every connection of every load process (bench/scale-100k.ts): each process
 * records when its connections receive event `seq`, against the sender's wall-clock stamp, so the
 * harness can merge first/last arrival and the latency histogram over processes.
 */
import { epochUs, sleep } from '../common.js';
import { Histogram, type HistogramSnapshot } from '../histogram.js';
import type { Pool } from './pool.js';

export interface BroadcastResult {
  received: number;
  expected: number;
  /** Duplicates or events of another sequence number: any is a failure. */
  unexpected: number;
  /** Wall-clock µs of the first and last arrival here. */
  firstUs: number;
  lastUs: number;
  latency: HistogramSnapshot;
}

export class BroadcastProbe {
  private seq = -1;
  private received = 0;
  private unexpected = 0;
  private firstUs = 0;
  private lastUs = 0;
  private readonly latency = new Histogram();

  constructor(private readonly pool: Pool) {
    pool.onBench = (conn, t, seq) => {
      const now = epochUs();
      if (seq !== this.seq || conn.tag === seq) {
        this.unexpected++;
        return;
      }
      conn.tag = seq;
      if (this.received++ === 0) this.firstUs = now;
      this.lastUs = now;
      this.latency.record(now - t);
    };
  }

  /** Expect event `seq` next (before it is triggered). */
  arm(seq: number): void {
    this.seq = seq;
    this.received = 0;
    this.unexpected = 0;
    this.latency.reset();
  }

  /** Waits until every connection got it, or `timeoutMs`; then reports what arrived. */
  async collect(timeoutMs: number): Promise<BroadcastResult> {
    const expected = this.pool.conns.length;
    const deadline = performance.now() + timeoutMs;
    while (this.received < expected && performance.now() < deadline) await sleep(5);
    return { received: this.received, expected, unexpected: this.unexpected, firstUs: this.firstUs, lastUs: this.lastUs, latency: this.latency.snapshot() };
  }
}
