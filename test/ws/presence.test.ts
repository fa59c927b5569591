import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { vectors, type PresenceAuthVector } from '../protocol/vectors.js';
import {
  connect,
  dataOf,
  expectAlive,
  expectErrorNext,
  expectQuiet,
  expectSubscriptionRejected,
  finishClients,
  joinPresence,
  privateAuth,
  subscribeOk,
  type Frame,
  type RawClient,
} from './helpers.js';

const vectorApp = vectors.app;
const positive = vectors.presence_auth.filter((v) => !v.negative) as { channel_name: string; channel_data: string }[];
const negative = vectors.presence_auth.find((v): v is Extract<PresenceAuthVector, { negative: true }> => v.negative === true)!;

interface Presence {
  presence: { ids: string[]; hash: Record<string, unknown>; count: number };
}

let h: TestHerald;
/** Same secret, small presence limits. */
let limited: TestHerald;
beforeAll(async () => {
  h = await startHerald({ app: { id: vectorApp.app_id, key: vectorApp.key, secret: vectorApp.secret } });
  limited = await startHerald({ app: { maxPresenceMembers: 3, maxPresenceUserIdLength: 8, maxPresenceUserInfoSize: 50 } });
});
afterEach(finishClients);
afterAll(async () => {
  await h.stop();
  await limited.stop();
});

const cd = (userId: string | number, userInfo?: unknown) =>
  JSON.stringify(userInfo === undefined ? { user_id: userId } : { user_id: userId, user_info: userInfo });

function presenceOf(frame: Frame): Presence['presence'] {
  expect(frame.event).toBe('pusher_internal:subscription_succeeded');
  expect(typeof frame.data).toBe('string');
  return dataOf<Presence>(frame).presence;
}

async function expectMemberAdded(client: RawClient, channel: string, userId: string, userInfo?: unknown): Promise<void> {
  const frame = await client.next();
  expect(frame.event).toBe('pusher_internal:member_added');
  expect(frame.channel).toBe(channel);
  expect(typeof frame.data).toBe('string');
  expect(JSON.parse(frame.data as string)).toEqual(userInfo === undefined ? { user_id: userId } : { user_id: userId, user_info: userInfo });
}

async function expectMemberRemoved(client: RawClient, channel: string, userId: string): Promise<void> {
  expect(await client.next()).toEqual({ event: 'pusher_internal:member_removed', channel, data: JSON.stringify({ user_id: userId }) });
}

describe('subscription_succeeded', () => {
  it('vector channel_data (numeric user_id 10) succeeds; ids are strings and include self', async () => {
    for (const vector of positive) {
      const join = await joinPresence(h, vector.channel_name + '.v', vector.channel_data);
      const parsed = JSON.parse(vector.channel_data) as { user_id: string | number; user_info?: unknown };
      const id = String(parsed.user_id);
      expect(presenceOf(join.succeeded)).toEqual({ ids: [id], hash: { [id]: parsed.user_info ?? null }, count: 1 });
      join.client.close();
    }
  });

  it('lists every distinct member in join order with their user_info (null when absent)', async () => {
    const channel = 'presence-list';
    const a = await joinPresence(h, channel, cd(10, { name: 'Ada' }));
    const b = await joinPresence(h, channel, cd('b'));
    const c = await joinPresence(h, channel, cd('c', ['x', 1]));
    expect(presenceOf(a.succeeded)).toEqual({ ids: ['10'], hash: { '10': { name: 'Ada' } }, count: 1 });
    expect(presenceOf(b.succeeded)).toEqual({ ids: ['10', 'b'], hash: { '10': { name: 'Ada' }, b: null }, count: 2 });
    expect(presenceOf(c.succeeded)).toEqual({ ids: ['10', 'b', 'c'], hash: { '10': { name: 'Ada' }, b: null, c: ['x', 1] }, count: 3 });
    expect(await h.herald.adapter.users(h.app.id, channel)).toEqual(['10', 'b', 'c']);
  });

  it('presence-cache- channels send the presence hash then pusher:cache_miss', async () => {
    const channel = 'presence-cache-room';
    const { client, socketId } = await connect(h);
    client.subscribe(channel, privateAuth(h, socketId, channel, cd('1')), cd('1'));
    expect(presenceOf(await client.next())).toEqual({ ids: ['1'], hash: { '1': null }, count: 1 });
    expect(await client.next()).toEqual({ event: 'pusher:cache_miss', channel });
  });
});

