// End-to-end with the real pusher-js 8.6.0 (Node build) against a real Herald, a Laravel-shaped
// auth endpoint and the official `pusher` REST SDK.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceChannel } from 'pusher-js';
import { connected, disconnectAll, disconnectAllAndWait, type Pusher, pusherClient, recorder, sleep, until } from '../helpers/clients.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { signChannel } from '../../protocol/signing.js';
import { sessionHeaders, startLaravelAuth, VECTOR_MASTER_KEY, type LaravelAuth } from '../helpers/laravel-auth.js';
import { laravelBroadcast, nodePusher } from '../helpers/laravel-broadcast.js';

let h: TestHerald;
let auth: LaravelAuth;

const USERS = {
  ada: { id: 7, name: 'Ada', watchlist: [8, 9] },
  bob: { id: 8, name: 'Bob' },
  cy: { id: 9, name: 'Cy' },
};

beforeAll(async () => {
  h = await startHerald();
  auth = await startLaravelAuth({
    users: USERS,
    encryptionMasterKeyBase64: VECTOR_MASTER_KEY,
    channels: {
      'commerce.{id}': (user, id) => user.id == Number(id),
      'room.{id}': () => true,
      secret: () => true,
      'chat.{id}': (user) => ({ id: user.id, name: user.name }),
    },
  });
});
// Each test starts from an empty server, so presence, watchlist and counts see only its own clients.
afterEach(async () => {
  await disconnectAllAndWait(h);
});
afterAll(async () => {
  disconnectAll();
  await h?.stop();
  await auth?.close();
});

/** A connected pusher-js logged in (for its auth endpoint calls) as `who`. */
async function client(who?: keyof typeof USERS): Promise<{ pusher: Pusher; socketId: string }> {
  const pusher = pusherClient(h, auth, who ? sessionHeaders(who) : {});
  return { pusher, socketId: await connected(pusher) };
}

async function subscribed(pusher: Pusher, name: string) {
  const channel = pusher.subscribe(name);
  const done = recorder(`${name} subscription_succeeded`);
  channel.bind('pusher:subscription_succeeded', done.fn);
  const failed = recorder(`${name} subscription_error`);
  channel.bind('pusher:subscription_error', failed.fn);
  await Promise.race([done.next(), failed.next().then((e) => Promise.reject(new Error(`subscription failed: ${JSON.stringify(e)}`)))]);
  return channel;
}

describe('connection', () => {
  it('connects with a Pusher-shaped socket_id: connecting → connected → disconnected', async () => {
    const states: string[] = [];
    const pusher = pusherClient(h);
    // The Node build connects from the constructor.
    expect(pusher.connection.state).toBe('connecting');
    pusher.connection.bind('state_change', ({ current }: { current: string }) => states.push(current));
    const socketId = await connected(pusher);
    expect(socketId).toMatch(/^\d+\.\d+$/);
    expect(pusher.connection.state).toBe('connected');
    pusher.disconnect();
    expect(pusher.connection.state).toBe('disconnected');
    expect(states).toEqual(['connected', 'disconnected']);
    await until(() => h.herald.adapter.connectionCount() === 0, 'server to see the close');
  });

  it('an unknown app key ends disconnected (4001) without retrying', async () => {
    const states: string[] = [];
    const errors = recorder<{ type: string; data?: { code: number } }>('connection error');
    const pusher = pusherClient(h, undefined, undefined, {}, 'no-such-key');
    expect(pusher.connection.state).toBe('connecting');
    pusher.connection.bind('state_change', ({ current }: { current: string }) => states.push(current));
    pusher.connection.bind('error', errors.fn);
    await until(() => states.includes('disconnected') || states.includes('failed'), 'refusal');
    expect(JSON.stringify(errors.calls)).toContain('4001');
    // pusher-js would retry after at most 1 s on a non-fatal code; nothing must happen.
    await sleep(1200);
    expect(states.filter((s) => s === 'connecting')).toEqual([]);
    expect(['disconnected', 'failed']).toContain(pusher.connection.state);
    expect(h.herald.adapter.connectionCount()).toBe(0);
  });
});

