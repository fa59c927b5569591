import { createHash, timingSafeEqual } from 'node:crypto';
import { publishEvent } from '../channels/publish.js';
import type { AppConfig } from '../config/schema.js';
import type { HttpHandler, HttpReply, HttpRequest } from '../transport/uws.js';
import { rateLimited } from './auth.js';
import type { ApiContext } from './context.js';
import { fail, json, notFound } from './reply.js';
import { parseJsonObject, validateBroadcast } from './validate.js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * The app owning `key` among every app's `apiKeys`. Keys are compared as SHA-256 digests with
 * timingSafeEqual and every configured key is checked, so timing reveals neither the key nor
 * where it matched.
 */
export function appForApiKey(apps: readonly AppConfig[], key: string): AppConfig | undefined {
  const given = digest(key);
  let found: AppConfig | undefined;
  for (const app of apps) {
    for (const candidate of app.apiKeys) {
      if (timingSafeEqual(given, digest(candidate)) && !found) found = app;
    }
  }
  return found;
}

/**
 * `POST /api/broadcast` with `X-API-Key` (for backends that do not sign Pusher requests).
 * Off (404, as if the route did not exist) until some app configures `apiKeys`.
 */
export function broadcastHandler(ctx: ApiContext): HttpHandler {
  const handler: HttpHandler = (req) => {
    const app = (req.early as AppConfig | undefined) ?? keyHolder(ctx, req);
    if (!('id' in app)) return app;
    const limited = rateLimited(ctx, app);
    if (limited) return limited;

    const body = parseJsonObject(req.body);
    if (!body.ok) return fail(body.status, body.error);
    const checked = validateBroadcast(body.value, app);
    if (!checked.ok) return fail(checked.status, checked.error);
    const { channel, event, data, socketId } = checked.value;

    // Counted before publishing: the subscribers on this node that the event reaches.
    let recipients = ctx.localSubscribers(app.id, channel);
    const excluded = socketId === undefined ? undefined : ctx.adapter.connection(socketId);
    if (excluded && excluded.app.id === app.id && excluded.inChannel(channel)) recipients--;
    publishEvent(ctx.adapter, app, channel, event, data, socketId);
    recipients = Math.max(0, recipients);
    if (recipients > 0) ctx.events.emit({ type: 'message_delivered', appId: app.id, channel, event, recipients });
    return json(200, { success: true, message: 'Message broadcasted successfully', recipients });
  };
  // Known from the head: answered before the body is read.
  handler.beforeBody = (req) => {
    const app = keyHolder(ctx, req);
    if (!('id' in app)) return app;
    req.early = app;
    return undefined;
  };
  return handler;
}

/** The enabled app whose API key the request carries, or the refusal: 404 while the API is off, 401, 403. */
function keyHolder(ctx: ApiContext, req: HttpRequest): AppConfig | HttpReply {
  const apps = ctx.apps.all();
  if (!apps.some((app) => app.apiKeys.length > 0)) return notFound();
  const key = req.headers['x-api-key'];
  if (key === undefined || key === '') return fail(401, 'Missing X-API-Key header');
  const app = appForApiKey(apps, key);
  if (!app) return fail(401, 'Invalid API key');
  if (!app.enabled) return fail(403, 'Application disabled');
  return app;
}
