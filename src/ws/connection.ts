import type { AppConfig } from '../config/schema.js';
import type { Socket } from '../transport/uws.js';
import { errorFrame } from '../../protocol/frames.js';
import type { Stats } from '../metrics/stats.js';
import { ChannelSet } from './channel-set.js';

export interface SignedInUser {
  id: string;
  info: unknown;
  watchlist: string[];
}

/** One accepted WebSocket: its app, its channels and its liveness bookkeeping. */
export class Connection {
  socket!: Socket;
  readonly channels = new ChannelSet();
  user: SignedInUser | undefined;
  /** Signed in or joined a private/presence channel (for authorized-connections mode). */
  authorized = false;
  open = false;
  lastSeen: number;
  pingSentAt = 0;
  clientEventWindowStart = 0;
  clientEventCount = 0;

  constructor(
    readonly socketId: string,
    readonly app: AppConfig,
    readonly connectedAt: number,
    private readonly stats: Stats,
  ) {
    this.lastSeen = connectedAt;
  }

  send(frame: string): void {
    if (!this.open) return;
    this.socket.send(frame);
    this.stats.sent(frame);
  }

  /** A non-fatal `pusher:error`: the connection stays open. */
  error(code: number | null, message: string): void {
    this.stats.error(code);
    this.send(errorFrame(code, message));
  }

  /** Sends the error, then closes with the same code so clients act on it (section 1.2). */
  terminate(code: number, message: string): void {
    if (!this.open) return;
    this.stats.error(code);
    this.socket.cork(() => {
      this.socket.send(errorFrame(code, message));
      this.socket.end(code, message);
    });
  }
}

/** A refused handshake: the socket is opened only to carry the Pusher error and close code. */
export class Refusal {
  constructor(
    readonly code: number,
    readonly message: string,
  ) {}
}

export type SocketState = Connection | Refusal;
