import type { Logger } from 'pino';
import type { Stats } from '../metrics/stats.js';
import type { ClusterKeys } from './keys.js';
import type { RedisLink } from './redis-link.js';

/** What other nodes send: one message per event and channel, whatever the number of subscribers. */
export type BusMessage =
  | { kind: 'publish'; channel: string; except: string; frame: string }
  | { kind: 'watchers'; userId: string; except: string; frame: string }
  | { kind: 'terminate'; userId: string; code: number; message: string };

export type BusHandler = (appId: string, message: BusMessage) => void;

/**
 * The fan-out bus: one pub/sub channel per app (`{prefix}{appId}:bus`). A message carries the
 * sending node's id; a node skips its own, having delivered them locally already. One connection
 * publishes, so a node's messages arrive everywhere in the order it sent them.
 *
 * While Redis is away, messages wait in a bounded queue (`redisQueueSize`; the oldest are dropped
 * and counted) and go out, in order, once the node has rewritten its state on reconnect.
 */
export class ClusterBus {
  private readonly queue: [channel: string, message: string][] = [];
  private readonly appOf = new Map<string, string>();

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
    this.link.sub.on('message', (channel: string, raw: string) => {
      const appId = this.appOf.get(channel);
      if (appId === undefined) return;
      const message = decode(raw, this.node());
      if (message) handler(appId, message);
    });
    await this.link.sub.subscribe(...this.appOf.keys());
  }

  publish(appId: string, channel: string, frame: string, except = ''): void {
    // Hot path: one concatenation; channel names and socket ids never contain '\n'.
    this.send(this.keys.bus(appId), `p\n${this.node()}\n${channel}\n${except}\n${frame}`);
  }

  toWatchers(appId: string, userId: string, frame: string, except = ''): void {
    this.send(this.keys.bus(appId), `w\n${this.node()}\n${JSON.stringify(userId)}\n${except}\n${frame}`);
  }

  terminate(appId: string, userId: string, code: number, message: string): void {
    this.send(this.keys.bus(appId), `t\n${this.node()}\n${JSON.stringify(userId)}\n${code}\n${message}`);
  }

  /** Sends what was queued during an outage (called once the node's state is rewritten). */
  flush(): void {
    const held = this.queue.splice(0);
    if (held.length > 0) this.logger.info({ messages: held.length }, 'redis back: sending queued cross-node messages');
    for (const [channel, message] of held) this.send(channel, message);
  }

  private send(channel: string, message: string): void {
    if (!this.link.isReady) return this.hold(channel, message);
    this.link.cmd.publish(channel, message).catch(() => this.dropped(1));
  }

  private hold(channel: string, message: string): void {
    if (this.queueSize === 0) return this.dropped(1);
    if (this.queue.length >= this.queueSize) {
      this.queue.shift();
      this.dropped(1);
    }
    this.queue.push([channel, message]);
  }

  private dropped(count: number): void {
    // Logged on the first drop of an outage and then every 1000, not once per message.
    if (this.stats.redisDropped % 1000 === 0) this.logger.warn({ dropped: this.stats.redisDropped + count }, 'cross-node messages dropped while redis is unavailable');
    this.stats.redisDropped += count;
  }
}

function decode(raw: string, self: string): BusMessage | undefined {
  const a = raw.indexOf('\n');
  const b = raw.indexOf('\n', a + 1);
  if (raw.slice(a + 1, b) === self) return undefined;
  const c = raw.indexOf('\n', b + 1);
  const d = raw.indexOf('\n', c + 1);
  if (a !== 1 || d === -1) return undefined;
  const first = raw.slice(b + 1, c);
  const second = raw.slice(c + 1, d);
  const rest = raw.slice(d + 1);
  switch (raw[0]) {
    case 'p':
      return { kind: 'publish', channel: first, except: second, frame: rest };
    case 'w':
      return { kind: 'watchers', userId: JSON.parse(first) as string, except: second, frame: rest };
    case 't':
      return { kind: 'terminate', userId: JSON.parse(first) as string, code: Number(second), message: rest };
  }
  return undefined;
}
