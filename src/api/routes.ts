import { SharedStateUnavailable } from '../adapter/adapter.js';
import { topicOf } from '../channels/topics.js';
import type { HttpHandler, HttpMethod, HttpReply, Transport } from '../transport/uws.js';
import { batchEventsHandler } from './batch-events.js';
import { broadcastHandler } from './broadcast.js';
import { channelHandler } from './channel.js';
import { channelsHandler } from './channels.js';
import { connectionsHandler } from './connections.js';
import type { ApiContext, ApiDeps } from './context.js';
import { eventsHandler } from './events.js';
import { apiHealthHandler, readyHandler, upHandler } from './health.js';
import { RestRateLimiter } from './rate-limit.js';
import { fail, methodNotAllowed, notFound } from './reply.js';
import { terminateHandler } from './terminate.js';
import { usersHandler } from './users.js';

export type { ApiContext, ApiDeps } from './context.js';

type Method = Exclude<HttpMethod, 'any'>;

interface Route {
  /** Without the prefix. */
  paths: string[];
  /** Stats label. */
  endpoint: string;
  handlers: Partial<Record<Method, HttpHandler>>;
}

/** Builds the context shared by every endpoint; exported for tests that call handlers directly. */
export function apiContext(deps: ApiDeps, localSubscribers: ApiContext['localSubscribers'], now = Date.now): ApiContext {
  return { ...deps, rateLimiter: new RestRateLimiter(), localSubscribers, now };
}

/** The route table (paths without prefix); `registerHttpRoutes` mounts it on the transport. */
export function apiRoutes(ctx: ApiContext): Route[] {
  const ready = readyHandler(ctx);
  const root = ctx.config.pathPrefix === '' ? ['/'] : ['', '/'];
  return [
    { paths: ['/apps/:appId/events'], endpoint: 'events', handlers: { post: eventsHandler(ctx) } },
    { paths: ['/apps/:appId/batch_events'], endpoint: 'batch_events', handlers: { post: batchEventsHandler(ctx) } },
    { paths: ['/apps/:appId/channels'], endpoint: 'channels', handlers: { get: channelsHandler(ctx) } },
    { paths: ['/apps/:appId/channels/:channel'], endpoint: 'channel', handlers: { get: channelHandler(ctx) } },
    { paths: ['/apps/:appId/channels/:channel/users'], endpoint: 'users', handlers: { get: usersHandler(ctx) } },
    {
      paths: ['/apps/:appId/users/:userId/terminate_connections'],
      endpoint: 'terminate',
      handlers: { post: terminateHandler(ctx) },
    },
    { paths: ['/apps/:appId/connections'], endpoint: 'connections', handlers: { get: connectionsHandler(ctx) } },
    { paths: ['/api/broadcast'], endpoint: 'broadcast', handlers: { post: broadcastHandler(ctx) } },
    { paths: ['/api/health'], endpoint: 'health', handlers: withHead(apiHealthHandler(ctx)) },
    { paths: ['/up'], endpoint: 'health', handlers: withHead(upHandler()) },
    { paths: ['/ready', ...root], endpoint: 'health', handlers: withHead(ready) },
  ];
}

/**
 * Mounts every HTTP route under `config.pathPrefix`: the Pusher REST API, the simple broadcast
 * API and the health routes; a known path with another method → 405, anything else → 404.
 * The WebSocket route is registered by the server before this.
 */
export function registerHttpRoutes(transport: Transport, deps: ApiDeps): void {
  const ctx = apiContext(deps, (appId, channel) => transport.numSubscribers(topicOf(appId, channel)));
  const prefix = deps.config.pathPrefix;
  for (const route of apiRoutes(ctx)) {
    const methods = Object.keys(route.handlers) as Method[];
    const allow = methods.map((m) => m.toUpperCase());
    for (const path of route.paths) {
      const pattern = prefix + path;
      for (const method of methods) transport.http(method, pattern, instrument(ctx, route.endpoint, route.handlers[method]!));
      transport.http('any', pattern, instrument(ctx, route.endpoint, bodiless(() => methodNotAllowed(allow))));
    }
  }
  transport.http('any', '/*', instrument(ctx, 'not_found', bodiless(notFound)));
}

/** A reply that does not depend on the body is given before the body is read. */
function bodiless(reply: () => HttpReply): HttpHandler {
  const handler: HttpHandler = () => reply();
  handler.beforeBody = reply;
  return handler;
}

/** HEAD answers like GET without a body, for load balancers that probe with HEAD. */
function withHead(get: HttpHandler): Route['handlers'] {
  const head: HttpHandler = async (req) => ({ ...(await get(req)), body: '' });
  return { get, head };
}

const INTERNAL_ERROR = (): HttpReply => fail(500, 'Internal server error');
const UNAVAILABLE = (error: SharedStateUnavailable): HttpReply => fail(503, error.message);

/** Records `stats.httpCall(endpoint, status)` once per request and turns a throw into a logged 500. */
export function instrument(ctx: ApiContext, endpoint: string, handler: HttpHandler): HttpHandler {
  const done = (reply: HttpReply): HttpReply => {
    ctx.stats.httpCall(endpoint, reply.status);
    if (reply.status >= 400 && ctx.logger.isLevelEnabled('debug')) {
      ctx.logger.debug({ endpoint, status: reply.status, body: reply.body }, 'HTTP API request refused');
    }
    return reply;
  };
  const failed = (error: unknown): HttpReply => {
    // A cluster query without Redis: a clear 503 rather than a number that may be wrong.
    if (error instanceof SharedStateUnavailable) return done(UNAVAILABLE(error));
    ctx.logger.error({ err: error, endpoint }, 'HTTP API handler failed');
    return done(INTERNAL_ERROR());
  };
  const instrumented: HttpHandler = (req) => {
    let reply: HttpReply | Promise<HttpReply>;
    try {
      reply = handler(req);
    } catch (error) {
      return failed(error);
    }
    return reply instanceof Promise ? reply.then(done, failed) : done(reply);
  };
  const { beforeBody } = handler;
  if (beforeBody) {
    instrumented.beforeBody = (req) => {
      let reply: HttpReply | undefined;
      try {
        reply = beforeBody(req);
      } catch (error) {
        return failed(error);
      }
      return reply && done(reply);
    };
  }
  return instrumented;
}
