import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signChannel } from '../../protocol/signing.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { vectors } from '../protocol/vectors.js';
import {
  connect,
  expectAlive,
  expectErrorNext,
  expectQuiet,
  expectSubscriptionRejected,
  finishClients,
  privateAuth,
  publish,
  rest,
  subscribeOk,
  subscriptionCount,
  trigger,
  type RawClient,
} from './helpers.js';

const vectorApp = vectors.app;
const channelAuth = vectors.channel_auth;

// The app of the test vectors, so signatures are produced with the vectors' key and secret.
let h: TestHerald;
beforeAll(async () => {
  h = await startHerald({ app: { id: vectorApp.app_id, key: vectorApp.key, secret: vectorApp.secret } });
});
afterEach(finishClients);
afterAll(() => h.stop());

/** A rejected subscription leaves no trace: no subscriber server-side, client events refused, the connection alive. */
async function expectNotSubscribed(client: RawClient, channel: string): Promise<void> {
  expect(await subscriptionCount(h, channel)).toBe(0);
  if (channel.startsWith('private-') && !channel.startsWith('private-encrypted-')) {
    client.send({ event: 'client-probe', channel, data: {} });
    await expectErrorNext(client, null, `Not subscribed to ${channel}`);
  }
  await expectAlive(client);
}

describe('public channels', () => {
  it('accept auth "" (pusher-js), no auth (Java) and ignore a garbage auth; data is "{}"', async () => {
    const { client } = await connect(h);
    for (const [channel, auth] of [
      ['pub-empty-auth', ''],
      ['pub-no-auth', undefined],
      ['pub-garbage-auth', 'nonsense'],
    ] as const) {
      const ok = await subscribeOk(client, channel, auth);
      expect(ok).toEqual({ event: 'pusher_internal:subscription_succeeded', channel, data: '{}' });
      expect(await subscriptionCount(h, channel)).toBe(1);
    }
  });

  it('accept pusher:subscribe whose data is a JSON string (old protocol form)', async () => {
    const { client, socketId } = await connect(h);
    client.send({ event: 'pusher:subscribe', data: JSON.stringify({ channel: 'pub-string-data', auth: '' }) });
    expect(await client.next()).toEqual({ event: 'pusher_internal:subscription_succeeded', channel: 'pub-string-data', data: '{}' });
    const channel = 'private-string-data';
    client.send({ event: 'pusher:subscribe', data: JSON.stringify({ channel, auth: privateAuth(h, socketId, channel) }) });
    expect(await client.next()).toEqual({ event: 'pusher_internal:subscription_succeeded', channel, data: '{}' });
  });

  it('ignore unknown members in the frame and in its data', async () => {
    const { client } = await connect(h);
    client.send({ event: 'pusher:subscribe', data: { channel: 'pub-extra', auth: '', channel_data: 'ignored', extra: 1 }, channel: 'other', foo: 'bar' });
    expect(await client.next()).toEqual({ event: 'pusher_internal:subscription_succeeded', channel: 'pub-extra', data: '{}' });
    expect(await subscriptionCount(h, 'other')).toBe(0);
  });

  it('names only look like private/presence with the dash: privatefoo, presencefoo, cachefoo are public', async () => {
    const { client } = await connect(h);
    for (const channel of ['privatefoo', 'presencefoo', 'cachefoo', 'encrypted-x', 'Private-x']) await subscribeOk(client, channel, '');
    // Not cache channels: no cache_miss follows.
    await expectAlive(client);
  });

  it('deliver REST events to every subscriber with data verbatim; socket_id excludes that connection', async () => {
    const a = await connect(h);
    const b = await connect(h);
    await subscribeOk(a.client, 'pub-events', '');
    await subscribeOk(b.client, 'pub-events', '');
    await subscribeOk(b.client, 'pub-other', '');
    await trigger(h, 'pub-events', 'my-event', '{"message":"hello"}');
    await trigger(h, 'pub-events', 'plain', 'hello world');
    for (const c of [a.client, b.client]) {
      expect(await c.next()).toEqual({ event: 'my-event', channel: 'pub-events', data: '{"message":"hello"}' });
      expect(await c.next()).toEqual({ event: 'plain', channel: 'pub-events', data: 'hello world' });
    }
    // Excluding a socket id (REST socket_id, Laravel toOthers()) skips that connection only.
    await trigger(h, 'pub-events', 'not-for-a', '1', a.socketId);
    expect(await b.client.next()).toEqual({ event: 'not-for-a', channel: 'pub-events', data: '1' });
    await expectQuiet(a.client);
    // The multi-channel form delivers once per channel.
    expect(await rest(h, 'POST', '/events', { name: 'multi', data: '2', channels: ['pub-events', 'pub-other'] })).toEqual({ status: 200, body: {} });
    expect(await a.client.next()).toEqual({ event: 'multi', channel: 'pub-events', data: '2' });
    expect(await b.client.next()).toEqual({ event: 'multi', channel: 'pub-events', data: '2' });
    expect(await b.client.next()).toEqual({ event: 'multi', channel: 'pub-other', data: '2' });
  });

  it('socket_id of a connection outside the channel excludes nobody, whether it holds other channels or none', async () => {
    const a = await connect(h);
    const elsewhere = await connect(h);
    const nowhere = await connect(h);
    await subscribeOk(a.client, 'pub-target', '');
    await subscribeOk(elsewhere.client, 'pub-somewhere-else', '');
    await trigger(h, 'pub-target', 'via-elsewhere', '1', elsewhere.socketId);
    await trigger(h, 'pub-target', 'via-nowhere', '2', nowhere.socketId);
    expect(await a.client.next()).toEqual({ event: 'via-elsewhere', channel: 'pub-target', data: '1' });
    expect(await a.client.next()).toEqual({ event: 'via-nowhere', channel: 'pub-target', data: '2' });
    await expectQuiet(elsewhere.client);
    await expectQuiet(nowhere.client);
  });

  it('the same event through the adapter (publishEvent) is delivered identically', async () => {
    const a = await connect(h);
    await subscribeOk(a.client, 'pub-direct', '');
    publish(h, 'pub-direct', 'my-event', '{"message":"hello"}');
    expect(await a.client.next()).toEqual({ event: 'my-event', channel: 'pub-direct', data: '{"message":"hello"}' });
  });
});

