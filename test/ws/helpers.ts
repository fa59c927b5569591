import { expect } from 'vitest';
import WebSocket from 'ws';
import { signChannel, signRestQuery, signUser } from '../../protocol/signing.js';
import { publishEvent } from '../../src/channels/publish.js';
import type { TestHerald } from '../helpers/herald.js';
import { RawClient, dataOf, type Frame } from '../helpers/raw-client.js';

export { dataOf, RawClient, type Frame };

/** The query pusher-js 8.6.0 sends. */
export const JS_QUERY = '?protocol=7&client=js&version=8.6.0&flash=false';
/** The query pusher-websocket-java 2.4.4 (Android) sends. */
export const JAVA_QUERY = '?client=java-client&protocol=5&version=2.4.4';

/**
 * Every client a test file opens, so that `closeAll` can clean up and `auditUserIds` can check
 * every frame any of them ever received.
 */
const opened: RawClient[] = [];

export async function connect(h: TestHerald, path = `/app/${h.app.key}${JS_QUERY}`): Promise<{ client: RawClient; socketId: string }> {
  const result = await RawClient.established(h.port, path);
  opened.push(result.client);
  return result;
}

/** A connection that is expected to be refused: returns it after the `pusher:error`. */
export async function refused(port: number, path: string, headers?: Record<string, string>): Promise<RawClient> {
  const client = await RawClient.connect(port, path, headers);
  opened.push(client);
  return client;
}

export function track(client: RawClient): RawClient {
  opened.push(client);
  return client;
}

export function closeAll(): void {
  for (const client of opened.splice(0)) {
    if (client.ws.readyState === WebSocket.OPEN || client.ws.readyState === WebSocket.CONNECTING) client.ws.terminate();
  }
}

/** Frames never carry `user_id` except client events relayed on presence channels (checklist 37). */
export function auditUserIds(clients: readonly RawClient[] = opened): void {
  for (const client of clients) {
    for (const frame of client.frames) {
      if ('user_id' in frame) {
        expect(frame.event.startsWith('client-') && (frame.channel ?? '').startsWith('presence-'), JSON.stringify(frame)).toBe(true);
      }
    }
  }
}

/** Wraps `auditUserIds` for afterEach/afterAll hooks; also closes every client. */
export function finishClients(): void {
  try {
    auditUserIds();
  } finally {
    closeAll();
  }
}

/** Next frame of that event must be a `pusher:error` with this code (and optionally message). */
export async function expectError(client: RawClient, code: number | null, message?: string | RegExp): Promise<Frame> {
  const frame = await client.next('pusher:error');
  // data is an object, never a string (reference 1.6).
  expect(typeof frame.data).toBe('object');
  const data = frame.data as { code: unknown; message: unknown };
  expect(data.code).toBe(code);
  expect(typeof data.message).toBe('string');
  if (typeof message === 'string') expect(data.message).toBe(message);
  else if (message) expect(data.message).toMatch(message);
  return frame;
}

/**
 * The very next frame (nothing in between) is exactly this `pusher:error`. Use after a bad frame
 * to prove no other reply was sent.
 */
export async function expectErrorNext(client: RawClient, code: number | null, message?: string | RegExp): Promise<Frame> {
  const frame = await client.next();
  expect(frame.event, JSON.stringify(frame)).toBe('pusher:error');
  const data = frame.data as { code: unknown; message: unknown };
  expect(typeof frame.data).toBe('object');
  expect(data.code).toBe(code);
  if (typeof message === 'string') expect(data.message).toBe(message);
  else if (message) expect(data.message).toMatch(message);
  return frame;
}

/** A refusal: `pusher:error` with object data and the code, then a close with the same code. */
export async function expectRefused(client: RawClient, code: number, message?: string | RegExp): Promise<void> {
  const frame = await client.next();
  expect(frame.event).toBe('pusher:error');
  expect(frame.data).toEqual({ code, message: expect.any(String) });
  if (typeof message === 'string') expect((frame.data as { message: string }).message).toBe(message);
  else if (message) expect((frame.data as { message: string }).message).toMatch(message);
  expect(await client.closed).toBe(code);
  // The close reason carries the same message.
  expect(client.closeReason).toBe((frame.data as { message: string }).message);
  expect(client.frames.some((f) => f.event === 'pusher:connection_established')).toBe(false);
}

