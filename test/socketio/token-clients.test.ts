// socket.io-client 4 frontends that connect with a login token (`auth: {token}` or `?token=`):
// Herald asks the app's user endpoint (Sanctum's /api/user) or checks an HS256 JWT, signs the
// socket in as that user and joins it to the app's user channels.
import { createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycle.js';
import { connected, disconnectAll, pusherClient, recorder } from '../helpers/clients.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { sessionHeaders, startLaravelAuth, type LaravelAuth, type LaravelUser } from '../helpers/laravel-auth.js';
import { nodePusher } from '../helpers/laravel-broadcast.js';
import { closeSocketIoClients, sioClient, sioConnected, sioListen, untilSubscribers } from '../helpers/socketio.js';

const USERS: Record<string, LaravelUser> = {
  'ada-token': { id: 5, name: 'Ada' },
  'ada-phone-token': { id: 5, name: 'Ada' },
  'bob-token': { id: 7, name: 'Bob', watchlist: [5] },
};

const API_KEY = 'broadcast-key';
const JWT_SECRET = 'jwt-secret-for-tests';

let auth: LaravelAuth;
let h: TestHerald;
const events: LifecycleEvent[] = [];

beforeAll(async () => {
  auth = await startLaravelAuth({ users: USERS, channels: {} });
  h = await startHerald({
    apps: [
      { id: 'app-id', key: 'app-key', secret: 'app-secret', socketIo: true, userEndpoint: `${auth.url}/api/user`, apiKeys: [API_KEY] },
      { id: 'jwt-app', key: 'jwt-key', secret: 'jwt-app-secret', socketIo: true, tokenJwt: true, jwtSecret: JWT_SECRET, userChannels: ['private-App.Models.User.{id}'] },
    ],
  });
  h.herald.events.on((event) => events.push(event));
});
afterEach(async () => {
  closeSocketIoClients();
  disconnectAll();
  const deadline = Date.now() + 5000;
  while (h.herald.adapter.connectionCount() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  events.length = 0;
});
afterAll(async () => {
  await h?.stop();
  await auth?.close();
});

function jwt(claims: Record<string, unknown>, secret = JWT_SECRET, alg = 'HS256'): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const head = `${part({ alg, typ: 'JWT' })}.${part(claims)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

async function refusal(promise: Promise<unknown>): Promise<{ message: string; data?: unknown }> {
  try {
    await promise;
  } catch (err) {
    return err as { message: string; data?: unknown };
  }
  throw new Error('connected, expected a connect_error');
}

describe('user endpoint tokens', () => {
  it("auth: {token} → signed in as the user: `private-user.{id}` notifications from /api/broadcast and REST, and sendToUser", async () => {
    const socket = sioClient(h, { auth: { token: 'ada-token' }, transports: ['websocket'] });
    const got = sioListen(socket, 'notification.sent');
    const direct = sioListen(socket, 'invoice.ready');
    const id = await sioConnected(socket);
    expect(id).toMatch(/^\d+\.\d+$/);
    await untilSubscribers(h, 'private-user.5', 1);
    expect(auth.requests.at(-1)).toMatchObject({ path: '/api/user', user: '5', status: 200 });
    expect(auth.requests.at(-1)!.headers.authorization).toBe('Bearer ada-token');

    await fetch(`${h.url}/api/broadcast`, {
      method: 'POST',
      headers: { 'X-API-Key': API_KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({ channel: 'private-user.5', event: 'notification.sent', data: { title: 'Welcome' } }),
    });
    expect(await got.next()).toEqual(['private-user.5', { title: 'Welcome' }]);
    await nodePusher(h).trigger('private-user.5', 'notification.sent', { title: 'Again' });
    expect(await got.next()).toEqual(['private-user.5', { title: 'Again' }]);
    await nodePusher(h).sendToUser('5', 'invoice.ready', { id: 42 });
    expect(await direct.next()).toEqual(['#server-to-user-5', { id: 42 }]);
  });

  it('?token= works too; user_connected / user_disconnected; answers are cached', async () => {
    const before = auth.requests.length;
    const first = sioClient(h, { query: { token: 'ada-phone-token' }, transports: ['polling'] });
    const firstId = await sioConnected(first);
    const second = sioClient(h, { auth: { token: 'ada-phone-token' } });
    await sioConnected(second);
    // One user endpoint call for both connections (HERALD_SOCKETIO_TOKEN_CACHE_TTL).
    expect(auth.requests.slice(before).filter((r) => r.path === '/api/user')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'user_connected')).toEqual([{ type: 'user_connected', appId: 'app-id', userId: '5', socketId: firstId }]);
    first.disconnect();
    second.disconnect();
    const deadline = Date.now() + 5000;
    while (!events.some((e) => e.type === 'user_disconnected') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(events.filter((e) => e.type === 'user_disconnected')).toEqual([expect.objectContaining({ appId: 'app-id', userId: '5' })]);
  });

  it('a Pusher watcher sees the token user come online; terminate_connections closes its socket', async () => {
    const watcher = pusherClient(h, auth, sessionHeaders('bob-token'));
    await connected(watcher);
    const online = recorder<{ name: string; user_ids: string[] }>('online');
    watcher.user.watchlist.bind('online', online.fn);
    watcher.signin();
    await new Promise((r) => setTimeout(r, 200));
    const socket = sioClient(h, { auth: { token: 'ada-token' } });
    await sioConnected(socket);
    expect(await online.next()).toEqual({ name: 'online', user_ids: ['5'] });

    const gone = new Promise<string>((resolve) => socket.on('disconnect', (reason) => resolve(reason)));
    const closing = sioListen(socket, 'herald:error');
    await nodePusher(h).terminateUserConnections('5');
    expect(await gone).toBe('io server disconnect');
    expect(closing.calls).toEqual([[{ code: 4009, message: expect.any(String) }]]);
  });

  it('a bad token is refused with a connect_error that says why', async () => {
    const err = await refusal(sioConnected(sioClient(h, { auth: { token: 'stolen' } })));
    expect(err.message).toBe('Token refused: user endpoint answered 401');
    expect(err.data).toEqual({ code: 4009, message: 'Token refused: user endpoint answered 401' });
    expect(h.herald.adapter.connectionCount()).toBe(0);
  });

  it('without a token the socket connects anonymously and has no user channel', async () => {
    const socket = sioClient(h);
    await sioConnected(socket);
    const id = socket.id!;
    expect(h.herald.adapter.connection(id)?.user).toBeUndefined();
    const errors = sioListen(socket, 'subscription_error');
    socket.emit('subscribe', { channel: '#server-to-user-5' });
    expect(await errors.next()).toEqual(['#server-to-user-5', 401]);
  });
});

describe('JWT tokens (namespace per app key)', () => {
  it('an HS256 JWT signed with the configured key signs in as `sub` and joins the configured user channels', async () => {
    const socket = sioClient(h, { auth: { token: jwt({ sub: 12, name: 'Cy', exp: Math.floor(Date.now() / 1000) + 60 }) } }, '/jwt-key');
    const got = sioListen(socket, 'App\\Notifications\\Shipped');
    await sioConnected(socket);
    const deadline = Date.now() + 5000;
    while ((await h.herald.adapter.channelInfo('jwt-app', 'private-App.Models.User.12')).subscriptionCount === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await nodePusher(h, { app: { appId: 'jwt-app', key: 'jwt-key', secret: 'jwt-app-secret' } }).trigger('private-App.Models.User.12', 'App\\Notifications\\Shipped', { order: 1 });
    expect(await got.next()).toEqual(['private-App.Models.User.12', { order: 1 }]);
  });

  it.each([
    ['a wrong key', () => jwt({ sub: 1 }, 'not-the-key'), 'Token refused: bad JWT signature'],
    ['alg none', () => jwt({ sub: 1 }, JWT_SECRET, 'none'), 'Token refused: JWT must be signed with HS256'],
    ['an expired token', () => jwt({ sub: 1, exp: Math.floor(Date.now() / 1000) - 5 }), 'Token refused: JWT expired'],
    ['no user id', () => jwt({ name: 'x' }), 'Token refused: the JWT has no user id in "sub"'],
    ['not a JWT', () => 'ada-token', 'Token refused: not a JWT'],
  ])('%s is refused', async (_label, token, message) => {
    const err = await refusal(sioConnected(sioClient(h, { auth: { token: token() } }, '/jwt-key')));
    expect(err.message).toBe(message);
  });
});
