import { channelKind } from '../../protocol/names.js';
import type { HttpHandler } from '../transport/uws.js';
import { signedRoute } from './auth.js';
import type { ApiContext } from './context.js';
import { decodeParam, fail, json } from './reply.js';
import { CHANNEL_INFO, checkChannelName, parseInfo } from './validate.js';

/**
 * `GET /apps/{id}/channels/{name}` (section 6.4): `occupied` always; `user_count` only for
 * presence, `cache` only for cache channels (else 400); unoccupied counts are 0.
 */
export function channelHandler(ctx: ApiContext): HttpHandler {
  return signedRoute(ctx, async ({ req, app, params }) => {
    const channel = decodeParam(req.params[1]);
    const badName = checkChannelName(channel, app);
    if (badName) return fail(badName.status, badName.error);
    const info = parseInfo(params.info, CHANNEL_INFO);
    if (!info.ok) return fail(info.status, info.error);
    const kind = channelKind(channel);
    if (info.value.has('user_count') && kind.type !== 'presence') {
      return fail(400, 'info=user_count is only available for presence channels');
    }
    if (info.value.has('cache') && !kind.cache) return fail(400, 'info=cache is only available for cache channels');

    const state = await ctx.adapter.channelInfo(app.id, channel);
    const body: Record<string, unknown> = { occupied: state.occupied };
    if (info.value.has('user_count')) body.user_count = state.userCount;
    if (info.value.has('subscription_count')) body.subscription_count = state.subscriptionCount;
    if (info.value.has('cache')) {
      const cached = await ctx.adapter.cached(app.id, channel);
      const now = ctx.now();
      body.cache =
        cached && cached.expiresAt > now ? { data: cached.data, ttl: Math.ceil((cached.expiresAt - now) / 1000) } : null;
    }
    return json(200, body);
  });
}
