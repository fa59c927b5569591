/**
 * The channel queries at scale, as a backend sees them: a Herald process of its own, thousands of
 * WebSocket clients on their own channels (the `private-user.{id}` shape), presence rooms and
 * signed-in users, queried with the official `pusher` SDK. The listing spans several pages of the
 * channel index, and must stay exact through unsubscribes, closes and terminations.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Pusher from 'pusher';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signChannel, signUser } from '../../protocol/signing.js';
import { CHANNELS_PAGE } from '../../src/api/channels.js';
import { sleep } from '../helpers/clients.js';
import { startCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { RawClient } from '../helpers/raw-client.js';

const APP = { id: 'scale-app', key: 'scale-key', secret: 'scale-secret' };
const CONNECTIONS = 2500;
/** Connections that also hold `FEEDS` channels each, so that the listing spans more than one page. */
const FEEDERS = 500;
const FEEDS = 20;
const ROOMS = 25;
const dir = mkdtempSync(join(tmpdir(), 'herald-channels-scale-'));

interface Client {
  ws: RawClient;
  socketId: string;
  /** Channel → presence user id ('' for other channels). */
  channels: Map<string, string>;
  user?: string;
}

let herald: ChildProcess | undefined;
let sdk: Pusher;
let port: number;
const clients: Client[] = [];

function startHerald(): Promise<ChildProcess> {
  const configFile = join(dir, 'herald.json');
  writeFileSync(configFile, JSON.stringify({ apps: [{ ...APP, userAuthentication: true, maxPresenceMembers: 1000 }] }));
  return startCli(['--config', configFile, '--host', '127.0.0.1', '--port', String(port)]);
}

async function open(): Promise<Client> {
  const ws = await RawClient.connect(port, `/app/${APP.key}?protocol=7&client=js&version=8.6.0&flash=false`);
  // A generous wait: thousands of handshakes at once on a loaded machine.
  const established = await ws.next('pusher:connection_established', 20_000);
  const socketId = (JSON.parse(established.data as string) as { socket_id: string }).socket_id;
  return { ws, socketId, channels: new Map() };
}

function enter(client: Client, channel: string, userId = ''): void {
  const channelData = userId === '' ? undefined : JSON.stringify({ user_id: userId, user_info: { n: userId } });
  const signed = channel.startsWith('private-') || channel.startsWith('presence-');
  client.ws.subscribe(channel, signed ? signChannel(APP.key, APP.secret, client.socketId, channel, channelData) : undefined, channelData);
  client.channels.set(channel, userId);
}

function signIn(client: Client, userId: string): void {
  const userData = JSON.stringify({ id: userId });
  client.ws.send({ event: 'pusher:signin', data: { auth: signUser(APP.key, APP.secret, client.socketId, userData), user_data: userData } });
  client.user = userId;
}

/** Every frame sent so far has been handled once a ping sent after them is answered. */
async function settled(group: readonly Client[]): Promise<void> {
  await Promise.all(
    group.map(async (c) => {
      c.ws.send({ event: 'pusher:ping', data: {} });
      await c.ws.next('pusher:pong', 20_000);
    }),
  );
}

async function inBatches<T>(items: readonly T[], fn: (item: T) => Promise<void>, size = 100): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

const live = () => clients.filter((c) => c.ws.closeCode === undefined);

/** What the listing must say, computed from what the clients did. */
function expectedCounts(prefix = ''): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of live()) {
    for (const name of c.channels.keys()) if (name.startsWith(prefix)) counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

function expectedUsers(channel: string): string[] {
  return [...new Set(live().flatMap((c) => (c.channels.has(channel) ? [c.channels.get(channel)!] : [])))].sort();
}

async function get<T>(path: string, params: Record<string, string> = {}): Promise<T> {
  const res = await sdk.get({ path, params }).catch((error: { status?: number; body?: string }) => {
    throw new Error(`GET ${path} ${JSON.stringify(params)}: ${error.status} ${error.body}`);
  });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

type Listing = { channels: Record<string, Record<string, number>> };

const listing = async (params: Record<string, string> = {}) => (await get<Listing>('/channels', params)).channels;
const mapValues = <T, U>(o: Record<string, T>, f: (v: T, k: string) => U) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v, k)]));

