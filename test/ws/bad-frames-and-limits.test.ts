import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import {
  connect,
  expectAlive,
  expectErrorNext,
  expectQuiet,
  finishClients,
  privateAuth,
  publish,
  subscribeOk,
  subscribePrivate,
  subscriptionCount,
  until,
  type RawClient,
} from './helpers.js';

let h: TestHerald;
beforeAll(async () => {
  h = await startHerald({
    app: { maxMessageSize: 1000, maxChannelsPerConnection: 3 },
    server: { maxPayloadLength: 8192 },
  });
});
afterEach(finishClients);
afterAll(() => h.stop());

/** The frame gets exactly one `pusher:error` (code null unless given) and the connection lives on. */
async function expectBadFrame(client: RawClient, frame: unknown, message: string | RegExp, code: number | null = null): Promise<void> {
  client.send(frame as object);
  await expectErrorNext(client, code, message);
  await expectAlive(client);
}

describe('malformed frames: pusher:error code null "Invalid message format", no close', () => {
  it.each(['garbage', '{', '', '[]', '[{"event":"pusher:ping"}]', '"pusher:ping"', 'null', '123', 'true', '{"event":"pusher:ping"', '\u0000'])(
    'not a JSON object: %j',
    async (text) => {
      const { client } = await connect(h);
      await expectBadFrame(client, text, 'Invalid message format');
    },
  );

  it.each(['{}', '{"data":{}}', '{"event":1}', '{"event":null}', '{"event":{"name":"pusher:ping"}}', '{"Event":"pusher:ping"}'])(
    'no string event: %s',
    async (text) => {
      const { client } = await connect(h);
      await expectBadFrame(client, text, 'Invalid message format');
    },
  );

  it('fifty bad frames in a row: fifty errors, still open', async () => {
    const { client } = await connect(h);
    for (let i = 0; i < 50; i++) client.send('nope');
    for (let i = 0; i < 50; i++) await expectErrorNext(client, null, 'Invalid message format');
    await expectAlive(client);
  });
});

describe('events a client may not send: pusher:error code null "Unsupported event", nothing relayed', () => {
  it.each([
    'pusher:foo',
    'pusher:connection_established',
    'pusher:error',
    'pusher:cache_miss',
    'pusher:signin_success',
    'pusher:subscription_error',
    'pusher:subscription_succeeded',
    'pusher_internal:subscription_succeeded',
    'pusher_internal:member_added',
    'pusher_internal:member_removed',
    'pusher_internal:subscription_count',
    'pusher_internal:watchlist_events',
    'my-event',
    'App\\Events\\OrderShipped',
    'client',
    'PUSHER:PING',
  ])('%s', async (event) => {
    const channel = 'private-victims';
    const sender = await connect(h);
    const victim = await connect(h);
    await subscribePrivate(h, sender.client, sender.socketId, channel);
    await subscribePrivate(h, victim.client, victim.socketId, channel);
    sender.client.send({ event, channel, data: '{"user_id":"x"}' });
    await expectErrorNext(sender.client, null, 'Unsupported event');
    await expectQuiet(victim.client, sender.client);
    await expectAlive(sender.client);
  });
});

