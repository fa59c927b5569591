// Laravel Echo 2.5's socket.io connector (socket.io-client 4) against a real Herald, next to Echo /
// pusher-js clients of the same channels: events from the REST API (as Laravel's pusher driver
// sends them), /api/broadcast and pusher-js whispers; private and presence channels authorized by a
// Laravel-shaped /broadcasting/auth in the pusher and the redis broadcaster's reply formats.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connected, disconnectAll, echoClient, pusherOf, recorder, sleep, type Recorder } from '../helpers/clients.js';
import type { LifecycleEvent } from '../../src/events/lifecycle.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { sessionHeaders, startLaravelAuth, type LaravelAuth, type LaravelUser } from '../helpers/laravel-auth.js';
import { laravelBroadcast, nodePusher } from '../helpers/laravel-broadcast.js';
import { closeSocketIoClients, sioClient, sioConnected, sioListen, socketIoEcho, socketOf, TRANSPORTS, untilSubscribers, type Transport } from '../helpers/socketio.js';

const USERS: Record<string, LaravelUser> = {
  ada: { id: 5, name: 'Ada' },
  bob: { id: 7, name: 'Bob' },
};

// routes/channels.php
const CHANNELS = {
  'commerce.{id}': (user: LaravelUser, id: string) => user.id == Number(id),
  'room.{id}': () => true,
  'chat.{id}': (user: LaravelUser) => ({ id: user.id, name: user.name }),
};

const API_KEY = 'broadcast-key';

let pusherAuth: LaravelAuth;
let redisAuth: LaravelAuth;
let h: TestHerald;

beforeAll(async () => {
  pusherAuth = await startLaravelAuth({ users: USERS, channels: CHANNELS });
  redisAuth = await startLaravelAuth({ users: USERS, channels: CHANNELS, broadcaster: 'redis' });
  h = await startHerald({ app: { socketIo: true, authEndpoint: pusherAuth.authEndpoint, apiKeys: [API_KEY] } });
});
afterEach(async () => {
  closeSocketIoClients();
  disconnectAll();
  await waitFor(() => h.herald.adapter.connectionCount() === 0, 'every client gone');
});
afterAll(async () => {
  await h?.stop();
  await pusherAuth?.close();
  await redisAuth?.close();
});