describe('public channels and REST', () => {
  it('receives events triggered with the pusher SDK, object and non-JSON string data', async () => {
    const { pusher } = await client();
    const channel = await subscribed(pusher, 'news');
    const got = recorder<unknown>('news event');
    channel.bind('headline', got.fn);
    const rest = nodePusher(h);
    await rest.trigger('news', 'headline', { title: 'Herald ships', tags: ['a/b'] });
    expect(await got.next()).toEqual({ title: 'Herald ships', tags: ['a/b'] });
    await rest.trigger(['news', 'other'], 'headline', 'hello world');
    expect(await got.next()).toBe('hello world');
  });

  it('receives every event of a triggerBatch', async () => {
    const { pusher } = await client();
    const a = await subscribed(pusher, 'batch-a');
    const b = await subscribed(pusher, 'batch-b');
    const got: unknown[] = [];
    a.bind('e1', (d: unknown) => got.push(['a', d]));
    b.bind('e2', (d: unknown) => got.push(['b', d]));
    await nodePusher(h).triggerBatch([
      { channel: 'batch-a', name: 'e1', data: { x: 1 } },
      { channel: 'batch-b', name: 'e2', data: 'str' },
    ]);
    await until(() => got.length === 2, 'both batch events');
    expect(got).toEqual([['a', { x: 1 }], ['b', 'str']]);
  });

  it('receives a Laravel (pusher-http-php) broadcast: escaped slashes and unicode arrive decoded', async () => {
    const { pusher } = await client();
    const channel = await subscribed(pusher, 'orders');
    const got = recorder<unknown>('order event');
    channel.bind('App\\Events\\OrderShipped', got.fn);
    const [reply] = await laravelBroadcast(h, {
      channels: ['orders'],
      event: 'App\\Events\\OrderShipped',
      payload: { id: 5, url: 'http://x/y', note: 'café ✓' },
    });
    expect(reply).toEqual({ status: 200, body: '{}' });
    expect(await got.next()).toEqual({ id: 5, url: 'http://x/y', note: 'café ✓' });
  });

  it('toOthers: a trigger with socket_id skips that connection only', async () => {
    const a = await client();
    const b = await client();
    const gotA = recorder('a');
    const gotB = recorder('b');
    (await subscribed(a.pusher, 'feed')).bind('posted', gotA.fn);
    (await subscribed(b.pusher, 'feed')).bind('posted', gotB.fn);
    await nodePusher(h).trigger('feed', 'posted', { n: 1 }, { socket_id: a.socketId });
    expect(await gotB.next()).toEqual({ n: 1 });
    await gotA.none(200);
  });
});

describe('private channels', () => {
  it('subscribes through /broadcasting/auth and receives server events', async () => {
    const { pusher, socketId } = await client('ada');
    const channel = await subscribed(pusher, 'private-commerce.7');
    expect(auth.requests.at(-1)).toMatchObject({ channelName: 'private-commerce.7', socketId, status: 200 });
    const got = recorder('order');
    channel.bind('order.paid', got.fn);
    await nodePusher(h).trigger('private-commerce.7', 'order.paid', { total: 12.5 });
    expect(await got.next()).toEqual({ total: 12.5 });
  });

  it('a 403 from the auth endpoint surfaces as pusher:subscription_error and nothing is subscribed', async () => {
    const { pusher, socketId } = await client('bob');
    const channel = pusher.subscribe('private-commerce.77');
    const failed = recorder<{ type: string; status: number }>('subscription_error');
    channel.bind('pusher:subscription_error', failed.fn);
    expect(await failed.next()).toMatchObject({ type: 'AuthError', status: 403 });
    expect(auth.requests.at(-1)).toMatchObject({ channelName: 'private-commerce.77', socketId, status: 403 });
    expect(h.herald.adapter.connection(socketId)?.channelCount).toBe(0);
  });
});

