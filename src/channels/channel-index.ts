/**
 * Occupied channels per app with their subscription counts, kept as subscriptions change so that
 * listing channels costs what the answer holds, not the size of the node. Plain data, no I/O.
 *
 * Per channel: its name in a sorted list of names (a pointer and the string), and a Map entry for its
 * count only when more than one connection shares it. See the README (HTTP API) for the figures.
 */

/** Names per block: inserts move at most this many pointers, lookups are two binary searches. */
const BLOCK = 512;

/** A position in a `SortedNames`: block `b`, index `i` within it. */
interface Cursor {
  b: number;
  i: number;
}

/**
 * A sorted set of strings (UTF-16 code unit order, as `<` compares) in blocks of at most `BLOCK`:
 * add and delete in O(log n + BLOCK), and walking from any key costs only the names visited.
 */
export class SortedNames {
  private readonly blocks: string[][] = [];
  size = 0;

  /** @param blockSize names per block (tests use tiny blocks to reach every split and merge). */
  constructor(private readonly blockSize = BLOCK) {}

  /** Returns false when the name was already there. */
  add(name: string): boolean {
    if (this.blocks.length === 0) {
      this.blocks.push([name]);
      this.size = 1;
      return true;
    }
    const b = Math.max(0, this.blockOf(name));
    const block = this.blocks[b]!;
    const i = lowerBound(block, name);
    if (block[i] === name) return false;
    block.splice(i, 0, name);
    this.size++;
    if (block.length > this.blockSize) this.blocks.splice(b + 1, 0, block.splice(this.blockSize >> 1));
    return true;
  }

  /** Returns false when the name was not there. */
  delete(name: string): boolean {
    const b = this.blockOf(name);
    if (b === -1) return false;
    const block = this.blocks[b]!;
    const i = lowerBound(block, name);
    if (block[i] !== name) return false;
    block.splice(i, 1);
    this.size--;
    if (block.length === 0) this.blocks.splice(b, 1);
    else this.mergeSmall(b);
    return true;
  }

  has(name: string): boolean {
    const block = this.blocks[this.blockOf(name)];
    return block !== undefined && block[lowerBound(block, name)] === name;
  }

  /** The first position whose name is `>= key` (past the end when none is). */
  seek(key: string): Cursor {
    const b = Math.max(0, this.blockOf(key));
    const block = this.blocks[b];
    if (!block) return { b: 0, i: 0 };
    const i = lowerBound(block, key);
    return i < block.length ? { b, i } : { b: b + 1, i: 0 };
  }

  /** The name at the cursor, moving it on; undefined at the end. */
  next(at: Cursor): string | undefined {
    const block = this.blocks[at.b];
    if (!block) return undefined;
    const name = block[at.i]!;
    if (++at.i === block.length) {
      at.b++;
      at.i = 0;
    }
    return name;
  }

  /** Every name in order (tests and small sets). */
  *[Symbol.iterator](): Iterator<string> {
    for (const block of this.blocks) yield* block;
  }

  /** The last block whose first name is `<= name`; -1 when `name` sorts before every block. */
  private blockOf(name: string): number {
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.blocks[mid]![0]! <= name) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** Keeps blocks from thinning out under deletes: a quarter-full block joins its neighbour when both fit. */
  private mergeSmall(b: number): void {
    const block = this.blocks[b]!;
    if (block.length > this.blockSize >> 2) return;
    const n = b + 1 < this.blocks.length ? b + 1 : b - 1;
    const neighbour = this.blocks[n];
    if (!neighbour || block.length + neighbour.length > this.blockSize >> 1) return;
    const [first, second] = n > b ? [block, neighbour] : [neighbour, block];
    this.blocks.splice(Math.min(b, n), 2, first.concat(second));
  }
}

function lowerBound(block: readonly string[], key: string): number {
  let lo = 0;
  let hi = block.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (block[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The smallest string above every string that starts with `prefix` (non-empty). */
function pastPrefix(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

interface AppChannels {
  /** Every occupied channel. */
  names: SortedNames;
  /**
   * Counts of the channels with more than one subscriber; the others have one. Most channels of a
   * busy node are one connection's own (`private-user.{id}`), and so cost no Map entry.
   */
  shared: Map<string, number>;
}

/** One page of a listing: `names[k]` has `subscriptionCounts[k]` subscribers. */
export interface ChannelPage {
  names: string[];
  subscriptionCounts: number[];
  /** Presence members per channel, when the query asked for them (`withUserCounts`). */
  userCounts?: number[];
  /** Where the next page starts (pass it as `after`); undefined when this was the last page. */
  next: string | undefined;
}

export interface ChannelQuery {
  /** Only names starting with this ('' for all). */
  prefix: string;
  /** Resume after this name (exclusive); channels that came or went meanwhile are seen or not by position. */
  after?: string | undefined;
  /** At most this many names (> 0). */
  limit: number;
  /** Also give each channel's distinct presence users (`userCounts`). */
  withUserCounts?: boolean;
}

export class ChannelIndex {
  private readonly apps = new Map<string, AppChannels>();

  /**
   * @param unlisted channels with this prefix are counted but never listed (`#server-to-user-`).
   * @param blockSize see `SortedNames`.
   */
  constructor(
    private readonly unlisted: string,
    private readonly blockSize = BLOCK,
  ) {}

  /** Records the channel's subscription count on this node; 0 removes it. */
  set(appId: string, channel: string, count: number): void {
    let app = this.apps.get(appId);
    if (count > 0) {
      if (!app) this.apps.set(appId, (app = { shared: new Map(), names: new SortedNames(this.blockSize) }));
      // A channel already in `shared` is already named; otherwise (0 → 1, 1 → 2) `add` finds out.
      if (count > 1) {
        if (app.shared.get(channel) === undefined) app.names.add(channel);
        app.shared.set(channel, count);
      } else {
        app.shared.delete(channel);
        app.names.add(channel);
      }
    } else if (app?.names.delete(channel)) {
      app.shared.delete(channel);
      if (app.names.size === 0) this.apps.delete(appId);
    }
  }

  count(appId: string, channel: string): number {
    const app = this.apps.get(appId);
    if (!app) return 0;
    return app.shared.get(channel) ?? (app.names.has(channel) ? 1 : 0);
  }

  /** Occupied channels of the app, unlisted ones included. */
  size(appId: string): number {
    return this.apps.get(appId)?.names.size ?? 0;
  }

  /** Listed channels starting with `prefix`, in name order: O(log n + page size). */
  page(appId: string, { prefix, after, limit }: ChannelQuery): ChannelPage {
    const page: ChannelPage = { names: [], subscriptionCounts: [], next: undefined };
    const app = this.apps.get(appId);
    if (!app) return page;
    const { names, shared } = app;
    const at = names.seek(after !== undefined && after > prefix ? after : prefix);
    for (let name = names.next(at); name !== undefined && name.startsWith(prefix); name = names.next(at)) {
      if (name === after) continue;
      if (name.startsWith(this.unlisted)) {
        // One jump over the whole unlisted range, however many user channels it holds.
        Object.assign(at, names.seek(pastPrefix(this.unlisted)));
        continue;
      }
      if (page.names.length === limit) {
        page.next = page.names[limit - 1];
        break;
      }
      page.names.push(name);
      page.subscriptionCounts.push(shared.get(name) ?? 1);
    }
    return page;
  }
}
