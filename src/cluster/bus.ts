import type { Logger } from 'pino';
import type { Stats } from '../metrics/stats.js';
import type { ClusterKeys } from './keys.js';
import type { RedisLink } from './redis-link.js';

/** What other nodes send: one message per event and channel, whatever the number of subscribers. */
export type BusMessage =
  | { kind: 'publish'; channel: string; except: string; frame: string }
  /** A presence member event, numbered by the script that made the change (see JOIN in scripts.ts). */
  | { kind: 'member'; channel: string; seq: number; except: string; frame: string }
  | { kind: 'watchers'; userId: string; except: string; frame: string }
  | { kind: 'terminate'; userId: string; code: number; message: string };

export type BusHandler = (appId: string, message: BusMessage) => void;

/** A batch is sent at this size even while the previous one is still on its way. */
const MAX_BATCH_RECORDS = 512;

/**
 * The fan-out bus: one pub/sub channel per app (`{prefix}{appId}:bus`). Messages travel in
 * batches, one PUBLISH each (at most one per event and channel, fewer under load): what this node
 * makes in one turn of its event loop goes out at the end of that turn, unless its previous batch
 * is still on its way to Redis; then it waits for that one's answer. So an idle node adds no
 * delay, and under load batches grow with the round trip: each node wakes once per batch instead
 * of once per event, and fans a batch's events out in one loop turn, which lets uWS write several
 * of them to each socket in one call. A batch carries the sending node's id; a node skips its
 * own, having delivered them locally already. One connection publishes, so a node's messages
 * arrive everywhere in the order it sent them.
 *
 * Only events some other node can deliver travel: the batch goes through a script (RELAY in
 * scripts.ts) that keeps the records of channels with subscriptions on another node and
 * publishes those, or nothing. Redis runs it in order with the subscribe scripts, so a
 * subscription confirmed before an event is published is always counted. It filters what this
 * node's batch holds, not where it goes (the app keeps one bus channel, as sharded pub/sub
 * wants), and no node wakes for an event nobody else subscribes to.
 *
 * While Redis is away, messages wait in a bounded queue (`redisQueueSize`; the oldest are dropped
 * and counted) and go out, in order and unfiltered, right behind the node's rewrite on reconnect.
 */
