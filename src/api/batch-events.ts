import { publishEvent } from '../channels/publish.js';
import type { HttpHandler } from '../transport/uws.js';
import { signedRoute } from './auth.js';
import type { ApiContext } from './context.js';
import { triggerAttributes } from './info.js';
import { fail, json, ok } from './reply.js';
import { parseJsonObject, validateBatch } from './validate.js';

/** `POST /apps/{id}/batch_events` (section 6.2): all items valid, or none is delivered. */
export function batchEventsHandler(ctx: ApiContext): HttpHandler {
  return signedRoute(ctx, async ({ req, app }) => {
    const body = parseJsonObject(req.body);
    if (!body.ok) return fail(body.status, body.error);
    const checked = validateBatch(body.value, app);
    if (!checked.ok) return fail(checked.status, checked.error);
    const events = checked.value;

    let batch: Record<string, number>[] | undefined;
    if (events.some((event) => event.info.size > 0)) {
      // Index-aligned with the request; items without `info` get `{}`.
      batch = await Promise.all(
        events.map(async (event) => {
          if (event.info.size === 0) return {};
          const channel = event.channels[0]!;
          return triggerAttributes(channel, await ctx.adapter.channelInfo(app.id, channel), event.info);
        }),
      );
    }

    for (const event of events) {
      publishEvent(ctx.adapter, app, event.channels[0]!, event.name, event.data, event.socketId);
    }
    return batch ? json(200, { batch }) : ok();
  });
}
