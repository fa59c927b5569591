import { ErrorCode, ErrorMessage } from '../../protocol/codes.js';
import type { HttpHandler } from '../transport/uws.js';
import { signedRoute } from './auth.js';
import type { ApiContext } from './context.js';
import { decodeParam, fail, ok } from './reply.js';

/**
 * `POST /apps/{id}/users/{user_id}/terminate_connections` (section 6.6): every connection signed
 * in as that user gets `pusher:error` and close 4009; presence-only members are untouched.
 */
export function terminateHandler(ctx: ApiContext): HttpHandler {
  return signedRoute(ctx, async ({ req, app }) => {
    const userId = decodeParam(req.params[1]);
    if (userId === '') return fail(400, 'Missing user id');
    const connections = await ctx.adapter.userConnections(app.id, userId);
    for (const conn of connections) conn.terminate(ErrorCode.Unauthorized, ErrorMessage[ErrorCode.Unauthorized]!);
    return ok();
  });
}
