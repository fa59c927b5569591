import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connected,
  disconnectAllAndWait,
  echoClient,
  listen,
  pusherClient,
  pusherOf,
  recorder,
  sleep,
  subscribed,
  until,
  type Pusher,
} from '../helpers/clients.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { phpJsonEncode, sessionHeaders, startLaravelAuth, type LaravelAuth } from '../helpers/laravel-auth.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/** RedisBroadcaster::broadcastMultipleChannelsScript(), run with EVAL as Laravel does. */
const LARAVEL_LUA = `for i = 2, #ARGV do
  redis.call('publish', ARGV[i], ARGV[1])
end`;

/** `RedisBroadcaster::broadcast()`: the payload keeps `socket` inside `data` (reference 8.4). */
function laravelPayload(event: string, data: Record<string, unknown>, socket: string | null = null): string {
  return phpJsonEncode({ event, data: { ...data, socket }, socket });
}

let redis: TestRedis;
let auth: LaravelAuth;
let h: TestHerald;

beforeAll(async () => {
  redis = await startRedis({ password: 'test-redis-pw' });
  auth = await startLaravelAuth({
    users: { ada: { id: 42, name: 'Ada' }, bob: { id: 43, name: 'Bob' } },
    channels: { 'orders.{id}': () => true, 'user.{id}': (user, id) => String(user.id) === id },
  });
  h = await startHerald({
    server: { redisUrl: redis.url, scaling: false, redisIngest: 'laravel', redisIngestPrefix: 'laravel_database_' },
    app: {
      maxEventDataSize: 200,
      redisIngest: [
        { pattern: 'user_noti:{user_id}', channel: '#server-to-user-{user_id}', event: 'type', data: 'payload' },
        { pattern: 'orders/{region}/{id}', channel: 'private-user.{id}' },
      ],
    },
  });
  await h.herald.ingest!.ready;
});
afterAll(async () => {
  await h?.stop();
  await auth?.close();
  await redis?.close();
});
afterEach(() => disconnectAllAndWait(h));

async function signedIn(who: 'ada' | 'bob'): Promise<Pusher> {
  const p = pusherClient(h, auth, sessionHeaders(who));
  await connected(p);
  p.signin();
  await until(() => p.user.serverToUserChannel?.subscribed, `${who} signed in`);
  return p;
}

describe("Laravel's redis broadcaster", () => {
  it('delivers the exact payloads to pusher-js and Echo clients, excluding the socket Laravel names', async () => {
    const publisher = redis.client();
    const sender = echoClient('reverb', h, auth, sessionHeaders('ada'));
    const other = echoClient('pusher', h, auth, sessionHeaders('bob'));
    const plain = pusherClient(h);
    const got = { sender: recorder('sender'), other: recorder('other'), plain: recorder('plain') };
    for (const [echo, rec] of [
      [sender, got.sender],
      [other, got.other],
    ] as const) {
      await connected(pusherOf(echo));
      const ready = new Promise<void>((resolve) => echo.private('orders.5').subscribed(() => resolve()));
      echo.private('orders.5').listen('OrderShipped', rec.fn);
      await ready;
    }
    const news = await subscribed(plain, 'news');
    news.bind('App\\Events\\NewsPublished', got.plain.fn);

    // toOthers(): `socket` is the sender's socket id.
    const senderSocket = pusherOf(sender).connection.socket_id;
    const shipped = laravelPayload('App\\Events\\OrderShipped', { order: { id: 5, url: 'https://shop.test/o/5' } }, senderSocket);
    expect(await publisher.eval(LARAVEL_LUA, 0, shipped, 'laravel_database_private-orders.5')).toBeNull();
    expect(await got.other.next()).toEqual({ order: { id: 5, url: 'https://shop.test/o/5' }, socket: senderSocket });
    await got.sender.none(300);

    // No socket: everyone gets it; one EVAL may carry several channels.
    const published = laravelPayload('App\\Events\\NewsPublished', { title: 'Grüße' });
    await publisher.eval(LARAVEL_LUA, 0, published, 'laravel_database_news', 'laravel_database_private-orders.5');
    expect(await got.plain.next()).toEqual({ title: 'Grüße', socket: null });
    expect(h.herald.stats.ingestDelivered).toBeGreaterThanOrEqual(3);
  });
});

