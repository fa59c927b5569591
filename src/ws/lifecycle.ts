import { randomInt } from 'node:crypto';
import { connectionEstablished, errorFrame } from '../../protocol/frames.js';
import type { Socket, UpgradeRequest, WsHandlers } from '../transport/uws.js';
import { monotonicMs } from './clock.js';
import { Connection, Refusal, type SocketState } from './connection.js';
import type { WsContext } from './context.js';
import { dispatch } from './dispatch.js';
import { checkHandshake } from './handshake.js';
import { signout } from './signin.js';
import { unsubscribe } from './subscribe.js';

const SOCKET_ID_PART = 1_000_000_000;

/** Socket events → one connection's life: handshake, frames, close. */
export function connectionHandlers(ctx: WsContext): WsHandlers<SocketState> {
  return {
    upgrade(req: UpgradeRequest): SocketState {
      const result = checkHandshake(
        {
          key: req.params[0] ?? '',
          protocol: queryParam(req.query, 'protocol'),
          origin: req.header('origin'),
          secure: req.secure,
        },
        ctx,
      );
      if (!result.ok) return new Refusal(result.code, result.message);
      return new Connection(newSocketId(ctx), result.app, monotonicMs(), ctx.stats);
    },

    open(socket: Socket, state: SocketState): void {
      if (state instanceof Refusal) {
        ctx.stats.error(state.code);
        ctx.logger.debug({ code: state.code }, 'connection refused');
        socket.cork(() => {
          socket.send(errorFrame(state.code, state.message));
          socket.end(state.code, state.message);
        });
        return;
      }
      state.socket = socket;
      state.open = true;
      ctx.adapter.addConnection(state);
      ctx.stats.connectionsOpened++;
      state.send(connectionEstablished(state.socketId, state.app.activityTimeout));
      ctx.logger.debug({ app: state.app.id, socket_id: state.socketId }, 'connection opened');
    },

    message(state: SocketState, data: ArrayBuffer, isBinary: boolean): void {
      // Refused sockets are closed in `open`, so only connections send frames.
      const conn = state as Connection;
      conn.lastSeen = monotonicMs();
      conn.pingSentAt = 0;
      ctx.stats.wsMessagesIn++;
      ctx.stats.wsBytesIn += data.byteLength;
      try {
        dispatch(ctx, conn, data, isBinary);
      } catch (err) {
        // A bug must cost one frame, not the process and every other connection on it.
        ctx.logger.error({ err, app: conn.app.id, socket_id: conn.socketId }, 'frame handler failed');
        conn.error(null, 'Internal server error');
      }
    },

    activity(conn: SocketState): void {
      if (conn instanceof Connection) {
        conn.lastSeen = monotonicMs();
        conn.pingSentAt = 0;
      }
    },

    close(conn: SocketState, code: number): void {
      if (!(conn instanceof Connection) || !conn.open) return;
      conn.open = false;
      for (const channel of conn.channels.keys()) unsubscribe(ctx, conn, channel);
      signout(ctx, conn);
      ctx.adapter.removeConnection(conn);
      ctx.stats.connectionsClosed++;
      ctx.logger.debug({ app: conn.app.id, socket_id: conn.socketId, code }, 'connection closed');
    },
  };
}

function newSocketId(ctx: WsContext): string {
  for (;;) {
    const id = `${randomInt(1, SOCKET_ID_PART)}.${randomInt(1, SOCKET_ID_PART)}`;
    if (!ctx.adapter.connection(id)) return id;
  }
}

function queryParam(query: string, name: string): string | undefined {
  return new URLSearchParams(query).get(name) ?? undefined;
}
