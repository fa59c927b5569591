// Reconnects with real pusher-js: after a 4200 close pusher-js reconnects at once, signs in again
// and re-subscribes every channel with fresh auth for its new socket_id (sections 1.2 #10, 3.2, 9.3).
import { freePort } from '../helpers/net.js';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { PresenceChannel } from 'pusher-js';
import { ErrorCode } from '../../protocol/codes.js';
import { connected, disconnectAll, pusherClient, recorder, until, type Pusher } from '../helpers/clients.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { sessionHeaders, startLaravelAuth, type LaravelAuth } from '../helpers/laravel-auth.js';
import { nodePusher } from '../helpers/laravel-broadcast.js';

let first: TestHerald | undefined;
let second: TestHerald | undefined;
let auth: LaravelAuth;

beforeAll(async () => {
  auth = await startLaravelAuth({
    users: { ada: { id: 7, name: 'Ada' } },
    channels: { 'commerce.{id}': (user, id) => user.id == Number(id), 'chat.{id}': (user) => ({ name: user.name }) },
  });
});
afterEach(async () => {
  disconnectAll();
  await first?.stop();
  await second?.stop();
  first = second = undefined;
});
afterAll(() => auth?.close());

/** A signed-in pusher-js in a private and a presence channel, everything confirmed. */
async function signedInClient(h: TestHerald) {
  const pusher = pusherClient(h, auth, sessionHeaders('ada'));
  const socketId = await connected(pusher);
  pusher.signin();
  const orders = pusher.subscribe('private-commerce.7');
  const chat = pusher.subscribe('presence-chat.1') as PresenceChannel;
  const chatJoined = recorder('presence subscription_succeeded');
  chat.bind('pusher:subscription_succeeded', chatJoined.fn);
  await allSubscribed(pusher, orders, chat);
  await chatJoined.next();
  const errors = recorder<PusherJsError>('connection error');
  const states: string[] = [];
  pusher.connection.bind('error', errors.fn);
  pusher.connection.bind('state_change', ({ current }: { current: string }) => states.push(current));
  return { pusher, socketId, orders, chat, chatJoined, errors, states };
}

/** pusher-js `error` events: a PusherError, or a WebSocketError wrapping one (handshake refusals). */
interface PusherJsError {
  type: string;
  data?: { code: number };
  error?: { data?: { code: number } };
}
const codeOf = (e: PusherJsError) => e.data?.code ?? e.error?.data?.code;

/** Waits for the `connected` that follows the drop and returns the new socket id. */
async function reconnected(c: { pusher: Pusher; states: string[] }, timeoutMs: number): Promise<string> {
  await until(() => c.states.includes('connected'), 'reconnect', timeoutMs);
  return c.pusher.connection.socket_id;
}

function allSubscribed(pusher: Pusher, ...channels: { subscribed: boolean }[]) {
  return until(() => channels.every((c) => c.subscribed) && pusher.user.serverToUserChannel?.subscribed, 'subscriptions and sign-in', 5000);
}

/** After the reconnect: new socket id, fresh auth for it, and events flow again. */
async function expectResumed(h: TestHerald, c: Awaited<ReturnType<typeof signedInClient>>, newSocketId: string) {
  expect(newSocketId).toMatch(/^\d+\.\d+$/);
  expect(newSocketId).not.toBe(c.socketId);
  await allSubscribed(c.pusher, c.orders, c.chat);
  await c.chatJoined.next();
  expect(c.chat.members.me).toEqual({ id: '7', info: { name: 'Ada' } });
  expect(c.chat.members.count).toBe(1);
  const fresh = auth.requests.filter((r) => r.socketId === newSocketId);
  expect(fresh.map((r) => r.channelName ?? r.path).sort()).toEqual(['/broadcasting/user-auth', 'presence-chat.1', 'private-commerce.7']);
  expect(fresh.every((r) => r.status === 200)).toBe(true);

  const rest = nodePusher(h);
  const paid = recorder<unknown>('order.paid');
  c.orders.bind('order.paid', paid.fn);
  await rest.trigger('private-commerce.7', 'order.paid', { id: 1 });
  expect(await paid.next()).toEqual({ id: 1 });
  const personal = recorder<unknown>('user event');
  c.pusher.user.bind('hello', personal.fn);
  await rest.sendToUser('7', 'hello', { again: true });
  expect(await personal.next()).toEqual({ again: true });
  expect(h.herald.adapter.connectionCount()).toBe(1);
  expect((await h.herald.adapter.presence('app-id', 'presence-chat.1')).ids).toEqual(['7']);
}

it('a 4200 close from a running server: pusher-js reconnects at once, signs in and re-subscribes', async () => {
  first = await startHerald();
  const c = await signedInClient(first);
  const closedAt = Date.now();
  first.herald.adapter.connection(c.socketId)!.terminate(ErrorCode.Reconnect, 'Generic reconnect immediately');
  const newSocketId = await reconnected(c, 3000);
  // 4200 = "reconnect immediately": no 1 s backoff, unlike a plain drop (1000/1006) or 4100.
  expect(Date.now() - closedAt).toBeLessThan(500);
  expect(c.errors.calls.map(codeOf)).toContain(4200);
  expect(c.states).toEqual(['connecting', 'connected']);
  await expectResumed(first, c, newSocketId);
});

it('graceful shutdown (4200), then a new Herald on the same port: pusher-js reconnects, signs in and re-subscribes', async () => {
  // An explicit port, as in production: uWS then sets SO_REUSEADDR, so the replacement can bind
  // while the old server's closed sockets sit in TIME_WAIT (with port 0 it sets no options).
  const port = await freePort();
  first = await startHerald({ server: { port } });
  const c = await signedInClient(first);

  await first.stop();
  first = undefined;
  // pusher-js retried at once (4200); the draining server, still listening, refused that attempt
  // with 4100, so pusher-js waits 1 s instead of hitting a closed port (which would cost it its
  // whole 15 s connect timeout: it ignores early failures of an attempt).
  const codes = c.errors.calls.map(codeOf);
  expect(codes).toContain(4200);
  expect(codes.indexOf(4100)).toBeGreaterThan(codes.indexOf(4200));
  expect(c.states[0]).toBe('connecting');

  const restartedAt = Date.now();
  second = await startHerald({ server: { port } });
  const newSocketId = await reconnected(c, 3000);
  expect(Date.now() - restartedAt).toBeLessThan(1500);
  expect(c.states).toEqual(['connecting', 'connected']);
  await expectResumed(second, c, newSocketId);
});

/** A port nothing listens on right now. */
