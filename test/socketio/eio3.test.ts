// socket.io-client 2.x (Engine.IO 3), what laravel-echo-server front ends run, with
// HERALD_SOCKETIO_EIO3 on: Echo's socket.io connector over WebSocket and long-polling.
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Echo from 'laravel-echo';
import { connected, disconnectAll, echoClient, pusherOf, recorder, sleep } from '../helpers/clients.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { sessionHeaders, startLaravelAuth, type LaravelAuth, type LaravelUser } from '../helpers/laravel-auth.js';
import { laravelBroadcast } from '../helpers/laravel-broadcast.js';
import { untilSubscribers } from '../helpers/socketio.js';

// The 2.x client is CommonJS without typings of its own.
const ioV2 = createRequire(import.meta.url)('socket.io-client-v2') as (url: string, options: object) => { connected: boolean; id: string; disconnect(): void; on(event: string, fn: (...args: unknown[]) => void): void };

const USERS: Record<string, LaravelUser> = { ada: { id: 5, name: 'Ada' }, bob: { id: 7, name: 'Bob' } };
const CHANNELS = { 'room.{id}': () => true, 'chat.{id}': (user: LaravelUser) => ({ id: user.id, name: user.name }) };

type Whisperer = { whisper(event: string, data: unknown): void };

let auth: LaravelAuth;
let pusherAuth: LaravelAuth;
let h: TestHerald;
const echoes: Echo<'socket.io'>[] = [];

beforeAll(async () => {
  auth = await startLaravelAuth({ users: USERS, channels: CHANNELS, broadcaster: 'redis' });
  pusherAuth = await startLaravelAuth({ users: USERS, channels: CHANNELS });
  h = await startHerald({ server: { socketIoEio3: true }, app: { socketIo: true, authEndpoint: auth.authEndpoint, userEndpoint: `${auth.url}/api/user` } });
});
afterEach(async () => {
  for (const echo of echoes.splice(0)) echo.disconnect();
  disconnectAll();
  const deadline = Date.now() + 5000;
  while (h.herald.adapter.connectionCount() > 0 && Date.now() < deadline) await sleep(10);
});
afterAll(async () => {
  await h?.stop();
  await auth?.close();
  await pusherAuth?.close();
});

function echoV2(who: string, transports: string[]): Echo<'socket.io'> {
  const echo = new Echo({
    broadcaster: 'socket.io',
    host: `http://127.0.0.1:${h.port}`,
    client: ioV2 as never,
    auth: { headers: sessionHeaders(who) },
    transports,
    reconnection: false,
    forceNew: true,
  });
  echoes.push(echo);
  return echo;
}

describe.each([['websocket'], ['polling']])('socket.io-client 2 over %s', (transport) => {
  it('receives REST events on public and private channels, presence with a pusher-js member, whispers', async () => {
    const ada = echoV2('ada', [transport]);
    const orders = recorder<unknown>('orders');
    const room = recorder<unknown>('room');
    const here = recorder<unknown>('here');
    const joining = recorder<unknown>('joining');
    const typing = recorder<unknown>('typing');
    ada.channel('orders').listen('.shipped', orders.fn);
    ada.private('room.1').listen('.said', room.fn).listenForWhisper('typing', typing.fn);
    ada.join('chat.1').here(here.fn).joining(joining.fn);
    expect(await here.next()).toEqual([{ id: 5, name: 'Ada' }]);
    await untilSubscribers(h, 'orders', 1);
    await untilSubscribers(h, 'private-room.1', 1);
    await laravelBroadcast(h, { channels: ['orders', 'private-room.1'], event: 'shipped', payload: { id: 1 } });
    expect(await orders.next()).toEqual({ id: 1 });
    await laravelBroadcast(h, { channels: ['private-room.1'], event: 'said', payload: { text: 'hi' } });
    expect(await room.next()).toEqual({ text: 'hi' });

    // Bob is a pusher-js Echo of the same app, authorized by the pusher-driver endpoint.
    const bob = echoClient('reverb', h, pusherAuth, sessionHeaders('bob'));
    await connected(pusherOf(bob));
    const bobTyping = recorder<unknown>('bob typing');
    bob.join('chat.1');
    bob.private('room.1').listenForWhisper('typing', bobTyping.fn);
    expect(await joining.next()).toEqual({ id: 7, name: 'Bob' });
    await untilSubscribers(h, 'private-room.1', 2);
    (bob.private('room.1') as unknown as Whisperer).whisper('typing', { who: 'Bob' });
    expect(await typing.next()).toEqual({ who: 'Bob' });
    (ada.private('room.1') as unknown as Whisperer).whisper('typing', { who: 'Ada' });
    expect(await bobTyping.next()).toEqual({ who: 'Ada' });
    await sleep(100);
    expect(typing.calls).toHaveLength(1);
  });
});

