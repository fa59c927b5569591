// Issue #12, bounds: every Socket.IO packet is held to its own app's maxMessageSize (refused with
// an error, the socket stays), the node's maxPayloadLength drops the connection (WebSocket frame or
// long-polling request body), and what waits for a long-polling client that stops polling is bounded
// by maxBackpressure. The server keeps serving everyone else throughout.
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connected, disconnectAll, listen, pusherClient, sleep, subscribed, until } from '../helpers/clients.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { nodePusher } from '../helpers/laravel-broadcast.js';
import { publish } from '../ws/helpers.js';
import { closeSocketIoClients, sioClient, sioConnected, sioListen, type Transport } from '../helpers/socketio.js';

const SMALL = { id: 'small-app', key: 'small-key', secret: 'small-secret', socketIo: true, maxMessageSize: 1024 };
const LARGE = { id: 'large-app', key: 'large-key', secret: 'large-secret', socketIo: true, maxMessageSize: 16_384 };
const NODE_CAP = 64 * 1024;
const QUEUE_CAP = 64 * 1024;

let h: TestHerald;

beforeAll(async () => {
  h = await startHerald({ server: { maxPayloadLength: NODE_CAP, maxBackpressure: QUEUE_CAP }, apps: [SMALL, LARGE] });
});
afterEach(async () => {
  closeSocketIoClients();
  disconnectAll();
  await until(() => h.herald.adapter.connectionCount() === 0, 'every client gone', 5000);
});
afterAll(() => h?.stop());

const subscribers = async (appId: string, channel: string) => (await h.herald.adapter.channelInfo(appId, channel)).subscriptionCount;

async function untilSubscribers(appId: string, channel: string, count: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await subscribers(appId, channel)) !== count) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} subscribers of ${appId} ${channel}`);
    await sleep(10);
  }
}
const nullErrors = () => h.herald.stats.errors.get('null') ?? 0;
/** A subscribe carrying `pad` bytes of a field Herald ignores: only its size can refuse it. */
const padded = (channel: string, pad: number) => ({ channel, pad: 'x'.repeat(pad) });

describe.each([['websocket'], ['polling']] as [Transport][])('over %s', (transport) => {
  it("a packet over its own app's maxMessageSize is refused with herald:error and counted; the socket stays; a larger app takes it", async () => {
    const small = sioClient(h, { transports: [transport] });
    const large = sioClient(h, { transports: [transport] }, `/${LARGE.key}`);
    await Promise.all([sioConnected(small), sioConnected(large)]);
    const errors = sioListen(small, 'herald:error');
    const before = nullErrors();

    small.emit('subscribe', padded('orders', 2000));
    large.emit('subscribe', padded('orders', 2000));
    expect(await errors.next()).toEqual([{ code: null, message: 'Message exceeds 1024 bytes' }]);
    expect(nullErrors()).toBe(before + 1);
    await untilSubscribers(LARGE.id, 'orders', 1);
    expect(await subscribers(SMALL.id, 'orders')).toBe(0);

    // Still connected and served.
    const shipped = sioListen(small, 'shipped');
    small.emit('subscribe', padded('orders', 10));
    await untilSubscribers(SMALL.id, 'orders', 1);
    await nodePusher(h, { app: { appId: SMALL.id, key: SMALL.key, secret: SMALL.secret } }).trigger('orders', 'shipped', { id: 1 });
    expect(await shipped.next()).toEqual(['orders', { id: 1 }]);
    expect(small.connected).toBe(true);
    expect(errors.calls).toHaveLength(1);
  });

  it("a packet over the node's maxPayloadLength drops that connection only", async () => {
    const bystander = sioClient(h, { transports: [transport] });
    const big = sioClient(h, { transports: [transport] });
    await Promise.all([sioConnected(bystander), sioConnected(big)]);
    const gone = new Promise<string>((resolve) => big.on('disconnect', resolve));
    big.emit('subscribe', padded('orders', NODE_CAP));
    expect(await gone).toMatch(/^transport (close|error)$/);
    await until(() => h.herald.adapter.connectionCount() === 1, 'the big client gone', 5000);
    const shipped = sioListen(bystander, 'shipped');
    bystander.emit('subscribe', { channel: 'orders' });
    await untilSubscribers(SMALL.id, 'orders', 1);
    await nodePusher(h, { app: { appId: SMALL.id, key: SMALL.key, secret: SMALL.secret } }).trigger('orders', 'shipped', { id: 2 });
    expect(await shipped.next()).toEqual(['orders', { id: 2 }]);
  });
});

/** An Engine.IO 4 long-polling session driven by hand, so that it can stop polling. */
async function pollingSession(): Promise<{ sid: string; post(body: string): Promise<number>; poll(): Promise<{ status: number; body: string }> }> {
  const base = `http://127.0.0.1:${h.port}/socket.io/?EIO=4&transport=polling`;
  const open = await (await fetch(base)).text();
  const sid = (JSON.parse(open.slice(1)) as { sid: string }).sid;
  const url = `${base}&sid=${encodeURIComponent(sid)}`;
  const post = async (body: string) => (await fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'text/plain;charset=UTF-8' } })).status;
  const poll = async () => {
    const res = await fetch(url);
    return { status: res.status, body: await res.text() };
  };
  return { sid, post, poll };
}

