import { describe, it, expect } from 'vitest';
import { parseChannelData, parseUserData } from '../../protocol/frames.js';

describe('parseChannelData', () => {
  it.each([
    ['{"user_id":10,"user_info":{"name":"Mr. Pusher"}}', '10', { name: 'Mr. Pusher' }],
    ['{"user_id":"42","user_info":{"name":"Ada","avatar":null}}', '42', { name: 'Ada', avatar: null }],
    ['{"user_id":"u-1"}', 'u-1', undefined],
    ['{"user_id":"7","user_info":null}', '7', null],
    ['{"user_id":1.5,"user_info":"plain"}', '1.5', 'plain'],
  ])('%s', (raw, userId, userInfo) => {
    expect(parseChannelData(raw)).toEqual({ ok: true, userId, userInfo });
  });

  it('leaves user_info undefined when absent', () => {
    const result = parseChannelData('{"user_id":"u-1"}');
    expect(result.ok && 'userInfo' in result && result.userInfo).toBeUndefined();
  });

  it.each([
    ['not JSON', '{user_id:1}', 'Invalid channel_data: not valid JSON'],
    ['array', '[1]', 'Invalid channel_data: must be a JSON object'],
    ['null', 'null', 'Invalid channel_data: must be a JSON object'],
    ['missing user_id', '{"user_info":{}}', 'Invalid channel_data: user_id must be a string or number'],
    ['null user_id', '{"user_id":null}', 'Invalid channel_data: user_id must be a string or number'],
    ['object user_id', '{"user_id":{"id":1}}', 'Invalid channel_data: user_id must be a string or number'],
    ['boolean user_id', '{"user_id":true}', 'Invalid channel_data: user_id must be a string or number'],
  ])('%s → %s', (_, raw, message) => {
    expect(parseChannelData(raw)).toEqual({ ok: false, message });
  });
});

describe('parseUserData', () => {
  it('minimal', () => {
    expect(parseUserData('{"id":"12345"}')).toEqual({ ok: true, id: '12345', userInfo: undefined, watchlist: [] });
  });

  it('with user_info and watchlist', () => {
    expect(parseUserData('{"id":"42","user_info":{"name":"Ada"},"watchlist":["7","8"]}')).toEqual({
      ok: true,
      id: '42',
      userInfo: { name: 'Ada' },
      watchlist: ['7', '8'],
    });
  });

  it('stringifies numeric watchlist ids', () => {
    expect(parseUserData('{"id":"1","watchlist":[7,"8"]}')).toEqual({ ok: true, id: '1', userInfo: undefined, watchlist: ['7', '8'] });
  });

  it.each([
    ['not JSON', '{', 'Invalid user_data: not valid JSON'],
    ['not an object', '"42"', 'Invalid user_data: must be a JSON object'],
    ['missing id', '{}', 'Invalid user_data: id must be a non-empty string'],
    ['empty id', '{"id":""}', 'Invalid user_data: id must be a non-empty string'],
    ['numeric id (pusher-js discards it)', '{"id":42}', 'Invalid user_data: id must be a non-empty string'],
    ['watchlist not an array', '{"id":"1","watchlist":"7"}', 'Invalid user_data: watchlist must be an array of user ids'],
    ['bad watchlist entry', '{"id":"1","watchlist":["7",{}]}', 'Invalid user_data: watchlist.1 must be a string or number'],
  ])('%s → %s', (_, raw, message) => {
    expect(parseUserData(raw)).toEqual({ ok: false, message });
  });
});
