import { describe, it, expect } from 'vitest';
import {
  cacheMiss,
  channelEvent,
  relayedClientEvent,
  serverEvent,
  connectionEstablished,
  errorFrame,
  memberAdded,
  memberRemoved,
  parseClientFrame,
  pingFrame,
  pongFrame,
  signinSuccess,
  subscriptionCount,
  subscriptionError,
  subscriptionSucceeded,
  watchlistEvents,
} from '../../protocol/frames.js';

/**
 * Member order is not significant (section 1.5), but whether `data` is a JSON
 * string or an object is (section 1.6): a string `data` is decoded and tagged so
 * the two forms never compare equal.
 */
function decode(frame: string): unknown {
  const outer = JSON.parse(frame) as Record<string, unknown>;
  return typeof outer.data === 'string' ? { ...outer, data: { jsonString: JSON.parse(outer.data) } } : outer;
}

function expectFrame(actual: string, expected: string): void {
  expect(decode(actual)).toEqual(decode(expected));
}

describe('server frames match the reference examples', () => {
  it('pusher:connection_established (1.3): data is a string', () => {
    expectFrame(
      connectionEstablished('123.456', 120),
      '{"event":"pusher:connection_established","data":"{\\"socket_id\\":\\"123.456\\",\\"activity_timeout\\":120}"}',
    );
    expect(connectionEstablished('1.2', 120)).toBe(
      '{"event":"pusher:connection_established","data":"{\\"socket_id\\":\\"1.2\\",\\"activity_timeout\\":120}"}',
    );
  });

  it('pusher:error (1.2, 2.8): data is an object', () => {
    expectFrame(errorFrame(4001, 'Application does not exist'), '{"event":"pusher:error","data":{"code":4001,"message":"Application does not exist"}}');
    expectFrame(
      errorFrame(4301, 'Client event rejected due to rate limit'),
      '{"event":"pusher:error","data":{"code":4301,"message":"Client event rejected due to rate limit"}}',
    );
    expectFrame(
      errorFrame(4302, 'Watchlist limit exceeded. Only the first 100 user IDs are accepted.'),
      '{"event":"pusher:error","data":{"code":4302,"message":"Watchlist limit exceeded. Only the first 100 user IDs are accepted."}}',
    );
  });

  it('pusher:error with a null code keeps code as JSON null', () => {
    expectFrame(errorFrame(null, 'Unsupported event'), '{"event":"pusher:error","data":{"code":null,"message":"Unsupported event"}}');
  });

  it('pusher:pong / pusher:ping (2.1)', () => {
    expect(pongFrame()).toBe('{"event":"pusher:pong","data":"{}"}');
    expect(pingFrame()).toBe('{"event":"pusher:ping","data":"{}"}');
  });

  it('pusher_internal:subscription_succeeded for non-presence channels (2.4)', () => {
    expectFrame(subscriptionSucceeded('private-chat'), '{"event":"pusher_internal:subscription_succeeded","channel":"private-chat","data":"{}"}');
  });

  it('pusher_internal:subscription_succeeded for presence channels (2.4)', () => {
    expectFrame(
      subscriptionSucceeded('presence-room', {
        ids: ['42', '7'],
        hash: { '42': { name: 'Ada' }, '7': { name: 'Bob' } },
        count: 2,
      }),
      '{"event":"pusher_internal:subscription_succeeded","channel":"presence-room","data":"{\\"presence\\":{\\"ids\\":[\\"42\\",\\"7\\"],\\"hash\\":{\\"42\\":{\\"name\\":\\"Ada\\"},\\"7\\":{\\"name\\":\\"Bob\\"}},\\"count\\":2}}"}',
    );
  });

  it('presence hash keeps members without info as null', () => {
    const frame = subscriptionSucceeded('presence-room', { ids: ['a', 'b'], hash: { a: undefined, b: null }, count: 2 });
    expect(decode(frame)).toEqual({
      event: 'pusher_internal:subscription_succeeded',
      channel: 'presence-room',
      data: { jsonString: { presence: { ids: ['a', 'b'], hash: { a: null, b: null }, count: 2 } } },
    });
  });

  it('presence hash with no members and awkward ids', () => {
    expect(decode(subscriptionSucceeded('presence-x', { ids: [], hash: {}, count: 0 }))).toMatchObject({
      data: { jsonString: { presence: { ids: [], hash: {}, count: 0 } } },
    });
    const odd = 'a"b\\c';
    expect(decode(subscriptionSucceeded('presence-x', { ids: [odd], hash: { [odd]: { s: '"' } }, count: 1 }))).toMatchObject({
      data: { jsonString: { presence: { ids: [odd], hash: { [odd]: { s: '"' } }, count: 1 } } },
    });
  });

  it('pusher:subscription_error (2.9): data is an object', () => {
    expectFrame(
      subscriptionError('private-chat', 401, 'Connection is unauthorized'),
      '{"event":"pusher:subscription_error","channel":"private-chat","data":{"type":"AuthError","error":"Connection is unauthorized","status":401}}',
    );
  });

  it('pusher_internal:member_added / member_removed (2.5)', () => {
    expectFrame(
      memberAdded('presence-room', '7', { name: 'Bob' }),
      '{"event":"pusher_internal:member_added","channel":"presence-room","data":"{\\"user_id\\":\\"7\\",\\"user_info\\":{\\"name\\":\\"Bob\\"}}"}',
    );
    expectFrame(
      memberRemoved('presence-room', '7'),
      '{"event":"pusher_internal:member_removed","channel":"presence-room","data":"{\\"user_id\\":\\"7\\"}"}',
    );
  });

  it('member_added omits user_info when the member has none, keeps explicit null', () => {
    expect(decode(memberAdded('presence-room', '7', undefined))).toEqual({
      event: 'pusher_internal:member_added',
      channel: 'presence-room',
      data: { jsonString: { user_id: '7' } },
    });
    expect(decode(memberAdded('presence-room', '7', null))).toMatchObject({ data: { jsonString: { user_id: '7', user_info: null } } });
  });

  it('channel event from REST passes the data string verbatim (1.6 worked example, 2.6)', () => {
    const restData = '{"message":"hello"}';
    const frame = serverEvent('my-event', 'my-channel', restData);
    expect(frame).toBe('{"event":"my-event","channel":"my-channel","data":"{\\"message\\":\\"hello\\"}"}');
    expectFrame(serverEvent('order-shipped', 'private-orders.5', '{"id":5}'), '{"event":"order-shipped","channel":"private-orders.5","data":"{\\"id\\":5}"}');
    expect(JSON.parse(serverEvent('e', 'c', 'hello world')).data).toBe('hello world');
  });

  it('a server event is byte for byte the frame spliced from its JSON-encoded parts', () => {
    for (const [event, channel, data] of [
      ['bench', 'private-user.1', '~T123456789:42~' + 'x'.repeat(85)],
      ['App\\Events\\OrderShipped', 'presence-room.5', '{"id":5,"note":"line\nbreak \u2028 \ud83d\ude00 \ud800"}'],
      ['', 'c', ''],
    ] as const) {
      expect(serverEvent(event, channel, data)).toBe(channelEvent(event, channel, JSON.stringify(data)));
    }
  });

  it('PHP-escaped REST data is not re-encoded', () => {
    const phpData = '{"id":5,"url":"http:\\/\\/x\\/y"}';
    const frame = serverEvent('App\\Events\\OrderShipped', 'private-orders.5', phpData);
    expect(JSON.parse(frame).data).toBe(phpData);
  });

  it('relayed client event keeps object data an object and adds user_id on presence (2.6)', () => {
    const parsed = parseClientFrame('{"event":"client-typing","data":{"on":true},"channel":"presence-room"}');
    if (!parsed.ok || parsed.frame.kind !== 'client-event') throw new Error('expected a client event');
    const frame = relayedClientEvent(parsed.frame, '42');
    expectFrame(frame, '{"event":"client-typing","channel":"presence-room","data":{"on":true},"user_id":"42"}');
  });

  it('relayed client event keeps string data a string and has no user_id on private channels', () => {
    const parsed = parseClientFrame('{"event":"client-x","channel":"private-y","data":"hello"}');
    if (!parsed.ok || parsed.frame.kind !== 'client-event') throw new Error('expected a client event');
    const frame = relayedClientEvent(parsed.frame);
    expect(JSON.parse(frame)).toEqual({ event: 'client-x', channel: 'private-y', data: 'hello' });
    expect(frame).not.toContain('user_id');
  });

  it('relays an event/channel/data frame byte for byte, and rebuilds one with extra members', () => {
    const text = '{"event":"client-x", "data":{"b":1,"a":[1e2]},"channel":"private-y"}';
    const plain = parseClientFrame(text);
    if (!plain.ok || plain.frame.kind !== 'client-event') throw new Error('expected a client event');
    expect(relayedClientEvent(plain.frame)).toBe(text);
    expect(JSON.parse(relayedClientEvent(plain.frame, '7'))).toEqual({ ...JSON.parse(text), user_id: '7' });
    const spoofed = parseClientFrame('{"event":"client-x","channel":"presence-y","data":1,"user_id":"admin","extra":true}');
    if (!spoofed.ok || spoofed.frame.kind !== 'client-event') throw new Error('expected a client event');
    expect(JSON.parse(relayedClientEvent(spoofed.frame, '7'))).toEqual({ event: 'client-x', channel: 'presence-y', data: 1, user_id: '7' });
    expect(JSON.parse(relayedClientEvent(spoofed.frame))).toEqual({ event: 'client-x', channel: 'presence-y', data: 1 });
  });

  it('pusher:cache_miss has no data (2.10)', () => {
    expect(cacheMiss('cache-prices')).toBe('{"event":"pusher:cache_miss","channel":"cache-prices"}');
  });

  it('pusher_internal:subscription_count: data is a string (2.11)', () => {
    expectFrame(
      subscriptionCount('my-channel', 3),
      '{"event":"pusher_internal:subscription_count","channel":"my-channel","data":"{\\"subscription_count\\":3}"}',
    );
  });

  it('pusher_internal:watchlist_events: no channel, data is a string (2.12)', () => {
    const frame = watchlistEvents([
      { name: 'online', user_ids: ['7'] },
      { name: 'offline', user_ids: ['8', '9'] },
    ]);
    expectFrame(
      frame,
      '{"event":"pusher_internal:watchlist_events","data":"{\\"events\\":[{\\"name\\":\\"online\\",\\"user_ids\\":[\\"7\\"]},{\\"name\\":\\"offline\\",\\"user_ids\\":[\\"8\\",\\"9\\"]}]}"}',
    );
    expect(JSON.parse(frame)).not.toHaveProperty('channel');
  });

  it('pusher:signin_success: data is an object echoing user_data exactly (2.7)', () => {
    expectFrame(signinSuccess('{"id":"42"}'), '{"event":"pusher:signin_success","data":{"user_data":"{\\"id\\":\\"42\\"}"}}');
    const spaced = '{ "id" : "42" }';
    expect(JSON.parse(signinSuccess(spaced)).data.user_data).toBe(spaced);
  });

  it('escapes channel and event names safely', () => {
    const name = 'we"ird\\name\u2028';
    expect(JSON.parse(channelEvent(name, name, '1'))).toEqual({ event: name, channel: name, data: 1 });
    expect(JSON.parse(serverEvent(name, name, name))).toEqual({ event: name, channel: name, data: name });
    expect(JSON.parse(cacheMiss(name)).channel).toBe(name);
    expect(JSON.parse(errorFrame(null, name)).data.message).toBe(name);
  });
});