describe('presence channels', () => {
  it('members, member_added/removed; a second tab of the same user is silent', async () => {
    const ada1 = await client('ada');
    const ch1 = (await subscribed(ada1.pusher, 'presence-chat.1')) as PresenceChannel;
    expect(ch1.members.count).toBe(1);
    expect(ch1.members.me).toEqual({ id: '7', info: { id: 7, name: 'Ada' } });
    const added = recorder<{ id: string; info: unknown }>('member_added');
    const removed = recorder<{ id: string; info: unknown }>('member_removed');
    ch1.bind('pusher:member_added', added.fn);
    ch1.bind('pusher:member_removed', removed.fn);

    const bob = await client('bob');
    const chBob = (await subscribed(bob.pusher, 'presence-chat.1')) as PresenceChannel;
    expect(await added.next()).toEqual({ id: '8', info: { id: 8, name: 'Bob' } });
    expect(chBob.members.count).toBe(2);
    const bobSees = recorder('bob member_added');
    chBob.bind('pusher:member_added', bobSees.fn);

    const ada2 = await client('ada');
    const ch2 = (await subscribed(ada2.pusher, 'presence-chat.1')) as PresenceChannel;
    expect(ch2.members.count).toBe(2);
    const ids: string[] = [];
    ch2.members.each((m: { id: string }) => ids.push(m.id));
    expect(ids.sort()).toEqual(['7', '8']);

    // A second tab closing is silent; the last connection of a user closing removes the member.
    ada2.pusher.disconnect();
    bob.pusher.disconnect();
    expect(await removed.next()).toEqual({ id: '8', info: { id: 8, name: 'Bob' } });
    await added.none(100);
    await bobSees.none(0);
    expect(removed.calls).toHaveLength(1);
    expect(ch1.members.count).toBe(1);
  });

  it('a signed-in connection joins as its user when the auth reply has no channel_data', async () => {
    // An app whose presence authorizer signs the private form (section 2.2): pusher-js then takes
    // the member id from its sign-in.
    const pusher = pusherClient(h, auth, sessionHeaders('bob'), {
      channelAuthorization: {
        endpoint: auth.authEndpoint,
        transport: 'ajax',
        customHandler: ({ socketId, channelName }, callback) => callback(null, { auth: signChannel('app-key', 'app-secret', socketId, channelName) }),
      },
    });
    await connected(pusher);
    pusher.signin();
    const channel = (await subscribed(pusher, 'presence-lobby')) as PresenceChannel;
    expect(channel.members.me).toEqual({ id: '8', info: { name: 'Bob' } });
    expect(h.herald.adapter.presence('app-id', 'presence-lobby')).toEqual({ ids: ['8'], hash: { '8': { name: 'Bob' } }, count: 1 });
  });
});

describe('client events', () => {
  it('are relayed to other members but not echoed to the sender', async () => {
    const a = await client('ada');
    const b = await client('bob');
    const chA = await subscribed(a.pusher, 'private-room.1');
    const chB = await subscribed(b.pusher, 'private-room.1');
    const gotA = recorder('a');
    const gotB = recorder<unknown>('b');
    chA.bind('client-typing', gotA.fn);
    chB.bind('client-typing', gotB.fn);
    expect(chA.trigger('client-typing', { on: true })).toBe(true);
    expect(await gotB.next()).toEqual({ on: true });
    await gotA.none(150);
  });

  it('on presence channels carry the sender user_id as metadata', async () => {
    const a = await client('ada');
    const b = await client('bob');
    const chA = await subscribed(a.pusher, 'presence-chat.2');
    const chB = await subscribed(b.pusher, 'presence-chat.2');
    const got: { data: unknown; meta: unknown }[] = [];
    chB.bind('client-wave', (data: unknown, meta: unknown) => got.push({ data, meta }));
    chA.trigger('client-wave', 'hi');
    await until(() => got.length > 0, 'client-wave');
    expect(got[0]).toEqual({ data: 'hi', meta: { user_id: '7' } });
  });

  it('the rate limit answers 4301 without disconnecting pusher-js', async () => {
    const a = await client('ada');
    const b = await client('bob');
    const chA = await subscribed(a.pusher, 'private-room.2');
    const chB = await subscribed(b.pusher, 'private-room.2');
    const errors = recorder<{ type: string; data: { code: number; message: string } }>('connection error');
    a.pusher.connection.bind('error', errors.fn);
    const states: string[] = [];
    a.pusher.connection.bind('state_change', ({ current }: { current: string }) => states.push(current));
    const got = recorder<{ i: number }>('relayed');
    chB.bind('client-tick', got.fn);

    for (let i = 0; i < 15; i++) chA.trigger('client-tick', { i });
    expect(await errors.next()).toMatchObject({ type: 'PusherError', data: { code: 4301 } });
    for (let i = 0; i < 10; i++) expect(await got.next()).toEqual({ i });
    await got.none(200);
    expect(states).toEqual([]);
    expect(a.pusher.connection.state).toBe('connected');

    // The next window accepts events again on the same connection.
    await sleep(1050);
    chA.trigger('client-tick', { i: 99 });
    expect(await got.next()).toEqual({ i: 99 });
  });
});