/** Every query whose answer depends on the channels, checked against the clients' own record. */
async function expectExactAnswers(): Promise<void> {
  const all = expectedCounts();
  const listed = await listing();
  expect(Object.keys(listed).length).toBe(Object.keys(all).length);
  expect(listed).toEqual(mapValues(all, () => ({})));
  expect(await listing({ info: 'subscription_count' })).toEqual(mapValues(all, (n) => ({ subscription_count: n })));
  for (const prefix of ['private-user.1', 'private-user.', 'feed.4', 'public-', 'nothing-']) {
    expect(await listing({ filter_by_prefix: prefix, info: 'subscription_count' })).toEqual(
      mapValues(expectedCounts(prefix), (n) => ({ subscription_count: n })),
    );
  }
  expect(await listing({ filter_by_prefix: 'presence-room.', info: 'user_count,subscription_count' })).toEqual(
    mapValues(expectedCounts('presence-room.'), (n, name) => ({ user_count: expectedUsers(name).length, subscription_count: n })),
  );
  // (The SDK sends `#` unencoded, which ends the URL: that filter is covered in handlers.test.ts.)
  expect(await listing({ filter_by_prefix: 'presence-room.1', info: 'user_count' })).toEqual(
    mapValues(expectedCounts('presence-room.1'), (_, name) => ({ user_count: expectedUsers(name).length })),
  );
  for (const room of ['presence-room.0', 'presence-room.7']) {
    const users = await get<{ users: { id: string }[] }>(`/channels/${room}/users`);
    expect(users.users.map((u) => u.id).sort()).toEqual(expectedUsers(room));
  }
  for (const channel of ['private-user.7', 'private-user.2400', 'public-3']) {
    const count = all[channel] ?? 0;
    expect(await get(`/channels/${channel}`, { info: 'subscription_count' })).toEqual(
      { occupied: count > 0, subscription_count: count },
    );
  }
  expect(await get('/connections')).toEqual({ connections: live().length });
}

beforeAll(async () => {
  port = await freePort();
  herald = await startHerald();
  sdk = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String(port), useTLS: false });
  const indexes = Array.from({ length: CONNECTIONS }, (_, i) => i);
  await inBatches(indexes, async (i) => {
    const c = await open();
    clients[i] = c;
    enter(c, `private-user.${i}`);
    if (i % 10 === 0) enter(c, `presence-room.${(i / 10) % ROOMS}`, `u${(i / 10) % (ROOMS * 2)}`);
    if (i % 100 === 0) signIn(c, `u${i}`);
    if (i < FEEDERS) for (let k = 0; k < FEEDS; k++) enter(c, `feed.${i}.${k}`);
    if (i % 3 === 0) enter(c, `public-${i % 5}`);
  });
  await settled(clients);
}, 240_000);

afterAll(async () => {
  for (const c of clients) c?.ws.ws.terminate();
  herald?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('channel queries at scale', () => {
  it('lists thousands of channels exactly, across pages of the index', async () => {
    expect(Object.keys(expectedCounts()).length).toBeGreaterThan(2 * CHANNELS_PAGE);
    // A room where one user has two connections counts the user once.
    expect(expectedCounts('presence-room.0')['presence-room.0']).toBeGreaterThan(expectedUsers('presence-room.0').length);
    await expectExactAnswers();
  }, 60_000);

  it('stays exact after unsubscribes, closes and terminate_connections', async () => {
    // Half the private channels unsubscribed, some presence members leave, feeds thinned out.
    const leaving = clients.filter((_, i) => i % 2 === 1);
    for (const c of leaving) {
      c.ws.send({ event: 'pusher:unsubscribe', data: { channel: [...c.channels.keys()][0] } });
      c.channels.delete([...c.channels.keys()][0]!);
    }
    for (const c of clients.filter((_, i) => i % 20 === 0)) {
      const room = [...c.channels.keys()].find((name) => name.startsWith('presence-'))!;
      c.ws.send({ event: 'pusher:unsubscribe', data: { channel: room } });
      c.channels.delete(room);
    }
    for (const c of clients.slice(0, FEEDERS / 2)) {
      for (const name of [...c.channels.keys()].filter((n) => n.startsWith('feed.')).slice(0, FEEDS / 2)) {
        c.ws.send({ event: 'pusher:unsubscribe', data: { channel: name } });
        c.channels.delete(name);
      }
    }
    await settled(live());

    // Connections closed by their clients.
    const closing = clients.filter((_, i) => i % 7 === 0 && i % 100 !== 0);
    for (const c of closing) c.ws.close();
    await Promise.all(closing.map((c) => c.ws.closed));
    // And by the backend, through the signed-in user (u200 has one connection).
    const terminated = clients[200]!;
    expect(terminated.user).toBe('u200');
    await sdk.terminateUserConnections('u200');
    expect(await terminated.ws.closed).toBe(4009);

    for (let tries = 0; (await get<{ connections: number }>('/connections')).connections !== live().length; tries++) {
      expect(tries, 'server to see the closes').toBeLessThan(500);
      await sleep(20);
    }
    await expectExactAnswers();
  }, 120_000);
});