export class ClusterBus {
  private readonly queue: [appId: string, record: string][] = [];
  private readonly appOf = new Map<string, string>();
  /** App → `[channel (or '' for every node), record, …]` for the next batch. */
  private readonly batches = new Map<string, string[]>();
  private batched = 0;
  private scheduled = false;
  /** Batches sent and not yet answered. */
  private inFlight = 0;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: ClusterKeys,
    private readonly queueSize: number,
    private readonly stats: Stats,
    private readonly logger: Logger,
    private readonly node: () => string,
  ) {}

  /** Subscribes to every app's bus; ioredis subscribes again after each reconnect. */
  async listen(appIds: readonly string[], handler: BusHandler): Promise<void> {
    for (const appId of appIds) this.appOf.set(this.keys.bus(appId), appId);
    this.link.onMessage((channel, raw) => {
      const appId = this.appOf.get(channel);
      if (appId !== undefined) decode(raw, this.node(), (message) => handler(appId, message));
    });
    await this.link.subscribe([...this.appOf.keys()]);
  }

  publish(appId: string, channel: string, frame: string, except = ''): void {
    this.send(appId, channel, record('p', channel, except, frame));
  }

  member(appId: string, channel: string, seq: number, frame: string, except = ''): void {
    this.send(appId, channel, record('m', channel, `${seq} ${except}`, frame));
  }

  /**
   * A member event for a script to publish itself, atomically with the change (see JOIN in
   * scripts.ts): the bus channel and the message (a batch of one) before and after its seq.
   */
  memberMessage(appId: string, channel: string, frame: string, except: string): [bus: string, head: string, tail: string] {
    // The script's seq goes first in the record's second field, `{seq} {socket id}`.
    return [this.keys.bus(appId), `${this.node()}\n${recordHead('m', channel)}`, ` ${except}${recordTail(frame)}`];
  }

  toWatchers(appId: string, userId: string, frame: string, except = ''): void {
    this.send(appId, '', record('w', JSON.stringify(userId), except, frame));
  }

  terminate(appId: string, userId: string, code: number, message: string): void {
    this.send(appId, '', record('t', JSON.stringify(userId), String(code), message));
  }

  /** Sends what was queued during an outage (called right after the node's rewrite is sent). */
  flush(): void {
    const held = this.queue.splice(0);
    if (held.length > 0) this.logger.info({ messages: held.length }, 'redis back: sending queued cross-node messages');
    // Unfiltered: after an empty restart the other nodes' counts may not be rewritten yet.
    for (const [appId, message] of held) this.send(appId, '', message);
  }

  /** `channel` is the one the record is about ('' when every node must get it). */
  private send(appId: string, channel: string, message: string): void {
    if (!this.link.isReady) return this.hold(appId, message);
    const batch = this.batches.get(appId);
    if (batch) batch.push(channel, message);
    else this.batches.set(appId, [channel, message]);
    if (++this.batched >= MAX_BATCH_RECORDS) this.sendBatches();
    else this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight > 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.inFlight === 0) this.sendBatches();
    });
  }

  /** Sends the open batches now (also before a graceful stop closes the connection). */
  sendBatches(): void {
    const node = this.node();
    const k = this.keys;
    for (const [appId, batch] of this.batches) {
      this.inFlight++;
      this.link.cmd
        .relay(k.channels(appId), k.nodeChannels(appId, node), k.bus(appId), `${node}\n`, ...batch)
        .catch(() => this.dropped(batch.length / 2))
        .finally(() => {
          if (--this.inFlight === 0 && this.batches.size > 0) this.schedule();
        });
    }
    this.batches.clear();
    this.batched = 0;
  }

  private hold(appId: string, message: string): void {
    if (this.queueSize === 0) return this.dropped(1);
    if (this.queue.length >= this.queueSize) {
      this.queue.shift();
      this.dropped(1);
    }
    this.queue.push([appId, message]);
  }

  private dropped(count: number): void {
    // Logged on the first drop and then once per 1000, not once per message.
    if (Math.floor(this.stats.redisDropped / 1000) !== Math.floor((this.stats.redisDropped + count) / 1000) || this.stats.redisDropped === 0) {
      this.logger.warn({ dropped: this.stats.redisDropped + count }, 'cross-node messages dropped while redis is unavailable');
    }
    this.stats.redisDropped += count;
  }
}

/**
 * `{kind}{first}\n{second}\n{payload length}\n{payload}`: the payload is length-prefixed so it may
 * hold anything; `first` (a channel name or a JSON user id) and `second` (a socket id, a close
 * code, or a member event's `{seq} {socket id}`) never contain a newline.
 */
const record = (kind: RecordKind, first: string, second: string, payload: string): string =>
  recordHead(kind, first) + second + recordTail(payload);

type RecordKind = 'p' | 'm' | 'w' | 't';

/** A record up to its second field, and from the end of that field on (`memberMessage` splices in between). */
const recordHead = (kind: RecordKind, first: string): string => `${kind}${first}\n`;
const recordTail = (payload: string): string => `\n${payload.length}\n${payload}`;

/** Hands each message of a batch to `deliver`, unless the batch is this node's own. */
function decode(raw: string, self: string, deliver: (message: BusMessage) => void): void {
  const head = raw.indexOf('\n');
  if (head === -1 || raw.slice(0, head) === self) return;
  let at = head + 1;
  while (at < raw.length) {
    const a = raw.indexOf('\n', at + 1);
    const b = raw.indexOf('\n', a + 1);
    const c = raw.indexOf('\n', b + 1);
    if (a === -1 || b === -1 || c === -1) return;
    const first = raw.slice(at + 1, a);
    const second = raw.slice(a + 1, b);
    const end = c + 1 + Number(raw.slice(b + 1, c));
    const payload = raw.slice(c + 1, end);
    const kind = raw[at];
    at = end;
    if (kind === 'p') deliver({ kind: 'publish', channel: first, except: second, frame: payload });
    else if (kind === 'm') {
      const space = second.indexOf(' ');
      deliver({ kind: 'member', channel: first, seq: Number(second.slice(0, space)), except: second.slice(space + 1), frame: payload });
    }
    else if (kind === 'w') deliver({ kind: 'watchers', userId: JSON.parse(first) as string, except: second, frame: payload });
    else if (kind === 't') deliver({ kind: 'terminate', userId: JSON.parse(first) as string, code: Number(second), message: payload });
  }
}
