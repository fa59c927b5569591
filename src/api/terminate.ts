import { ErrorCode, ErrorMessage } from '../../protocol/codes.js';
import type { HttpHandler } from '../transport/uws.js';
import { signedRoute } from './auth.js';
import type { ApiContext } from './context.js';
import { decodeParam, fail, ok } from './reply.js';

/**
 * `POST /apps/{id}/users/{user_id}/terminate_connections` (section 6.6): every connection signed
 * in as that user, on every node, gets `pusher:error` and close 4009; presence-only members are untouched.
 */
export function terminateHandler(ctx: ApiContext): HttpHandler {
  return signedRoute(ctx, ({ req, app }) => {
    const userId = decodeParam(req.params[1]);
    if (userId === '') return fail(400, 'Missing user id');
    ctx.adapter.terminateUser(app.id, userId, ErrorCode.Unauthorized, ErrorMessage[ErrorCode.Unauthorized]!);
    return ok();
  });
}
