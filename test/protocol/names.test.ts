import { describe, it, expect } from 'vitest';
import {
  USER_CHANNEL_PREFIX,
  channelKind,
  channelNameError,
  eventNameError,
  isClientEventName,
  isValidSocketId,
  userChannel,
  userIdError,
} from '../../protocol/names.js';

describe('channelKind (section 4.2)', () => {
  it.each([
    ['#server-to-user-42', 'user', false],
    ['private-encrypted-cache-x', 'encrypted', true],
    ['private-encrypted-x', 'encrypted', false],
    ['private-cache-x', 'private', true],
    ['private-x', 'private', false],
    ['presence-cache-x', 'presence', true],
    ['presence-x', 'presence', false],
    ['cache-x', 'public', true],
    ['x', 'public', false],
  ] as const)('%s → %s (cache %s)', (name, type, cache) => {
    expect(channelKind(name)).toEqual({ type, cache });
  });

  it.each([
    ['cachefoo', 'public', false],
    ['cache', 'public', false],
    ['privatex', 'public', false],
    ['private', 'public', false],
    ['presencex', 'public', false],
    ['my-private-x', 'public', false],
    ['my-presence-x', 'public', false],
    ['x-cache-y', 'public', false],
    ['Private-x', 'public', false],
    ['server-to-user-1', 'public', false],
    ['private-encryptedx', 'private', false],
    ['private-encrypted-cachex', 'encrypted', false],
    ['private-cachex', 'private', false],
    ['presence-cachex', 'presence', false],
    ['private-x-cache-y', 'private', false],
  ] as const)('anchored prefixes only: %s → %s (cache %s)', (name, type, cache) => {
    expect(channelKind(name)).toEqual({ type, cache });
  });

  it('builds user channel names', () => {
    expect(USER_CHANNEL_PREFIX).toBe('#server-to-user-');
    expect(userChannel('42')).toBe('#server-to-user-42');
    expect(channelKind(userChannel('42')).type).toBe('user');
  });
});

describe('channelNameError (section 4.1)', () => {
  it.each([
    'my-channel',
    'private-commerce.5',
    'presence-chat.1',
    'AZaz09_-=@,.;',
    'App.Models.User.1',
    '#server-to-user-42',
    '#server-to-user-u-1@x.y',
  ])('accepts %s', (name) => {
    expect(channelNameError(name, 164)).toBeNull();
  });

  it.each([
    '',
    'has space',
    'slash/x',
    'colon:x',
    'star*',
    'caf\u00e9',
    'tab\t',
    '#foo',
    '#server-to-user-',
    '#server-to-user-a#b',
    'x#server-to-user-1',
    '#server-to-user-a b',
  ])('rejects %j', (name) => {
    expect(channelNameError(name, 164)).toBe('Invalid channel name');
  });

  it.each([123, null, undefined, {}, ['a']])('rejects non-string %j', (name) => {
    expect(channelNameError(name, 164)).toBe('Invalid channel name');
  });

  it('allows exactly maxLength characters, prefix included', () => {
    expect(channelNameError('a'.repeat(164), 164)).toBeNull();
    expect(channelNameError('private-' + 'a'.repeat(156), 164)).toBeNull();
    expect(channelNameError('a'.repeat(165), 164)).toBe('Channel name too long (max 164)');
    expect(channelNameError('a'.repeat(200), 200)).toBeNull();
  });

  it('applies the length limit to user channels too', () => {
    const id = 'a'.repeat(164 - USER_CHANNEL_PREFIX.length);
    expect(channelNameError(userChannel(id), 164)).toBeNull();
    expect(channelNameError(userChannel(id + 'a'), 164)).toBe('Channel name too long (max 164)');
  });
});

describe('eventNameError', () => {
  it.each(['my-event', 'client-typing', 'App\\Events\\OrderShipped', 'notification.created', 'e'.repeat(200)])(
    'accepts %s',
    (name) => {
      expect(eventNameError(name, 200)).toBeNull();
    },
  );

  it('rejects empty, non-string and too-long names', () => {
    expect(eventNameError('', 200)).toMatch(/non-empty/);
    expect(eventNameError(5, 200)).toMatch(/non-empty/);
    expect(eventNameError(undefined, 200)).toMatch(/non-empty/);
    expect(eventNameError('e'.repeat(201), 200)).toBe('Event name too long (max 200)');
  });

  it.each(['pusher:subscribe', 'pusher:anything', 'pusher_internal:member_added'])('rejects reserved %s', (name) => {
    expect(eventNameError(name, 200)).toMatch(/reserved/);
  });

  it('only reserves the exact prefixes', () => {
    expect(eventNameError('pusher-event', 200)).toBeNull();
    expect(eventNameError('my-pusher:event', 200)).toBeNull();
  });
});

describe('isValidSocketId (section 1.4)', () => {
  it.each(['1.2', '123.456', '264774.13368624', '1000000000.1000000000'])('accepts %s', (id) => {
    expect(isValidSocketId(id)).toBe(true);
  });

  it.each(['', '1', '1.', '.1', '1.2.3', 'a.b', ' 1.2', '1.2 ', '1.2\n', '1,2', '-1.2', '\u0661.\u0662', 12, null, undefined])(
    'rejects %j',
    (id) => {
      expect(isValidSocketId(id)).toBe(false);
    },
  );
});

describe('isClientEventName', () => {
  it('requires the client- prefix', () => {
    expect(isClientEventName('client-typing')).toBe(true);
    expect(isClientEventName('client')).toBe(false);
    expect(isClientEventName('my-client-x')).toBe(false);
    expect(isClientEventName('Client-x')).toBe(false);
  });
});

describe('userIdError', () => {
  it('accepts non-empty strings up to the limit', () => {
    expect(userIdError('42', 128)).toBeNull();
    expect(userIdError('u'.repeat(128), 128)).toBeNull();
  });

  it('rejects empty, non-string and too-long ids', () => {
    expect(userIdError('', 128)).toMatch(/non-empty/);
    expect(userIdError(42, 128)).toMatch(/non-empty/);
    expect(userIdError(null, 128)).toMatch(/non-empty/);
    expect(userIdError('u'.repeat(129), 128)).toBe('User id too long (max 128)');
  });
});
