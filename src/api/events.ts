import { publishEvent } from '../channels/publish.js';
import type { HttpHandler } from '../transport/uws.js';
import { signedRoute } from './auth.js';
import type { ApiContext } from './context.js';
import { triggerAttributes } from './info.js';
import { fail, json, ok } from './reply.js';
import { mergeTriggerQuery, parseJsonObject, validateTrigger } from './validate.js';

/** `POST /apps/{id}/events` (section 6.1). */
export function eventsHandler(ctx: ApiContext): HttpHandler {
  return signedRoute(ctx, async ({ req, app }) => {
    const body = parseJsonObject(req.body);
    if (!body.ok) return fail(body.status, body.error);
    const checked = validateTrigger(mergeTriggerQuery(body.value, req.query), app);
    if (!checked.ok) return fail(checked.status, checked.error);
    const event = checked.value;

    // Counts are gathered before delivery, so a failing lookup leaves nothing half-sent.
    let channels: Record<string, Record<string, number>> | undefined;
    if (event.info.size > 0) {
      const infos = await Promise.all(event.channels.map((channel) => ctx.adapter.channelInfo(app.id, channel)));
      channels = {};
      event.channels.forEach((channel, i) => (channels![channel] = triggerAttributes(channel, infos[i]!, event.info)));
    }

    for (const channel of event.channels) publishEvent(ctx.adapter, app, channel, event.name, event.data, event.socketId);
    return channels ? json(200, { channels }) : ok();
  });
}
