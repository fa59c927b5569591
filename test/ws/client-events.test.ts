import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHerald, TEST_APP, type TestHerald } from '../helpers/herald.js';
import {
  connect,
  expectAlive,
  expectErrorNext,
  expectQuiet,
  finishClients,
  joinPresence,
  privateAuth,
  subscribeOk,
  subscribePrivate,
  userAuth,
  type RawClient,
} from './helpers.js';

let h: TestHerald;
beforeAll(async () => {
  h = await startHerald({
    apps: [
      TEST_APP,
      { id: 'all', key: 'all-key', secret: 'all-secret', clientEvents: 'all' },
      { id: 'none', key: 'none-key', secret: 'none-secret', clientEvents: 'none' },
    ],
  });
});
afterEach(finishClients);
afterAll(() => h.stop());

/** A test herald view of another app of the same server, for signing with its secret. */
const appOf = (id: string): TestHerald => ({ ...h, app: h.config.apps.find((a) => a.id === id)! });
const pathOf = (key: string) => `/app/${key}?protocol=7&client=js&version=8.6.0&flash=false`;

/** `count` connections subscribed to a private channel. */
async function privatePeers(channel: string, count: number, target = h) {
  const peers = [];
  for (let i = 0; i < count; i++) {
    const peer = await connect(target, pathOf(target.app.key));
    await subscribePrivate(target, peer.client, peer.socketId, channel);
    peers.push(peer);
  }
  return peers;
}

const clientEvent = (channel: string, data: unknown, event = 'client-typing') => ({ event, channel, data });

describe('relay on private channels', () => {
  it('reaches every other subscriber, never the sender, without user_id', async () => {
    const channel = 'private-chat';
    const [a, b, c] = await privatePeers(channel, 3);
    a!.client.send(clientEvent(channel, { on: true }));
    for (const peer of [b!, c!]) expect(await peer.client.next()).toEqual({ event: 'client-typing', channel, data: { on: true } });
    await expectQuiet(a!.client);
  });

  it.each([
    ['an object stays an object', { a: 1, nested: { b: [1, 'two', null] } }],
    ['a string stays a string (Java)', '{"a":1}'],
    ['a non-JSON string', 'hello world'],
    ['a number', 42],
    ['an array', [1, 2, 3]],
    ['false', false],
    ['null', null],
    ['an empty string', ''],
    ['unicode', { text: 'héllo ✓ \u2028 😀' }],
  ])('keeps data verbatim: %s', async (_label, data) => {
    const channel = 'private-verbatim';
    const [a, b] = await privatePeers(channel, 2);
    a!.client.send(clientEvent(channel, data));
    const frame = await b!.client.next();
    expect(frame).toEqual({ event: 'client-typing', channel, data });
    expect(typeof frame.data).toBe(typeof data);
  });

  it('relays the exact string the Java client sends, byte for byte', async () => {
    const channel = 'private-java';
    const [a, b] = await privatePeers(channel, 2);
    a!.client.send('{"event":"client-msg","channel":"private-java","data":"{\\"text\\": \\"spaced \\"}"}');
    const raw = await new Promise<string>((resolve) => b!.client.ws.once('message', (d) => resolve(String(d))));
    expect(JSON.parse(raw)).toEqual({ event: 'client-msg', channel, data: '{"text": "spaced "}' });
  });

  it('a client event without data is relayed with data null', async () => {
    const channel = 'private-nodata';
    const [a, b] = await privatePeers(channel, 2);
    a!.client.send({ event: 'client-ping', channel });
    expect(await b!.client.next()).toEqual({ event: 'client-ping', channel, data: null });
  });

  it('ignores a user_id the sender puts in the frame (private: none relayed)', async () => {
    const channel = 'private-spoof';
    const [a, b] = await privatePeers(channel, 2);
    a!.client.send({ ...clientEvent(channel, {}), user_id: 'admin' });
    const frame = await b!.client.next();
    expect(frame).toEqual({ event: 'client-typing', channel, data: {} });
    expect('user_id' in frame).toBe(false);
  });

  it('works on private-cache- channels and is never cached', async () => {
    const channel = 'private-cache-whisper';
    const a = await connect(h);
    const b = await connect(h);
    for (const p of [a, b]) {
      await subscribePrivate(h, p.client, p.socketId, channel);
      expect(await p.client.next()).toEqual({ event: 'pusher:cache_miss', channel });
    }
    a.client.send(clientEvent(channel, { x: 1 }));
    expect(await b.client.next()).toEqual({ event: 'client-typing', channel, data: { x: 1 } });
    const late = await connect(h);
    await subscribePrivate(h, late.client, late.socketId, channel);
    expect(await late.client.next()).toEqual({ event: 'pusher:cache_miss', channel });
  });
});

