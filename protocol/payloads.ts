import { z } from 'zod';
import { checkJson } from './validate.js';

const userId = z.union([z.string(), z.number()], { error: 'must be a string or number' });

const ChannelData = z.object(
  { user_id: userId, user_info: z.unknown().optional() },
  { error: 'must be a JSON object' },
);

const UserData = z.object(
  {
    id: z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must be a non-empty string' }),
    user_info: z.unknown().optional(),
    watchlist: z.array(userId, { error: 'must be an array of user ids' }).optional(),
  },
  { error: 'must be a JSON object' },
);

/**
 * Presence `channel_data`. Numeric user ids are stringified because the server
 * emits every user id as a string (section 2.4).
 */
export function parseChannelData(
  raw: string,
): { ok: true; userId: string; userInfo: unknown } | { ok: false; message: string } {
  const checked = checkJson(ChannelData, raw, 'channel_data');
  if (!checked.ok) return checked;
  return { ok: true, userId: String(checked.value.user_id), userInfo: checked.value.user_info };
}

/** Sign-in `user_data` (section 2.7). */
export function parseUserData(
  raw: string,
): { ok: true; id: string; userInfo: unknown; watchlist: string[] } | { ok: false; message: string } {
  const checked = checkJson(UserData, raw, 'user_data');
  if (!checked.ok) return checked;
  const { id, user_info, watchlist = [] } = checked.value;
  return { ok: true, id, userInfo: user_info, watchlist: watchlist.map(String) };
}