describe.each(['private-', 'private-cache-', 'private-encrypted-', 'private-encrypted-cache-'])('%s channels', (prefix) => {
  const isCache = prefix.includes('cache-');
  const after = async (client: RawClient, channel: string) => {
    if (isCache) expect(await client.next()).toEqual({ event: 'pusher:cache_miss', channel });
  };

  it('accept the private signature over "socket_id:channel"', async () => {
    const { client, socketId } = await connect(h);
    const channel = `${prefix}ok`;
    const auth = signChannel(vectorApp.key, vectorApp.secret, socketId, channel);
    expect(await subscribeOk(client, channel, auth)).toEqual({ event: 'pusher_internal:subscription_succeeded', channel, data: '{}' });
    await after(client, channel);
    expect(await subscriptionCount(h, channel)).toBe(1);
  });

  const bad: [string, (socketId: string, channel: string) => string | undefined][] = [
    ['missing auth', () => undefined],
    ['empty auth', () => ''],
    ['auth without key', (s, c) => privateAuth(h, s, c).split(':')[1]],
    ['auth with an empty signature', () => `${vectorApp.key}:`],
    ['another app key', (s, c) => `other-key:${privateAuth(h, s, c).split(':')[1]}`],
    ['signed with another secret', (s, c) => signChannel(vectorApp.key, 'wrong-secret', s, c)],
    ['signed for another socket id (the vector socket 1234.1234)', (_s, c) => signChannel(vectorApp.key, vectorApp.secret, '1234.1234', c)],
    ['signed for another channel', (s) => privateAuth(h, s, `${prefix}other`)],
    ['signed in the presence form (with channel_data)', (s, c) => privateAuth(h, s, c, '{"user_id":"1"}')],
    ['uppercase hex signature', (s, c) => `${vectorApp.key}:${privateAuth(h, s, c).split(':')[1]!.toUpperCase()}`],
    ['signature with a trailing space', (s, c) => `${privateAuth(h, s, c)} `],
  ];

  it.each(bad)('reject %s: pusher:error 4009 + subscription_error, connection open, no subscription', async (_label, makeAuth) => {
    const { client, socketId } = await connect(h);
    const channel = `${prefix}rejected`;
    client.subscribe(channel, makeAuth(socketId, channel));
    await expectSubscriptionRejected(client, channel);
    await expectNotSubscribed(client, channel);
    // The same connection can still subscribe properly afterwards.
    await subscribeOk(client, channel, privateAuth(h, socketId, channel));
    await after(client, channel);
    expect(await subscriptionCount(h, channel)).toBe(1);
  });
});

describe('vector signatures', () => {
  it('the channel_auth vectors are valid only for their own socket id', async () => {
    for (const vector of channelAuth) {
      const { client, socketId } = await connect(h);
      expect(socketId).not.toBe(vector.socket_id);
      client.subscribe(vector.channel_name, vector.expected_auth);
      await expectSubscriptionRejected(client, vector.channel_name, /signature/i);
      // Recomputed for the live socket with the same key and secret, it is accepted.
      await subscribeOk(client, vector.channel_name, signChannel(vectorApp.key, vectorApp.secret, socketId, vector.channel_name));
    }
  });
});

describe('a rejected subscriber receives nothing from the channel', () => {
  it('no server events and no client events reach it', async () => {
    const member = await connect(h);
    const intruder = await connect(h);
    const channel = 'private-guarded';
    await subscribeOk(member.client, channel, privateAuth(h, member.socketId, channel));
    intruder.client.subscribe(channel, privateAuth(h, member.socketId, channel));
    await expectSubscriptionRejected(intruder.client, channel);
    await trigger(h, channel, 'secret', '"s"');
    member.client.send({ event: 'client-secret', channel, data: 'x' });
    expect(await member.client.next()).toEqual({ event: 'secret', channel, data: '"s"' });
    await expectQuiet(intruder.client, member.client);
    expect(await subscriptionCount(h, channel)).toBe(1);
  });
});

describe('#server-to-user- channels', () => {
  it('are refused with 4009 to a connection that is not signed in', async () => {
    const { client } = await connect(h);
    client.subscribe('#server-to-user-42', '');
    await expectSubscriptionRejected(client, '#server-to-user-42', 'Connection is unauthorized');
    expect(await subscriptionCount(h, '#server-to-user-42')).toBe(0);
    await expectAlive(client);
  });
});
