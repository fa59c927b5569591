import type { Connection } from '../rules/connection.js';
import type { SocketIoSocket } from './socket.js';

/** One Socket.IO client's Herald side. */
export interface Session {
  conn: Connection;
  socket: SocketIoSocket;
  /** Headers of the handshake request (lowercase names). */
  headers: Record<string, string | string[] | undefined>;
  /** Channels whose auth endpoint call is in flight, each with the call's ticket. */
  pending: Map<string, object>;
  /** Aborts those calls when the client goes. */
  gone: AbortController;
}
