/**
 * Clients for cluster tests: pusher-js and Echo logged in to a Laravel-shaped auth app that
 * authorizes every private and presence channel, and bare Pusher-protocol sockets for frame-exact
 * checks, each pointed at one chosen node.
 */
import { expect } from 'vitest';
import { signChannel } from '../../protocol/signing.js';
import { connected, disconnectAll, echoClient, pusherClient, sleep, type AnyEcho, type Broadcaster, type Pusher } from './clients.js';
import type { Cluster, ClusterNode, RestAnswer } from './cluster.js';
import type { AppCredentials } from './laravel-broadcast.js';
import type { TestRedis } from './redis.js';
import { sessionHeaders, startLaravelAuth, type LaravelAuth, type LaravelUser } from './laravel-auth.js';
import { RawClient, type Frame } from './raw-client.js';

/** Users u1…u40 (session token = id) with names; `watcher` watches u1 and u2. */
export const CLUSTER_USERS: Record<string, LaravelUser> = {
  ...Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`u${i + 1}`, { id: `u${i + 1}`, name: `User ${i + 1}` }])),
  watcher: { id: 'watcher', name: 'Watcher', watchlist: ['u1', 'u2'] },
};

/** Every private channel is allowed and every presence channel joins with `{name}` as user_info. */
export function startClusterAuth(): Promise<LaravelAuth> {
  return startLaravelAuth({ users: CLUSTER_USERS, channels: { '{any}': (user) => ({ name: user.name }) } });
}

/** A connected pusher-js on `node`, logged in to the auth app as `who` (if given). */
export async function pusherOn(node: ClusterNode, auth: LaravelAuth, who?: string, key = node.app.key): Promise<{ pusher: Pusher; socketId: string }> {
  const pusher = pusherClient(node, auth, who ? sessionHeaders(who) : {}, {}, key);
  return { pusher, socketId: await connected(pusher) };
}

export function echoOn(broadcaster: Broadcaster, node: ClusterNode, auth: LaravelAuth, who: string): AnyEcho {
  return echoClient(broadcaster, node, auth, sessionHeaders(who), node.app.key);
}

const rawOpened: RawClient[] = [];

/** A bare socket on `node` (or any port, e.g. a proxy's) with its socket id. */
export async function rawOn(target: ClusterNode | number, key = 'app-key'): Promise<{ client: RawClient; socketId: string }> {
  const port = typeof target === 'number' ? target : target.port;
  const result = await RawClient.established(port, `/app/${key}?protocol=7&client=js&version=8.6.0&flash=false`);
  rawOpened.push(result.client);
  return result;
}

export function closeRaw(): void {
  for (const client of rawOpened.splice(0)) client.ws.terminate();
}

/** Sends a signed presence subscribe as `userId` (does not wait for the answer). */
export function sendJoin(client: RawClient, socketId: string, channel: string, userId: string, secret = 'app-secret', key = 'app-key'): void {
  const channelData = JSON.stringify({ user_id: userId, user_info: { name: userId } });
  client.subscribe(channel, signChannel(key, secret, socketId, channel, channelData), channelData);
}

/** Sends a signed private subscribe. */
export function sendPrivate(client: RawClient, socketId: string, channel: string, secret = 'app-secret', key = 'app-key'): void {
  client.subscribe(channel, signChannel(key, secret, socketId, channel));
}

/** The next subscription answer for `channel`: succeeded, or the error frame(s) instead. */
export async function subscriptionAnswer(client: RawClient, channel: string, timeoutMs = 5000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frame = await client.next(undefined, Math.max(1, deadline - Date.now()));
    if (frame.event === 'pusher:error') return frame;
    if (frame.channel === channel && /subscription_(succeeded|error)$/.test(frame.event)) return frame;
  }
}

/** Member ids of a `pusher_internal:subscription_succeeded` presence frame. */
export function memberIds(frame: Frame): string[] {
  const data = (typeof frame.data === 'string' ? JSON.parse(frame.data) : frame.data) as { presence: { ids: string[] } };
  return [...data.presence.ids].sort();
}

