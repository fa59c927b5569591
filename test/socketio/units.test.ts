import { describe, expect, it } from 'vitest';
import {
  cacheMiss,
  channelEvent,
  errorFrame,
  memberAdded,
  memberRemoved,
  pongFrame,
  relayedClientEvent,
  subscriptionCount,
  subscriptionError,
  subscriptionSucceeded,
} from '../../protocol/frames.js';
import { parseAuthReply } from '../../src/socketio/auth-reply.js';
import { renderFrame } from '../../src/socketio/render.js';
import { checkJwt } from '../../src/socketio/token.js';
import { createHmac } from 'node:crypto';
import { loadConfig } from '../../src/config/load.js';
import { serverSchema } from '../../src/config/schema.js';

describe('renderFrame: Pusher frames as the Socket.IO events Echo listens for', () => {
  it.each([
    ['a channel event, data decoded', channelEvent('order.shipped', 'orders', JSON.stringify('{"id":5}')), ['order.shipped', 'orders', { id: 5 }]],
    ['data that is not JSON stays a string', channelEvent('note', 'orders', JSON.stringify('plain text')), ['note', 'orders', 'plain text']],
    ['a client event (object data), user_id left out', relayedClientEvent({ kind: 'client-event', event: 'client-typing', channel: 'presence-a', data: { on: true }, text: '{"event":"client-typing","channel":"presence-a","data":{"on":true}}', envelopeOnly: true }, '5'), ['client-typing', 'presence-a', { on: true }]],
    ['presence subscribed', subscriptionSucceeded('presence-a', { ids: ['5', '7'], hash: { '5': { name: 'Ada' }, '7': undefined }, count: 2 }), ['presence:subscribed', 'presence-a', [{ user_id: '5', user_info: { name: 'Ada' } }, { user_id: '7', user_info: null }]]],
    ['member added', memberAdded('presence-a', '7', { name: 'Bob' }), ['presence:joining', 'presence-a', { user_id: '7', user_info: { name: 'Bob' } }]],
    ['member removed', memberRemoved('presence-a', '7'), ['presence:leaving', 'presence-a', { user_id: '7', user_info: null }]],
    ['subscription error', subscriptionError('private-a', 403, 'no'), ['subscription_error', 'private-a', 403]],
    ['pusher:error', errorFrame(4301, 'Client event rate limit exceeded'), ['herald:error', { code: 4301, message: 'Client event rate limit exceeded' }]],
    ['cache miss', cacheMiss('cache-a'), ['pusher:cache_miss', 'cache-a']],
  ])('%s', (_label, frame, expected) => {
    expect(renderFrame(frame)).toEqual(expected);
  });

  it.each([
    ['a non-presence subscription_succeeded', subscriptionSucceeded('orders')],
    ['subscription counts', subscriptionCount('orders', 3)],
    ['pong', pongFrame()],
    ['an event socket.io reserves', channelEvent('disconnect', 'orders', '"{}"')],
    ['another reserved one', channelEvent('connect', 'orders', '"{}"')],
    ['not JSON', '{'],
    ['not an object', '"x"'],
    ['no channel', '{"event":"x"}'],
  ])('%s has no Socket.IO counterpart', (_label, frame) => {
    expect(renderFrame(frame)).toBeUndefined();
  });
});