it('a long-polling client that stops polling is closed once more than maxBackpressure bytes wait for it; others get everything', async () => {
  const session = await pollingSession();
  expect(await session.post('40')).toBe(200);
  expect((await session.poll()).body).toMatch(/^40\{"sid":"\d+\.\d+"\}$/);
  expect(await session.post('42["subscribe",{"channel":"orders"}]')).toBe(200);
  const watcher = sioClient(h, { transports: ['websocket'] });
  await sioConnected(watcher);
  const seen = sioListen(watcher, 'shipped');
  watcher.emit('subscribe', { channel: 'orders' });
  const pusher = pusherClient(h, undefined, {}, {}, SMALL.key);
  await connected(pusher);
  const pusherSeen = listen(await subscribed(pusher, 'orders'), 'shipped');
  await untilSubscribers(SMALL.id, 'orders', 3);

  // The polling session never polls again: 12 events of 8 KB (96 KB) are more than the 64 KB it may have waiting.
  const rest = nodePusher(h, { app: { appId: SMALL.id, key: SMALL.key, secret: SMALL.secret } });
  const before = h.herald.stats.socketIoOverflows;
  for (let i = 0; i < 12; i++) await rest.trigger('orders', 'shipped', { i, pad: 'p'.repeat(8000) });
  await until(() => h.herald.adapter.connectionCount() === 2, 'the silent poller closed', 5000);
  expect(h.herald.stats.socketIoOverflows).toBe(before + 1);
  expect((await session.poll()).status).toBe(400);
  await until(() => seen.calls.length === 12 && pusherSeen.calls.length === 12, 'every event to the others', 5000);
  await sleep(100);
  expect(seen.calls.map((args) => (args[1] as { i: number }).i)).toEqual([...Array(12).keys()]);
});

it('a WebSocket Socket.IO client that stops reading is closed past maxBackpressure, as a Pusher client is; a reader gets every event', async () => {
  const slow = new WebSocket(`ws://127.0.0.1:${h.port}/socket.io/?EIO=4&transport=websocket`);
  const closed = new Promise<void>((resolve) => slow.on('close', () => resolve()));
  const packets: string[] = [];
  slow.on('message', (data) => packets.push(String(data)));
  await new Promise((resolve, reject) => slow.once('open', resolve).once('error', reject));
  slow.send('40');
  await until(() => packets.some((p) => p.startsWith('40{')), 'namespace connected', 5000);
  slow.send('42["subscribe",{"channel":"firehose"}]');
  const fast = sioClient(h, { transports: ['websocket'] });
  await sioConnected(fast);
  const ticks = sioListen(fast, 'tick');
  fast.emit('subscribe', { channel: 'firehose' });
  await untilSubscribers(SMALL.id, 'firehose', 2);

  (slow as unknown as { _socket: Socket })._socket.pause();
  const app = h.config.apps[0]!;
  const payload = 'x'.repeat(32 * 1024);
  const MAX_EVENTS = 4000; // 128 MB: far beyond any kernel buffer
  let sent = 0;
  while (h.herald.adapter.connectionCount() === 2 && sent < MAX_EVENTS) {
    publish({ ...h, app }, 'firehose', 'tick', `${sent}`.padEnd(payload.length, 'x'));
    sent++;
    const [channel, data] = await ticks.next();
    expect([channel, String(data).slice(0, String(sent - 1).length)]).toEqual(['firehose', `${sent - 1}`]);
  }
  expect(h.herald.adapter.connectionCount(), `slow client still connected after ${sent} events`).toBe(1);
  (slow as unknown as { _socket: Socket })._socket.resume();
  await closed;
  expect(fast.connected).toBe(true);
});
