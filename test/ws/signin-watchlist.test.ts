import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signUser } from '../../protocol/signing.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { vectors } from '../protocol/vectors.js';
import {
  connect,
  dataOf,
  expectAlive,
  expectErrorNext,
  expectQuiet,
  expectSubscriptionRejected,
  finishClients,
  privateAuth,
  rest,
  subscribeOk,
  subscriptionCount,
  userAuth,
  type Frame,
  type RawClient,
} from './helpers.js';

const vectorApp = vectors.app;

let h: TestHerald;
beforeAll(async () => {
  h = await startHerald({
    apps: [
      { id: vectorApp.app_id, key: vectorApp.key, secret: vectorApp.secret },
      { id: 'nosignin', key: 'nosignin-key', secret: 'nosignin-secret', userAuthentication: false },
      { id: 'nowatch', key: 'nowatch-key', secret: 'nowatch-secret', watchlistEvents: false },
    ],
  });
});
afterEach(finishClients);
afterAll(() => h.stop());

const appOf = (id: string): TestHerald => ({ ...h, app: h.config.apps.find((a) => a.id === id)! });
const pathOf = (key: string) => `/app/${key}?protocol=7&client=js&version=8.6.0&flash=false`;

function signin(target: TestHerald, client: RawClient, socketId: string, userData: string): void {
  client.send({ event: 'pusher:signin', data: { auth: userAuth(target, socketId, userData), user_data: userData } });
}

async function expectSigninSuccess(client: RawClient, userData: string): Promise<void> {
  // data is an object echoing user_data as the exact string received.
  expect(await client.next()).toEqual({ event: 'pusher:signin_success', data: { user_data: userData } });
}

/** Connects and signs in; returns after signin_success. */
async function signedIn(userData: string, target = h) {
  const conn = await connect(target, pathOf(target.app.key));
  signin(target, conn.client, conn.socketId, userData);
  await expectSigninSuccess(conn.client, userData);
  return conn;
}

type Watch = { name: 'online' | 'offline'; user_ids: string[] };

async function expectWatchlist(client: RawClient, events: Watch[]): Promise<Frame> {
  const frame = await client.next();
  expect(frame.event).toBe('pusher_internal:watchlist_events');
  expect(frame.channel).toBeUndefined();
  expect(typeof frame.data).toBe('string');
  expect(dataOf<{ events: Watch[] }>(frame).events).toEqual(events);
  return frame;
}

describe('pusher:signin', () => {
  it('the vector user_data signed for this socket succeeds; signin_success echoes user_data verbatim', async () => {
    for (const vector of vectors.user_auth) {
      const { client, socketId } = await connect(h);
      client.send({ event: 'pusher:signin', data: { auth: signUser(vectorApp.key, vectorApp.secret, socketId, vector.user_data), user_data: vector.user_data } });
      expect(await client.next()).toEqual({ ...vector.expected_server_reply });
      // The vector user with a watchlist also gets its watchlist status.
      if (vector.user_data.includes('watchlist')) await expectWatchlist(client, [{ name: 'offline', user_ids: ['7', '8'] }]);
      await expectAlive(client);
    }
  });

  it('the vector auth (for socket 1234.1234) is refused on a live socket with 4009, connection open', async () => {
    const vector = vectors.user_auth[0]!;
    const { client } = await connect(h);
    client.send(vector.signin_frame);
    await expectErrorNext(client, 4009);
    await expectAlive(client);
    // Not signed in: its user channel is refused.
    client.subscribe('#server-to-user-12345', '');
    await expectSubscriptionRejected(client, '#server-to-user-12345');
  });

  it('accepts the signin data as a JSON string', async () => {
    const { client, socketId } = await connect(h);
    const userData = '{"id":"str-form"}';
    client.send({ event: 'pusher:signin', data: JSON.stringify({ auth: userAuth(h, socketId, userData), user_data: userData }) });
    await expectSigninSuccess(client, userData);
  });

  it.each([
    ['a bad signature', '{"id":"1"}', () => `${vectorApp.key}:${'0'.repeat(64)}`],
    ['a signature over re-serialised user_data', '{"id": "1"}', (s: string) => userAuth(h, s, '{"id":"1"}')],
    ['another key', '{"id":"1"}', (s: string) => `other:${userAuth(h, s, '{"id":"1"}').split(':')[1]}`],
    ['user_data that is not JSON', 'nope', (s: string) => userAuth(h, s, 'nope')],
    ['user_data without id', '{"user_info":{}}', (s: string) => userAuth(h, s, '{"user_info":{}}')],
    ['an empty id', '{"id":""}', (s: string) => userAuth(h, s, '{"id":""}')],
    ['a numeric id', '{"id":42}', (s: string) => userAuth(h, s, '{"id":42}')],
  ])('refuses %s with 4009 and keeps the connection open, not signed in', async (_label, userData, makeAuth) => {
    const { client, socketId } = await connect(h);
    client.send({ event: 'pusher:signin', data: { auth: makeAuth(socketId), user_data: userData } });
    await expectErrorNext(client, 4009);
    await expectAlive(client);
    client.subscribe('#server-to-user-1', '');
    await expectSubscriptionRejected(client, '#server-to-user-1');
    // It may still sign in properly.
    signin(h, client, socketId, '{"id":"1"}');
    await expectSigninSuccess(client, '{"id":"1"}');
  });

  it('signing in again as the same user succeeds; as a different user is an error and changes nothing', async () => {
    const { client, socketId } = await signedIn('{"id":"same"}');
    signin(h, client, socketId, '{"id":"same","user_info":{"v":2}}');
    await expectSigninSuccess(client, '{"id":"same","user_info":{"v":2}}');
    signin(h, client, socketId, '{"id":"other"}');
    await expectErrorNext(client, 4009, /another user/);
    await expectAlive(client);
    await subscribeOk(client, '#server-to-user-same', '');
    client.subscribe('#server-to-user-other', '');
    await expectSubscriptionRejected(client, '#server-to-user-other');
    expect((await h.herald.adapter.userConnections(h.app.id, 'other')).length).toBe(0);
    expect((await h.herald.adapter.userConnections(h.app.id, 'same')).length).toBe(1);
  });

  it('is refused with 4009 when the app has user authentication disabled', async () => {
    const app = appOf('nosignin');
    const { client, socketId } = await connect(app, pathOf('nosignin-key'));
    signin(app, client, socketId, '{"id":"1"}');
    await expectErrorNext(client, 4009);
    await expectAlive(client);
  });
});

