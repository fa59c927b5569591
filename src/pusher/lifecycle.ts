import { ErrorCode, ErrorMessage } from '../../protocol/codes.js';
import { connectionEstablished, errorFrame } from '../../protocol/frames.js';
import type { Socket, UpgradeRequest, WsHandlers } from '../transport/uws.js';
import { monotonicMs } from '../rules/clock.js';
import { closed, leftOnClose } from '../rules/closing.js';
import { Connection } from '../rules/connection.js';
import type { ServerContext } from '../rules/context.js';
import { receive, resume } from './dispatch.js';
import { checkHandshake } from './handshake.js';

/** A refused handshake: the socket is opened only to carry the Pusher error and close code. */
export class Refusal {
  constructor(
    readonly code: number,
    readonly message: string,
  ) {}
}

export type SocketState = Connection | Refusal;

/** A Pusher WebSocket's events → one connection's life: handshake, frames, close. */
export function connectionHandlers(ctx: ServerContext): WsHandlers<SocketState> {
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
      ctx.stats.connectionsOpened++;
      const admitted = ctx.adapter.addConnection(state);
      if (!(admitted instanceof Promise)) return established(ctx, state, admitted);
      // The app's cluster-wide connection limit is being checked: frames wait for the answer.
      state.hold();
      admitted
        .then((ok) => established(ctx, state, ok))
        .catch((err: unknown) => {
          ctx.logger.error({ err, app: state.app.id }, 'connection admission failed');
          state.terminate(ErrorCode.Reconnect, 'Generic reconnect immediately');
        })
        .finally(() => resume(ctx, state));
    },

    message(state: SocketState, data: ArrayBuffer, isBinary: boolean): void {
      // Refused sockets are closed in `open`, so only connections send frames.
      const conn = state as Connection;
      conn.lastSeen = monotonicMs();
      conn.pingSentAt = 0;
      ctx.stats.wsMessagesIn++;
      conn.messages.received++;
      ctx.stats.wsBytesIn += data.byteLength;
      receive(ctx, conn, data, isBinary);
    },

    activity(conn: SocketState): void {
      if (conn instanceof Connection) {
        conn.lastSeen = monotonicMs();
        conn.pingSentAt = 0;
      }
    },

    left(state: SocketState, topic: string, remaining: number): void {
      // Refused sockets never subscribe.
      leftOnClose(ctx, state as Connection, topic, remaining);
    },

    close(conn: SocketState, code: number): void {
      if (conn instanceof Connection) closed(ctx, conn, code);
    },
  };
}

/** Sends `connection_established`, or closes with 4004 when the app is over its cluster-wide quota. */
function established(ctx: ServerContext, conn: Connection, admitted: boolean): void {
  if (!admitted) return conn.terminate(ErrorCode.OverQuota, ErrorMessage[ErrorCode.OverQuota]!);
  conn.send(connectionEstablished(conn.socketId, conn.app.activityTimeout));
  ctx.logger.debug({ app: conn.app.id, socket_id: conn.socketId }, 'connection opened');
}

function queryParam(query: string, name: string): string | undefined {
  return new URLSearchParams(query).get(name) ?? undefined;
}