describe('member_added / member_removed', () => {
  it('member_added goes to the others (not the joiner), with user_info, numeric id as string', async () => {
    const channel = 'presence-added';
    const a = await joinPresence(h, channel, cd('a'));
    const b = await joinPresence(h, channel, cd(7, { name: 'Bob' }));
    await expectMemberAdded(a.client, channel, '7', { name: 'Bob' });
    const c = await joinPresence(h, channel, cd('c'));
    await expectMemberAdded(a.client, channel, 'c');
    await expectMemberAdded(b.client, channel, 'c');
    await expectQuiet(c.client, a.client, b.client);
  });

  it('one member per user id however many connections; member_removed only after the last one leaves', async () => {
    const channel = 'presence-multi';
    const watcher = await joinPresence(h, channel, cd('w'));
    const tab1 = await joinPresence(h, channel, cd('u', { tab: 1 }));
    await expectMemberAdded(watcher.client, channel, 'u', { tab: 1 });
    const tab2 = await joinPresence(h, channel, cd('u', { tab: 2 }));
    // Second connection of the same user: nobody hears member_added; the count does not change.
    expect(presenceOf(tab2.succeeded)).toMatchObject({ ids: ['w', 'u'], count: 2 });
    const tab3 = await joinPresence(h, channel, cd('u', { tab: 3 }));
    expect(presenceOf(tab3.succeeded).count).toBe(2);
    await expectQuiet(watcher.client, tab2.client, tab3.client);
    await expectQuiet(tab1.client);
    expect((await h.herald.adapter.channelInfo(h.app.id, channel)).userCount).toBe(2);

    // Leaving by close and by unsubscribe both count; only the last one is announced.
    tab1.client.close();
    await tab1.client.closed;
    tab2.client.send({ event: 'pusher:unsubscribe', data: { channel } });
    await expectQuiet(watcher.client, tab2.client);
    expect(await h.herald.adapter.users(h.app.id, channel)).toEqual(['w', 'u']);
    tab3.client.close();
    await expectMemberRemoved(watcher.client, channel, 'u');
    expect(await h.herald.adapter.users(h.app.id, channel)).toEqual(['w']);
    // The unsubscribed tab2 is no longer in the channel and hears nothing.
    await expectQuiet(tab2.client);
  });

  it('unsubscribe announces member_removed to the others but not to the leaver', async () => {
    const channel = 'presence-unsub';
    const a = await joinPresence(h, channel, cd('a'));
    const b = await joinPresence(h, channel, cd('b'));
    await expectMemberAdded(a.client, channel, 'b');
    b.client.send({ event: 'pusher:unsubscribe', data: { channel } });
    await expectMemberRemoved(a.client, channel, 'b');
    await expectQuiet(b.client);
    // Re-joining announces the member again.
    await subscribeOk(b.client, channel, privateAuth(h, b.socketId, channel, cd('b')), cd('b'));
    await expectMemberAdded(a.client, channel, 'b');
  });

  it('an abrupt disconnect (no close frame) still removes the member', async () => {
    const channel = 'presence-abrupt';
    const a = await joinPresence(h, channel, cd('a'));
    const b = await joinPresence(h, channel, cd('b'));
    await expectMemberAdded(a.client, channel, 'b');
    b.client.ws.terminate();
    await expectMemberRemoved(a.client, channel, 'b');
  });

  it('subscribing twice is idempotent: a second subscription_succeeded, no second member_added', async () => {
    const channel = 'presence-twice';
    const a = await joinPresence(h, channel, cd('a'));
    const b = await joinPresence(h, channel, cd('b'));
    await expectMemberAdded(a.client, channel, 'b');
    const again = await subscribeOk(b.client, channel, privateAuth(h, b.socketId, channel, cd('b')), cd('b'));
    expect(presenceOf(again)).toEqual({ ids: ['a', 'b'], hash: { a: null, b: null }, count: 2 });
    await expectQuiet(a.client, b.client);
    // One unsubscribe is enough to leave.
    b.client.send({ event: 'pusher:unsubscribe', data: { channel } });
    await expectMemberRemoved(a.client, channel, 'b');
    expect((await h.herald.adapter.channelInfo(h.app.id, channel)).subscriptionCount).toBe(1);
  });
});

