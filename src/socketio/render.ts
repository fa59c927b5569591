/**
 * Pusher frames as Socket.IO events, in the shapes laravel-echo-server sent and Laravel Echo's
 * socket.io connector listens for: `(event, channel, data)` for channel events,
 * `presence:subscribed/joining/leaving`, `subscription_error(channel, status)`. Herald's channel
 * rules speak Pusher frames once; a Socket.IO connection renders them here. Pure.
 */

/** Arguments for `socket.emit` / `room.emit`. */
export type SocketIoEmit = [event: string, ...args: unknown[]];

export interface PresenceMemberView {
  user_id: string;
  user_info: unknown;
}

/** socket.io refuses to emit these names (they are its own); a Pusher event so named is not delivered. */
const RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

export const ERROR_EVENT = 'herald:error';

/** Undefined when a Socket.IO client has no counterpart (pings, counts, sign-in replies, other internal frames). */
export function renderFrame(frame: string): SocketIoEmit | undefined {
  let message: unknown;
  try {
    message = JSON.parse(frame);
  } catch {
    return undefined;
  }
  if (typeof message !== 'object' || message === null) return undefined;
  const { event, channel, data } = message as { event?: unknown; channel?: unknown; data?: unknown };
  if (typeof event !== 'string') return undefined;
  if (event === 'pusher:error') {
    const { code, message: text } = (data ?? {}) as { code?: unknown; message?: unknown };
    return [ERROR_EVENT, { code: code ?? null, message: text }];
  }
  if (typeof channel !== 'string') return undefined;
  switch (event) {
    case 'pusher_internal:subscription_succeeded': {
      const presence = (decode(data) as { presence?: { ids?: unknown; hash?: Record<string, unknown> } } | null)?.presence;
      if (!presence || !Array.isArray(presence.ids)) return undefined;
      const hash = presence.hash ?? {};
      return ['presence:subscribed', channel, presence.ids.map((id: unknown): PresenceMemberView => ({ user_id: String(id), user_info: hash[String(id)] ?? null }))];
    }
    case 'pusher_internal:member_added':
    case 'pusher_internal:member_removed': {
      const member = decode(data) as { user_id?: unknown; user_info?: unknown } | null;
      if (member?.user_id === undefined) return undefined;
      const view: PresenceMemberView = { user_id: String(member.user_id), user_info: member.user_info ?? null };
      return [event === 'pusher_internal:member_added' ? 'presence:joining' : 'presence:leaving', channel, view];
    }
    case 'pusher:subscription_error': {
      const status = (data as { status?: unknown } | undefined)?.status;
      return ['subscription_error', channel, typeof status === 'number' ? status : 401];
    }
    case 'pusher:cache_miss':
      return ['pusher:cache_miss', channel];
  }
  if (event.startsWith('pusher:') || event.startsWith('pusher_internal:') || RESERVED.has(event)) return undefined;
  return [event, channel, decode(data)];
}

/** Channel events carry their data JSON-encoded in a string, which pusher-js decodes when it can; so do we. */
function decode(data: unknown): unknown {
  if (typeof data !== 'string') return data ?? null;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}
