import { describe, it, expect } from 'vitest';
import { parseClientFrame, type ParseResult } from '../../protocol/frames.js';

const ok = (frame: object): ParseResult => ({ ok: true, frame }) as ParseResult;
const INVALID = { ok: false, code: null, message: 'Invalid message format' };
const UNSUPPORTED = { ok: false, code: null, message: 'Unsupported event' };

describe('parseClientFrame: malformed input', () => {
  it.each([
    ['not JSON', '{"event":'],
    ['empty', ''],
    ['array', '[{"event":"pusher:ping"}]'],
    ['number', '42'],
    ['string', '"pusher:ping"'],
    ['null', 'null'],
    ['no event', '{"data":{}}'],
    ['numeric event', '{"event":5}'],
    ['null event', '{"event":null}'],
  ])('%s → Invalid message format', (_, text) => {
    expect(parseClientFrame(text)).toEqual(INVALID);
  });
});

describe('parseClientFrame: ping / pong (sections 1.6, 2.1)', () => {
  it.each([
    ['pusher-js', '{"event":"pusher:ping","data":{}}'],
    ['java, no data', '{"event": "pusher:ping"}'],
    ['string data', '{"event":"pusher:ping","data":"{}"}'],
  ])('ping from %s', (_, text) => {
    expect(parseClientFrame(text)).toEqual(ok({ kind: 'ping' }));
  });

  it.each(['{"event":"pusher:pong","data":{}}', '{"event":"pusher:pong"}'])('pong %s', (text) => {
    expect(parseClientFrame(text)).toEqual(ok({ kind: 'pong' }));
  });
});

describe('parseClientFrame: pusher:subscribe', () => {
  it('public channel with empty auth (pusher-js)', () => {
    expect(parseClientFrame('{"event":"pusher:subscribe","data":{"auth":"","channel":"my-channel"}}')).toEqual(
      ok({ kind: 'subscribe', channel: 'my-channel', auth: '' }),
    );
  });

  it('public channel without auth (java)', () => {
    const result = parseClientFrame('{"event":"pusher:subscribe","data":{"channel":"x"}}');
    expect(result).toEqual(ok({ kind: 'subscribe', channel: 'x' }));
    expect(result.ok && result.frame.kind === 'subscribe' && result.frame.auth).toBeUndefined();
  });

  it('presence channel keeps channel_data as the exact string', () => {
    const channelData = '{"user_id": "42" ,"user_info":{"name":"Ada"}}';
    const text = JSON.stringify({ event: 'pusher:subscribe', data: { auth: 'k:s', channel_data: channelData, channel: 'presence-room' } });
    expect(parseClientFrame(text)).toEqual(
      ok({ kind: 'subscribe', channel: 'presence-room', auth: 'k:s', channelData }),
    );
  });

  it('accepts data as a JSON string containing the object', () => {
    const text = JSON.stringify({ event: 'pusher:subscribe', data: JSON.stringify({ auth: 'k:s', channel: 'private-x' }) });
    expect(parseClientFrame(text)).toEqual(ok({ kind: 'subscribe', channel: 'private-x', auth: 'k:s' }));
  });

  it('ignores unknown members', () => {
    expect(parseClientFrame('{"event":"pusher:subscribe","data":{"channel":"x","shared_secret":"s"},"extra":1}')).toEqual(
      ok({ kind: 'subscribe', channel: 'x' }),
    );
  });

  it('does not validate channel syntax (the server applies config limits)', () => {
    expect(parseClientFrame('{"event":"pusher:subscribe","data":{"channel":"bad name!"}}')).toEqual(
      ok({ kind: 'subscribe', channel: 'bad name!' }),
    );
  });

  it.each([
    ['no data', '{"event":"pusher:subscribe"}', /must be an object/],
    ['null data', '{"event":"pusher:subscribe","data":null}', /must be an object/],
    ['missing channel', '{"event":"pusher:subscribe","data":{"auth":""}}', /channel must be a string/],
    ['numeric channel', '{"event":"pusher:subscribe","data":{"channel":5}}', /channel must be a string/],
    ['numeric auth', '{"event":"pusher:subscribe","data":{"channel":"x","auth":5}}', /auth must be a string/],
    ['object channel_data', '{"event":"pusher:subscribe","data":{"channel":"x","channel_data":{}}}', /channel_data must be a string/],
    ['string data not JSON', '{"event":"pusher:subscribe","data":"{channel"}', /not valid JSON/],
    ['string data not an object', '{"event":"pusher:subscribe","data":"[1]"}', /must be an object/],
  ])('%s → code null with a descriptive message', (_, text, message) => {
    const result = parseClientFrame(text);
    expect(result).toMatchObject({ ok: false, code: null });
    expect(!result.ok && result.message).toMatch(/^Invalid pusher:subscribe data: /);
    expect(!result.ok && result.message).toMatch(message);
  });
});

