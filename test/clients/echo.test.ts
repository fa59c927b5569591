// End-to-end with the real Laravel Echo 2.5 + pusher-js 8.6 against a real Herald, a Laravel-shaped
// /broadcasting/auth and events published exactly as Laravel's pusher-http-php does. Every case
// runs with Echo's `reverb` broadcaster and its `pusher` broadcaster (a self-hosted Pusher setup).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Broadcaster, connected, disconnectAll, disconnectAllAndWait, echoClient, pusherOf, recorder } from '../helpers/clients.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { sessionHeaders, startLaravelAuth, VECTOR_MASTER_KEY, type LaravelAuth, type LaravelUser } from '../helpers/laravel-auth.js';
import { laravelBroadcast, nodePusher } from '../helpers/laravel-broadcast.js';

let h: TestHerald;
let auth: LaravelAuth;
/** The same Laravel app with a wrong PUSHER_APP_SECRET: its signatures are refused by Herald. */
let misconfigured: LaravelAuth;

const USERS: Record<string, LaravelUser> = {
  ada: { id: 5, name: 'Ada' },
  bob: { id: 7, name: 'Bob' },
};

// routes/channels.php
const CHANNELS = {
  'App.Models.User.{id}': (user: LaravelUser, id: string) => Number(user.id) === Number(id),
  'commerce.{id}': (user: LaravelUser, id: string) => user.id == Number(id),
  'MessageChannel.User.{id}': (user: LaravelUser, id: string) => Number(user.id) === Number(id),
  'room.{id}': () => true,
  secret: () => true,
  'chat.{id}': (user: LaravelUser) => ({ id: user.id, name: user.name }),
};

beforeAll(async () => {
  h = await startHerald();
  auth = await startLaravelAuth({ users: USERS, channels: CHANNELS, encryptionMasterKeyBase64: VECTOR_MASTER_KEY });
  misconfigured = await startLaravelAuth({ users: USERS, channels: CHANNELS, secret: 'not-the-app-secret' });
});
// Each test starts from an empty server, so presence, watchlist and counts see only its own clients.
afterEach(async () => {
  await disconnectAllAndWait(h);
});
afterAll(async () => {
  disconnectAll();
  await h?.stop();
  await auth?.close();
  await misconfigured?.close();
});