describe('signatures over the exact channel_data bytes', () => {
  it('rejects the vectors negative case: channel_data with one extra space', async () => {
    const { client, socketId } = await connect(h);
    const original = '{"user_id":"u-1"}';
    expect(negative.channel_data).toBe('{"user_id": "u-1"}');
    client.subscribe(negative.channel_name, privateAuth(h, socketId, negative.channel_name, original), negative.channel_data);
    await expectSubscriptionRejected(client, negative.channel_name, /signature/i);
    // And the vector auth itself (for socket 123.456) is refused on a live socket.
    client.subscribe(negative.channel_name, negative.auth, original);
    await expectSubscriptionRejected(client, negative.channel_name);
    expect(await h.herald.adapter.users(h.app.id, negative.channel_name)).toEqual([]);
    // The untampered string signed for this socket is accepted.
    await subscribeOk(client, negative.channel_name, privateAuth(h, socketId, negative.channel_name, original), original);
  });

  it.each([
    ['re-serialised with another key order', '{"user_info":{"n":1},"user_id":"x"}', '{"user_id":"x","user_info":{"n":1}}'],
    ['a numeric id signed as a string', '{"user_id":"10"}', '{"user_id":10}'],
    ['another user id', '{"user_id":"x"}', '{"user_id":"y"}'],
  ])('rejects channel_data %s', async (_label, signed, sent) => {
    const channel = 'presence-tamper';
    const { client, socketId } = await connect(h);
    client.subscribe(channel, privateAuth(h, socketId, channel, signed), sent);
    await expectSubscriptionRejected(client, channel);
    expect(await h.herald.adapter.users(h.app.id, channel)).toEqual([]);
    await expectAlive(client);
  });

  it.each([
    ['no channel_data (not signed in)', undefined, (s: string, c: string) => privateAuth(h, s, c), /channel_data/],
    ['the private form of the signature', cd('p'), (s: string, c: string) => privateAuth(h, s, c), /signature/i],
    ['no auth', cd('p'), () => undefined, undefined],
    ['channel_data that is not JSON (signed)', 'not json', (s: string, c: string) => privateAuth(h, s, c, 'not json'), undefined],
    ['channel_data without user_id (signed)', '{"user_info":{}}', (s: string, c: string) => privateAuth(h, s, c, '{"user_info":{}}'), undefined],
    ['channel_data with an object user_id (signed)', '{"user_id":{}}', (s: string, c: string) => privateAuth(h, s, c, '{"user_id":{}}'), undefined],
  ] as const)('rejects %s with 4009 + subscription_error', async (_label, channelData, makeAuth, message) => {
    const channel = 'presence-bad';
    const { client, socketId } = await connect(h);
    client.subscribe(channel, makeAuth(socketId, channel), channelData);
    await expectSubscriptionRejected(client, channel, message);
    expect(await h.herald.adapter.users(h.app.id, channel)).toEqual([]);
    await expectAlive(client);
  });
});

