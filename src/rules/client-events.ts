import { ErrorCode, ErrorMessage } from '../../protocol/codes.js';
import { relayedClientEvent, type ClientEventFrame } from '../../protocol/frames.js';
import { channelKind } from '../../protocol/names.js';
import { monotonicMs } from './clock.js';
import type { Connection } from './connection.js';
import type { ServerContext } from './context.js';

/** Relays a `client-` event to the channel's other subscribers (section 2.13). */
export function clientEvent(ctx: ServerContext, conn: Connection, frame: ClientEventFrame): void {
  const { app } = conn;
  const { event, channel } = frame;
  if (app.clientEvents === 'none') return conn.error(null, 'Client events are not enabled for this app');
  const type = channelKind(channel).type;
  if (type !== 'private' && type !== 'presence') {
    return conn.error(null, 'Client events are only allowed on private and presence channels');
  }
  if (app.clientEvents === 'members' && !conn.inChannel(channel)) return conn.error(null, `Not subscribed to ${channel}`);
  if (event.length > app.maxEventNameLength) return conn.error(null, `Event name exceeds ${app.maxEventNameLength} characters`);
  if (dataTooLarge(frame, app.maxEventDataSize)) return conn.error(null, `Event data exceeds ${app.maxEventDataSize} bytes`);
  if (app.clientEventRateLimit > 0 && conn.overClientEventRate(app.clientEventRateLimit, monotonicMs())) {
    // Never a close: pusher-js stops reconnecting after any close code of 4300 or above.
    return conn.error(ErrorCode.ClientEventRateLimit, ErrorMessage[ErrorCode.ClientEventRateLimit]!);
  }
  ctx.stats.clientEvents++;
  conn.messages.clientEvents++;
  // With clientEvents 'all' the sender may not be a member: fall back to its signed-in user (section 2.6).
  const userId = type === 'presence' ? (conn.presenceId(channel) ?? conn.user?.id) : undefined;
  ctx.adapter.publish(app.id, channel, relayedClientEvent(frame, userId), conn.socketId);
  if (ctx.events.active) {
    ctx.events.emit({ type: 'client_event', appId: app.id, channel, event, data: frame.data, socketId: conn.socketId, userId });
  }
}

/** A frame whose whole text is surely under the limit (UTF-8 takes at most 3 bytes per UTF-16 unit) needs no serialising. */
function dataTooLarge(frame: ClientEventFrame, limit: number): boolean {
  if (frame.text.length * 3 <= limit) return false;
  return Buffer.byteLength(JSON.stringify(frame.data)) > limit;
}