describe('encrypted channels', () => {
  it('pusher-js decrypts an event the pusher SDK encrypted with the master key; the server relays ciphertext', async () => {
    const { pusher } = await client('ada');
    const raw: { event: string; channel?: string; data: unknown }[] = [];
    pusher.connection.bind('message', (m: { event: string; channel?: string; data: unknown }) => raw.push(m));
    const channel = await subscribed(pusher, 'private-encrypted-secret');
    const got = recorder<unknown>('decrypted');
    channel.bind('launch', got.fn);
    await nodePusher(h, { encryptionMasterKeyBase64: VECTOR_MASTER_KEY }).trigger('private-encrypted-secret', 'launch', { code: 'ABC/123' });
    expect(await got.next()).toEqual({ code: 'ABC/123' });
    const wire = raw.find((m) => m.event === 'launch');
    expect(wire?.data).toEqual({ nonce: expect.any(String), ciphertext: expect.any(String) });
  });
});

describe('user authentication', () => {
  it('signin() → #server-to-user-{id} → sendToUser delivered via pusher.user.bind', async () => {
    const { pusher, socketId } = await client('bob');
    pusher.signin();
    await until(() => pusher.user.serverToUserChannel?.subscribed, 'server-to-user subscription');
    expect(pusher.user.serverToUserChannel.name).toBe('#server-to-user-8');
    expect(pusher.user.user_data).toEqual({ id: '8', user_info: { name: 'Bob' } });
    expect(auth.requests.find((r) => r.path === '/broadcasting/user-auth' && r.socketId === socketId)?.status).toBe(200);
    const got = recorder<unknown>('user event');
    pusher.user.bind('invoice.ready', got.fn);
    await nodePusher(h).sendToUser('8', 'invoice.ready', { id: 42 });
    expect(await got.next()).toEqual({ id: 42 });
  });

  it('terminateUserConnections closes that user\'s connections with 4009 and pusher-js stays disconnected', async () => {
    const bob = await client('bob');
    const other = await client('ada');
    bob.pusher.signin();
    other.pusher.signin();
    await until(() => bob.pusher.user.serverToUserChannel?.subscribed && other.pusher.user.serverToUserChannel?.subscribed, 'both signed in');
    const states: string[] = [];
    bob.pusher.connection.bind('state_change', ({ current }: { current: string }) => states.push(current));
    const errors = recorder<{ data?: { code: number } }>('error');
    bob.pusher.connection.bind('error', errors.fn);
    await nodePusher(h).terminateUserConnections('8');
    await until(() => states.includes('disconnected'), 'bob disconnected');
    expect(errors.calls.map((e) => e.data?.code)).toContain(4009);
    await sleep(1100);
    expect(states).toEqual(['disconnected']);
    expect(other.pusher.connection.state).toBe('connected');
  });

  it('watchlist: online/offline of watched users via pusher.user.watchlist.bind', async () => {
    const cy = await client('cy');
    cy.pusher.signin();
    await until(() => cy.pusher.user.serverToUserChannel?.subscribed, 'cy signed in');

    const ada = await client('ada');
    const online = recorder<{ name: string; user_ids: string[] }>('online');
    const offline = recorder<{ name: string; user_ids: string[] }>('offline');
    ada.pusher.user.watchlist.bind('online', online.fn);
    ada.pusher.user.watchlist.bind('offline', offline.fn);
    ada.pusher.signin();
    expect(await online.next()).toEqual({ name: 'online', user_ids: ['9'] });
    expect(await offline.next()).toEqual({ name: 'offline', user_ids: ['8'] });

    const bob = await client('bob');
    bob.pusher.signin();
    expect(await online.next()).toEqual({ name: 'online', user_ids: ['8'] });
    bob.pusher.disconnect();
    expect(await offline.next()).toEqual({ name: 'offline', user_ids: ['8'] });
    cy.pusher.disconnect();
    expect(await offline.next()).toEqual({ name: 'offline', user_ids: ['9'] });
  });
});

describe('cache channels', () => {
  it('a subscriber gets the last event at once; an empty cache channel fires pusher:cache_miss', async () => {
    await nodePusher(h).trigger('cache-prices', 'price', { btc: 1 });
    await nodePusher(h).trigger('cache-prices', 'price', { btc: 2 });
    const { pusher } = await client();
    const channel = pusher.subscribe('cache-prices');
    const got = recorder<unknown>('cached price');
    const miss = recorder('cache miss');
    channel.bind('price', got.fn);
    channel.bind('pusher:cache_miss', miss.fn);
    expect(await got.next()).toEqual({ btc: 2 });
    await miss.none(100);

    const empty = pusher.subscribe('cache-empty');
    const emptyMiss = recorder('empty cache miss');
    empty.bind('pusher:cache_miss', emptyMiss.fn);
    await emptyMiss.next();
  });
});
