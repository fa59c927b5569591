import { describe, expect, it } from 'vitest';
import { Lifecycle, type LifecycleEvent } from '../../src/events/lifecycle.js';

describe('Lifecycle', () => {
  it('is inactive until something listens, and again after it stops', () => {
    const events = new Lifecycle();
    expect(events.active).toBe(false);
    const off = events.on(() => {});
    expect(events.active).toBe(true);
    off();
    expect(events.active).toBe(false);
  });

  it('a throwing listener costs neither the other listeners nor the caller', () => {
    const events = new Lifecycle();
    const seen: LifecycleEvent[] = [];
    const errors: unknown[] = [];
    events.on(() => {
      throw new Error('listener bug');
    });
    events.on((event) => seen.push(event));
    const event: LifecycleEvent = { type: 'channel_occupied', appId: 'a', channel: 'c' };
    expect(() => events.emit(event, (err) => errors.push(err))).not.toThrow();
    expect(seen).toEqual([event]);
    expect(errors).toHaveLength(1);
  });
});
