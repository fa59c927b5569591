import type { AppConfig } from '../config/schema.js';

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

const ALLOWED: RateDecision = Object.freeze({ ok: true });

interface Bucket {
  tokens: number;
  updatedAt: number;
  rate: number;
}

/**
 * Per-app token bucket for the HTTP API: `restRateLimit` requests per second, bursts up to
 * that many. Off (always allowed) when the limit is 0. One bucket per app id, so memory is
 * bounded by the number of configured apps (only authenticated requests reach it).
 */
export class RestRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  take(app: AppConfig, nowMs: number): RateDecision {
    const rate = app.restRateLimit;
    if (rate <= 0) return ALLOWED;
    let bucket = this.buckets.get(app.id);
    if (!bucket || bucket.rate !== rate) {
      // New app, or its limit changed (reloaded config): start with a full bucket.
      bucket = { tokens: rate, updatedAt: nowMs, rate };
      this.buckets.set(app.id, bucket);
    } else {
      const elapsed = Math.max(0, nowMs - bucket.updatedAt) / 1000;
      bucket.tokens = Math.min(rate, bucket.tokens + elapsed * rate);
      bucket.updatedAt = nowMs;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return ALLOWED;
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / rate)) };
  }
}
