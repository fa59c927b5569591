import { ErrorCode } from '../../protocol/codes.js';
import { parseClientFrame, pongFrame } from '../../protocol/frames.js';
import { clientEvent } from '../rules/client-events.js';
import type { Connection } from '../rules/connection.js';
import type { ServerContext } from '../rules/context.js';
import { unsubscribe } from '../rules/subscribe.js';
import { signin } from './signin.js';
import { subscribe } from './subscribe.js';

/**
 * A frame from the socket: held while a subscribe waits for the cluster (so frames keep their
 * order), else dispatched. A bug must cost one frame, not the process and every other connection.
 */
export function receive(ctx: ServerContext, conn: Connection, data: ArrayBuffer, isBinary: boolean): void {
  if (conn.holding) {
    if (!conn.holdFrame(data, isBinary)) conn.terminate(ErrorCode.OverCapacity, 'Too many frames while a subscription is pending');
    return;
  }
  try {
    dispatch(ctx, conn, data, isBinary);
  } catch (err) {
    ctx.logger.error({ err, app: conn.app.id, socket_id: conn.socketId }, 'frame handler failed');
    conn.error(null, 'Internal server error');
  }
}

/** Handles the frames held during a pending subscribe, until one of them is pending in turn. */
export function resume(ctx: ServerContext, conn: Connection): void {
  const frames = conn.release();
  for (let i = 0; i < frames.length && conn.open; i++) {
    if (conn.holding) return conn.hold(frames.slice(i));
    receive(ctx, conn, frames[i]!.data, frames[i]!.isBinary);
  }
}

// Decodes straight from the ArrayBuffer, without a Buffer object per frame; invalid bytes become
// U+FFFD as Buffer#toString made them (uWS has already refused text frames that are not UTF-8).
const utf8 = new TextDecoder();

/** One inbound frame: size and type checks, parse, then the action it asks for. */
export function dispatch(ctx: ServerContext, conn: Connection, data: ArrayBuffer, isBinary: boolean): void {
  if (isBinary) return conn.error(null, 'Binary frames are not supported');
  if (data.byteLength > conn.app.maxMessageSize) return conn.error(null, `Message exceeds ${conn.app.maxMessageSize} bytes`);

  const parsed = parseClientFrame(utf8.decode(data));
  if (!parsed.ok) return conn.error(parsed.code, parsed.message);
  const frame = parsed.frame;
  switch (frame.kind) {
    case 'client-event':
      return clientEvent(ctx, conn, frame);
    case 'ping':
      return conn.send(pongFrame());
    case 'pong':
      return;
    case 'subscribe':
      return subscribe(ctx, conn, frame.channel, frame.auth, frame.channelData);
    case 'unsubscribe':
      return unsubscribe(ctx, conn, frame.channel);
    case 'signin':
      return signin(ctx, conn, frame.auth, frame.userData);
  }
}
