import type { HttpHandler } from '../transport/uws.js';
import { signedRoute } from './auth.js';
import type { ApiContext } from './context.js';
import { json } from './reply.js';

/** `GET /apps/{id}/connections` → `{"connections":N}` (Reverb's extra endpoint; this node's count). */
export function connectionsHandler(ctx: ApiContext): HttpHandler {
  return signedRoute(ctx, ({ app }) => json(200, { connections: ctx.adapter.connectionCount(app.id) }));
}