describe('presence limits (configured small: 3 members, user_id 8 chars, user_info 50 bytes)', () => {
  /** Limits answer pusher:error with code null (reference 3.3) and no subscription is made. */
  async function expectLimit(client: RawClient, channel: string, message: RegExp): Promise<void> {
    await expectErrorNext(client, null, message);
    const next = await (async () => {
      client.send({ event: 'pusher:ping' });
      return client.next();
    })();
    // A compat subscription_error for the channel is tolerated; nothing else.
    if (next.event === 'pusher:subscription_error') {
      expect(next.channel).toBe(channel);
      expect(await client.next()).toEqual({ event: 'pusher:pong', data: '{}' });
    } else expect(next).toEqual({ event: 'pusher:pong', data: '{}' });
  }

  it('the 4th distinct member is refused; an existing member may add connections', async () => {
    const channel = 'presence-full';
    const members = [];
    for (const id of ['1', '2', '3']) members.push(await joinPresence(limited, channel, cd(id)));
    await expectMemberAdded(members[0]!.client, channel, '2');
    await expectMemberAdded(members[0]!.client, channel, '3');
    await expectMemberAdded(members[1]!.client, channel, '3');
    const { client, socketId } = await connect(limited);
    client.subscribe(channel, privateAuth(limited, socketId, channel, cd('4')), cd('4'));
    await expectLimit(client, channel, /full|members/i);
    expect(await limited.herald.adapter.users(limited.app.id, channel)).toEqual(['1', '2', '3']);
    for (const m of members) await expectQuiet(m.client);
    // User 1's second connection is not a new member.
    const second = await joinPresence(limited, channel, cd('1'), { client, socketId });
    expect(presenceOf(second.succeeded).count).toBe(3);
    // Once a member leaves, a new user fits.
    members[2]!.client.close();
    await expectMemberRemoved(members[0]!.client, channel, '3');
    const fourth = await joinPresence(limited, channel, cd('4'));
    expect(presenceOf(fourth.succeeded).ids).toEqual(['1', '2', '4']);
  });

  it('user_id longer than the limit is refused; at the limit it is accepted', async () => {
    const channel = 'presence-idlen';
    const { client, socketId } = await connect(limited);
    client.subscribe(channel, privateAuth(limited, socketId, channel, cd('123456789')), cd('123456789'));
    await expectLimit(client, channel, /user_id/);
    // A numeric id is measured as its string form.
    client.subscribe(channel, privateAuth(limited, socketId, channel, cd(123456789)), cd(123456789));
    await expectLimit(client, channel, /user_id/);
    expect(await limited.herald.adapter.users(limited.app.id, channel)).toEqual([]);
    await joinPresence(limited, channel, cd('12345678'), { client, socketId });
  });

  it('user_info larger than the limit (serialised) is refused; at the limit it is accepted', async () => {
    const channel = 'presence-infosize';
    const big = { n: 'x'.repeat(51 - '{"n":""}'.length) };
    expect(JSON.stringify(big).length).toBe(51);
    const fits = { n: 'x'.repeat(50 - '{"n":""}'.length) };
    const { client, socketId } = await connect(limited);
    client.subscribe(channel, privateAuth(limited, socketId, channel, cd('u', big)), cd('u', big));
    await expectLimit(client, channel, /user_info/);
    expect(await limited.herald.adapter.users(limited.app.id, channel)).toEqual([]);
    await joinPresence(limited, channel, cd('u', fits), { client, socketId });
  });
});

describe('default presence limits (100 members, user_id 128, user_info 1 KB)', () => {
  it('refuses the 101st member, a 129-char user_id and a 1025-byte user_info', async () => {
    const channel = 'presence-defaults';
    const joins = await Promise.all(Array.from({ length: 100 }, (_, i) => joinPresence(h, channel, cd(`m${i}`))));
    expect(presenceOf(joins.at(-1)!.succeeded).count).toBeGreaterThan(0);
    expect((await h.herald.adapter.channelInfo(h.app.id, channel)).userCount).toBe(100);
    const { client, socketId } = await connect(h);
    client.subscribe(channel, privateAuth(h, socketId, channel, cd('m100')), cd('m100'));
    await expectErrorNext(client, null, /full|members/i);
    expect((await h.herald.adapter.channelInfo(h.app.id, channel)).userCount).toBe(100);

    const other = 'presence-defaults-2';
    const id129 = 'i'.repeat(129);
    client.subscribe(other, privateAuth(h, socketId, other, cd(id129)), cd(id129));
    await expectErrorNext(client, null, /user_id/);
    const info1025 = { n: 'x'.repeat(1025 - '{"n":""}'.length) };
    client.subscribe(other, privateAuth(h, socketId, other, cd('u', info1025)), cd('u', info1025));
    await expectErrorNext(client, null, /user_info/);
    expect(await h.herald.adapter.users(h.app.id, other)).toEqual([]);
    const id128 = 'i'.repeat(128);
    const info1024 = { n: 'x'.repeat(1024 - '{"n":""}'.length) };
    await joinPresence(h, other, cd(id128, info1024), { client, socketId });
  });
});
