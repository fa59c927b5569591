import { subscriptionCount } from '../../protocol/frames.js';
import type { Adapter } from '../adapter/adapter.js';
import type { Lifecycle } from '../events/lifecycle.js';

/** Above this many subscribers, counts go out at most once per THROTTLE_MS (section 2.11). */
const BUSY_CHANNEL = 100;
const THROTTLE_MS = 5000;

/** Sends `pusher_internal:subscription_count` when a channel's count changes, throttled on busy channels. */
export class SubscriptionCounts {
  private readonly lastSent = new Map<string, number>();
  private readonly pending = new Map<string, { appId: string; channel: string; count: number }>();

  constructor(
    private readonly adapter: Adapter,
    private readonly events?: Lifecycle,
  ) {}

  changed(appId: string, channel: string, count: number, now: number): void {
    const key = `${appId}:${channel}`;
    if (count === 0) {
      this.lastSent.delete(key);
      this.pending.delete(key);
      return;
    }
    const last = this.lastSent.get(key);
    if (count > BUSY_CHANNEL && last !== undefined && now - last < THROTTLE_MS) {
      this.pending.set(key, { appId, channel, count });
      return;
    }
    this.send(key, appId, channel, count, now);
  }

  /** Sends throttled counts whose window has passed; called by the periodic sweep. */
  flush(now: number): void {
    for (const [key, { appId, channel, count }] of this.pending) {
      if (now - this.lastSent.get(key)! >= THROTTLE_MS) this.send(key, appId, channel, count, now);
    }
  }

  private send(key: string, appId: string, channel: string, count: number, now: number): void {
    this.pending.delete(key);
    this.lastSent.set(key, now);
    this.adapter.publish(appId, channel, subscriptionCount(channel, count));
    this.events?.emit({ type: 'subscription_count', appId, channel, count });
  }
}