it("a 2.x client's Echo socketId() is its Herald socket id: toOthers() keeps the 2.x sender out, everyone else gets the event", async () => {
  const sender = echoV2('ada', ['websocket']);
  const other = echoV2('bob', ['polling']);
  const pusher = echoClient('reverb', h, pusherAuth, sessionHeaders('bob'));
  await connected(pusherOf(pusher));
  const senderGot = recorder<unknown>('sender');
  const otherGot = recorder<unknown>('other 2.x');
  const pusherGot = recorder<unknown>('pusher-js');
  sender.channel('orders').listen('.shipped', senderGot.fn);
  other.channel('orders').listen('.shipped', otherGot.fn);
  pusher.channel('orders').listen('.shipped', pusherGot.fn);
  await untilSubscribers(h, 'orders', 3);
  const socketId = sender.socketId()!;
  expect(socketId).toMatch(/^\d+\.\d+$/);
  // broadcast(...)->toOthers(): pusher-http-php sends the request's X-Socket-ID as socket_id.
  const [reply] = await laravelBroadcast(h, { channels: ['orders'], event: 'shipped', payload: { id: 9, socket: socketId } });
  expect(reply!.status).toBe(200);
  expect(await otherGot.next()).toEqual({ id: 9 });
  expect(await pusherGot.next()).toEqual({ id: 9 });
  // Whatever the sender would have got arrives before a later event on the same socket.
  await laravelBroadcast(h, { channels: ['orders'], event: 'shipped', payload: { id: 10 } });
  expect(await senderGot.next()).toEqual({ id: 10 });
  expect(senderGot.calls).toHaveLength(1);
});

it('a 2.x token client (?token=) gets its private-user.{id} notifications; a bad token gets the reason', async () => {
  const socket = ioV2(`http://127.0.0.1:${h.port}`, { query: { token: 'ada' }, transports: ['websocket'], reconnection: false, forceNew: true });
  const got = recorder<unknown[]>('notification');
  socket.on('notification.sent', (...args) => got.fn(args));
  try {
    await untilSubscribers(h, 'private-user.5', 1);
    await laravelBroadcast(h, { channels: ['private-user.5'], event: 'notification.sent', payload: { title: 'Hi' } });
    expect(await got.next()).toEqual(['private-user.5', { title: 'Hi' }]);
  } finally {
    socket.disconnect();
  }
  const refused = ioV2(`http://127.0.0.1:${h.port}`, { query: { token: 'nobody' }, transports: ['websocket'], reconnection: false, forceNew: true });
  const error = await new Promise<unknown>((resolve) => refused.on('error', resolve));
  refused.disconnect();
  expect(error).toEqual({ code: 4009, message: 'Token refused: user endpoint answered 401' });
});

it('without HERALD_SOCKETIO_EIO3 a 2.x client is refused', async () => {
  const plain = await startHerald({ app: { socketIo: true } });
  try {
    const socket = ioV2(`http://127.0.0.1:${plain.port}`, { transports: ['polling'], reconnection: false, forceNew: true });
    const error = await new Promise<unknown>((resolve) => socket.on('connect_error', resolve));
    socket.disconnect();
    expect(String(error)).toContain('xhr poll error');
    expect(plain.herald.adapter.connectionCount()).toBe(0);
  } finally {
    await plain.stop();
  }
});
