import { connectionEstablished, errorFrame } from '../../protocol/frames.js';
import type { Socket, UpgradeRequest, WsHandlers } from '../transport/uws.js';
import { channelOfTopic } from '../channels/topics.js';
import { monotonicMs } from './clock.js';
import { Connection, Refusal, type SocketState } from './connection.js';
import type { WsContext } from './context.js';
import { dispatch } from './dispatch.js';
import { checkHandshake } from './handshake.js';
import { signout } from './signin.js';
import { announceLeave } from './subscribe.js';

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
      return new Connection(result.app, monotonicMs(), ctx.stats);
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

    left(state: SocketState, topic: string, remaining: number): void {
      // Refused sockets never subscribe.
      const conn = state as Connection;
      const channel = channelOfTopic(conn.app.id, topic);
      const memberId = conn.presenceId(channel);
      const outcome = ctx.adapter.dropped(conn, channel, remaining);
      if (!outcome) return;
      // Only a closing socket leaves on its own, and it can take no more calls.
      conn.open = false;
      announceLeave(ctx, conn, channel, memberId, outcome);
    },

    close(conn: SocketState, code: number): void {
      if (!(conn instanceof Connection)) return;
      conn.open = false;
      signout(ctx, conn);
      ctx.adapter.removeConnection(conn);
      ctx.stats.connectionsClosed++;
      ctx.logger.debug({ app: conn.app.id, socket_id: conn.socketId, code }, 'connection closed');
    },
  };
}

function queryParam(query: string, name: string): string | undefined {
  return new URLSearchParams(query).get(name) ?? undefined;
}