describe('relay on presence channels', () => {
  it('adds the sender user_id (from its channel_data, as a string), never the payload one', async () => {
    const channel = 'presence-room';
    const a = await joinPresence(h, channel, '{"user_id":42,"user_info":{"name":"Ada"}}');
    const b = await joinPresence(h, channel, '{"user_id":"7"}');
    expect((await a.client.next()).event).toBe('pusher_internal:member_added');
    a.client.send({ ...clientEvent(channel, { on: true }), user_id: 'spoofed' });
    expect(await b.client.next()).toEqual({ event: 'client-typing', channel, data: { on: true }, user_id: '42' });
    b.client.send(clientEvent(channel, 'str'));
    expect(await a.client.next()).toEqual({ event: 'client-typing', channel, data: 'str', user_id: '7' });
    await expectQuiet(a.client, b.client);
    await expectQuiet(b.client);
  });

  it('works on presence-cache- channels', async () => {
    const channel = 'presence-cache-room';
    const { client: a, socketId: sa } = await connect(h);
    const { client: b, socketId: sb } = await connect(h);
    const cd = (id: string) => JSON.stringify({ user_id: id });
    await subscribeOk(a, channel, privateAuth(h, sa, channel, cd('a')), cd('a'));
    expect((await a.next()).event).toBe('pusher:cache_miss');
    await subscribeOk(b, channel, privateAuth(h, sb, channel, cd('b')), cd('b'));
    expect((await b.next()).event).toBe('pusher:cache_miss');
    expect((await a.next()).event).toBe('pusher_internal:member_added');
    a.send(clientEvent(channel, 1));
    expect(await b.next()).toEqual({ event: 'client-typing', channel, data: 1, user_id: 'a' });
  });
});

describe('rejections: pusher:error code null, nothing relayed, connection open', () => {
  async function expectRejected(sender: RawClient, listeners: RawClient[], message?: RegExp): Promise<void> {
    await expectErrorNext(sender, null, message);
    for (const l of listeners) await expectQuiet(l, sender);
    await expectAlive(sender);
  }

  it.each(['public-chan', 'cache-public', 'private-encrypted-secret', 'private-encrypted-cache-secret'])(
    'on %s, even when subscribed',
    async (channel) => {
      const a = await connect(h);
      const b = await connect(h);
      const isPublic = !channel.startsWith('private-');
      for (const p of [a, b]) {
        if (isPublic) await subscribeOk(p.client, channel, '');
        else await subscribePrivate(h, p.client, p.socketId, channel);
        if (channel.includes('cache-')) expect((await p.client.next()).event).toBe('pusher:cache_miss');
      }
      a.client.send(clientEvent(channel, { x: 1 }));
      await expectRejected(a.client, [b.client], /private and presence/);
    },
  );

  it('from a connection not subscribed to the channel (clientEvents "members", the default)', async () => {
    const channel = 'private-members-only';
    const [member] = await privatePeers(channel, 1);
    const outsider = await connect(h);
    outsider.client.send(clientEvent(channel, {}));
    await expectRejected(outsider.client, [member!.client], /Not subscribed/);
    // Presence too.
    const p = await joinPresence(h, 'presence-members-only', '{"user_id":"1"}');
    outsider.client.send(clientEvent('presence-members-only', {}));
    await expectRejected(outsider.client, [p.client], /Not subscribed/);
  });

  it('after the sender unsubscribed', async () => {
    const channel = 'private-left';
    const [a, b] = await privatePeers(channel, 2);
    a!.client.send({ event: 'pusher:unsubscribe', data: { channel } });
    a!.client.send(clientEvent(channel, {}));
    await expectRejected(a!.client, [b!.client], /Not subscribed/);
  });

  it('whose name does not start with client-', async () => {
    const channel = 'private-names';
    const [a, b] = await privatePeers(channel, 2);
    for (const event of ['typing', 'Client-typing', 'server-event', 'clienttyping']) {
      a!.client.send(clientEvent(channel, {}, event));
      await expectRejected(a!.client, [b!.client]);
    }
  });

  it('without a channel', async () => {
    const { client } = await connect(h);
    client.send({ event: 'client-nochannel', data: {} });
    await expectErrorNext(client, null, /channel/);
    await expectAlive(client);
  });

  it('with a name over 200 characters (200 is accepted)', async () => {
    const channel = 'private-longname';
    const [a, b] = await privatePeers(channel, 2);
    const name200 = 'client-' + 'x'.repeat(193);
    a!.client.send(clientEvent(channel, {}, name200 + 'x'));
    await expectRejected(a!.client, [b!.client], /200/);
    a!.client.send(clientEvent(channel, {}, name200));
    expect((await b!.client.next()).event).toBe(name200);
  });

  it('with data over 10 KB serialised (exactly 10240 bytes is accepted)', async () => {
    const channel = 'private-bigdata';
    const [a, b] = await privatePeers(channel, 2);
    const fits = 'x'.repeat(10240 - 2); // JSON string quotes make it 10240 bytes
    a!.client.send(clientEvent(channel, fits + 'x'));
    await expectRejected(a!.client, [b!.client], /10240/);
    a!.client.send(clientEvent(channel, fits));
    expect((await b!.client.next()).data).toBe(fits);
  });
});

