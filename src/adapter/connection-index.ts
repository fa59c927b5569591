import { randomInt } from 'node:crypto';
import type { Connection } from '../rules/connection.js';

const RANDOM_PART = 1_000_000_000;

/**
 * This node's connections by socket id. A socket id is `{random}.{slot}`: the slot indexes a plain
 * array, a pointer per connection where a Map entry costs several and doubles its table as it
 * grows. The random part keeps ids unguessable; a lookup compares the whole id.
 *
 * A connection may come with an id of its own, chosen before it was a connection (a Socket.IO 2
 * client's Engine.IO session id, which is what that client reports as its id): it is kept in a map,
 * outside the slots.
 */
export class ConnectionIndex {
  private readonly slots: (Connection | undefined)[] = [];
  /** Bounded by the most connections ever open at once, like `slots`. */
  private readonly freeSlots: number[] = [];
  private readonly named = new Map<string, Connection>();
  size = 0;

  /** Files the connection and returns the socket id it is known by: its own when it has a free one. */
  add(conn: Connection): string {
    const own = conn.socketId;
    if (own !== '' && this.slotOf(own) === -1 && !this.named.has(own)) {
      this.named.set(own, conn);
      this.size++;
      return own;
    }
    const slot = this.freeSlots.pop() ?? this.slots.length;
    this.slots[slot] = conn;
    this.size++;
    return `${randomInt(1, RANDOM_PART)}.${slot}`;
  }

  remove(conn: Connection): boolean {
    if (this.named.get(conn.socketId) === conn) {
      this.named.delete(conn.socketId);
      this.size--;
      return true;
    }
    const slot = this.slotOf(conn.socketId);
    if (slot === -1 || this.slots[slot] !== conn) return false;
    this.slots[slot] = undefined;
    this.freeSlots.push(slot);
    this.size--;
    return true;
  }

  get(socketId: string): Connection | undefined {
    const slot = this.slotOf(socketId);
    const conn = slot === -1 ? this.named.get(socketId) : this.slots[slot];
    return conn?.socketId === socketId ? conn : undefined;
  }

  *values(): Iterable<Connection> {
    for (const conn of this.slots) if (conn) yield conn;
    yield* this.named.values();
  }

  /** The digits after the '.', read in place: every publish that skips its sender looks one up. */
  private slotOf(socketId: string): number {
    const dot = socketId.indexOf('.');
    if (dot === -1 || dot === socketId.length - 1) return -1;
    let slot = 0;
    for (let i = dot + 1; i < socketId.length; i++) {
      const digit = socketId.charCodeAt(i) - 0x30;
      if (digit < 0 || digit > 9) return -1;
      slot = slot * 10 + digit;
      if (slot >= this.slots.length) return -1;
    }
    return slot;
  }
}
