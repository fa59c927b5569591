import type { LifecycleEvent } from '../events/lifecycle.js';

export type Leave = Extract<LifecycleEvent, { type: 'channel_vacated' | 'member_removed' }>;

export const isLeave = (e: LifecycleEvent): e is Leave => e.type === 'channel_vacated' || e.type === 'member_removed';

/** What a leave and its re-join share, within one app: the channel, or the channel and member (channel names have no newline). */
export function leaveKey(e: LifecycleEvent): string | undefined {
  switch (e.type) {
    case 'channel_vacated':
    case 'channel_occupied':
      return `c:${e.channel}`;
    case 'member_removed':
    case 'member_added':
      return `m:${e.channel}\n${e.userId}`;
    default:
      return undefined;
  }
}

const keyOf = (e: LifecycleEvent): string | undefined => {
  const key = leaveKey(e);
  return key === undefined ? undefined : `${e.appId}\0${key}`;
};

/**
 * Holds `channel_vacated` and `member_removed` for a while (section 7): a page reload leaves and
 * re-joins within a second or two, and the backend must hear neither the leave nor the re-join.
 * Only a re-join seen by this node cancels a held leave here; the caller matches re-joins on other
 * nodes through the adapter's leave marks.
 */
export class LeaveDelay {
  private readonly held = new Map<string, { timer: NodeJS.Timeout; event: Leave }>();

  constructor(
    private readonly delayMs: number,
    private readonly due: (event: Leave) => void,
  ) {}

  /** False when the event is held back (a leave) or cancelled (the re-join of a held leave). */
  admit(event: LifecycleEvent): boolean {
    const key = keyOf(event);
    if (key === undefined || this.delayMs === 0) return true;
    if (isLeave(event)) {
      this.held.get(key)?.timer.refresh();
      if (!this.held.has(key)) {
        const timer = setTimeout(() => this.release(key), this.delayMs);
        this.held.set(key, { timer, event });
      }
      return false;
    }
    const pending = this.held.get(key);
    if (!pending) return true;
    clearTimeout(pending.timer);
    this.held.delete(key);
    return false;
  }

  get size(): number {
    return this.held.size;
  }

  /** Releases every held leave now (shutdown: nobody on this node can re-join any more). */
  releaseAll(): void {
    for (const key of [...this.held.keys()]) this.release(key);
  }

  close(): void {
    for (const { timer } of this.held.values()) clearTimeout(timer);
    this.held.clear();
  }

  private release(key: string): void {
    const pending = this.held.get(key);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.held.delete(key);
    this.due(pending.event);
  }
}