describe('parseAuthReply: both broadcasters of Laravel', () => {
  it.each([
    ['pusher private', '{"auth":"key:sig"}', { format: 'pusher', auth: 'key:sig', channelData: undefined }],
    ['pusher presence', '{"auth":"key:sig","channel_data":"{\\"user_id\\":\\"5\\"}"}', { format: 'pusher', auth: 'key:sig', channelData: '{"user_id":"5"}' }],
    ['redis private', 'true', { format: 'redis' }],
    ['redis presence, numeric id', '{"channel_data":{"user_id":5,"user_info":{"name":"Ada"}}}', { format: 'redis', member: { id: '5', info: { name: 'Ada' } } }],
    ['false', 'false', { format: 'invalid', message: expect.any(String) }],
    ['HTML', '<html>', { format: 'invalid', message: 'Auth endpoint answered no JSON' }],
    ['an array', '[]', { format: 'invalid', message: expect.any(String) }],
    ['channel_data of the wrong type with auth', '{"auth":"k:s","channel_data":{}}', { format: 'invalid', message: 'channel_data must be a JSON string' }],
    ['channel_data without user_id', '{"channel_data":{"user_info":{}}}', { format: 'invalid', message: 'channel_data.user_id must be a string or number' }],
  ])('%s', (_label, body, expected) => {
    expect(parseAuthReply(body)).toEqual(expected);
  });
});

describe('checkJwt', () => {
  const sign = (header: object, claims: object, secret = 's') => {
    const head = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
  };
  const now = 1_700_000_000_000;

  it('takes the id from the configured field, dots reaching into objects', () => {
    expect(checkJwt(sign({ alg: 'HS256' }, { user: { uuid: 'u-1' } }), 's', 'user.uuid', now)).toEqual({ ok: true, user: { id: 'u-1', info: { user: { uuid: 'u-1' } } } });
    expect(checkJwt(sign({ alg: 'HS256' }, { id: 3, sub: 9 }), 's', 'id', now)).toMatchObject({ ok: true, user: { id: '3' } });
  });

  it('refuses a not-yet-valid token and a truncated signature', () => {
    expect(checkJwt(sign({ alg: 'HS256' }, { sub: 1, nbf: now / 1000 + 60 }), 's', 'id', now)).toEqual({ ok: false, message: 'Token refused: JWT not yet valid' });
    const token = sign({ alg: 'HS256' }, { sub: 1 });
    expect(checkJwt(token.slice(0, -4), 's', 'id', now)).toEqual({ ok: false, message: 'Token refused: bad JWT signature' });
    expect(checkJwt('a.b.c', 's', 'id', now)).toEqual({ ok: false, message: 'Token refused: malformed JWT' });
  });
});

describe('config: the env names deployment scripts rely on', () => {
  it('HERALD_APP_SOCKETIO, HERALD_APP_AUTH_ENDPOINT, HERALD_APP_USER_ENDPOINT, HERALD_APP_USER_CHANNELS', () => {
    const { config } = loadConfig({
      env: {
        HERALD_APP_ID: 'a',
        HERALD_APP_KEY: 'k',
        HERALD_APP_SECRET: 's',
        HERALD_APP_SOCKETIO: 'true',
        HERALD_APP_AUTH_ENDPOINT: 'https://app.test/broadcasting/auth',
        HERALD_APP_USER_ENDPOINT: 'https://app.test/api/user',
        HERALD_APP_USER_CHANNELS: 'private-user.{id}, presence-online',
        HERALD_SOCKETIO_EIO3: 'yes',
      },
    });
    expect(config.apps[0]).toMatchObject({
      socketIo: true,
      authEndpoint: 'https://app.test/broadcasting/auth',
      userEndpoint: 'https://app.test/api/user',
      userChannels: ['private-user.{id}', 'presence-online'],
      userIdField: 'id',
      tokenJwt: false,
    });
    expect(config.socketIoEio3).toBe(true);
  });

  it('defaults: off, user channel private-user.{id}; an endpoint must be an http(s) URL', () => {
    const app = serverSchema.parse({ apps: [{ id: 'a', key: 'k', secret: 's' }] }).apps[0]!;
    expect(app).toMatchObject({ socketIo: false, userChannels: ['private-user.{id}'] });
    expect(() => loadConfig({ env: { HERALD_APP_ID: 'a', HERALD_APP_KEY: 'k', HERALD_APP_SECRET: 's', HERALD_APP_AUTH_ENDPOINT: 'file:///etc/passwd' } })).toThrow(
      'apps[0].authEndpoint: must be an http:// or https:// URL',
    );
  });
});