describe('#server-to-user-{id}', () => {
  it('only the connections signed in as that user may subscribe, with an empty auth', async () => {
    const { client } = await signedIn('{"id":"42"}');
    const ok = await subscribeOk(client, '#server-to-user-42', '');
    expect(ok).toEqual({ event: 'pusher_internal:subscription_succeeded', channel: '#server-to-user-42', data: '{}' });
    for (const channel of ['#server-to-user-43', '#server-to-user-4', '#server-to-user-420']) {
      client.subscribe(channel, '');
      await expectSubscriptionRejected(client, channel, 'Connection is unauthorized');
      expect(await subscriptionCount(h, channel)).toBe(0);
    }
    // A second connection of the same user may subscribe too; others may not.
    const tab = await signedIn('{"id":"42"}');
    await subscribeOk(tab.client, '#server-to-user-42', '');
    const stranger = await signedIn('{"id":"99"}');
    stranger.client.subscribe('#server-to-user-42', '');
    await expectSubscriptionRejected(stranger.client, '#server-to-user-42');

    // sendToUser in the Node SDK: POST /events with channels ["#server-to-user-42"].
    expect(await rest(h, 'POST', '/events', { name: 'note', data: '{"n":1}', channels: ['#server-to-user-42'] })).toEqual({ status: 200, body: {} });
    for (const c of [client, tab.client]) expect(await c.next()).toEqual({ event: 'note', channel: '#server-to-user-42', data: '{"n":1}' });
    await expectQuiet(stranger.client);
  });

  it('no client events on user channels', async () => {
    const { client } = await signedIn('{"id":"ce"}');
    await subscribeOk(client, '#server-to-user-ce', '');
    client.send({ event: 'client-x', channel: '#server-to-user-ce', data: {} });
    await expectErrorNext(client, null);
  });
});

describe('terminate_connections (REST)', () => {
  it('closes only the connections signed in as that user, with pusher:error 4009 then close 4009', async () => {
    const cd = '{"user_id":"doomed"}';
    const tab1 = await signedIn('{"id":"doomed"}');
    const tab2 = await signedIn('{"id":"doomed"}');
    const bystander = await signedIn('{"id":"fine"}');
    // Presence membership alone (not signed in) is not affected.
    const presenceOnly = await connect(h);
    await subscribeOk(presenceOnly.client, 'presence-t', privateAuth(h, presenceOnly.socketId, 'presence-t', cd), cd);
    expect(await rest(h, 'POST', '/users/doomed/terminate_connections', {})).toEqual({ status: 200, body: {} });
    for (const tab of [tab1, tab2]) {
      await expectErrorNext(tab.client, 4009);
      expect(await tab.client.closed).toBe(4009);
    }
    await expectAlive(bystander.client);
    await expectAlive(presenceOnly.client);
  });
});

