/**
 * The HTTP API end to end: the official `pusher` Node SDK (as Laravel's and most backends'
 * servers call it) against a real Herald, with real pusher-js clients on the receiving side.
 */
import Pusher from 'pusher';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Channel } from 'pusher-js';
import { connected, disconnectAllAndWait, listen, pusherClient, recorder, subscribed, until } from '../helpers/clients.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { sessionHeaders, startLaravelAuth, VECTOR_MASTER_KEY, type LaravelAuth } from '../helpers/laravel-auth.js';


let h: TestHerald;
let auth: LaravelAuth;
let sdk: Pusher;

beforeAll(async () => {
  h = await startHerald();
  auth = await startLaravelAuth({
    users: { ada: { id: 7, name: 'Ada' }, bob: { id: 8, name: 'Bob' } },
    encryptionMasterKeyBase64: VECTOR_MASTER_KEY,
    channels: {
      'room.{id}': (user) => ({ name: user.name }),
      'orders.{id}': () => true,
      'vault.{id}': () => true,
    },
  });
  sdk = new Pusher({
    appId: 'app-id',
    key: 'app-key',
    secret: 'app-secret',
    host: '127.0.0.1',
    port: String(h.port),
    useTLS: false,
    encryptionMasterKeyBase64: VECTOR_MASTER_KEY,
  });
});
afterEach(async () => {
  await disconnectAllAndWait(h);
});
afterAll(async () => {
  await h?.stop();
  await auth?.close();
});

const client = (user?: string) => pusherClient(h, auth, user ? sessionHeaders(user) : {});


const body = async (res: { json(): Promise<unknown> }) => res.json();

describe('trigger', () => {
  it('delivers to one channel and to several, answering {}', async () => {
    const p = client();
    const [a, b] = await Promise.all([subscribed(p, 'news'), subscribed(p, 'sports')]);
    const onA = listen(a, 'update');
    const onB = listen(b, 'update');
    const res = await sdk.trigger('news', 'update', { headline: 'hi' });
    expect(res.status).toBe(200);
    expect(await body(res)).toEqual({});
    expect(await onA.next()).toEqual({ headline: 'hi' });
    await sdk.trigger(['news', 'sports'], 'update', 'plain text');
    expect(await onA.next()).toBe('plain text');
    expect(await onB.next()).toBe('plain text');
  });

  it('excludes the socket_id connection', async () => {
    const [sender, other] = [client(), client()];
    const senderId = await connected(sender);
    const [s, o] = await Promise.all([subscribed(sender, 'chat'), subscribed(other, 'chat')]);
    const toSender = listen(s, 'msg');
    const toOther = listen(o, 'msg');
    await sdk.trigger('chat', 'msg', { n: 1 }, { socket_id: senderId });
    expect(await toOther.next()).toEqual({ n: 1 });
    await toSender.none(300);
  });

  it('delivers to private and presence channels and returns info per channel', async () => {
    const [ada, bob] = [client('ada'), client('bob')];
    const [room] = await Promise.all([subscribed(ada, 'presence-room.1'), subscribed(bob, 'presence-room.1')]);
    const orders = await subscribed(ada, 'private-orders.5');
    const onRoom = listen(room, 'said');
    const onOrders = listen(orders, 'shipped');
    const res = await sdk.trigger(['presence-room.1', 'private-orders.5', 'empty'], 'said', 'x', { info: 'user_count,subscription_count' });
    expect(await body(res)).toEqual({
      channels: {
        'presence-room.1': { user_count: 2, subscription_count: 2 },
        'private-orders.5': { subscription_count: 1 },
        empty: { subscription_count: 0 },
      },
    });
    expect(await onRoom.next()).toBe('x');
    await sdk.trigger('private-orders.5', 'shipped', { id: 5 });
    expect(await onOrders.next()).toEqual({ id: 5 });
  });

  it('delivers to an end-to-end encrypted channel, decrypted by pusher-js', async () => {
    const p = client('ada');
    const vault = await subscribed(p, 'private-encrypted-vault.1');
    const got = listen(vault, 'secret');
    await sdk.trigger('private-encrypted-vault.1', 'secret', { pin: 1234 });
    expect(await got.next()).toEqual({ pin: 1234 });
  });

  it('reports refusals as RequestError with the status and JSON body', async () => {
    const p = client();
    const news = await subscribed(p, 'news');
    const any = recorder('any event');
    news.bind_global(any.fn);
    await expect(sdk.trigger('news', 'pusher:fake', {})).rejects.toMatchObject({
      status: 400,
      body: JSON.stringify({ error: "Event names starting with 'pusher:' are reserved" }),
    });
    await expect(sdk.trigger('news', 'big', 'x'.repeat(10_241))).rejects.toMatchObject({ status: 413 });
    await any.none(300);
  });
});

