import Pusher from 'pusher';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AppInput, ServerInput } from '../../src/config/schema.js';
import { connected, disconnectAllAndWait, listen, pusherClient, sleep, subscribed, until } from '../helpers/clients.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { sessionHeaders, startLaravelAuth, type LaravelAuth } from '../helpers/laravel-auth.js';
import { freePort } from '../helpers/net.js';
import { holdFirstRequest, startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const CREDS = { appId: 'app-id', key: 'app-key', secret: 'app-secret' };
/** Short delays so the suite does not wait on production timings. */
const FAST: Partial<ServerInput> = {
  webhookBatchMs: 20,
  webhookLeaveDelayMs: 400,
  webhookBackoffMs: 50,
  webhookBackoffMaxMs: 200,
  webhookTimeoutMs: 2000,
};

let auth: LaravelAuth;
let receiver: WebhookReceiver;
let h: TestHerald | undefined;

beforeAll(async () => {
  auth = await startLaravelAuth({
    users: { ada: { id: 7, name: 'Ada' }, bob: { id: 8, name: 'Bob' } },
    channels: { 'chat.{id}': (user) => ({ id: user.id, name: user.name }), 'orders.{id}': () => true },
  });
});
afterAll(() => auth.close());
afterEach(async () => {
  if (h) {
    await disconnectAllAndWait(h);
    await h.stop();
    h = undefined;
  }
  await receiver.close();
});

async function start(webhooks: AppInput['webhooks'], server: Partial<ServerInput> = {}, app: Partial<AppInput> = {}): Promise<TestHerald> {
  h = await startHerald({ server: { ...FAST, ...server }, app: { webhooks, ...app } });
  return h;
}

const names = (events: Record<string, unknown>[]) => events.map((e) => [e.name, e.channel, e.user_id].filter((x) => x !== undefined).join(' '));

describe('Pusher webhooks', () => {
  it('sends channel, member and client events as Pusher bodies the pusher SDK validates', async () => {
    receiver = await startWebhookReceiver(CREDS);
    const herald = await start([{ url: `${receiver.url}/pusher/webhook` }], {}, { clientEvents: 'members' });
    const ada = pusherClient(herald, auth, sessionHeaders('ada'));
    const chat = await subscribed(ada, 'presence-chat.1');
    await until(() => receiver.events().length >= 2, 'occupied and member_added');
    chat.trigger('client-typing', { typing: true });
    await until(() => receiver.events().some((e) => e.name === 'client_event'), 'client_event');
    const socketId = ada.connection.socket_id;
    ada.unsubscribe('presence-chat.1');
    await until(() => receiver.events().length >= 5, 'member_removed and channel_vacated', 5000);

    expect(receiver.requests.every((r) => r.valid)).toBe(true);
    expect(receiver.requests.every((r) => r.path === '/pusher/webhook' && r.headers['x-pusher-key'] === 'app-key')).toBe(true);
    expect(receiver.events()).toEqual([
      { name: 'channel_occupied', channel: 'presence-chat.1' },
      { name: 'member_added', channel: 'presence-chat.1', user_id: '7' },
      { name: 'client_event', channel: 'presence-chat.1', event: 'client-typing', data: '{"typing":true}', socket_id: socketId, user_id: '7' },
      { name: 'member_removed', channel: 'presence-chat.1', user_id: '7' },
      { name: 'channel_vacated', channel: 'presence-chat.1' },
    ]);
    const first = receiver.accepted()[0]!;
    expect(Math.abs(first.timeMs! - Date.now())).toBeLessThan(60_000);
    expect(JSON.parse(first.body)).toEqual({ time_ms: first.timeMs, events: first.events });
    // A wrong secret must fail the same validator (the check above can fail).
    const other = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'other-secret', host: '127.0.0.1' });
    expect(other.webhook({ headers: first.headers as Record<string, string>, rawBody: first.body }).isValid()).toBe(false);
  });

  it('a re-join within the leave delay sends neither the leave nor the re-join', async () => {
    receiver = await startWebhookReceiver(CREDS);
    const herald = await start([{ url: receiver.url }]);
    const ada = pusherClient(herald, auth, sessionHeaders('ada'));
    await subscribed(ada, 'presence-chat.2');
    await subscribed(ada, 'news');
    await until(() => receiver.events().length >= 3, 'joins');
    // A page reload: the connection goes, a new one joins the same channels.
    ada.disconnect();
    await until(() => herald.herald.adapter.connectionCount() === 0, 'server to see the reload');
    const again = pusherClient(herald, auth, sessionHeaders('ada'));
    await subscribed(again, 'presence-chat.2');
    await subscribed(again, 'news');
    await sleep(herald.config.webhookLeaveDelayMs + 300);
    expect(names(receiver.events())).toEqual(['channel_occupied presence-chat.2', 'member_added presence-chat.2 7', 'channel_occupied news']);
    // A leave that is not undone is sent once the delay is over.
    again.unsubscribe('news');
    await until(() => receiver.events().length === 4, 'vacated after the delay', 5000);
    expect(receiver.events()[3]).toEqual({ name: 'channel_vacated', channel: 'news' });
  });

  it('a receiver that fails for a while then recovers gets every event, in order', async () => {
    receiver = await startWebhookReceiver(CREDS);
    let failUntil = Date.now() + 1500;
    receiver.respond = () => (Date.now() < failUntil ? 503 : 200);
    const herald = await start([{ url: receiver.url, events: ['channel_occupied'], batch: false }]);
    const client = pusherClient(herald);
    await connected(client);
    const channels = Array.from({ length: 8 }, (_, i) => `room-${i}`);
    for (const name of channels) await subscribed(client, name);
    await until(() => receiver.accepted().length === 8, 'every event after the outage', 10_000);
    expect(receiver.requests.some((r) => r.status === 503)).toBe(true);
    expect(receiver.accepted().map((r) => r.events.length)).toEqual(Array(8).fill(1));
    expect(receiver.events().map((e) => e.channel)).toEqual(channels);
    expect(herald.herald.stats.webhookRetries).toBeGreaterThan(0);
    failUntil = 0;
  });

  it('a receiver that is not up yet (connection refused) gets the events once it listens', async () => {
    const port = await freePort();
    receiver = await startWebhookReceiver(CREDS);
    const herald = await start([{ url: `http://127.0.0.1:${port}/hook`, events: ['channel_occupied', 'subscription_count'] }], {}, { subscriptionCount: true });
    const client = pusherClient(herald);
    await subscribed(client, 'news');
    await until(() => herald.herald.stats.webhookRetries >= 2, 'failed attempts');
    await receiver.close();
    receiver = await startWebhookReceiver(CREDS, port);
    await until(() => receiver.events().length === 2, 'delivery after the receiver came up', 5000);
    expect(receiver.events()).toEqual([
      { name: 'channel_occupied', channel: 'news' },
      { name: 'subscription_count', channel: 'news', subscription_count: 1 },
    ]);
  });

  it('a slow receiver is timed out and retried, and clients are not slowed by it', async () => {
    receiver = await startWebhookReceiver(CREDS);
    const release = holdFirstRequest(receiver);
    const herald = await start([{ url: receiver.url, events: ['channel_occupied'] }], { webhookTimeoutMs: 500 });
    const client = pusherClient(herald);
    const news = await subscribed(client, 'news');
    await until(() => receiver.requests.length === 1, 'the first request to hang');
    // While the receiver sits on the request, the client still gets its events at once.
    const got = listen(news, 'update');
    const sdk = new Pusher({ ...CREDS, host: '127.0.0.1', port: String(herald.port), useTLS: false });
    await sdk.trigger('news', 'update', { n: 1 });
    expect(await got.next()).toEqual({ n: 1 });
    expect(receiver.accepted()).toHaveLength(0);
    // The hung request timed out and was sent again.
    await until(() => receiver.accepted().length === 1, 'retry after the timeout', 5000);
    expect(receiver.events()).toEqual([{ name: 'channel_occupied', channel: 'news' }]);
    release();
  });

  it('X-API-Key and per-event URLs for user_connected, user_disconnected and message_delivered', async () => {
    receiver = await startWebhookReceiver(CREDS);
    const herald = await start(
      [
        {
          url: `${receiver.url}/api/realtime/webhook/{event}`,
          events: ['user_connected', 'user_disconnected', 'message_delivered'],
          headers: { 'X-API-Key': 'laravel-key' },
          batch: false,
        },
      ],
      {},
      { apiKeys: ['broadcast-key'] },
    );
    const ada = pusherClient(herald, auth, sessionHeaders('ada'));
    await connected(ada);
    ada.signin();
    await until(() => ada.user.serverToUserChannel?.subscribed, 'signed in');
    const orders = await subscribed(ada, 'orders');
    await until(() => receiver.accepted().length === 1, 'user_connected');
    // A second connection of the same user is not a new arrival.
    const ada2 = pusherClient(herald, auth, sessionHeaders('ada'));
    await connected(ada2);
    ada2.signin();
    await until(() => ada2.user.serverToUserChannel?.subscribed, 'second connection signed in');

    const got = listen(orders, 'shipped');
    const res = await fetch(`${herald.url}/api/broadcast`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': 'broadcast-key' },
      body: JSON.stringify({ channel: 'orders', event: 'shipped', data: { id: 5 } }),
    });
    expect(res.status).toBe(200);
    await got.next();
    await until(() => receiver.accepted().length === 2, 'message_delivered');
    ada.disconnect();
    await sleep(200);
    ada2.disconnect();
    await until(() => receiver.accepted().length === 3, 'user_disconnected after the last connection', 5000);

    expect(receiver.accepted().map((r) => r.path)).toEqual([
      '/api/realtime/webhook/user-connected',
      '/api/realtime/webhook/message-delivered',
      '/api/realtime/webhook/user-disconnected',
    ]);
    expect(receiver.requests.every((r) => r.headers['x-api-key'] === 'laravel-key' && r.valid)).toBe(true);
    expect(receiver.events()[0]).toMatchObject({ name: 'user_connected', user_id: '7' });
    expect(receiver.events()[1]).toEqual({ name: 'message_delivered', channel: 'orders', event: 'shipped', recipients: 1 });
    expect(receiver.events()[2]).toMatchObject({ name: 'user_disconnected', user_id: '7' });
  });

  it('cache_miss: one per channel while it waits to be sent, however many subscribers miss', async () => {
    receiver = await startWebhookReceiver(CREDS);
    const herald = await start([{ url: receiver.url, events: ['cache_miss'] }], { webhookBatchMs: 300 });
    const clients = [pusherClient(herald), pusherClient(herald), pusherClient(herald)];
    for (const c of clients) await subscribed(c, 'cache-prices');
    await subscribed(clients[0]!, 'cache-rates');
    await until(() => receiver.accepted().length === 1, 'the batch');
    expect(receiver.events()).toEqual([
      { name: 'cache_miss', channel: 'cache-prices' },
      { name: 'cache_miss', channel: 'cache-rates' },
    ]);
  });

  it('filters by channel prefix and suffix, and each webhook gets only its event types', async () => {
    receiver = await startWebhookReceiver(CREDS);
    const herald = await start([
      { url: `${receiver.url}/orders`, channelPrefix: 'private-orders.', channelSuffix: '.eu' },
      { url: `${receiver.url}/all`, events: ['channel_occupied'] },
    ]);
    const ada = pusherClient(herald, auth, sessionHeaders('ada'));
    await subscribed(ada, 'private-orders.1.eu');
    await subscribed(ada, 'private-orders.2.us');
    await subscribed(ada, 'news.eu');
    await until(() => receiver.events().length >= 4, 'webhooks');
    await sleep(100);
    const byPath = (path: string) => receiver.accepted().filter((r) => r.path === path).flatMap((r) => r.events.map((e) => e.channel));
    expect(byPath('/orders')).toEqual(['private-orders.1.eu']);
    expect(byPath('/all')).toEqual(['private-orders.1.eu', 'private-orders.2.us', 'news.eu']);
  });

  it('the bounded queue drops the oldest events and counts them', async () => {
    receiver = await startWebhookReceiver(CREDS);
    const release = holdFirstRequest(receiver);
    const herald = await start([{ url: receiver.url, events: ['channel_occupied'], batch: false }], { webhookTimeoutMs: 20_000 }, { webhookQueueSize: 5 });
    const client = pusherClient(herald);
    await connected(client);
    await subscribed(client, 'first');
    await until(() => receiver.requests.length === 1, 'the first request to hang');
    for (let i = 0; i < 12; i++) await subscribed(client, `c-${i}`);
    expect(herald.herald.stats.webhookEventsDropped.get('queue_full')).toBe(7);
    release();
    await until(() => receiver.accepted().length === 6, 'the queue to drain');
    expect(receiver.events().map((e) => e.channel)).toEqual(['first', 'c-7', 'c-8', 'c-9', 'c-10', 'c-11']);
  });

  it('gives up after the retry window and counts the events as expired', async () => {
    receiver = await startWebhookReceiver(CREDS);
    receiver.respond = () => 500;
    const herald = await start([{ url: receiver.url, events: ['channel_occupied'] }], { webhookRetryWindowMs: 300 });
    const client = pusherClient(herald);
    await subscribed(client, 'doomed');
    await until(() => herald.herald.stats.webhookEventsDropped.get('expired') === 1, 'expiry', 5000);
    expect(receiver.requests.length).toBeGreaterThan(1);
  });

  it('on shutdown, a request waiting for its next retry is tried again at once', async () => {
    receiver = await startWebhookReceiver(CREDS);
    let up = false;
    receiver.respond = () => (up ? 200 : 503);
    const herald = await start([{ url: receiver.url, events: ['channel_occupied'] }], { webhookBackoffMs: 60_000, webhookBackoffMaxMs: 60_000, shutdownGracePeriod: 3 });
    const client = pusherClient(herald);
    await subscribed(client, 'news');
    await until(() => herald.herald.stats.webhookRetries === 1, 'the first attempt to fail');
    up = true;
    await herald.stop();
    h = undefined;
    expect(receiver.events()).toEqual([{ name: 'channel_occupied', channel: 'news' }]);
  });

  it('on shutdown, held and queued webhooks go out within the grace period', async () => {
    receiver = await startWebhookReceiver(CREDS);
    const herald = await start([{ url: receiver.url }], { webhookLeaveDelayMs: 60_000, webhookBatchMs: 60_000, shutdownGracePeriod: 3 });
    const client = pusherClient(herald);
    await subscribed(client, 'news');
    await sleep(100);
    expect(receiver.requests).toHaveLength(0);
    await herald.stop();
    h = undefined;
    expect(receiver.events()).toEqual([
      { name: 'channel_occupied', channel: 'news' },
      { name: 'channel_vacated', channel: 'news' },
    ]);
  });
});
