// What must not take Herald down, nor leave anything behind: clients that vanish during a token
// check or an auth call, slow and silent apps, malformed Socket.IO packets, subscribe floods,
// event names socket.io reserves. A Pusher client on the same server keeps working throughout.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connected, disconnectAll, pusherClient, recorder, sleep, subscribed } from '../helpers/clients.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { sessionHeaders, startLaravelAuth, type LaravelAuth, type LaravelUser } from '../helpers/laravel-auth.js';
import { nodePusher } from '../helpers/laravel-broadcast.js';
import { closeSocketIoClients, sioClient, sioConnected, sioListen, untilSubscribers } from '../helpers/socketio.js';

const USERS: Record<string, LaravelUser> = { ada: { id: 5, name: 'Ada' } };
const AUTH_DELAY_MS = 400;

let slowAuth: LaravelAuth;
/** A user endpoint that answers only when told to. */
let silentUsers: Server;
let releaseUsers: (() => void)[] = [];
let h: TestHerald;

beforeAll(async () => {
  slowAuth = await startLaravelAuth({ users: USERS, channels: { 'room.{id}': () => true }, delayMs: AUTH_DELAY_MS });
  silentUsers = createServer((_req, res) => {
    releaseUsers.push(() => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: 9 }));
    });
  });
  await new Promise<void>((resolve) => silentUsers.listen(0, '127.0.0.1', resolve));
  const usersUrl = `http://127.0.0.1:${(silentUsers.address() as AddressInfo).port}/api/user`;
  h = await startHerald({
    server: { socketIoMaxPendingAuth: 3, socketIoAuthTimeout: 2 },
    apps: [
      { id: 'app-id', key: 'app-key', secret: 'app-secret', socketIo: true, authEndpoint: slowAuth.authEndpoint, maxMessageSize: 2048 },
      { id: 'slow-users', key: 'slow-users-key', secret: 's', socketIo: true, userEndpoint: usersUrl },
      { id: 'pusher-only', key: 'pusher-only-key', secret: 's' },
    ],
  });
});
/** Raw sockets, closed after each test even when it failed half-way. */
const rawSockets = new Set<WebSocket>();

afterEach(async () => {
  for (const ws of rawSockets) ws.terminate();
  rawSockets.clear();
  closeSocketIoClients();
  disconnectAll();
  const deadline = Date.now() + 5000;
  while (h.herald.adapter.connectionCount() > 0 && Date.now() < deadline) await sleep(10);
  expect(h.herald.adapter.connectionCount()).toBe(0);
});
afterAll(async () => {
  await h?.stop();
  await slowAuth?.close();
  for (const release of releaseUsers) release();
  silentUsers?.closeAllConnections();
  silentUsers?.close();
});

/** A Pusher client subscribed to `canary`, proving the server still serves. */
async function canaryStillWorks(): Promise<void> {
  const p = pusherClient(h);
  await connected(p);
  const got = recorder<unknown>('canary');
  (await subscribed(p, 'canary')).bind('tweet', got.fn);
  await nodePusher(h).trigger('canary', 'tweet', { ok: true });
  expect(await got.next()).toEqual({ ok: true });
}