describe('bad pusher:subscribe / unsubscribe / signin payloads: pusher:error code null, no subscription', () => {
  it.each([
    ['no data', { event: 'pusher:subscribe' }],
    ['data null', { event: 'pusher:subscribe', data: null }],
    ['no channel', { event: 'pusher:subscribe', data: { auth: '' } }],
    ['numeric channel', { event: 'pusher:subscribe', data: { channel: 5 } }],
    ['array data', { event: 'pusher:subscribe', data: ['x'] }],
    ['data string that is not JSON', { event: 'pusher:subscribe', data: 'channel=x' }],
    ['numeric auth', { event: 'pusher:subscribe', data: { channel: 'private-x', auth: 1 } }],
    ['object channel_data', { event: 'pusher:subscribe', data: { channel: 'presence-x', auth: 'a:b', channel_data: { user_id: 1 } } }],
    ['unsubscribe without channel', { event: 'pusher:unsubscribe', data: {} }],
    ['unsubscribe without data', { event: 'pusher:unsubscribe' }],
    ['signin without user_data', { event: 'pusher:signin', data: { auth: 'a:b' } }],
    ['signin with object user_data', { event: 'pusher:signin', data: { auth: 'a:b', user_data: { id: '1' } } }],
  ])('%s', async (_label, frame) => {
    const { client } = await connect(h);
    await expectBadFrame(client, frame, /^Invalid pusher:(subscribe|unsubscribe|signin) data/);
    expect(await subscriptionCount(h, 'private-x')).toBe(0);
    expect(await subscriptionCount(h, 'presence-x')).toBe(0);
  });
});

describe('channel names (reference 4.1): pusher:error code null, no subscription', () => {
  const longest = 'c'.repeat(164);
  it.each([
    ['a space', 'bad name'],
    ['a star', 'a*b'],
    ['a colon', 'presence-a:b'],
    ['a slash', 'orders/5'],
    ['non-ASCII', 'ümlaut'],
    ['empty', ''],
    ['165 characters', 'c'.repeat(165)],
    ['165 characters with a private- prefix', 'private-' + 'c'.repeat(157)],
    ['a leading #', '#foo'],
    ['# not as the user-channel prefix', '#server-to-userx-1'],
    ['an empty user id', '#server-to-user-'],
    ['# inside', 'private-#x'],
    ['a user-channel id with a bad character', '#server-to-user-a b'],
  ])('%s', async (_label, channel) => {
    const { client, socketId } = await connect(h);
    client.subscribe(channel, channel.startsWith('private-') ? privateAuth(h, socketId, channel) : '');
    // Reference 3.3: code null, message "Invalid channel name" (the length limit may be appended).
    await expectErrorNext(client, null, channel.length > 164 ? 'Invalid channel name: longer than 164 characters' : 'Invalid channel name');
    await expectAlive(client);
    expect(await subscriptionCount(h, channel)).toBe(0);
  });

  it('164 characters and every allowed character are accepted', async () => {
    const { client } = await connect(h);
    await subscribeOk(client, longest, '');
    await subscribeOk(client, 'AZaz09_-=@,.;', '');
  });
});

describe('message size', () => {
  it('a text frame over the app maxMessageSize gets pusher:error and is not acted on; at the limit it is', async () => {
    const { client } = await connect(h);
    const frameOf = (size: number) => {
      const base = JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'sized', auth: '' } });
      const frame = JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'sized', auth: 'x'.repeat(size - base.length) } });
      expect(Buffer.byteLength(frame)).toBe(size);
      return frame;
    };
    client.send(frameOf(1001));
    await expectErrorNext(client, null, /1000/);
    await expectAlive(client);
    expect(await subscriptionCount(h, 'sized')).toBe(0);
    client.send(frameOf(1000));
    expect((await client.next()).event).toBe('pusher_internal:subscription_succeeded');
  });

  it('multi-byte characters are measured in bytes', async () => {
    const { client } = await connect(h);
    const frame = JSON.stringify({ event: 'pusher:ping', data: { pad: 'é'.repeat(495) } });
    expect(frame.length).toBeLessThanOrEqual(1000);
    expect(Buffer.byteLength(frame)).toBeGreaterThan(1000);
    client.send(frame);
    await expectErrorNext(client, null, /1000/);
    await expectAlive(client);
  });

  it('a frame over the server maxPayloadLength closes only that socket; the server lives on', async () => {
    const { client, socketId } = await connect(h);
    const other = await connect(h);
    await subscribeOk(client, 'too-big', '');
    client.send('x'.repeat(9000));
    // uWS drops the socket without a close frame (the client sees 1006), or sends 1009.
    expect([1006, 1009]).toContain(await client.closed);
    // The server noticed: the connection and its subscription are gone.
    await until(() => h.herald.adapter.connection(socketId) === undefined);
    expect(await subscriptionCount(h, 'too-big')).toBe(0);
    await expectAlive(other.client);
    await expectAlive((await connect(h)).client);
  });
});

