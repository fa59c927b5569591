/**
 * Log-linear latency histogram (HdrHistogram-like, < 1% relative error above 128 µs, exact below),
 * cheap to record into and to merge across processes.
 */
const SUB = 64;
const SIZE = 2048;

function indexOf(v: number): number {
  if (v < 2 * SUB) return v;
  const shift = 31 - Math.clz32(v) - 6;
  return 2 * SUB + (shift - 1) * SUB + ((v >>> shift) - SUB);
}

function valueAt(i: number): number {
  if (i < 2 * SUB) return i;
  const shift = Math.floor((i - 2 * SUB) / SUB) + 1;
  const mant = ((i - 2 * SUB) % SUB) + SUB;
  return (mant << shift) + ((1 << shift) >> 1);
}

export interface HistogramSnapshot {
  counts: Record<number, number>;
  count: number;
  max: number;
  sum: number;
}

export class Histogram {
  readonly counts = new Float64Array(SIZE);
  count = 0;
  max = 0;
  sum = 0;

  /** Record a non-negative value (microseconds). */
  record(us: number): void {
    const v = us < 0 ? 0 : us > 0x7fffffff ? 0x7fffffff : us | 0;
    const i = indexOf(v);
    this.counts[i < SIZE ? i : SIZE - 1]! += 1;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const target = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.counts[i]!;
      if (seen >= target) return Math.min(valueAt(i), this.max);
    }
    return this.max;
  }

  mean(): number {
    return this.count ? this.sum / this.count : Number.NaN;
  }

  snapshot(): HistogramSnapshot {
    const counts: Record<number, number> = {};
    for (let i = 0; i < SIZE; i++) if (this.counts[i]) counts[i] = this.counts[i]!;
    return { counts, count: this.count, max: this.max, sum: this.sum };
  }

  merge(s: HistogramSnapshot): void {
    for (const [k, c] of Object.entries(s.counts)) this.counts[Number(k)]! += c;
    this.count += s.count;
    this.sum += s.sum;
    if (s.max > this.max) this.max = s.max;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
    this.sum = 0;
  }

  /** p50/p99/max in milliseconds, rounded to µs. */
  summaryMs(): { p50: number; p99: number; max: number } {
    const ms = (us: number): number => Math.round(us) / 1000;
    return { p50: ms(this.percentile(50)), p99: ms(this.percentile(99)), max: ms(this.max) };
  }
}
