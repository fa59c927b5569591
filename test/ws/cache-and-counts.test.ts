import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHerald, TEST_APP, type TestHerald } from '../helpers/herald.js';
import { vectors } from '../protocol/vectors.js';
import {
  connect,
  expectAlive,
  expectQuiet,
  finishClients,
  privateAuth,
  trigger,
  subscribeOk,
  type RawClient,
} from './helpers.js';

let h: TestHerald;
beforeAll(async () => {
  h = await startHerald({
    apps: [
      TEST_APP,
      { id: 'short', key: 'short-key', secret: 'short-secret', cacheTtl: 1 },
      { id: 'counted', key: 'counted-key', secret: 'counted-secret', subscriptionCount: true },
    ],
  });
});
afterEach(finishClients);
afterAll(() => h.stop());

const appOf = (id: string): TestHerald => ({ ...h, app: h.config.apps.find((a) => a.id === id)! });
const pathOf = (key: string) => `/app/${key}?protocol=7&client=js&version=8.6.0&flash=false`;

/** Subscribes with whatever auth the channel type needs and returns the frames up to subscription_succeeded. */
async function join(target: TestHerald, channel: string, userId = 'u') {
  const conn = await connect(target, pathOf(target.app.key));
  const { client, socketId } = conn;
  if (channel.startsWith('presence-')) {
    const cd = JSON.stringify({ user_id: userId });
    await subscribeOk(client, channel, privateAuth(target, socketId, channel, cd), cd);
  } else if (channel.startsWith('private-')) {
    await subscribeOk(client, channel, privateAuth(target, socketId, channel));
  } else {
    await subscribeOk(client, channel, '');
  }
  return conn;
}

const miss = (channel: string) => ({ event: 'pusher:cache_miss', channel });

describe.each(['cache-', 'private-cache-', 'private-encrypted-cache-', 'presence-cache-'])('%s channels', (prefix) => {
  it('send pusher:cache_miss (no data) right after subscription_succeeded when nothing is cached', async () => {
    const channel = `${prefix}empty`;
    const { client } = await join(h, channel);
    const frame = await client.next();
    expect(frame).toEqual(miss(channel));
    expect('data' in frame).toBe(false);
    await expectAlive(client);
  });

  it('replay only the last published event, verbatim, to each new subscriber', async () => {
    const channel = `${prefix}prices`;
    const early = await join(h, channel, 'early');
    expect(await early.client.next()).toEqual(miss(channel));
    await trigger(h, channel, 'price', '{"v":1}');
    await trigger(h, channel, 'price', '{"v":2}');
    // Live subscribers get both.
    expect(await early.client.next()).toEqual({ event: 'price', channel, data: '{"v":1}' });
    expect(await early.client.next()).toEqual({ event: 'price', channel, data: '{"v":2}' });

    for (const userId of ['late1', 'late2']) {
      const late = await join(h, channel, userId);
      expect(await late.client.next()).toEqual({ event: 'price', channel, data: '{"v":2}' });
      await expectAlive(late.client);
    }
  });
});

describe('cache details', () => {
  it('a non-JSON data string and the encrypted vector envelope replay unchanged', async () => {
    await trigger(h, 'cache-text', 'say', 'hello world');
    const text = await join(h, 'cache-text');
    expect(await text.client.next()).toEqual({ event: 'say', channel: 'cache-text', data: 'hello world' });

    const envelope = vectors.encrypted_channel[0]!.example_event.http_event_data_field;
    await trigger(h, 'private-encrypted-cache-vault', 'secret', envelope);
    const vault = await join(h, 'private-encrypted-cache-vault');
    expect(await vault.client.next()).toEqual({ event: 'secret', channel: 'private-encrypted-cache-vault', data: envelope });
  });

  it('channels without the cache prefix never replay nor send cache_miss', async () => {
    for (const channel of ['plain-after-publish', 'private-nocache', 'presence-nocache', 'cached-lookalike', 'xcache-y']) {
      await trigger(h, channel, 'old', '1');
      const { client } = await join(h, channel);
      await expectAlive(client);
    }
  });

  it('the cache is per app', async () => {
    await trigger(h, 'cache-per-app', 'e', '"default app"');
    const other = await join(appOf('counted'), 'cache-per-app');
    // The counted app also sends its subscription count; the cache_miss comes first.
    expect(await other.client.next()).toEqual(miss('cache-per-app'));
  });

  it('an entry expires after the app cacheTtl', async () => {
    const app = appOf('short');
    await trigger(app, 'cache-ttl', 'e', '"soon gone"');
    const fresh = await join(app, 'cache-ttl');
    expect(await fresh.client.next()).toEqual({ event: 'e', channel: 'cache-ttl', data: '"soon gone"' });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const stale = await join(app, 'cache-ttl');
    expect(await stale.client.next()).toEqual(miss('cache-ttl'));
  });
});

describe('pusher_internal:subscription_count (app subscriptionCount: true)', () => {
  const counted = () => appOf('counted');

  async function expectCount(client: RawClient, channel: string, count: number): Promise<void> {
    const frame = await client.next();
    expect(frame).toEqual({ event: 'pusher_internal:subscription_count', channel, data: JSON.stringify({ subscription_count: count }) });
  }

  it.each(['counted-public', 'private-counted', 'private-encrypted-counted'])('is sent to every subscriber of %s on each subscribe and unsubscribe', async (channel) => {
    const a = await join(counted(), channel);
    await expectCount(a.client, channel, 1);
    const b = await join(counted(), channel);
    await expectCount(b.client, channel, 2);
    await expectCount(a.client, channel, 2);
    const c = await join(counted(), channel);
    for (const x of [c, b, a]) await expectCount(x.client, channel, 3);

    c.client.send({ event: 'pusher:unsubscribe', data: { channel } });
    await expectCount(a.client, channel, 2);
    await expectCount(b.client, channel, 2);
    await expectQuiet(c.client);
    // A disconnect counts as an unsubscribe.
    b.client.close();
    await expectCount(a.client, channel, 1);
    // The last one leaving sends nothing (nobody to tell).
    a.client.send({ event: 'pusher:unsubscribe', data: { channel } });
    await expectQuiet(a.client);
  });

  it('follows cache_miss on cache channels', async () => {
    const { client } = await join(counted(), 'cache-counted');
    expect(await client.next()).toEqual(miss('cache-counted'));
    await expectCount(client, 'cache-counted', 1);
  });

  it('is never sent on presence channels', async () => {
    const channel = 'presence-counted';
    const a = await join(counted(), channel, 'a');
    const b = await join(counted(), channel, 'b');
    expect((await a.client.next()).event).toBe('pusher_internal:member_added');
    b.client.send({ event: 'pusher:unsubscribe', data: { channel } });
    expect((await a.client.next()).event).toBe('pusher_internal:member_removed');
    await expectQuiet(a.client, b.client);
    await expectQuiet(b.client);
  });

  it('a duplicate subscribe does not change the count', async () => {
    const channel = 'counted-dupe';
    const a = await join(counted(), channel);
    await expectCount(a.client, channel, 1);
    await subscribeOk(a.client, channel, '');
    const b = await join(counted(), channel);
    await expectCount(b.client, channel, 2);
    await expectCount(a.client, channel, 2);
  });

  it('is not sent when the app does not enable it', async () => {
    const a = await join(h, 'uncounted');
    const b = await join(h, 'uncounted');
    b.client.close();
    await b.client.closed;
    await expectQuiet(a.client);
  });
});