describe('mapped patterns', () => {
  it('PUBLISH user_noti:42 reaches user 42 signed in with pusher-js, and nobody else', async () => {
    const publisher = redis.client();
    const ada = await signedIn('ada');
    const ada2 = await signedIn('ada');
    const bob = await signedIn('bob');
    const anon = pusherClient(h);
    await connected(anon);
    const got = { ada: recorder('ada'), ada2: recorder('ada2'), bob: recorder('bob') };
    ada.user.bind('notification', got.ada.fn);
    ada2.user.bind('notification', got.ada2.fn);
    bob.user.bind('notification', got.bob.fn);
    const message = JSON.stringify({ type: 'notification', payload: { title: 'Your order shipped', id: 9 } });
    expect(await publisher.publish('user_noti:42', message)).toBe(1);
    expect(await got.ada.next()).toEqual({ title: 'Your order shipped', id: 9 });
    expect(await got.ada2.next()).toEqual({ title: 'Your order shipped', id: 9 });
    await got.bob.none(300);
    // A user who is not online: nothing is queued, nothing fails.
    await publisher.publish('user_noti:77', message);
    // The event name comes from `type`.
    const invoice = recorder('invoice');
    ada.user.bind('invoice.paid', invoice.fn);
    await publisher.publish('user_noti:42', JSON.stringify({ type: 'invoice.paid', payload: 'plain string data' }));
    expect(await invoice.next()).toBe('plain string data');
  });

  it('a channel template with several placeholders, the whole message as data and the default event name', async () => {
    const ada = pusherClient(h, auth, sessionHeaders('ada'));
    const channel = await subscribed(ada, 'private-user.42');
    const got = listen(channel, 'notification');
    await redis.client().publish('orders/eu/42', JSON.stringify({ id: 1, total: 9.5 }));
    expect(await got.next()).toEqual({ id: 1, total: 9.5 });
  });

  it('drops garbage, counts it by reason, and keeps delivering', async () => {
    const publisher = redis.client();
    const ada = await signedIn('ada');
    const got = recorder('ada');
    ada.user.bind('notification', got.fn);
    const before = new Map(h.herald.stats.ingestDropped);
    const delta = (reason: string) => (h.herald.stats.ingestDropped.get(reason) ?? 0) - (before.get(reason) ?? 0);
    await publisher.publish('user_noti:42', 'not json {');
    await publisher.publish('user_noti:42', '[1,2]');
    await publisher.publish('user_noti:42', JSON.stringify({ type: 'notification' }));
    await publisher.publish('user_noti:a b', JSON.stringify({ payload: {} }));
    await publisher.publish('user_noti:42', JSON.stringify({ type: 'pusher:error', payload: {} }));
    await publisher.publish('user_noti:42', JSON.stringify({ type: 7, payload: {} }));
    await publisher.publish('user_noti:42', JSON.stringify({ payload: { blob: 'x'.repeat(300) } }));
    await publisher.publish('laravel_database_news', JSON.stringify({ data: {} }));
    await publisher.publish('laravel_database_news', '\u0000\u0001');
    await publisher.publish('user_noti:42', JSON.stringify({ payload: { ok: true } }));
    expect(await got.next()).toEqual({ ok: true });
    expect(delta('not_json')).toBe(3);
    expect(delta('missing_fields')).toBe(2);
    expect(delta('invalid_channel')).toBe(1);
    expect(delta('invalid_event')).toBe(2);
    expect(delta('too_large')).toBe(1);
    expect(got.calls).toHaveLength(1);
  });

  it('survives a redis-server restart: reconnects, subscribes again, delivers again', async () => {
    const ada = await signedIn('ada');
    const got = recorder('ada');
    ada.user.bind('notification', got.fn);
    const publisher = redis.client();
    await publisher.publish('user_noti:42', JSON.stringify({ payload: { n: 1 } }));
    expect(await got.next()).toEqual({ n: 1 });

    await redis.restart(500);
    // Redis keeps no subscriptions across a restart: a receiver means Herald subscribed again.
    const deadline = Date.now() + 15_000;
    while ((await publisher.publish('user_noti:0', '{}').catch(() => 0)) === 0) {
      if (Date.now() > deadline) throw new Error('ingest did not subscribe again');
      await sleep(100);
    }
    await publisher.publish('user_noti:42', JSON.stringify({ payload: { n: 2 } }));
    expect(await got.next()).toEqual({ n: 2 });
    // Clients never noticed.
    expect(ada.connection.state).toBe('connected');
  });
});

describe('Redis down when Herald starts', () => {
  it('Herald serves clients meanwhile and starts relaying once Redis is up', async () => {
    const late = await startRedis({ password: 'late-pw' });
    await late.kill();
    const h2 = await startHerald({
      server: { redisUrl: late.url, scaling: false },
      app: { redisIngest: [{ pattern: 'news:{id}', channel: 'news-{id}' }] },
    });
    try {
      const client = pusherClient(h2);
      const got = listen(await subscribed(client, 'news-1'), 'notification');
      await sleep(300);
      await late.start();
      await h2.herald.ingest!.ready;
      await late.client().publish('news:1', JSON.stringify({ title: 'up' }));
      expect(await got.next()).toEqual({ title: 'up' });
    } finally {
      await disconnectAllAndWait(h2);
      await h2.stop();
      await late.close();
    }
  });
});
