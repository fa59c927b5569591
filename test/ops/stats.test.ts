import { afterAll, beforeAll, expect, it } from 'vitest';
import { connected, disconnectAllAndWait, pusherClient, subscribed, until } from '../helpers/clients.js';
import { startHerald, TEST_APP, type TestHerald } from '../helpers/herald.js';
import { sessionHeaders, startLaravelAuth, type LaravelAuth } from '../helpers/laravel-auth.js';
import { RawClient } from '../helpers/raw-client.js';
import { signChannel, signUser } from '../../protocol/signing.js';
import { nodePusher } from '../helpers/laravel-broadcast.js';

let h: TestHerald;
let auth: LaravelAuth;
let metrics: string;

beforeAll(async () => {
  h = await startHerald({
    server: { metricsEnabled: true, metricsHost: '127.0.0.1', metricsPort: 0 },
    apps: [TEST_APP, { id: 'other-id', key: 'other-key', secret: 'other-secret' }],
  });
  metrics = `http://127.0.0.1:${h.herald.metricsPort!}`;
  auth = await startLaravelAuth({
    users: { ada: { id: 7, name: 'Ada' }, bob: { id: 8, name: 'Bob' }, cy: { id: 9, name: 'Cy' } },
    channels: { 'chat.{id}': (user) => ({ id: user.id, name: user.name }) },
  });
});
afterAll(async () => {
  await disconnectAllAndWait(h);
  await h.stop();
  await auth.close();
});

const get = async (path: string, accept?: string) => {
  const res = await fetch(`${metrics}${path}`, { headers: accept ? { Accept: accept } : {} });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
};

it('GET /stats counts connections and distinct signed-in or presence users, per app and in total', async () => {
  const empty = JSON.parse((await get('/stats')).text);
  expect(empty.connections).toEqual({ active: 0, total_unique_users: 0 });

  // Ada twice (signed in on both), Bob in a presence channel only, Cy signed in and present, one anonymous client.
  const ada1 = pusherClient(h, auth, sessionHeaders('ada'));
  const ada2 = pusherClient(h, auth, sessionHeaders('ada'));
  const bob = pusherClient(h, auth, sessionHeaders('bob'));
  const cy = pusherClient(h, auth, sessionHeaders('cy'));
  const anon = pusherClient(h);
  const other = pusherClient(h, undefined, undefined, {}, 'other-key');
  for (const c of [ada1, ada2, cy]) {
    await connected(c);
    c.signin();
  }
  await until(() => [ada1, ada2, cy].every((c) => c.user.serverToUserChannel?.subscribed), 'sign-ins');
  await subscribed(bob, 'presence-chat.1');
  await subscribed(cy, 'presence-chat.1');
  await subscribed(anon, 'news');
  await subscribed(other, 'news');

  const res = await get('/stats');
  expect(res.status).toBe(200);
  expect(res.type).toBe('application/json');
  const body = JSON.parse(res.text);
  expect(body.apps['app-id']).toMatchObject({ connections: { active: 5, total_unique_users: 3 }, channels: { occupied: 2, presence: 1 } });
  expect(body.apps['other-id']).toMatchObject({ connections: { active: 1, total_unique_users: 0 }, channels: { occupied: 1, presence: 0 } });
  expect(body.connections).toEqual({ active: 6, total_unique_users: 3 });
  expect(body.channels).toEqual({ occupied: 3, presence: 1 });
  expect(body.messages.received).toBeGreaterThan(0);
  expect(body.messages.sent).toBeGreaterThan(0);

  // The `curl …/metrics` habit: JSON when asked for, Prometheus text otherwise.
  const json = await get('/metrics', 'application/json');
  expect(json.type).toBe('application/json');
  expect(JSON.parse(json.text).connections).toEqual({ active: 6, total_unique_users: 3 });
  const text = await get('/metrics');
  expect(text.type).toContain('text/plain');
  expect(text.text).toContain('herald_connections{app="app-id"} 5');
  const prometheus = await get('/metrics', 'application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.5,*/*;q=0.1');
  expect(prometheus.type).toContain('text/plain');

  // A client that signs in without joining its user channel (not pusher-js) is counted from this node's connections.
  const { client: raw, socketId } = await RawClient.established(h.port);
  const userData = JSON.stringify({ id: '99' });
  raw.send({ event: 'pusher:signin', data: { auth: signUser('app-key', 'app-secret', socketId, userData), user_data: userData } });
  await raw.next('pusher:signin_success');
  expect(JSON.parse((await get('/stats')).text).apps['app-id'].connections).toEqual({ active: 6, total_unique_users: 4 });
  raw.close();
  await until(() => h.herald.adapter.connectionCount('app-id') === 5, 'the raw client to leave');

  bob.disconnect();
  ada1.disconnect();
  await until(() => h.herald.adapter.connectionCount('app-id') === 3, 'two clients to leave');
  expect(JSON.parse((await get('/stats')).text).apps['app-id'].connections).toEqual({ active: 3, total_unique_users: 2 });
});

it('GET /stats counts messages per app (received, sent, client events), and their sum in total', async () => {
  type Messages = { received: number; sent: number; client_events: number };
  const read = async () => JSON.parse((await get('/stats')).text) as { messages: Messages; apps: Record<string, { messages: Messages }> };
  const delta = (after: Messages, before: Messages): Messages => ({
    received: after.received - before.received,
    sent: after.sent - before.sent,
    client_events: after.client_events - before.client_events,
  });
  const before = await read();

  // app-id: two members of a private channel, one sends three client events to the other.
  const joined = async () => {
    const { client, socketId } = await RawClient.established(h.port);
    client.subscribe('private-room', signChannel('app-key', 'app-secret', socketId, 'private-room'));
    await client.next('pusher_internal:subscription_succeeded');
    return client;
  };
  const [sender, receiver] = [await joined(), await joined()];
  for (let i = 0; i < 3; i++) sender.send({ event: 'client-typing', channel: 'private-room', data: { i } });
  for (let i = 0; i < 3; i++) await receiver.next('client-typing');
  // other-id: one subscriber (the first test's client sits on `news`), two events from the REST API.
  const { client: listener } = await RawClient.established(h.port, '/app/other-key?protocol=7&client=js&version=8.6.0&flash=false');
  listener.subscribe('headlines');
  await listener.next('pusher_internal:subscription_succeeded');
  const sdk = nodePusher(h, { app: { appId: 'other-id', key: 'other-key', secret: 'other-secret' } });
  for (let i = 0; i < 2; i++) await sdk.trigger('headlines', 'headline', { i });
  for (let i = 0; i < 2; i++) await listener.next('headline');

  const after = await read();
  for (const c of [sender, receiver, listener]) c.close();
  // Each client: connection_established and subscription_succeeded sent, its subscribe received.
  expect(delta(after.apps['app-id']!.messages, before.apps['app-id']!.messages)).toEqual({ received: 2 + 3, sent: 4 + 3, client_events: 3 });
  expect(delta(after.apps['other-id']!.messages, before.apps['other-id']!.messages)).toEqual({ received: 1, sent: 2 + 2, client_events: 0 });
  expect(delta(after.messages, before.messages)).toEqual({ received: 6, sent: 11, client_events: 3 });
});