/** `user_id`s of the member events of `event` a raw client received on `channel` so far. */
export function memberEvents(client: RawClient, channel: string, event: 'member_added' | 'member_removed'): string[] {
  return client.frames
    .filter((f) => f.event === `pusher_internal:${event}` && f.channel === channel)
    .map((f) => (JSON.parse(f.data as string) as { user_id: string }).user_id);
}

/** Connects to `node` (or a proxy port) and joins `channel` as `user`; expects subscription_succeeded. */
export async function joinAs(
  node: ClusterNode | number,
  channel: string,
  user: string,
  app: { key: string; secret: string } = { key: 'app-key', secret: 'app-secret' },
): Promise<{ client: RawClient; socketId: string; members: string[] }> {
  const { client, socketId } = await rawOn(node, app.key);
  sendJoin(client, socketId, channel, user, app.secret, app.key);
  const answer = await subscriptionAnswer(client, channel);
  expect(answer.event, JSON.stringify(answer)).toBe('pusher_internal:subscription_succeeded');
  return { client, socketId, members: memberIds(answer) };
}

/** Sorted ids of a `GET /channels/{name}/users` answer. */
export const userIds = (answer: RestAnswer): string[] => (answer.body as { users: { id: string }[] }).users.map((u) => u.id).sort();

/** Polls `get` until it deep-equals `expected`, then asserts it (a failure shows the last value). */
export async function eventually<T>(get: () => Promise<T>, expected: T, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await get();
  while (JSON.stringify(last) !== JSON.stringify(expected) && Date.now() < deadline) {
    await sleep(25);
    last = await get();
  }
  expect(last).toEqual(expected);
}

/** Closes every client, then waits (up to 5 s, quietly) until `node` counts no connection for these apps. */
export async function closeClients(node: ClusterNode, apps: (AppCredentials | undefined)[] = [undefined]): Promise<void> {
  disconnectAll();
  closeRaw();
  const deadline = Date.now() + 5000;
  for (const app of apps) {
    while (Date.now() < deadline && (await node.connections(app)) !== 0) await sleep(50);
  }
}

/** Everything a cluster test file started, in reverse order. */
export async function tearDown(parts: { cluster?: Cluster<{ url: string }>; auth?: LaravelAuth; redis?: Pick<TestRedis, 'close'> }): Promise<void> {
  disconnectAll();
  closeRaw();
  await parts.cluster?.close();
  await parts.auth?.close();
  await parts.redis?.close();
}

/** Raw sockets on `nodes` (one each, in that order), subscribed to the public `channel`. */
export async function subscribersOn(nodes: ClusterNode[], channel: string): Promise<RawClient[]> {
  return Promise.all(
    nodes.map(async (node) => {
      const { client } = await rawOn(node);
      client.subscribe(channel);
      await client.next('pusher_internal:subscription_succeeded');
      return client;
    }),
  );
}

/** The `i` of each `tick` event a raw client received on `channel`, in arrival order. */
export const ticks = (client: RawClient, channel: string): number[] =>
  client.frames.filter((f) => f.event === 'tick' && f.channel === channel).map((f) => (JSON.parse(f.data as string) as { i: number }).i);

/**
 * `tick {i}` triggered through `node`'s REST API every 20 ms, i = 0, 1, …, until `stop()`; a failed
 * trigger still counts (the number is skipped). For Redis failovers under traffic.
 */
export function tickTraffic(node: ClusterNode, channel: string): { sent(): number; stop(): Promise<void> } {
  const sdk = node.sdk();
  let sent = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      await sdk.trigger(channel, 'tick', { i: sent }).catch(() => undefined);
      sent++;
      await sleep(20);
    }
  })();
  return {
    sent: () => sent,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** Every tick a client got arrived once and in order (some may be missing). */
export function expectInOrderOnce(got: number[]): void {
  expect(got).toEqual([...got].sort((x, y) => x - y));
  expect(new Set(got).size).toBe(got.length);
}
