/** Last event of each cache channel, kept until its TTL passes (section 2.10). */
export interface CachedEvent {
  event: string;
  /** The event's data string, verbatim. */
  data: string;
  expiresAt: number;
}

export class EventCache {
  private readonly entries = new Map<string, CachedEvent>();

  set(appId: string, channel: string, event: string, data: string, ttlSeconds: number, now: number): void {
    this.entries.set(cacheKey(appId, channel), { event, data, expiresAt: now + ttlSeconds * 1000 });
  }

  get(appId: string, channel: string, now: number): CachedEvent | undefined {
    const key = cacheKey(appId, channel);
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Drops expired entries so channels nobody reads again do not hold memory forever. */
  sweep(now: number): void {
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}

const cacheKey = (appId: string, channel: string) => `${appId}:${channel}`;