describe('triggerBatch', () => {
  it('delivers every event and answers info index-aligned', async () => {
    const ada = client('ada');
    const room = await subscribed(ada, 'presence-room.2');
    const news = await subscribed(ada, 'news');
    const onRoom = listen(room, 'e2');
    const onNews = listen(news, 'e1');
    const res = await sdk.triggerBatch([
      { channel: 'news', name: 'e1', data: { x: 1 } },
      { channel: 'presence-room.2', name: 'e2', data: 'str', info: 'user_count' },
    ]);
    expect(await body(res)).toEqual({ batch: [{}, { user_count: 1 }] });
    expect(await onNews.next()).toEqual({ x: 1 });
    expect(await onRoom.next()).toBe('str');
    const plain = await sdk.triggerBatch([{ channel: 'news', name: 'e1', data: 'again' }]);
    expect(await body(plain)).toEqual({});
    expect(await onNews.next()).toBe('again');
  });
});

describe('get', () => {
  it('lists channels with every path and info option', async () => {
    const [ada, bob] = [client('ada'), client('bob')];
    await Promise.all([subscribed(ada, 'presence-room.g1'), subscribed(bob, 'presence-room.g1'), subscribed(ada, 'presence-room.g2')]);
    await Promise.all([subscribed(bob, 'private-orders.9'), subscribed(ada, 'cache-prices'), subscribed(bob, 'cache-prices')]);

    const all = (await body(await sdk.get({ path: '/channels' }))) as { channels: Record<string, object> };
    expect(all.channels).toMatchObject({ 'presence-room.g1': {}, 'presence-room.g2': {}, 'private-orders.9': {}, 'cache-prices': {} });

    const presence = await sdk.get({ path: '/channels', params: { filter_by_prefix: 'presence-room.g', info: 'user_count' } });
    expect(await body(presence)).toEqual({ channels: { 'presence-room.g1': { user_count: 2 }, 'presence-room.g2': { user_count: 1 } } });

    const counts = await sdk.get({ path: '/channels', params: { filter_by_prefix: 'cache-p', info: 'subscription_count' } });
    expect(await body(counts)).toEqual({ channels: { 'cache-prices': { subscription_count: 2 } } });

    await expect(sdk.get({ path: '/channels', params: { info: 'user_count' } })).rejects.toMatchObject({ status: 400 });

    const lobby = await sdk.get({ path: '/channels/presence-room.g1', params: { info: 'user_count,subscription_count' } });
    expect(await body(lobby)).toEqual({ occupied: true, user_count: 2, subscription_count: 2 });
    expect(await body(await sdk.get({ path: '/channels/nobody-here' }))).toEqual({ occupied: false });
    await expect(sdk.get({ path: '/channels/private-orders.9', params: { info: 'user_count' } })).rejects.toMatchObject({ status: 400 });

    expect(await body(await sdk.get({ path: '/channels/cache-prices', params: { info: 'cache' } }))).toEqual({ occupied: true, cache: null });
    await sdk.trigger('cache-prices', 'tick', { price: 1 });
    const cached = (await body(await sdk.get({ path: '/channels/cache-prices', params: { info: 'cache,subscription_count' } }))) as any;
    expect(cached).toMatchObject({ occupied: true, subscription_count: 2, cache: { data: '{"price":1}' } });
    expect(cached.cache.ttl).toBeGreaterThan(1790);
    expect(cached.cache.ttl).toBeLessThanOrEqual(1800);

    const users = await sdk.get({ path: '/channels/presence-room.g1/users' });
    expect(((await body(users)) as { users: { id: string }[] }).users.sort((a, b) => a.id.localeCompare(b.id))).toEqual([{ id: '7' }, { id: '8' }]);
    await expect(sdk.get({ path: '/channels/cache-prices/users' })).rejects.toMatchObject({ status: 400 });

    const conns = (await body(await sdk.get({ path: '/connections' }))) as { connections: number };
    expect(conns.connections).toBeGreaterThanOrEqual(2);
  });

  it('a new cache-channel subscriber first gets the event published over REST', async () => {
    await sdk.trigger('cache-quotes', 'quote', { q: 42 });
    const p = client();
    const channel = p.subscribe('cache-quotes');
    const got = listen(channel, 'quote');
    expect(await got.next()).toEqual({ q: 42 });
  });
});

