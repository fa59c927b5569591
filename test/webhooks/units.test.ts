import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { webhookBody, webhookHeaders, webhookPathName } from '../../protocol/webhooks.js';
import type { LifecycleEvent } from '../../src/events/lifecycle.js';
import { backoffDelay } from '../../src/webhooks/delivery.js';
import { webhookEvent } from '../../src/webhooks/events.js';
import { LeaveDelay } from '../../src/webhooks/leave-delay.js';
import vectors from '../data/vectors.json' with { type: 'json' };

describe('webhook bodies and headers (section 7)', () => {
  it('reproduce the reference signature vector', () => {
    const v = vectors.webhook_signature[0]!;
    const body = webhookBody(1327078148132, [{ name: 'channel_occupied', channel: 'test_channel' }]);
    expect(body).toBe(v.body);
    expect(webhookHeaders(v.headers['X-Pusher-Key'], vectors.app.secret, body)).toEqual({
      'Content-Type': 'application/json',
      'X-Pusher-Key': v.headers['X-Pusher-Key'],
      'X-Pusher-Signature': v.headers['X-Pusher-Signature'],
    });
  });

  it('map every lifecycle event to its webhook object', () => {
    const cases: [LifecycleEvent, unknown][] = [
      [{ type: 'cache_miss', appId: 'a', channel: 'cache-x' }, { name: 'cache_miss', channel: 'cache-x' }],
      [{ type: 'subscription_count', appId: 'a', channel: 'c', count: 3 }, { name: 'subscription_count', channel: 'c', subscription_count: 3 }],
      [
        { type: 'client_event', appId: 'a', channel: 'private-c', event: 'client-x', data: 'raw', socketId: '1.1' },
        { name: 'client_event', channel: 'private-c', event: 'client-x', data: 'raw', socket_id: '1.1' },
      ],
      [{ type: 'user_connected', appId: 'a', userId: '7', socketId: '1.1' }, { name: 'user_connected', user_id: '7', socket_id: '1.1' }],
    ];
    for (const [event, expected] of cases) expect(webhookEvent(event)).toEqual(expected);
    expect(webhookPathName('message_delivered')).toBe('message-delivered');
  });
});

describe('backoffDelay', () => {
  it('doubles from the base, with jitter between half and all of it, capped', () => {
    expect(backoffDelay(0, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffDelay(0, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoffDelay(3, 1000, 60_000, () => 1)).toBe(8000);
    expect(backoffDelay(20, 1000, 60_000, () => 1)).toBe(60_000);
    expect(backoffDelay(1000, 1000, 60_000, () => 0.5)).toBe(45_000);
  });
});

describe('LeaveDelay', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const vacated: LifecycleEvent = { type: 'channel_vacated', appId: 'a', channel: 'c' };
  const occupied: LifecycleEvent = { type: 'channel_occupied', appId: 'a', channel: 'c' };
  const removed: LifecycleEvent = { type: 'member_removed', appId: 'a', channel: 'p', userId: '1' };
  const added: LifecycleEvent = { type: 'member_added', appId: 'a', channel: 'p', userId: '1' };

  it('holds leaves, releases them after the delay, cancels them with the matching re-join', () => {
    const due: LifecycleEvent[] = [];
    const delay = new LeaveDelay(3000, (e) => due.push(e));
    expect(delay.admit(vacated)).toBe(false);
    expect(delay.admit(removed)).toBe(false);
    expect(delay.admit({ ...added, userId: '2' })).toBe(true);
    vi.advanceTimersByTime(2999);
    expect(delay.admit(added)).toBe(false);
    vi.advanceTimersByTime(10);
    expect(due).toEqual([vacated]);
    expect(delay.admit(occupied)).toBe(true);
    expect(delay.admit({ type: 'cache_miss', appId: 'a', channel: 'c' })).toBe(true);
  });

  it('a zero delay holds nothing; releaseAll sends what is held at once', () => {
    expect(new LeaveDelay(0, () => undefined).admit(vacated)).toBe(true);
    const due: LifecycleEvent[] = [];
    const delay = new LeaveDelay(3000, (e) => due.push(e));
    delay.admit(vacated);
    delay.admit(removed);
    delay.releaseAll();
    expect(due).toEqual([vacated, removed]);
    expect(delay.size).toBe(0);
  });
});