describe.each<Broadcaster>(['reverb', 'pusher'])("broadcaster: '%s'", (broadcaster) => {
  async function echo(who?: string, app: LaravelAuth = auth) {
    const e = echoClient(broadcaster, h, app, who ? sessionHeaders(who) : {});
    await connected(pusherOf(e));
    return e;
  }

  /** Resolves once Echo's channel confirmed its subscription. */
  function subscribed(channel: { subscribed(cb: () => void): unknown; error(cb: (e: unknown) => void): unknown }, label: string) {
    return new Promise<void>((resolve, reject) => {
      channel.subscribed(() => resolve());
      channel.error((e) => reject(new Error(`${label}: ${JSON.stringify(e)}`)));
    });
  }

  it('connects: socketId() and connectionStatus()', async () => {
    const e = await echo();
    expect(e.socketId()).toMatch(/^\d+\.\d+$/);
    expect(e.connectionStatus()).toBe('connected');
    e.disconnect();
    expect(e.connectionStatus()).toBe('disconnected');
  });

  it("Echo.channel('orders').listen('OrderShipped') receives App\\Events\\OrderShipped", async () => {
    const e = await echo();
    const got = recorder<unknown>('OrderShipped');
    const channel = e.channel('orders').listen('OrderShipped', got.fn);
    await subscribed(channel, 'orders');
    await laravelBroadcast(h, { channels: ['orders'], event: 'App\\Events\\OrderShipped', payload: { order: { id: 5, url: 'https://shop.test/orders/5' } } });
    expect(await got.next()).toEqual({ order: { id: 5, url: 'https://shop.test/orders/5' } });
  });

  it("Echo.private('commerce.5').listen('.notification.created') — literal event name", async () => {
    const e = await echo('ada');
    const got = recorder<unknown>('notification.created');
    const channel = e.private('commerce.5').listen('.notification.created', got.fn);
    await subscribed(channel, 'private-commerce.5');
    await laravelBroadcast(h, { channels: ['private-commerce.5'], event: 'notification.created', payload: { message: 'Paid' } });
    expect(await got.next()).toEqual({ message: 'Paid' });
  });

  it("Echo.private('MessageChannel.User.7').listen('MessageCreated') — namespaced class name on the wire", async () => {
    const e = await echo('bob');
    const got = recorder<unknown>('MessageCreated');
    const raw: string[] = [];
    pusherOf(e).connection.bind('message', (m: { event: string }) => raw.push(m.event));
    const channel = e.private('MessageChannel.User.7').listen('MessageCreated', got.fn);
    await subscribed(channel, 'private-MessageChannel.User.7');
    await laravelBroadcast(h, { channels: ['private-MessageChannel.User.7'], event: 'App\\Events\\MessageCreated', payload: { message: { id: 1, body: 'hi' } } });
    expect(await got.next()).toEqual({ message: { id: 1, body: 'hi' } });
    expect(raw).toContain('App\\Events\\MessageCreated');
  });

  it('.notification(cb) receives BroadcastNotificationCreated on private-App.Models.User.{id}', async () => {
    const e = await echo('ada');
    const got = recorder<Record<string, unknown>>('notification');
    const channel = e.private('App.Models.User.5').notification(got.fn);
    await subscribed(channel, 'private-App.Models.User.5');
    await laravelBroadcast(h, {
      channels: ['private-App.Models.User.5'],
      event: 'Illuminate\\Notifications\\Events\\BroadcastNotificationCreated',
      payload: { invoice: 12, id: '9f1c0c56-2a4e-4e0e-9a53-1f0b7c7b3f7e', type: 'App\\Notifications\\InvoicePaid' },
    });
    expect(await got.next()).toEqual({ invoice: 12, id: '9f1c0c56-2a4e-4e0e-9a53-1f0b7c7b3f7e', type: 'App\\Notifications\\InvoicePaid' });
  });

  it('presence: here / joining / leaving, a second tab of the same user neither joins nor leaves', async () => {
    const ada1 = await echo('ada');
    const here1 = recorder<unknown[]>('ada1 here');
    const joining1 = recorder<unknown>('ada1 joining');
    const leaving1 = recorder<unknown>('ada1 leaving');
    ada1.join('chat.1').here(here1.fn).joining(joining1.fn).leaving(leaving1.fn);
    expect(await here1.next()).toEqual([{ id: 5, name: 'Ada' }]);

    const bob = await echo('bob');
    const hereBob = recorder<unknown[]>('bob here');
    const joiningBob = recorder<unknown>('bob joining');
    const leavingBob = recorder<unknown>('bob leaving');
    bob.join('chat.1').here(hereBob.fn).joining(joiningBob.fn).leaving(leavingBob.fn);
    expect(sortById(await hereBob.next())).toEqual([{ id: 5, name: 'Ada' }, { id: 7, name: 'Bob' }]);
    expect(await joining1.next()).toEqual({ id: 7, name: 'Bob' });

    const ada2 = await echo('ada');
    const here2 = recorder<unknown[]>('ada2 here');
    ada2.join('chat.1').here(here2.fn);
    expect(sortById(await here2.next())).toEqual([{ id: 5, name: 'Ada' }, { id: 7, name: 'Bob' }]);

    ada2.leave('chat.1');
    bob.leave('chat.1');
    expect(await leaving1.next()).toEqual({ id: 7, name: 'Bob' });
    await joining1.none(100);
    expect(leaving1.calls).toHaveLength(1);
    expect(joiningBob.calls).toEqual([]);
    expect(leavingBob.calls).toEqual([]);
  });

  it('whisper / listenForWhisper: delivered to the other client, not echoed to the sender', async () => {
    const ada = await echo('ada');
    const bob = await echo('bob');
    const adaHears = recorder<unknown>('ada typing');
    const bobHears = recorder<unknown>('bob typing');
    const adaRoom = ada.private('room.1').listenForWhisper('typing', adaHears.fn);
    const bobRoom = bob.private('room.1').listenForWhisper('typing', bobHears.fn);
    await Promise.all([subscribed(adaRoom, 'ada room'), subscribed(bobRoom, 'bob room')]);
    adaRoom.whisper('typing', { name: 'Ada' });
    expect(await bobHears.next()).toEqual({ name: 'Ada' });
    await adaHears.none(150);

    // On presence channels too.
    const adaChat = ada.join('chat.9');
    const bobChat = bob.join('chat.9').listenForWhisper('typing', bobHears.fn);
    await Promise.all([subscribed(adaChat, 'ada chat'), subscribed(bobChat, 'bob chat')]);
    adaChat.whisper('typing', { name: 'Ada', in: 'chat' });
    expect(await bobHears.next()).toEqual({ name: 'Ada', in: 'chat' });
  });

  it('.error(cb) fires on a 403 from /broadcasting/auth', async () => {
    const e = await echo('bob');
    const errors = recorder<{ type: string; status: number }>('error');
    e.private('commerce.5').error(errors.fn);
    expect(await errors.next()).toMatchObject({ type: 'AuthError', status: 403 });
  });

  it('.error(cb) fires when Herald rejects the signature (app signing with the wrong secret)', async () => {
    const e = await echo('ada', misconfigured);
    const errors = recorder<{ type: string; status: number; error: string }>('error');
    const subscribedCb = recorder('subscribed');
    e.private('commerce.5').error(errors.fn).subscribed(subscribedCb.fn);
    expect(await errors.next()).toMatchObject({ type: 'AuthError', status: 401 });
    expect(subscribedCb.calls).toEqual([]);
    expect(misconfigured.requests.at(-1)).toMatchObject({ channelName: 'private-commerce.5', status: 200 });
    expect(e.connectionStatus()).toBe('connected');
    expect(h.herald.adapter.connection(e.socketId()!)?.inChannel('private-commerce.5')).toBe(false);
  });

  it('toOthers(): the X-Socket-ID connection is skipped, also when it is not in the channel', async () => {
    const sender = await echo('ada');
    const other = await echo('bob');
    const senderGot = recorder('sender');
    const otherGot = recorder<unknown>('other');
    const a = sender.channel('feed').listen('.posted', senderGot.fn);
    const b = other.channel('feed').listen('.posted', otherGot.fn);
    await Promise.all([subscribed(a, 'sender feed'), subscribed(b, 'other feed')]);
    await laravelBroadcast(h, { channels: ['feed'], event: 'posted', payload: { id: 1, socket: sender.socketId() } });
    expect(await otherGot.next()).toEqual({ id: 1 });
    await senderGot.none(150);

    // A tab that is subscribed to nothing posts a form; Laravel still sends its X-Socket-ID.
    const idle = await echo('ada');
    await laravelBroadcast(h, { channels: ['feed'], event: 'posted', payload: { id: 2, socket: idle.socketId() } });
    expect(await otherGot.next()).toEqual({ id: 2 });
    expect(await senderGot.next()).toEqual({ id: 2 });
  });

  it("Echo.encryptedPrivate('secret') decrypts an event encrypted with the master key", async () => {
    const e = await echo('ada');
    const got = recorder<unknown>('secret event');
    const channel = e.encryptedPrivate('secret').listen('.launch', got.fn);
    await subscribed(channel, 'private-encrypted-secret');
    await nodePusher(h, { encryptionMasterKeyBase64: VECTOR_MASTER_KEY }).trigger('private-encrypted-secret', 'launch', { codes: [1, 2, 3] });
    expect(await got.next()).toEqual({ codes: [1, 2, 3] });
  });

  it('leave() unsubscribes: no more events, the channel is vacated', async () => {
    const e = await echo('ada');
    const got = recorder('left');
    const channel = e.private('commerce.5').listen('.ping', got.fn);
    await subscribed(channel, 'private-commerce.5');
    e.leave('commerce.5');
    await waitVacated('private-commerce.5');
    await laravelBroadcast(h, { channels: ['private-commerce.5'], event: 'ping', payload: {} });
    await got.none(150);
  });
});

async function waitVacated(channel: string) {
  const deadline = Date.now() + 2000;
  while ((await h.herald.adapter.channelInfo('app-id', channel)).occupied) {
    if (Date.now() > deadline) throw new Error(`${channel} still occupied`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function sortById(members: unknown[]): unknown[] {
  return [...members].sort((a, b) => Number((a as { id: number }).id) - Number((b as { id: number }).id));
}
