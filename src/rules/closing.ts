import { when } from '../adapter/adapter.js';
import { channelOfTopic } from '../channels/topics.js';
import type { Connection } from './connection.js';
import type { ServerContext } from './context.js';
import { signout } from './signin.js';
import { announceLeave } from './subscribe.js';

/**
 * A closing connection left one of its channels' topics (uWS drops them as a socket closes;
 * a Socket.IO socket hands them over when it goes): the channel hears it, once the shared state has it.
 */
export function leftOnClose(ctx: ServerContext, conn: Connection, topic: string, remaining: number): void {
  const channel = channelOfTopic(conn.app.id, topic);
  const memberId = conn.presenceId(channel);
  const outcome = ctx.adapter.dropped(conn, channel, remaining);
  if (!outcome) return;
  // Only a closing socket leaves on its own, and it can take no more calls.
  conn.open = false;
  const { app, socketId } = conn;
  when(
    outcome,
    (left) => announceLeave(ctx, app, channel, socketId, memberId, left),
    (err) => ctx.logger.error({ err, app: app.id, socket_id: socketId }, 'leave failed'),
  );
}

/** The connection is gone, whichever protocol it spoke: signed out, forgotten, counted. */
export function closed(ctx: ServerContext, conn: Connection, code: number): void {
  conn.open = false;
  signout(ctx, conn);
  ctx.adapter.removeConnection(conn);
  ctx.stats.connectionsClosed++;
  ctx.logger.debug({ app: conn.app.id, socket_id: conn.socketId, code }, 'connection closed');
}