describe('binary frames', () => {
  it('get pusher:error code null and are not acted on, even with a valid subscribe inside', async () => {
    const { client } = await connect(h);
    client.ws.send(Buffer.from(JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'binary-chan' } })), { binary: true });
    await expectErrorNext(client, null, /Binary/);
    client.ws.send(Buffer.from([0, 159, 146, 150]), { binary: true });
    await expectErrorNext(client, null, /Binary/);
    await expectAlive(client);
    expect(await subscriptionCount(h, 'binary-chan')).toBe(0);
  });
});

describe('subscriptions per connection (maxChannelsPerConnection 3)', () => {
  it('refuses the 4th channel; re-subscribing an existing one is fine; unsubscribing frees a slot', async () => {
    const { client, socketId } = await connect(h);
    await subscribeOk(client, 'lim-1', '');
    await subscribeOk(client, 'lim-2', '');
    await subscribePrivate(h, client, socketId, 'private-lim-3');
    client.subscribe('lim-4', '');
    await expectErrorNext(client, null, /3/);
    await expectAlive(client);
    expect(await subscriptionCount(h, 'lim-4')).toBe(0);
    // Already-subscribed channels do not count again.
    await subscribeOk(client, 'lim-1', '');
    client.send({ event: 'pusher:unsubscribe', data: { channel: 'lim-2' } });
    await subscribeOk(client, 'lim-4', '');
    // The limit is per connection.
    const other = await connect(h);
    await subscribeOk(other.client, 'lim-1', '');
  });
});

describe('subscribe twice / unsubscribe', () => {
  it('subscribing twice answers subscription_succeeded twice and counts one subscription', async () => {
    const { client, socketId } = await connect(h);
    await subscribeOk(client, 'twice', '');
    await subscribeOk(client, 'twice', '');
    expect(await subscriptionCount(h, 'twice')).toBe(1);
    await subscribePrivate(h, client, socketId, 'private-twice');
    // The second subscribe to a channel already joined is answered without re-checking auth.
    await subscribePrivate(h, client, socketId, 'private-twice');
    expect(await subscriptionCount(h, 'private-twice')).toBe(1);
    client.send({ event: 'pusher:unsubscribe', data: { channel: 'twice' } });
    await expectAlive(client);
    expect(await subscriptionCount(h, 'twice')).toBe(0);
  });

  it('unsubscribing from an unknown, never-joined or invalid channel is silent', async () => {
    const { client } = await connect(h);
    for (const channel of ['never-joined', 'private-never', 'presence-never', '#server-to-user-1', 'bad name', 'c'.repeat(300)]) {
      client.send({ event: 'pusher:unsubscribe', data: { channel } });
    }
    client.send({ event: 'pusher:unsubscribe', data: JSON.stringify({ channel: 'string-form' }) });
    await expectAlive(client);
  });

  it('after unsubscribing, channel events no longer arrive', async () => {
    const { client } = await connect(h);
    const other = await connect(h);
    await subscribeOk(client, 'leave-me', '');
    await subscribeOk(other.client, 'leave-me', '');
    client.send({ event: 'pusher:unsubscribe', data: { channel: 'leave-me' } });
    await expectAlive(client);
    publish(h, 'leave-me', 'e', '1');
    expect(await other.client.next()).toEqual({ event: 'e', channel: 'leave-me', data: '1' });
    await expectQuiet(client);
  });
});

it('the server is still healthy after all of the above', async () => {
  const { client } = await connect(h);
  await subscribeOk(client, 'still-alive', '');
  await expectAlive(client);
});
