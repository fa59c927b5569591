import type { AppConfig } from '../config/schema.js';
import type { Socket } from '../transport/uws.js';
import { errorFrame } from '../../protocol/frames.js';
import { topicOf } from '../channels/topics.js';
import type { AppMessages, Stats } from '../metrics/stats.js';

export interface SignedInUser {
  id: string;
  info: unknown;
  watchlist: string[];
}

/** What few connections use: an idle connection carries one empty field instead. */
class Extras {
  user: SignedInUser | undefined;
  /** `[channel, userId, …]` for the presence channels joined. */
  presence: string[] = [];
  /** The current one-second window of the client-event rate limit. */
  clientEventWindowStart = 0;
  clientEventCount = 0;
  /** Frames received while a subscribe waits for the cluster, handled in order once it is confirmed. */
  held: HeldFrame[] | undefined;
}

export interface HeldFrame {
  data: ArrayBuffer;
  isBinary: boolean;
}

/** Held frames beyond this mean a client that does not wait for its confirmations: it is closed. */
export const MAX_HELD_FRAMES = 1000;

/**
 * One accepted WebSocket: its app, its channels and its liveness bookkeeping.
 *
 * Per-connection memory is what bounds a node, so a connection keeps little: which channels it is
 * in is asked of its socket (uWS keeps each socket's topics anyway), and what only signed-in,
 * presence or client-event connections need sits in `Extras`, made on first use.
 */
export class Connection {
  socket!: Socket;
  /** Given by the adapter when the connection opens, unless the protocol chose one already (kept if free). */
  socketId = '';
  /** Channels joined, for the per-connection limit. */
  channelCount = 0;
  private extras: Extras | undefined;
  /** Signed in or joined a private/presence channel (for authorized-connections mode). */
  authorized = false;
  open = false;
  lastSeen: number;
  pingSentAt = 0;
  /** The app's message counters (held here so that counting a frame is a field increment). */
  readonly messages: AppMessages;

  constructor(
    readonly app: AppConfig,
    readonly connectedAt: number,
    private readonly stats: Stats,
  ) {
    this.lastSeen = connectedAt;
    this.messages = stats.messagesOf(app.id);
  }

  /** False once the socket is closing: uWS has dropped its topics by then. */
  inChannel(channel: string): boolean {
    return this.open && this.socket.isSubscribed(topicOf(this.app.id, channel));
  }

  get user(): SignedInUser | undefined {
    return this.extras?.user;
  }

  set user(user: SignedInUser | undefined) {
    if (user || this.extras) this.more().user = user;
  }

  /** Counts a client event against `limit` per second; true when over it. */
  overClientEventRate(limit: number, now: number): boolean {
    const extras = this.more();
    if (now - extras.clientEventWindowStart >= 1000) {
      extras.clientEventWindowStart = now;
      extras.clientEventCount = 0;
    }
    return ++extras.clientEventCount > limit;
  }

  /** The user id this connection joined a presence channel as. */
  presenceId(channel: string): string | undefined {
    const i = this.presenceIndex(channel);
    return i === -1 ? undefined : this.extras!.presence[i + 1];
  }

  joined(channel: string, presenceId: string | undefined): void {
    this.channelCount++;
    if (presenceId !== undefined) this.more().presence.push(channel, presenceId);
  }

  /** Returns the presence user id it had there. */
  left(channel: string): string | undefined {
    this.channelCount--;
    const i = this.presenceIndex(channel);
    if (i === -1) return undefined;
    const presence = this.extras!.presence;
    const id = presence[i + 1];
    presence.splice(i, 2);
    return id;
  }

  /** Even indexes only: a user id may look like a channel name. */
  private presenceIndex(channel: string): number {
    const list = this.extras?.presence;
    if (list) for (let i = 0; i < list.length; i += 2) if (list[i] === channel) return i;
    return -1;
  }

  /** True while frames must wait for a pending subscribe (cluster mode only). */
  get holding(): boolean {
    return this.extras?.held !== undefined;
  }

  /** Starts holding frames, with `frames` first in line. */
  hold(frames: HeldFrame[] = []): void {
    this.more().held = frames;
  }

  /** Keeps a copy (uWS reuses the buffer); false when the queue is full. */
  holdFrame(data: ArrayBuffer, isBinary: boolean): boolean {
    const held = this.extras!.held!;
    if (held.length >= MAX_HELD_FRAMES) return false;
    held.push({ data: data.slice(0), isBinary });
    return true;
  }

  /** Stops holding and hands over what was held. */
  release(): HeldFrame[] {
    const held = this.extras?.held ?? [];
    if (this.extras) this.extras.held = undefined;
    return held;
  }

  private more(): Extras {
    return (this.extras ??= new Extras());
  }

  send(frame: string): void {
    if (!this.open) return;
    this.socket.send(frame);
    this.stats.sent(frame, this.messages);
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