describe('clientEvents modes', () => {
  it('"all": a connection of the app that is not subscribed may send on private and presence channels', async () => {
    const app = appOf('all');
    const channel = 'private-open';
    const [member] = await privatePeers(channel, 1, app);
    const outsider = await connect(app, pathOf('all-key'));
    outsider.client.send(clientEvent(channel, { from: 'outside' }));
    expect(await member!.client.next()).toEqual({ event: 'client-typing', channel, data: { from: 'outside' } });
    // Still only private/presence.
    await subscribeOk(member!.client, 'public-in-all', '');
    outsider.client.send(clientEvent('public-in-all', {}));
    await expectErrorNext(outsider.client, null, /private and presence/);
    await expectQuiet(member!.client, outsider.client);
    // And still not to another app's channel of the same name.
    const [otherApp] = await privatePeers(channel, 1);
    outsider.client.send(clientEvent(channel, 2));
    expect(await member!.client.next()).toEqual({ event: 'client-typing', channel, data: 2 });
    await expectQuiet(otherApp!.client, outsider.client);
  });

  it('"all": on a presence channel a non-member sender is identified by its signed-in user, if any', async () => {
    const app = appOf('all');
    const channel = 'presence-open';
    const cd = '{"user_id":"m"}';
    const member = await connect(app, pathOf('all-key'));
    await subscribeOk(member.client, channel, privateAuth(app, member.socketId, channel, cd), cd);
    const outsider = await connect(app, pathOf('all-key'));
    const userData = '{"id":"signed"}';
    outsider.client.send({ event: 'pusher:signin', data: { auth: userAuth(app, outsider.socketId, userData), user_data: userData } });
    expect((await outsider.client.next()).event).toBe('pusher:signin_success');
    outsider.client.send(clientEvent(channel, 1));
    expect(await member.client.next()).toEqual({ event: 'client-typing', channel, data: 1, user_id: 'signed' });
    const anonymous = await connect(app, pathOf('all-key'));
    anonymous.client.send(clientEvent(channel, 2));
    expect(await member.client.next()).toEqual({ event: 'client-typing', channel, data: 2 });
  });

  it('"none": every client event is rejected, even from subscribers', async () => {
    const app = appOf('none');
    const channel = 'private-closed';
    const [a, b] = await privatePeers(channel, 2, app);
    a!.client.send(clientEvent(channel, {}));
    await expectErrorNext(a!.client, null, /not enabled/);
    await expectQuiet(b!.client, a!.client);
    const p = await connect(app, pathOf('none-key'));
    const cd = '{"user_id":"1"}';
    await subscribeOk(p.client, 'presence-closed', privateAuth(app, p.socketId, 'presence-closed', cd), cd);
    p.client.send(clientEvent('presence-closed', {}));
    await expectErrorNext(p.client, null, /not enabled/);
  });
});

describe('rate limit (default 10 per second per connection)', () => {
  it('the 11th event within a second gets 4301, is not relayed, and the connection stays open', async () => {
    const channel = 'private-rate';
    const [a, b] = await privatePeers(channel, 2);
    const start = Date.now();
    for (let i = 1; i <= 11; i++) a!.client.send(clientEvent(channel, i));
    await expectErrorNext(a!.client, 4301, 'Client event rejected due to rate limit');
    expect(Date.now() - start).toBeLessThan(1000);
    for (let i = 1; i <= 10; i++) expect(await b!.client.next()).toEqual({ event: 'client-typing', channel, data: i });
    await expectQuiet(b!.client, a!.client);
    await expectAlive(a!.client);
    expect(a!.client.closeCode).toBeUndefined();

    // The limit is per connection: b may still send.
    b!.client.send(clientEvent(channel, 'from b'));
    expect(await a!.client.next()).toEqual({ event: 'client-typing', channel, data: 'from b' });

    // After the window a may send again.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + 1050 - Date.now())));
    a!.client.send(clientEvent(channel, 'again'));
    expect(await b!.client.next()).toEqual({ event: 'client-typing', channel, data: 'again' });
    await expectQuiet(a!.client);
  });
});
