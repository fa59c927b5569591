import { ErrorCode } from '../../protocol/codes.js';
import { subscriptionError } from '../../protocol/frames.js';
import type { Connection } from '../rules/connection.js';
import type { ServerContext } from '../rules/context.js';
import { admit, authorize, confirm, join } from '../rules/subscribe.js';
import { resume } from './dispatch.js';

/** `pusher:subscribe` (section 2.2): the client's own `auth` signature decides who may join. */
export function subscribe(ctx: ServerContext, conn: Connection, channel: string, auth: string | undefined, channelData: string | undefined): void {
  const admission = admit(conn, channel);
  if (!admission.ok) return conn.error(null, admission.message);
  const { kind } = admission;
  if (admission.joined) return confirm(ctx, conn, channel, kind);

  const verdict = authorize(conn, channel, kind, auth, channelData);
  if (!verdict.ok) {
    conn.error(verdict.code, verdict.message);
    if (verdict.code === ErrorCode.Unauthorized) conn.send(subscriptionError(channel, 401, verdict.message));
    return;
  }
  const settling = join(ctx, conn, channel, kind, verdict.member);
  if (!settling) return;
  // The client's next frames wait for the cluster's answer, so they keep their order.
  conn.hold();
  void settling.finally(() => resume(ctx, conn));
}
