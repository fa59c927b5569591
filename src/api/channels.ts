import { PRESENCE_CHANNEL_PREFIX, USER_CHANNEL_PREFIX } from '../../protocol/names.js';
import type { HttpHandler } from '../transport/uws.js';
import { signedRoute } from './auth.js';
import type { ApiContext } from './context.js';
import { fail, json } from './reply.js';
import { CHANNELS_INFO, parseInfo } from './validate.js';

/**
 * `GET /apps/{id}/channels` (section 6.3): occupied channels only, `#server-to-user-*` never
 * listed; `info=user_count` needs a `presence-` `filter_by_prefix`.
 */
export function channelsHandler(ctx: ApiContext): HttpHandler {
  return signedRoute(ctx, async ({ app, params }) => {
    const prefix = params.filter_by_prefix ?? '';
    const info = parseInfo(params.info, CHANNELS_INFO);
    if (!info.ok) return fail(info.status, info.error);
    if (info.value.has('user_count') && !prefix.startsWith(PRESENCE_CHANNEL_PREFIX)) {
      return fail(400, 'info=user_count requires filter_by_prefix starting with presence-');
    }

    const channels: Record<string, Record<string, number>> = {};
    for (const [name, channel] of await ctx.adapter.channels(app.id, prefix)) {
      if (name.startsWith(USER_CHANNEL_PREFIX)) continue;
      const attrs: Record<string, number> = {};
      if (info.value.has('user_count')) attrs.user_count = channel.userCount;
      if (info.value.has('subscription_count')) attrs.subscription_count = channel.subscriptionCount;
      channels[name] = attrs;
    }
    return json(200, { channels });
  });
}
