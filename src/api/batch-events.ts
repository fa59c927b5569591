import { publishEvent } from '../channels/publish.js';
import type { AppConfig } from '../config/schema.js';
import type { HttpHandler, HttpReply } from '../transport/uws.js';
import { signedRoute } from './auth.js';
import type { ApiContext } from './context.js';
import { triggerAttributes } from './info.js';
import { fail, json, ok } from './reply.js';
import { parseJsonObject, validateBatch, type EventToPublish } from './validate.js';

/** `POST /apps/{id}/batch_events` (section 6.2): all items valid, or none is delivered. */
export function batchEventsHandler(ctx: ApiContext): HttpHandler {
  return signedRoute(ctx, ({ req, app }) => {
    const body = parseJsonObject(req.body);
    if (!body.ok) return fail(body.status, body.error);
    const checked = validateBatch(body.value, app);
    if (!checked.ok) return fail(checked.status, checked.error);
    const events = checked.value;
    // The common case stays synchronous: no counts asked, nothing to wait for.
    for (const event of events) if (event.info.size > 0) return publishWithInfo(ctx, app, events);
    publish(ctx, app, events);
    return ok();
  });
}

/** Counts are gathered before delivery, index-aligned with the request; items without `info` get `{}`. */
async function publishWithInfo(ctx: ApiContext, app: AppConfig, events: EventToPublish[]): Promise<HttpReply> {
  const batch = await Promise.all(
    events.map(async (event) => {
      if (event.info.size === 0) return {};
      const channel = event.channels[0]!;
      return triggerAttributes(channel, await ctx.adapter.channelInfo(app.id, channel), event.info);
    }),
  );
  publish(ctx, app, events);
  return json(200, { batch });
}

function publish(ctx: ApiContext, app: AppConfig, events: EventToPublish[]): void {
  for (const event of events) publishEvent(ctx.adapter, app, event.channels[0]!, event.name, event.data, event.socketId);
}