describe('presence after sign-in', () => {
  it('a signed-in connection may join presence without channel_data, as its user, with the private signature', async () => {
    const channel = 'presence-signed';
    const { client, socketId } = await signedIn('{"id":"ada","user_info":{"name":"Ada"}}');
    const frame = await subscribeOk(client, channel, privateAuth(h, socketId, channel));
    expect(dataOf(frame)).toEqual({ presence: { ids: ['ada'], hash: { ada: { name: 'Ada' } }, count: 1 } });
    // The presence signature form is not valid without channel_data.
    const other = await signedIn('{"id":"bob"}');
    other.client.subscribe(channel, privateAuth(h, other.socketId, channel, '{"user_id":"bob"}'));
    await expectSubscriptionRejected(other.client, channel);
    await subscribeOk(other.client, channel, privateAuth(h, other.socketId, channel));
    expect(await client.next()).toEqual({ event: 'pusher_internal:member_added', channel, data: '{"user_id":"bob"}' });
  });
});

describe('watchlist', () => {
  it('sends the current status on sign-in, then online/offline on the first/last connection of a watched user', async () => {
    const watcher = await signedIn('{"id":"w1","watchlist":["7","8"]}');
    await expectWatchlist(watcher.client, [{ name: 'offline', user_ids: ['7', '8'] }]);

    const seven = await signedIn('{"id":"7"}');
    await expectWatchlist(watcher.client, [{ name: 'online', user_ids: ['7'] }]);
    // A second connection of user 7: already online, no event.
    const sevenTab = await signedIn('{"id":"7"}');
    await expectQuiet(watcher.client, sevenTab.client);

    // A later watcher sees 7 online and 8 offline in one frame.
    const late = await signedIn('{"id":"w2","watchlist":[7,"8"]}');
    await expectWatchlist(late.client, [
      { name: 'online', user_ids: ['7'] },
      { name: 'offline', user_ids: ['8'] },
    ]);

    // Closing one of two connections: still online.
    seven.client.close();
    await seven.client.closed;
    await expectQuiet(watcher.client);
    sevenTab.client.close();
    await expectWatchlist(watcher.client, [{ name: 'offline', user_ids: ['7'] }]);
    await expectWatchlist(late.client, [{ name: 'offline', user_ids: ['7'] }]);

    // Unwatched users and the watcher's own sign-in produce nothing.
    await signedIn('{"id":"unwatched"}');
    await expectQuiet(watcher.client);
    // A watcher that left stops hearing anything: only the remaining one gets 8's online.
    late.client.close();
    await late.client.closed;
    await signedIn('{"id":"8"}');
    await expectWatchlist(watcher.client, [{ name: 'online', user_ids: ['8'] }]);
  });

  it('no watchlist_events for a user without a watchlist, nor when the app disables them', async () => {
    const plain = await signedIn('{"id":"plain"}');
    await expectQuiet(plain.client);
    const app = appOf('nowatch');
    const watcher = await signedIn('{"id":"a","watchlist":["b"]}', app);
    await signedIn('{"id":"b"}', app);
    await expectQuiet(watcher.client);
  });

  it('101 ids: signin_success, then 4302, and only the first 100 are watched', async () => {
    const ids = Array.from({ length: 101 }, (_, i) => `u${i}`);
    const userData = JSON.stringify({ id: 'big', watchlist: ids });
    const { client, socketId } = await connect(h);
    signin(h, client, socketId, userData);
    await expectSigninSuccess(client, userData);
    await expectErrorNext(client, 4302, 'Watchlist limit exceeded. Only the first 100 user IDs are accepted.');
    await expectWatchlist(client, [{ name: 'offline', user_ids: ids.slice(0, 100) }]);
    await expectAlive(client);
    await signedIn('{"id":"u100"}');
    await expectQuiet(client);
    await signedIn('{"id":"u99"}');
    await expectWatchlist(client, [{ name: 'online', user_ids: ['u99'] }]);
  });

  it('exactly 100 ids is accepted without 4302', async () => {
    const userData = JSON.stringify({ id: 'hundred', watchlist: Array.from({ length: 100 }, (_, i) => `h${i}`) });
    const { client } = await signedIn(userData);
    expect((await client.next()).event).toBe('pusher_internal:watchlist_events');
    await expectAlive(client);
  });
});