/** Proves the connection is open and responsive: the next frame after a ping is a pong. */
export async function expectAlive(client: RawClient): Promise<void> {
  client.send({ event: 'pusher:ping', data: {} });
  const frame = await client.next();
  expect(frame, 'expected only a pong after the ping').toEqual({ event: 'pusher:pong', data: '{}' });
  expect(client.closeCode).toBeUndefined();
}

/**
 * Round-trips a ping on each of `senders` (so the server has handled everything they sent
 * before), then proves `receiver` got nothing unread in the meantime: its next frame is its pong.
 */
export async function expectQuiet(receiver: RawClient, ...senders: RawClient[]): Promise<void> {
  for (const sender of senders) {
    sender.send({ event: 'pusher:ping' });
    await sender.next('pusher:pong');
  }
  await expectAlive(receiver);
}

export function privateAuth(h: TestHerald, socketId: string, channel: string, channelData?: string): string {
  return signChannel(h.app.key, h.app.secret, socketId, channel, channelData);
}

export function userAuth(h: TestHerald, socketId: string, userData: string): string {
  return signUser(h.app.key, h.app.secret, socketId, userData);
}

/** Subscribes and expects the very next frame to be `subscription_succeeded` for that channel. */
export async function subscribeOk(client: RawClient, channel: string, auth?: string, channelData?: string): Promise<Frame> {
  client.subscribe(channel, auth, channelData);
  const frame = await client.next();
  expect(frame.event, JSON.stringify(frame)).toBe('pusher_internal:subscription_succeeded');
  expect(frame.channel).toBe(channel);
  return frame;
}

/** Subscribes to a private-ish channel with a valid signature for this connection. */
export async function subscribePrivate(h: TestHerald, client: RawClient, socketId: string, channel: string): Promise<Frame> {
  return subscribeOk(client, channel, privateAuth(h, socketId, channel));
}

export interface PresenceJoin {
  client: RawClient;
  socketId: string;
  succeeded: Frame;
}

/** Connects (unless given a connection) and joins a presence channel as `user_id` with `user_info`. */
export async function joinPresence(
  h: TestHerald,
  channel: string,
  channelData: string,
  existing?: { client: RawClient; socketId: string },
): Promise<PresenceJoin> {
  const { client, socketId } = existing ?? (await connect(h));
  const succeeded = await subscribeOk(client, channel, privateAuth(h, socketId, channel, channelData), channelData);
  return { client, socketId, succeeded };
}

/** Pusher-protocol subscribe rejection: `pusher:error` 4009 then `pusher:subscription_error` with the channel. */
export async function expectSubscriptionRejected(client: RawClient, channel: string, message?: string | RegExp): Promise<void> {
  await expectErrorNext(client, 4009, message);
  const frame = await client.next();
  expect(frame.event).toBe('pusher:subscription_error');
  expect(frame.channel).toBe(channel);
  expect(frame.data).toEqual({ type: 'AuthError', error: expect.any(String), status: 401 });
}

export async function subscriptionCount(h: TestHerald, channel: string): Promise<number> {
  return (await h.herald.adapter.channelInfo(h.app.id, channel)).subscriptionCount;
}

/** Publishes a server event directly through the adapter, as the REST handler does (synchronous, no HTTP). */
export function publish(h: TestHerald, channel: string, event: string, data: string, exceptSocketId?: string): void {
  publishEvent(h.herald.adapter, h.app, channel, event, data, exceptSocketId);
}

/**
 * A signed REST call as the official SDKs make it (section 6.8), e.g. `POST /events`:
 * the way a backend publishes, and what feeds cache channels.
 */
export async function rest(h: TestHerald, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const text = body === undefined ? '' : JSON.stringify(body);
  const fullPath = `/apps/${h.app.id}${path}`;
  const query = signRestQuery(method, fullPath, h.app.key, h.app.secret, text, Math.floor(Date.now() / 1000));
  const res = await fetch(`${h.url}${fullPath}?${query}`, {
    method,
    headers: text ? { 'Content-Type': 'application/json' } : {},
    body: text || undefined,
  });
  const raw = await res.text();
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // keep the text
  }
  return { status: res.status, body: parsed };
}

/** `POST /apps/{id}/events` for one channel; expects 200 `{}`. */
export async function trigger(h: TestHerald, channel: string, name: string, data: string, socketId?: string): Promise<void> {
  const reply = await rest(h, 'POST', '/events', { name, data, channel, ...(socketId ? { socket_id: socketId } : {}) });
  expect(reply).toEqual({ status: 200, body: {} });
}

/** Polls a condition (for server-side state that has no frame to wait on). */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