/** A bare Engine.IO v4 WebSocket, connected to the default namespace. */
async function rawSocketIo(): Promise<{ ws: WebSocket; packets: string[]; closed: Promise<void> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${h.port}/socket.io/?EIO=4&transport=websocket`);
  rawSockets.add(ws);
  const packets: string[] = [];
  ws.on('message', (data) => packets.push(String(data)));
  const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send('40');
  const deadline = Date.now() + 5000;
  while (!packets.some((p) => p.startsWith('40{')) && Date.now() < deadline) await sleep(10);
  expect(packets.find((p) => p.startsWith('40{'))).toMatch(/^40\{"sid":"\d+\.\d+"/);
  return { ws, packets, closed };
}

describe('clients that vanish', () => {
  it('a client disconnecting while its channel auth call is in flight leaves no connection and no member', async () => {
    const socket = sioClient(h, { extraHeaders: sessionHeaders('ada'), transports: ['polling'] });
    await sioConnected(socket);
    socket.emit('subscribe', { channel: 'private-room.1' });
    socket.emit('subscribe', { channel: 'presence-room.2' });
    await sleep(50);
    socket.io.engine.close();
    await sleep(AUTH_DELAY_MS + 200);
    expect(h.herald.adapter.connectionCount()).toBe(0);
    expect((await h.herald.adapter.channelInfo('app-id', 'private-room.1')).subscriptionCount).toBe(0);
    expect(await h.herald.adapter.users('app-id', 'presence-room.2')).toEqual([]);
    await canaryStillWorks();
  });

  it("unsubscribing (Echo's leave()) while the auth call is in flight: the answer joins nothing", async () => {
    const socket = sioClient(h, { extraHeaders: sessionHeaders('ada') });
    await sioConnected(socket);
    socket.emit('subscribe', { channel: 'presence-room.3' });
    await sleep(50);
    socket.emit('unsubscribe', { channel: 'presence-room.3' });
    const before = slowAuth.requests.length;
    const deadline = Date.now() + 5000;
    while (!slowAuth.requests.slice(before).some((r) => r.socketId === socket.id) && Date.now() < deadline) await sleep(10);
    await sleep(100);
    expect(await h.herald.adapter.users('app-id', 'presence-room.3')).toEqual([]);
    expect((await h.herald.adapter.channelInfo('app-id', 'presence-room.3')).subscriptionCount).toBe(0);
  });

  it('a client disconnecting while its token is checked never becomes a connection', async () => {
    const socket = sioClient(h, { auth: { token: 'slow' }, transports: ['websocket'] }, '/slow-users-key');
    const deadline = Date.now() + 5000;
    while (releaseUsers.length === 0 && Date.now() < deadline) await sleep(10);
    socket.disconnect();
    await sleep(100);
    for (const release of releaseUsers.splice(0)) release();
    await sleep(200);
    expect(h.herald.adapter.connectionCount()).toBe(0);
    await canaryStillWorks();
  });
});

describe('slow apps and floods', () => {
  it('an auth endpoint slower than HERALD_SOCKETIO_AUTH_TIMEOUT → subscription_error 504, socket connected', async () => {
    const quick = await startHerald({
      server: { socketIoAuthTimeout: 0.1 },
      app: { socketIo: true, authEndpoint: slowAuth.authEndpoint },
    });
    try {
      const socket = sioClient(quick, { extraHeaders: sessionHeaders('ada') });
      await sioConnected(socket);
      const errors = sioListen(socket, 'subscription_error');
      socket.emit('subscribe', { channel: 'private-room.1' });
      expect(await errors.next()).toEqual(['private-room.1', 504]);
      expect(socket.connected).toBe(true);
    } finally {
      closeSocketIoClients();
      await quick.stop();
    }
  });

  it('a subscribe flood: at most socketIoMaxPendingAuth auth calls in flight, the rest get 429', async () => {
    const socket = sioClient(h, { extraHeaders: sessionHeaders('ada') });
    await sioConnected(socket);
    const errors = sioListen(socket, 'subscription_error');
    const before = slowAuth.requests.length;
    for (let i = 0; i < 20; i++) socket.emit('subscribe', { channel: `private-room.${i}` });
    // The same channel again while its call is in flight is not a second call.
    socket.emit('subscribe', { channel: 'private-room.0' });
    for (let i = 0; i < 17; i++) await errors.next();
    expect(new Set(errors.calls.map((call) => call[1]))).toEqual(new Set([429]));
    await untilSubscribers(h, 'private-room.2', 1);
    expect(slowAuth.requests.slice(before).filter((r) => r.socketId === socket.id)).toHaveLength(3);
  });

  it('event names socket.io reserves are not delivered to Socket.IO clients; Pusher clients still get them', async () => {
    const socket = sioClient(h);
    await sioConnected(socket);
    const after = sioListen(socket, 'after');
    socket.emit('subscribe', { channel: 'news' });
    const p = pusherClient(h);
    await connected(p);
    const got = recorder<unknown>('pusher disconnect event');
    (await subscribed(p, 'news')).bind('disconnect', got.fn);
    await untilSubscribers(h, 'news', 2);
    await nodePusher(h).trigger('news', 'disconnect', { x: 1 });
    await nodePusher(h).trigger('news', 'after', { y: 2 });
    expect(await got.next()).toEqual({ x: 1 });
    expect(await after.next()).toEqual(['news', { y: 2 }]);
    expect(socket.connected).toBe(true);
  });
});

describe('malformed packets', () => {
  it('payloads of the wrong shape get herald:error; the socket stays and still subscribes', async () => {
    const { ws, packets } = await rawSocketIo();
    for (const packet of [
      '42["subscribe"]',
      '42["subscribe","orders"]',
      '42["subscribe",{"channel":5}]',
      '42["subscribe",{"channel":"bad channel!"}]',
      '42["unsubscribe",[]]',
      '42["client event",null]',
      '42["client event",{"channel":"private-x","event":"typing","data":1}]',
      '42["no such event",{}]',
      // Over this app's maxMessageSize (2048), under the server-wide packet limit.
      `42["client event",{"channel":"private-x","event":"client-big","data":"${'b'.repeat(3000)}"}]`,
    ]) {
      ws.send(packet);
    }
    ws.send('42["subscribe",{"channel":"orders"}]');
    await untilSubscribers(h, 'orders', 1);
    const errors = () => packets.filter((p) => p.startsWith('42["herald:error"'));
    const arrived = Date.now() + 5000;
    while (errors().length < 7 && Date.now() < arrived) await sleep(10);
    expect(errors().map((p) => JSON.parse(p.slice(2))[1].message)).toEqual([
      'subscribe needs {channel: string}',
      'subscribe needs {channel: string}',
      'subscribe needs {channel: string}',
      'unsubscribe needs {channel: string}',
      'client event needs {channel: string, event: string, data}',
      "Client event names must start with 'client-'",
      'Message exceeds 2048 bytes',
    ]);
    expect(packets).toContain('42["subscription_error","bad channel!",400]');
    await nodePusher(h).trigger('orders', 'shipped', { id: 1 });
    const deadline = Date.now() + 3000;
    while (!packets.includes('42["shipped","orders",{"id":1}]') && Date.now() < deadline) await sleep(10);
    expect(packets).toContain('42["shipped","orders",{"id":1}]');
    ws.close();
  });

  it('undecodable packets and packets over the size limit close that socket only', async () => {
    // Over the node's maxPayloadLength (256 KiB): beyond any app's maxMessageSize, the connection goes.
    const oversized = `42["subscribe",{"channel":"${'a'.repeat(300_000)}"}]`;
    for (const packet of ['42[', '42[]', '42{"a":1}', '4', '99', oversized]) {
      const { ws, closed } = await rawSocketIo();
      ws.send(packet);
      await closed;
    }
    await canaryStillWorks();
  });
});

describe('closing', () => {
  it('a shutdown (4200) closes the transport, so socket.io-client reconnects; its herald:error says why', async () => {
    const restarting = await startHerald({ app: { socketIo: true } });
    const socket = sioClient(restarting, { reconnection: true, reconnectionDelay: 60_000 });
    await sioConnected(socket);
    const errors = sioListen(socket, 'herald:error');
    const reason = new Promise<string>((resolve) => socket.on('disconnect', resolve));
    await restarting.stop();
    expect(await reason).toBe('transport close');
    expect(errors.calls).toEqual([[{ code: 4200, message: 'Server shutting down' }]]);
    expect(socket.active).toBe(true);
    socket.disconnect();
  });
});

describe('admission: the same rules as for Pusher clients', () => {
  it("allowedOrigins and the app's maxConnections refuse with a connect_error naming the reason", async () => {
    const guarded = await startHerald({ app: { socketIo: true, allowedOrigins: ['app.example.com'], maxConnections: 1 } });
    try {
      const foreign = sioClient(guarded, { extraHeaders: { Origin: 'https://evil.example.net' }, transports: ['websocket'] });
      await expect(sioConnected(foreign)).rejects.toThrow('Origin not allowed');
      const first = sioClient(guarded, { extraHeaders: { Origin: 'https://app.example.com' }, transports: ['websocket'] });
      await sioConnected(first);
      const second = sioClient(guarded, { extraHeaders: { Origin: 'https://app.example.com' }, transports: ['websocket'] });
      const err = await sioConnected(second).then(() => undefined, (e: { message: string; data: unknown }) => e);
      expect(err?.message).toBe('Application is over connection quota');
      expect(err?.data).toEqual({ code: 4004, message: 'Application is over connection quota' });
      expect(guarded.herald.adapter.connectionCount()).toBe(1);
    } finally {
      closeSocketIoClients();
      await guarded.stop();
    }
  });
});

describe('off unless enabled', () => {
  it('an app without socketIo has no namespace; unknown namespaces are refused', async () => {
    await expect(sioConnected(sioClient(h, {}, '/pusher-only-key'))).rejects.toThrow('Invalid namespace');
    await expect(sioConnected(sioClient(h, {}, '/nope'))).rejects.toThrow('Invalid namespace');
  });

  it('without any Socket.IO app, /socket.io/ is not served', async () => {
    const plain = await startHerald();
    try {
      const res = await fetch(`${plain.url}/socket.io/?EIO=4&transport=polling`);
      expect(res.status).toBe(404);
    } finally {
      await plain.stop();
    }
  });
});