describe('users', () => {
  async function signedIn(user: string, id: string) {
    const p = client(user);
    await connected(p);
    p.signin();
    await until(() => h.herald.adapter.isOnline('app-id', id), `${user} signed in`);
    return p;
  }

  it('sendToUser reaches the signed-in user, whose channel is never listed', async () => {
    const p = await signedIn('ada', '7');
    const got = recorder('user event');
    p.user.bind('note', got.fn);
    // pusher-js subscribes to #server-to-user-7 right after signin_success.
    await eventually(async () => (await h.herald.adapter.channelInfo('app-id', '#server-to-user-7')).occupied, 'user channel subscribed');
    const res = await sdk.sendToUser('7', 'note', { hello: 'ada' });
    expect(res.status).toBe(200);
    expect(await got.next()).toEqual({ hello: 'ada' });
    const listed = (await body(await sdk.get({ path: '/channels' }))) as { channels: Record<string, unknown> };
    expect(Object.keys(listed.channels).filter((name) => name.startsWith('#'))).toEqual([]);
  });

  it('terminateUserConnections closes only that user’s signed-in connections (4009, no reconnect)', async () => {
    const ada1 = await signedIn('ada', '7');
    const ada2 = client('ada');
    await connected(ada2);
    ada2.signin();
    await eventually(async () => (await h.herald.adapter.userConnections('app-id', '7')).length === 2, 'two ada connections');
    const bob = await signedIn('bob', '8');
    // Ada also present without signing in on a third connection: not affected.
    const adaPresence = client('ada');
    await subscribed(adaPresence, 'presence-room.3');

    const errors = recorder<{ type: string; data: { code: number } }>('error');
    ada1.connection.bind('error', errors.fn);
    const res = await sdk.terminateUserConnections('7');
    expect(res.status).toBe(200);
    expect(await body(res)).toEqual({});
    await until(() => ada1.connection.state === 'disconnected' && ada2.connection.state === 'disconnected', 'ada disconnected');
    expect((await errors.next()).data.code).toBe(4009);
    expect(bob.connection.state).toBe('connected');
    expect(adaPresence.connection.state).toBe('connected');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(ada1.connection.state).toBe('disconnected');
  });
});

/** Polls an async condition. */
async function eventually(check: () => Promise<boolean>, label: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('metrics', () => {
  it('counts every call by endpoint and status', () => {
    const calls = h.herald.stats.httpCalls;
    expect(calls.get('events 200')).toBeGreaterThan(0);
    expect(calls.get('events 400')).toBeGreaterThan(0);
    expect(calls.get('events 413')).toBeGreaterThan(0);
    expect(calls.get('batch_events 200')).toBeGreaterThan(0);
    expect(calls.get('channel 200')).toBeGreaterThan(0);
  });
});
