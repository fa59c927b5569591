import { parseClientFrame, pongFrame } from '../../protocol/frames.js';
import { clientEvent } from './client-events.js';
import type { Connection } from './connection.js';
import type { WsContext } from './context.js';
import { signin } from './signin.js';
import { subscribe, unsubscribe } from './subscribe.js';

// Decodes straight from the ArrayBuffer, without a Buffer object per frame; invalid bytes become
// U+FFFD as Buffer#toString made them (uWS has already refused text frames that are not UTF-8).
const utf8 = new TextDecoder();

/** One inbound frame: size and type checks, parse, then the action it asks for. */
export function dispatch(ctx: WsContext, conn: Connection, data: ArrayBuffer, isBinary: boolean): void {
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
