import { channelKind } from '../../protocol/names.js';
import type { HttpHandler } from '../transport/uws.js';
import { signedRoute } from './auth.js';
import type { ApiContext } from './context.js';
import { decodeParam, fail } from './reply.js';
import { checkChannelName } from './validate.js';

/**
 * `GET /apps/{id}/channels/{name}/users` (section 6.5): presence channels only, distinct string ids.
 * Costs the channel's members (bounded by `maxPresenceMembers`), written straight into the body.
 */
export function usersHandler(ctx: ApiContext): HttpHandler {
  return signedRoute(ctx, async ({ req, app }) => {
    const channel = decodeParam(req.params[1]);
    const badName = checkChannelName(channel, app);
    if (badName) return fail(badName.status, badName.error);
    if (channelKind(channel).type !== 'presence') return fail(400, 'Users are only available for presence channels');
    const ids = await ctx.adapter.users(app.id, channel);
    let body = '{"users":[';
    for (let k = 0; k < ids.length; k++) body += `${k === 0 ? '' : ','}{"id":${JSON.stringify(String(ids[k]))}}`;
    return { status: 200, body: body + ']}' };
  });
}
