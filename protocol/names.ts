export type ChannelType = 'public' | 'private' | 'encrypted' | 'presence' | 'user';

export interface ChannelKind {
  type: ChannelType;
  cache: boolean;
}

export const USER_CHANNEL_PREFIX = '#server-to-user-';
export const PRESENCE_CHANNEL_PREFIX = 'presence-';

const kind = (type: ChannelType, cache: boolean): ChannelKind => Object.freeze({ type, cache });

// Order matters: longer prefixes must be tested before the prefixes they extend
// (section 4.2). Kinds are shared frozen objects because this runs per message.
const PREFIXES: readonly (readonly [string, ChannelKind])[] = [
  [USER_CHANNEL_PREFIX, kind('user', false)],
  ['private-encrypted-cache-', kind('encrypted', true)],
  ['private-encrypted-', kind('encrypted', false)],
  ['private-cache-', kind('private', true)],
  ['private-', kind('private', false)],
  ['presence-cache-', kind('presence', true)],
  [PRESENCE_CHANNEL_PREFIX, kind('presence', false)],
  ['cache-', kind('public', true)],
];
const PUBLIC = kind('public', false);

export function channelKind(name: string): ChannelKind {
  for (const [prefix, k] of PREFIXES) {
    if (name.startsWith(prefix)) return k;
  }
  return PUBLIC;
}

export function userChannel(userId: string): string {
  return USER_CHANNEL_PREFIX + userId;
}

// '#' is reserved; the only name allowed to contain it is the user channel.
const CHANNEL_NAME = /^(?:#server-to-user-)?[A-Za-z0-9_\-=@,.;]+$/;

export function channelNameError(name: unknown, maxLength: number): string | null {
  if (typeof name !== 'string' || name === '') return 'Invalid channel name';
  if (name.length > maxLength) return `Channel name too long (max ${maxLength})`;
  return CHANNEL_NAME.test(name) ? null : 'Invalid channel name';
}

const RESERVED_EVENT_PREFIXES = ['pusher:', 'pusher_internal:'] as const;

export function eventNameError(name: unknown, maxLength: number): string | null {
  if (typeof name !== 'string' || name === '') return 'Event name must be a non-empty string';
  if (name.length > maxLength) return `Event name too long (max ${maxLength})`;
  for (const prefix of RESERVED_EVENT_PREFIXES) {
    if (name.startsWith(prefix)) return `Event names starting with '${prefix}' are reserved`;
  }
  return null;
}

const SOCKET_ID = /^\d+\.\d+$/;

export function isValidSocketId(s: unknown): s is string {
  return typeof s === 'string' && SOCKET_ID.test(s);
}

export function isClientEventName(name: string): boolean {
  return name.startsWith('client-');
}

/** Presence ids arrive as string or number; callers stringify before checking. */
export function userIdError(id: unknown, maxLength: number): string | null {
  if (typeof id !== 'string' || id === '') return 'User id must be a non-empty string';
  if (id.length > maxLength) return `User id too long (max ${maxLength})`;
  return null;
}