describe('parseClientFrame: pusher:unsubscribe', () => {
  it.each([
    '{"event":"pusher:unsubscribe","data":{"channel":"my-channel"}}',
    '{"event":"pusher:unsubscribe","data":"{\\"channel\\":\\"my-channel\\"}"}',
  ])('%s', (text) => {
    expect(parseClientFrame(text)).toEqual(ok({ kind: 'unsubscribe', channel: 'my-channel' }));
  });

  it('requires a channel', () => {
    expect(parseClientFrame('{"event":"pusher:unsubscribe","data":{}}')).toEqual({
      ok: false,
      code: null,
      message: 'Invalid pusher:unsubscribe data: channel must be a string',
    });
  });
});

describe('parseClientFrame: pusher:signin', () => {
  const userData = '{"id":"42"}';

  it.each([
    ['object data', { auth: 'k:s', user_data: userData }],
    ['string data', JSON.stringify({ auth: 'k:s', user_data: userData })],
  ])('%s', (_, data) => {
    expect(parseClientFrame(JSON.stringify({ event: 'pusher:signin', data }))).toEqual(
      ok({ kind: 'signin', auth: 'k:s', userData }),
    );
  });

  it.each([
    ['missing user_data', { auth: 'k:s' }, 'user_data must be a string'],
    ['missing auth', { user_data: userData }, 'auth must be a string'],
    ['object user_data', { auth: 'k:s', user_data: { id: '42' } }, 'user_data must be a string'],
  ])('%s → error', (_, data, message) => {
    expect(parseClientFrame(JSON.stringify({ event: 'pusher:signin', data }))).toEqual({
      ok: false,
      code: null,
      message: `Invalid pusher:signin data: ${message}`,
    });
  });
});

describe('parseClientFrame: events clients may not send (section 2.14)', () => {
  it.each([
    'pusher:connection_established',
    'pusher:error',
    'pusher:cache_miss',
    'pusher:signin_success',
    'pusher:subscription_error',
    'pusher:made_up',
    'pusher_internal:subscription_succeeded',
    'pusher_internal:member_added',
    'my-event',
    'App\\Events\\OrderShipped',
    'Client-typing',
  ])('%s → Unsupported event', (event) => {
    expect(parseClientFrame(JSON.stringify({ event, channel: 'private-x', data: {} }))).toEqual(UNSUPPORTED);
  });
});

describe('parseClientFrame: client events (section 2.13)', () => {
  it('object data (pusher-js) keeps the object and serialises it for relay', () => {
    const text = '{"event":"client-typing","data":{"on":true},"channel":"private-chat"}';
    expect(parseClientFrame(text)).toEqual(
      ok({ kind: 'client-event', event: 'client-typing', channel: 'private-chat', data: { on: true }, text, envelopeOnly: true }),
    );
  });

  it('string data (java) stays a string', () => {
    const text = '{"event":"client-x","channel":"private-y","data":"hello"}';
    expect(parseClientFrame(text)).toEqual(ok({ kind: 'client-event', event: 'client-x', channel: 'private-y', data: 'hello', text, envelopeOnly: true }));
  });

  it('JSON-looking string data is not decoded', () => {
    const text = '{"event":"client-x","channel":"private-y","data":"{\\"a\\":1}"}';
    expect(parseClientFrame(text)).toEqual(ok({ kind: 'client-event', event: 'client-x', channel: 'private-y', data: '{"a":1}', text, envelopeOnly: true }));
  });

  it.each([
    ['{"a":[1,2,{"b":null}],"c":"\u00e9"}'],
    ['[1,"two",false]'],
    ['0'],
    ['false'],
    ['null'],
  ])('data %s round-trips', (json) => {
    const text = '{"event":"client-x","channel":"private-y","data":' + json + '}';
    expect(parseClientFrame(text)).toEqual(
      ok({ kind: 'client-event', event: 'client-x', channel: 'private-y', data: JSON.parse(json), text, envelopeOnly: true }),
    );
  });

  it('missing data relays as null', () => {
    const text = '{"event":"client-x","channel":"private-y"}';
    expect(parseClientFrame(text)).toEqual(ok({ kind: 'client-event', event: 'client-x', channel: 'private-y', data: null, text, envelopeOnly: false }));
  });

  it.each([
    ['missing channel', '{"event":"client-x","data":{}}'],
    ['numeric channel', '{"event":"client-x","channel":5,"data":{}}'],
  ])('%s → error', (_, text) => {
    expect(parseClientFrame(text)).toEqual({ ok: false, code: null, message: 'Client event requires a channel' });
  });
});
