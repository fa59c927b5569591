import type { HttpHandler } from '../transport/uws.js';
import type { ApiContext } from './context.js';
import { json } from './reply.js';

const UP = Object.freeze(json(200, { health: 'OK' }));
const OK = Object.freeze(json(200, { status: 'ok' }));
const DRAINING = Object.freeze(json(503, { status: 'draining' }));

/** `GET /up`: Reverb's liveness answer. */
export function upHandler(): HttpHandler {
  return () => UP;
}

/**
 * `GET /` and `GET /ready`: 503 while draining so load balancers stop sending new connections.
 * In a cluster it also says whether Redis is reachable, still with 200: without Redis a node keeps
 * serving its own clients, and taking every node out of a load balancer would cut them all off.
 */
export function readyHandler(ctx: ApiContext): HttpHandler {
  return () => {
    if (ctx.isDraining()) return DRAINING;
    const shared = ctx.adapter.sharedState();
    return shared === 'local' ? OK : json(200, { status: 'ok', redis: shared });
  };
}

/** `GET /api/health` (simple broadcast API): `{"status":"ok","uptime":seconds,…}`. */
export function apiHealthHandler(ctx: ApiContext): HttpHandler {
  return () => {
    const now = ctx.now();
    return json(200, {
      status: 'ok',
      uptime: Math.floor((now - ctx.startedAt) / 1000),
      connections: ctx.adapter.connectionCount(),
      draining: ctx.isDraining(),
      timestamp: new Date(now).toISOString(),
    });
  };
}
