/** A set of load-generator connections with a swappable message dispatch. */
import { SOURCE_ADDRESSES, withTimeout } from '../common.js';
import { type ChannelKind, type ClientHandlers, PusherConn } from './ws-client.js';

export interface SubSpec {
  channel: string;
  kind: ChannelKind;
  userId?: string;
}

export type SubsFor = (index: number) => SubSpec[];

const noop = (): void => {};

export class Pool implements ClientHandlers {
  readonly conns: PusherConn[] = [];
  unexpectedCloses = 0;
  firstCloseError = '';
  onBench: (conn: PusherConn, t: number, seq: number) => void = noop;
  onMember: (conn: PusherConn, channel: string, added: boolean, userId: string) => void = noop;

  constructor(
    readonly host: string,
    /** Connection i goes to ports[i % ports.length]: spread evenly over the nodes of a cluster. */
    readonly ports: readonly number[],
    /** Offset into the source-address rotation, so several workers spread evenly. */
    private readonly addressOffset = 0,
    private readonly addresses: readonly string[] = SOURCE_ADDRESSES,
  ) {}

  onClose(conn: PusherConn, expected: boolean): void {
    if (!expected) {
      this.unexpectedCloses++;
      if (!this.firstCloseError) this.firstCloseError = `connection ${conn.index}: ${conn.lastError || 'closed by peer'}`;
    }
  }

  /** Open `count` connections (indexes from..from+count-1), each subscribed to `subsFor(index)`. */
  async connect(from: number, count: number, subsFor: SubsFor, concurrency = 200): Promise<{ ms: number }> {
    const t0 = performance.now();
    let next = from;
    const end = from + count;
    const one = async (i: number): Promise<void> => {
      const addr = this.addresses[(i + this.addressOffset) % this.addresses.length]!;
      const conn = new PusherConn(i, this.host, this.ports[i % this.ports.length]!, addr, this);
      this.conns.push(conn);
      await withTimeout(conn.ready(), 30_000, `connection ${i} established`);
      await withTimeout(
        Promise.all(subsFor(i).map((s) => conn.subscribe(s.channel, s.kind, s.userId))),
        30_000,
        `connection ${i} subscribed`,
      );
    };
    const lane = async (): Promise<void> => {
      while (next < end) await one(next++);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
    return { ms: performance.now() - t0 };
  }

  /** Throw if any connection closed without being asked to. */
  assertHealthy(what: string): void {
    if (this.unexpectedCloses > 0) {
      throw new Error(`${what}: ${this.unexpectedCloses} connection(s) closed unexpectedly, first: ${this.firstCloseError}`);
    }
  }

  closeAll(): void {
    for (const c of this.conns) c.close();
  }
}
