import type { PresenceMember } from '../channels/channels.js';

/**
 * What a Laravel app's `/broadcasting/auth` answers, in either broadcaster's format: the Pusher one
 * (`{"auth":"key:sig","channel_data":"…"}`, verified with the app secret like a Pusher client's) or
 * the Redis one (`true`, or `{"channel_data":{"user_id":…,"user_info":…}}`), which is trusted as the
 * app's own word since Herald called the app's configured URL itself. Pure.
 */
export type AuthReply =
  | { format: 'pusher'; auth: string; channelData?: string }
  | { format: 'redis'; member?: PresenceMember }
  | { format: 'invalid'; message: string };

export function parseAuthReply(body: string): AuthReply {
  let reply: unknown;
  try {
    reply = JSON.parse(body);
  } catch {
    return { format: 'invalid', message: 'Auth endpoint answered no JSON' };
  }
  if (reply === true) return { format: 'redis' };
  if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
    return { format: 'invalid', message: 'Auth endpoint answered neither a Pusher nor a Redis broadcaster reply' };
  }
  const { auth, channel_data: channelData } = reply as { auth?: unknown; channel_data?: unknown };
  if (typeof auth === 'string') {
    if (channelData !== undefined && typeof channelData !== 'string') return { format: 'invalid', message: 'channel_data must be a JSON string' };
    return { format: 'pusher', auth, channelData };
  }
  if (typeof channelData === 'object' && channelData !== null) {
    const { user_id: id, user_info: info } = channelData as { user_id?: unknown; user_info?: unknown };
    if (typeof id === 'string' || typeof id === 'number') return { format: 'redis', member: { id: String(id), info } };
    return { format: 'invalid', message: 'channel_data.user_id must be a string or number' };
  }
  return { format: 'invalid', message: 'Auth endpoint answered neither a Pusher nor a Redis broadcaster reply' };
}
