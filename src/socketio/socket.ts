import type { Namespace, Socket as IoSocket } from 'socket.io';
import type { Socket } from '../transport/uws.js';
import { renderFrame } from './render.js';
import type { SocketIoRooms } from './rooms.js';

/**
 * A Socket.IO client as the transport `Socket` Herald's channel code drives: topics are
 * socket.io rooms (one per Herald channel, named after it), frames sent to it are rendered as
 * Socket.IO events. Calls into a socket whose connection has closed do nothing: socket.io's uWS
 * mode throws on them.
 */
export class SocketIoSocket implements Socket {
  private readonly topics = new Set<string>();

  constructor(
    private readonly io: IoSocket,
    private readonly nsp: Namespace,
    /** The topic prefix of the socket's app (`{appId}:`). */
    private readonly topicPrefix: string,
    private readonly rooms: SocketIoRooms,
    /** Publishes to uWS's own subscribers only (Pusher clients). */
    private readonly publishToUws: (topic: string, message: string) => boolean,
    /** Engine.IO keeps the connection alive with its own heartbeat: Herald's ping only marks it alive. */
    private readonly onPing: () => void,
  ) {}

  get id(): string {
    return this.io.id;
  }

  send(message: string): number {
    const emit = renderFrame(message);
    if (emit && this.io.connected) this.guard(() => this.io.emit(...emit));
    return 1;
  }

  subscribe(topic: string): boolean {
    if (this.topics.has(topic)) return false;
    this.topics.add(topic);
    const channel = topic.slice(this.topicPrefix.length);
    this.rooms.join(topic, channel, this.nsp);
    this.guard(() => this.io.join(channel));
    return true;
  }

  unsubscribe(topic: string): boolean {
    if (!this.topics.delete(topic)) return false;
    this.rooms.leave(topic, this.nsp);
    this.guard(() => this.io.leave(topic.slice(this.topicPrefix.length)));
    return true;
  }

  isSubscribed(topic: string): boolean {
    return this.topics.has(topic);
  }

  getTopics(): string[] {
    return [...this.topics];
  }

  /** Its topics, forgotten: the socket is gone (socket.io drops it from its rooms itself). */
  drop(): string[] {
    const topics = [...this.topics];
    this.topics.clear();
    for (const topic of topics) this.rooms.leave(topic, this.nsp);
    return topics;
  }

  publish(topic: string, message: string): boolean {
    return this.publishToUws(topic, message);
  }

  ping(): number {
    this.onPing();
    return 1;
  }

  /**
   * Pusher close codes 4100–4299 ask clients to come back (over capacity, restarting, pong timeout):
   * closing the transport makes socket.io-client reconnect, where leaving the namespace
   * (`io server disconnect`) makes it stay away, as the other codes ask.
   */
  end(code?: number): void {
    if (!this.io.connected) return;
    const reconnect = code !== undefined && code >= 4100 && code < 4300;
    this.guard(() => (reconnect ? this.io.conn.close() : this.io.disconnect(true)));
  }

  cork(cb: () => void): unknown {
    return cb();
  }

  private guard(call: () => unknown): void {
    if (!this.io.conn || this.io.conn.readyState === 'closed') return;
    try {
      call();
    } catch {
      // The uWS socket under it closed in the meantime; the close handler cleans up.
    }
  }
}
