// pusher-js against Heralds with non-default app options: subscription counting, and a 1 s
// activity timeout so both sides' liveness checks run within the test.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connected, disconnectAll, pusherClient, recorder, sleep } from '../helpers/clients.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';

afterEach(() => disconnectAll());

describe('subscription count', () => {
  let counted: TestHerald;
  beforeAll(async () => (counted = await startHerald({ app: { subscriptionCount: true } })));
  afterAll(() => counted?.stop());

  it('pusher:subscription_count follows subscribes and unsubscribes', async () => {
    const a = pusherClient(counted);
    const b = pusherClient(counted);
    await Promise.all([connected(a), connected(b)]);
    const chA = a.subscribe('ticker');
    const counts = recorder<{ subscription_count: number }>('count');
    chA.bind('pusher:subscription_count', counts.fn);
    expect(await counts.next()).toEqual({ subscription_count: 1 });
    b.subscribe('ticker');
    expect(await counts.next()).toEqual({ subscription_count: 2 });
    expect(chA.subscriptionCount).toBe(2);
    b.unsubscribe('ticker');
    expect(await counts.next()).toEqual({ subscription_count: 1 });
    expect(chA.subscriptionCount).toBe(1);
  });
});

describe('liveness', () => {
  let brisk: TestHerald;
  beforeAll(async () => (brisk = await startHerald({ app: { activityTimeout: 1 }, server: { pongTimeout: 1 } })));
  afterAll(() => brisk?.stop());

  it('with activity_timeout 1 s, pusher-js pings, the server pings, both answer, nobody disconnects', async () => {
    const pusher = pusherClient(brisk);
    await connected(pusher);
    const pongs = recorder('pusher:pong');
    pusher.connection.bind('message', (m: { event: string }) => m.event === 'pusher:pong' && pongs.fn(m));
    const states: string[] = [];
    pusher.connection.bind('state_change', ({ current }: { current: string }) => states.push(current));
    await pongs.next(2500);
    // Past another server ping and pong timeout (1 s + 1 s, swept every 250 ms).
    await sleep(2000);
    expect(states).toEqual([]);
    expect(brisk.herald.adapter.connectionCount()).toBe(1);
  });
});
