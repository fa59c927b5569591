import type { HttpHandler } from '../transport/uws.js';
import { signedRoute } from './auth.js';
import type { ApiContext } from './context.js';
import { json } from './reply.js';

/** `GET /apps/{id}/connections` → `{"connections":N}` (Reverb's extra endpoint; every node's connections). */
export function connectionsHandler(ctx: ApiContext): HttpHandler {
  return signedRoute(ctx, async ({ app }) => json(200, { connections: await ctx.adapter.clusterConnectionCount(app.id) }));
}
