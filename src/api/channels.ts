import { setImmediate as nextTurn } from 'node:timers/promises';
import { PRESENCE_CHANNEL_PREFIX } from '../../protocol/names.js';
import type { HttpHandler } from '../transport/uws.js';
import { signedRoute } from './auth.js';
import type { ApiContext } from './context.js';
import { AsciiBuilder, ascii } from './ascii-builder.js';
import { fail } from './reply.js';
import { CHANNELS_INFO, parseInfo } from './validate.js';

/** Channels per page: a page costs about a millisecond, and other work runs between pages. */
export const CHANNELS_PAGE = 4096;

const OPEN = ascii('{"channels":{');
const QUOTE = ascii('"');
const COMMA_QUOTE = ascii(',"');
const EMPTY = ascii('":{}');
const USER_COUNT = ascii('":{"user_count":');
const SUBSCRIPTION_COUNT = ascii('":{"subscription_count":');
const AND_SUBSCRIPTION_COUNT = ascii(',"subscription_count":');
const CLOSE = ascii('}');
const END = ascii('}}');

/**
 * `GET /apps/{id}/channels` (section 6.3): occupied channels only, `#server-to-user-*` never
 * listed; `info=user_count` needs a `presence-` `filter_by_prefix`.
 *
 * The body is written as bytes, page by page from the adapter's channel index, with a turn of the
 * event loop between pages: 100k channels cost the node many short pauses, not one long one.
 * Names need no JSON escaping: subscribe accepts only `[A-Za-z0-9_\-=@,.;]` (user channels, whose
 * id part is free, are never listed).
 */
export function channelsHandler(ctx: ApiContext): HttpHandler {
  return signedRoute(ctx, async ({ app, params }) => {
    const prefix = params.filter_by_prefix ?? '';
    const info = parseInfo(params.info, CHANNELS_INFO);
    if (!info.ok) return fail(info.status, info.error);
    const userCount = info.value.has('user_count');
    const subscriptionCount = info.value.has('subscription_count');
    if (userCount && !prefix.startsWith(PRESENCE_CHANNEL_PREFIX)) {
      return fail(400, 'info=user_count requires filter_by_prefix starting with presence-');
    }

    const body = new AsciiBuilder().raw(OPEN);
    let after: string | undefined;
    for (;;) {
      const page = await ctx.adapter.channels(app.id, { prefix, after, limit: CHANNELS_PAGE, withUserCounts: userCount });
      const { names, subscriptionCounts } = page;
      for (let k = 0; k < names.length; k++) {
        const name = names[k]!;
        body.raw(after === undefined && k === 0 ? QUOTE : COMMA_QUOTE).text(name);
        if (userCount) body.raw(USER_COUNT).int(page.userCounts![k]!);
        if (subscriptionCount) body.raw(userCount ? AND_SUBSCRIPTION_COUNT : SUBSCRIPTION_COUNT).int(subscriptionCounts[k]!);
        body.raw(userCount || subscriptionCount ? CLOSE : EMPTY);
      }
      if (page.next === undefined) break;
      after = page.next;
      await nextTurn();
    }
    return { status: 200, body: body.raw(END).view() };
  });
}