async function waitFor(check: () => boolean, label: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Exactly `count` calls ever, after giving stray ones `ms` to arrive. */
async function callsStay(rec: Recorder<unknown>, count: number, ms = 250): Promise<void> {
  await sleep(ms);
  expect(rec.calls).toHaveLength(count);
}

async function broadcastApi(body: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${h.url}/api/broadcast`, { method: 'POST', headers: { 'X-API-Key': API_KEY, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** A pusher-js Echo (the `reverb` broadcaster) logged in as `who`. */
async function pusherEcho(who: string) {
  const echo = echoClient('reverb', h, pusherAuth, sessionHeaders(who));
  await connected(pusherOf(echo));
  return echo;
}

describe.each(Object.keys(TRANSPORTS))('Echo socket.io connector over %s', (name) => {
  const transports: Transport[] = TRANSPORTS[name]!;
  const echo = async (who?: string) => {
    const e = socketIoEcho(h, { transports, headers: who ? sessionHeaders(who) : {} });
    await waitFor(() => socketOf(e).connected, 'socket.io connect');
    return e;
  };

  it('gets a Pusher-format socket id, counted as a Herald connection', async () => {
    const e = await echo();
    expect(e.socketId()).toMatch(/^\d+\.\d+$/);
    expect(h.herald.adapter.connection(e.socketId()!)).toBeDefined();
    expect(h.herald.adapter.connectionCount()).toBe(1);
  });

  it("Echo.channel('orders').listen('OrderShipped') receives REST and /api/broadcast events", async () => {
    const e = await echo();
    const got = recorder<unknown>('OrderShipped');
    e.channel('orders').listen('OrderShipped', got.fn);
    await untilSubscribers(h, 'orders', 1);
    await laravelBroadcast(h, { channels: ['orders'], event: 'App\\Events\\OrderShipped', payload: { order: { id: 5 } } });
    expect(await got.next()).toEqual({ order: { id: 5 } });

    const reply = await broadcastApi({ channel: 'orders', event: 'App\\Events\\OrderShipped', data: { order: { id: 6 } } });
    expect(reply).toEqual({ status: 200, body: { success: true, message: 'Message broadcasted successfully', recipients: 1 } });
    expect(await got.next()).toEqual({ order: { id: 6 } });
  });

  it('a pusher-js subscriber and a Socket.IO subscriber of one channel both get one publish, counted together', async () => {
    const e = await echo();
    const p = await pusherEcho('bob');
    const sio = recorder<unknown>('sio');
    const pjs = recorder<unknown>('pusher-js');
    e.channel('news').listen('.headline', sio.fn);
    p.channel('news').listen('.headline', pjs.fn);
    await untilSubscribers(h, 'news', 2);
    const rest = await nodePusher(h).get({ path: '/channels/news', params: { info: 'subscription_count' } });
    expect(await rest.json()).toEqual({ occupied: true, subscription_count: 2 });
    await nodePusher(h).trigger('news', 'headline', { title: 'Herald speaks Socket.IO' });
    expect(await sio.next()).toEqual({ title: 'Herald speaks Socket.IO' });
    expect(await pjs.next()).toEqual({ title: 'Herald speaks Socket.IO' });
    await callsStay(sio, 1);
  });

  it('private channel: Herald asks the auth endpoint with channel_name, socket_id and only the allowed headers', async () => {
    const e = await echo('ada');
    const got = recorder<unknown>('private');
    e.private('commerce.5').listen('.notification.created', got.fn);
    await untilSubscribers(h, 'private-commerce.5', 1);
    const request = [...pusherAuth.requests].reverse().find((r) => r.channelName === 'private-commerce.5')!;
    expect(request).toMatchObject({ path: '/broadcasting/auth', socketId: e.socketId(), user: '5', status: 200 });
    expect(request.headers.authorization).toBe('Bearer ada');
    expect(request.headers['x-requested-with']).toBe('XMLHttpRequest');
    await laravelBroadcast(h, { channels: ['private-commerce.5'], event: 'notification.created', payload: { text: 'hi' } });
    expect(await got.next()).toEqual({ text: 'hi' });
  });

  it('forwards the session cookie and CSRF headers, and nothing else the client sends', async () => {
    const socket = sioClient(h, { transports, extraHeaders: { Cookie: 'laravel_session=ada', 'X-Evil': 'handshake' } });
    await sioConnected(socket);
    socket.emit('subscribe', { channel: 'private-commerce.5', auth: { headers: { 'X-CSRF-TOKEN': 'csrf', 'X-XSRF-TOKEN': 'xsrf', Host: 'evil.test', 'X-Other': 'no' } } });
    await untilSubscribers(h, 'private-commerce.5', 1);
    const { headers } = [...pusherAuth.requests].reverse().find((r) => r.socketId === socket.id)!;
    expect(headers).toMatchObject({ cookie: 'laravel_session=ada', 'x-csrf-token': 'csrf', 'x-xsrf-token': 'xsrf', host: new URL(pusherAuth.url).host });
    expect(headers['x-evil']).toBeUndefined();
    expect(headers['x-other']).toBeUndefined();
  });

  it('a refused private channel gets subscription_error(channel, 403); the socket stays connected', async () => {
    const e = await echo('ada');
    const errors = sioListen(socketOf(e), 'subscription_error');
    e.private('commerce.9');
    expect(await errors.next()).toEqual(['private-commerce.9', 403]);
    expect(socketOf(e).connected).toBe(true);
    const got = recorder<unknown>('public after refusal');
    e.channel('orders').listen('.ping', got.fn);
    await untilSubscribers(h, 'orders', 1);
    await nodePusher(h).trigger('orders', 'ping', {});
    expect(await got.next()).toEqual({});
  });

  it('presence: here/joining/leaving across Socket.IO and pusher-js members, one list', async () => {
    const ada = await echo('ada');
    const adaHere = recorder<unknown>('ada here');
    const adaJoining = recorder<unknown>('ada joining');
    const adaLeaving = recorder<unknown>('ada leaving');
    ada.join('chat.1').here(adaHere.fn).joining(adaJoining.fn).leaving(adaLeaving.fn);
    expect(await adaHere.next()).toEqual([{ id: 5, name: 'Ada' }]);

    const bob = await pusherEcho('bob');
    const bobHere = recorder<unknown>('bob here');
    const bobLeaving = recorder<unknown>('bob leaving');
    bob.join('chat.1').here(bobHere.fn).leaving(bobLeaving.fn);
    expect(await bobHere.next()).toEqual(expect.arrayContaining([{ id: 5, name: 'Ada' }, { id: 7, name: 'Bob' }]));
    expect(await adaJoining.next()).toEqual({ id: 7, name: 'Bob' });
    const users = await nodePusher(h).get({ path: '/channels/presence-chat.1/users' });
    expect((await users.json()).users).toEqual(expect.arrayContaining([{ id: '5' }, { id: '7' }]));

    bob.leave('chat.1');
    expect(await adaLeaving.next()).toEqual({ id: 7, name: 'Bob' });
    // A second Socket.IO connection of Ada's is the same member: no joining, no leaving.
    const ada2 = await echo('ada');
    ada2.join('chat.1');
    await untilSubscribers(h, 'presence-chat.1', 2);
    await callsStay(adaJoining, 1);
    ada2.disconnect();
    await untilSubscribers(h, 'presence-chat.1', 1);
    await callsStay(adaLeaving, 1);
  });

  it('Socket.IO joins and leaves raise the lifecycle events webhooks hang on', async () => {
    const events: LifecycleEvent[] = [];
    const off = h.herald.events.on((event) => events.push(event));
    try {
      const ada = await echo('ada');
      const here = recorder<unknown>('here');
      ada.join('chat.7').here(here.fn);
      await here.next();
      socketOf(ada).disconnect();
      await waitFor(() => events.some((e) => e.type === 'channel_vacated'), 'channel_vacated');
      expect(events.filter((e) => 'channel' in e && e.channel === 'presence-chat.7').map((e) => e.type)).toEqual([
        'channel_occupied',
        'member_added',
        'member_removed',
        'channel_vacated',
      ]);
      expect(events).toContainEqual({ type: 'member_added', appId: 'app-id', channel: 'presence-chat.7', userId: '5' });
    } finally {
      off();
    }
  });

  it('a Socket.IO member leaving (disconnect) reaches pusher-js as member_removed with its info', async () => {
    const bob = await pusherEcho('bob');
    const left = recorder<unknown>('bob leaving');
    const joined = recorder<unknown>('bob joining');
    bob.join('chat.2').joining(joined.fn).leaving(left.fn);
    await untilSubscribers(h, 'presence-chat.2', 1);
    const ada = await echo('ada');
    ada.join('chat.2');
    expect(await joined.next()).toEqual({ id: 5, name: 'Ada' });
    socketOf(ada).disconnect();
    expect(await left.next()).toEqual({ id: 5, name: 'Ada' });
  });

  it('whispers go both ways between Socket.IO and pusher-js, never back to the sender', async () => {
    const ada = await echo('ada');
    const bob = await pusherEcho('bob');
    const adaGot = recorder<unknown>('ada typing');
    const bobGot = recorder<unknown>('bob typing');
    ada.private('room.1').listenForWhisper('typing', adaGot.fn);
    bob.private('room.1').listenForWhisper('typing', bobGot.fn);
    await untilSubscribers(h, 'private-room.1', 2);
    (ada.private('room.1') as unknown as { whisper(e: string, d: unknown): void }).whisper('typing', { name: 'Ada' });
    expect(await bobGot.next()).toEqual({ name: 'Ada' });
    (bob.private('room.1') as unknown as { whisper(e: string, d: unknown): void }).whisper('typing', { name: 'Bob' });
    expect(await adaGot.next()).toEqual({ name: 'Bob' });
    await callsStay(adaGot, 1);
    await callsStay(bobGot, 1, 0);
  });

  it("toOthers(): X-Socket-ID of the Socket.IO sender keeps it out, everyone else gets the event", async () => {
    const sender = await echo('ada');
    const other = await echo('bob');
    const p = await pusherEcho('bob');
    const senderGot = recorder<unknown>('sender');
    const otherGot = recorder<unknown>('other');
    const pusherGot = recorder<unknown>('pusher-js');
    sender.channel('orders').listen('OrderShipped', senderGot.fn);
    other.channel('orders').listen('OrderShipped', otherGot.fn);
    p.channel('orders').listen('OrderShipped', pusherGot.fn);
    await untilSubscribers(h, 'orders', 3);
    // broadcast(new OrderShipped)->toOthers() with the request's X-Socket-ID.
    await laravelBroadcast(h, { channels: ['orders'], event: 'App\\Events\\OrderShipped', payload: { id: 1, socket: sender.socketId() } });
    expect(await otherGot.next()).toEqual({ id: 1 });
    expect(await pusherGot.next()).toEqual({ id: 1 });
    await callsStay(senderGot, 0);
    // The same through /api/broadcast's socket_id.
    await broadcastApi({ channel: 'orders', event: 'App\\Events\\OrderShipped', data: { id: 2 }, socket_id: sender.socketId() });
    expect(await otherGot.next()).toEqual({ id: 2 });
    await callsStay(senderGot, 0);
  });
});

describe("socket.io's default transports: long-polling, then the upgrade to WebSocket", () => {
  it('channels joined while polling keep receiving after the upgrade, each event once', async () => {
    const e = socketIoEcho(h, { transports: ['polling', 'websocket'], headers: sessionHeaders('ada') });
    const socket = socketOf(e);
    const got = recorder<unknown>('orders');
    const whispers = recorder<unknown>('typing');
    e.channel('orders').listen('.shipped', got.fn);
    e.private('room.9').listenForWhisper('typing', whispers.fn);
    await untilSubscribers(h, 'orders', 1);
    await nodePusher(h).trigger('orders', 'shipped', { n: 1 });
    expect(await got.next()).toEqual({ n: 1 });
    await waitFor(() => socket.io.engine.transport.name === 'websocket', 'upgrade to websocket');
    await untilSubscribers(h, 'private-room.9', 1);
    await nodePusher(h).trigger('orders', 'shipped', { n: 2 });
    expect(await got.next()).toEqual({ n: 2 });
    const bob = await pusherEcho('bob');
    bob.private('room.9');
    await untilSubscribers(h, 'private-room.9', 2);
    (bob.private('room.9') as unknown as { whisper(e: string, d: unknown): void }).whisper('typing', { who: 'Bob' });
    expect(await whispers.next()).toEqual({ who: 'Bob' });
    await callsStay(got, 2);
    await callsStay(whispers, 1, 0);
  });
});

describe('redis broadcaster replies', () => {
  let redisHerald: TestHerald;
  beforeAll(async () => {
    redisHerald = await startHerald({ app: { socketIo: true, authEndpoint: redisAuth.authEndpoint } });
  });
  afterAll(async () => {
    closeSocketIoClients();
    await redisHerald?.stop();
  });

  it('`true` authorizes a private channel, `{channel_data}` a presence member; `403` refuses', async () => {
    const ada = socketIoEcho(redisHerald, { headers: sessionHeaders('ada') });
    const got = recorder<unknown>('private');
    ada.private('commerce.5').listen('.paid', got.fn);
    const here = recorder<unknown>('here');
    ada.join('chat.3').here(here.fn);
    expect(await here.next()).toEqual([{ id: 5, name: 'Ada' }]);
    await untilSubscribers(redisHerald, 'private-commerce.5', 1);
    await nodePusher(redisHerald).trigger('private-commerce.5', 'paid', { amount: 3 });
    expect(await got.next()).toEqual({ amount: 3 });
    expect(redisAuth.requests.find((r) => r.channelName === 'private-commerce.5')?.status).toBe(200);

    const errors = sioListen(socketOf(ada), 'subscription_error');
    ada.private('commerce.9');
    expect(await errors.next()).toEqual(['private-commerce.9', 403]);
  });
});
