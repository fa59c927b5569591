import { publishEvent } from '../channels/publish.js';
import type { AppConfig } from '../config/schema.js';
import type { HttpHandler, HttpReply } from '../transport/uws.js';
import { signedRoute } from './auth.js';
import type { ApiContext } from './context.js';
import { triggerAttributes } from './info.js';
import { fail, json, ok } from './reply.js';
import { mergeTriggerQuery, parseJsonObject, validateTrigger, type EventToPublish } from './validate.js';

/** `POST /apps/{id}/events` (section 6.1). */
export function eventsHandler(ctx: ApiContext): HttpHandler {
  return signedRoute(ctx, ({ req, app, params, arrays }) => {
    const body = parseJsonObject(req.body);
    if (!body.ok) return fail(body.status, body.error);
    const checked = validateTrigger(mergeTriggerQuery(body.value, params, arrays), app);
    if (!checked.ok) return fail(checked.status, checked.error);
    const event = checked.value;
    // The common case stays synchronous: no counts asked, nothing to wait for.
    if (event.info.size === 0) {
      publish(ctx, app, event);
      return ok();
    }
    return publishWithInfo(ctx, app, event);
  });
}

/** Counts are gathered before delivery, so a failing lookup leaves nothing half-sent. */
async function publishWithInfo(ctx: ApiContext, app: AppConfig, event: EventToPublish): Promise<HttpReply> {
  const infos = await Promise.all(event.channels.map((channel) => ctx.adapter.channelInfo(app.id, channel)));
  const channels: Record<string, Record<string, number>> = {};
  event.channels.forEach((channel, i) => (channels[channel] = triggerAttributes(channel, infos[i]!, event.info)));
  publish(ctx, app, event);
  return json(200, { channels });
}

function publish(ctx: ApiContext, app: AppConfig, event: EventToPublish): void {
  for (const channel of event.channels) publishEvent(ctx.adapter, app, channel, event.name, event.data, event.socketId);
}
