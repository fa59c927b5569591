import { topicOf } from '../channels/topics.js';
import type { Connection } from '../rules/connection.js';

interface Subscription {
  /** The seq its member list was read at; Infinity until the join's script has answered. */
  seen: number;
  /** Events held for it until its confirmation has gone out (`[seq, frame]`), or undefined. */
  held: [number, string][] | undefined;
}

interface Subscribers {
  subs: Map<Connection, Subscription>;
  /** At least the largest `seen` among live subscriptions (recomputed when an event has to look). */
  max: number;
  /** Subscriptions still holding events. */
  holding: number;
}

/**
 * Keeps presence member events consistent with the member list each subscriber was given.
 *
 * Every member event carries the seq the script that made the change drew (JOIN in scripts.ts),
 * and the script publishes it to the other nodes in the same step. A joining connection's own
 * script reads the member list at some seq; on this node, events from other nodes arrive on the
 * bus connection and the join's answer on the command connection, in either order. So:
 * - from the moment the join is sent until its confirmation has gone out, the connection's
 *   member events are held; then those after its list's seq are sent, in the order they came;
 * - afterwards it gets only events numbered after its list's seq (the node that made a change
 *   delivers it locally after its script answered, when later subscribers may already list it).
 * Usually no subscription here is joining or has a newer list than the event: one topic publish,
 * as for any event; otherwise the event goes connection by connection.
 */
export class MemberOrder {
  private readonly channels = new Map<string, Subscribers>();

  /** The join's script is about to run: hold this connection's member events until `joined`. */
  joining(conn: Connection, channel: string): void {
    const topic = topicOf(conn.app.id, channel);
    let subscribers = this.channels.get(topic);
    if (!subscribers) this.channels.set(topic, (subscribers = { subs: new Map(), max: 0, holding: 0 }));
    subscribers.subs.set(conn, { seen: Infinity, held: [] });
    subscribers.holding++;
  }

  /**
   * The join's script answered with its list's seq. The confirmation goes out in this turn (the
   * WebSocket layer sends it as the join settles); the held events follow it right after.
   */
  joined(conn: Connection, channel: string, seen: number): void {
    const topic = topicOf(conn.app.id, channel);
    const subscribers = this.channels.get(topic);
    const sub = subscribers?.subs.get(conn);
    if (!subscribers || !sub) return;
    sub.seen = seen;
    if (seen > subscribers.max) subscribers.max = seen;
    setImmediate(() => {
      if (sub.held === undefined) return;
      for (const [seq, frame] of sub.held) if (seq > seen) conn.send(frame);
      sub.held = undefined;
      subscribers.holding--;
    });
  }

  /** The connection left the channel, or its join failed. */
  left(conn: Connection, channel: string): void {
    const topic = topicOf(conn.app.id, channel);
    const subscribers = this.channels.get(topic);
    const sub = subscribers?.subs.get(conn);
    if (!subscribers || !sub) return;
    if (sub.held) {
      sub.held = undefined;
      subscribers.holding--;
    }
    subscribers.subs.delete(conn);
    if (subscribers.subs.size === 0) this.channels.delete(topic);
  }

  /** Sends the event numbered `seq` to the subscriptions here that should get it (`toAll` when that is all of them). */
  deliver(appId: string, channel: string, seq: number, frame: string, except: string | undefined, toAll: () => void): void {
    const subscribers = this.channels.get(topicOf(appId, channel));
    if (!subscribers || (seq > subscribers.max && subscribers.holding === 0)) return toAll();
    let max = 0;
    for (const [conn, sub] of subscribers.subs) {
      if (sub.seen !== Infinity && sub.seen > max) max = sub.seen;
      if (conn.socketId === except) continue;
      if (sub.held) sub.held.push([seq, frame]);
      else if (sub.seen < seq) conn.send(frame);
    }
    subscribers.max = max;
  }
}
