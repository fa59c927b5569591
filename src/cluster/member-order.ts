import { topicOf } from '../channels/topics.js';
import type { Connection } from '../ws/connection.js';

interface Subscribers {
  /** Each presence subscription on this node → the seq its member list included. */
  seen: Map<Connection, number>;
  /** At least the largest of `seen` (recomputed when an event has to look). */
  max: number;
}

/**
 * Keeps presence member events consistent with the member lists subscribers were given.
 *
 * A member event is published by the node that made the change, after its script returned (and
 * the bus batches it), so another node, or another subscription on the same node, can read a
 * member list that already holds the change and receive the event afterwards: a second
 * `member_added` for a listed user. So each event carries the seq its script drew from the app's
 * counter (JOIN in scripts.ts), each presence subscription here remembers the seq its list was
 * read at, and an event reaches only subscriptions whose list did not hold it yet. Usually none
 * here read its list after the change: one topic publish, as for any event; otherwise the event
 * goes connection by connection.
 */
export class MemberOrder {
  private readonly channels = new Map<string, Subscribers>();
  /** `{socket id}\n{channel}` → seq of the member event the WebSocket layer publishes next for it. */
  private readonly pending = new Map<string, number>();

  joined(conn: Connection, channel: string, seen: number): void {
    const topic = topicOf(conn.app.id, channel);
    let subscribers = this.channels.get(topic);
    if (!subscribers) this.channels.set(topic, (subscribers = { seen: new Map(), max: 0 }));
    subscribers.seen.set(conn, seen);
    if (seen > subscribers.max) subscribers.max = seen;
  }

  left(conn: Connection, channel: string): void {
    const topic = topicOf(conn.app.id, channel);
    const subscribers = this.channels.get(topic);
    if (subscribers?.seen.delete(conn) && subscribers.seen.size === 0) this.channels.delete(topic);
  }

  /**
   * A join or leave by `socketId` drew `seq`: the WebSocket layer publishes its member event as
   * soon as the outcome settles (same tick), without the seq, so it waits here for that publish.
   */
  announce(socketId: string, channel: string, seq: number): void {
    // Claimed within the microtasks that settle the outcome; nothing stays past this turn.
    if (this.pending.size === 0) setImmediate(() => this.pending.clear());
    this.pending.set(`${socketId}\n${channel}`, seq);
  }

  claim(socketId: string, channel: string): number | undefined {
    if (this.pending.size === 0) return undefined;
    const key = `${socketId}\n${channel}`;
    const seq = this.pending.get(key);
    if (seq !== undefined) this.pending.delete(key);
    return seq;
  }

  /** Sends the event numbered `seq` to the subscriptions here that do not list it yet (`toAll` when that is all of them). */
  deliver(appId: string, channel: string, seq: number, frame: string, except: string | undefined, toAll: () => void): void {
    const subscribers = this.channels.get(topicOf(appId, channel));
    if (!subscribers || seq > subscribers.max) return toAll();
    let max = 0;
    for (const [conn, seen] of subscribers.seen) {
      if (seen > max) max = seen;
      if (seen < seq && conn.socketId !== except) conn.send(frame);
    }
    subscribers.max = max;
  }
}
