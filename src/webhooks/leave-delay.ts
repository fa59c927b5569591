import type { LifecycleEvent } from '../events/lifecycle.js';

type Leave = Extract<LifecycleEvent, { type: 'channel_vacated' | 'member_removed' }>;

const keyOf = (e: LifecycleEvent): string | undefined => {
  switch (e.type) {
    case 'channel_vacated':
    case 'channel_occupied':
      return `c\0${e.appId}\0${e.channel}`;
    case 'member_removed':
    case 'member_added':
      return `m\0${e.appId}\0${e.channel}\0${e.userId}`;
    default:
      return undefined;
  }
};

/**
 * Holds `channel_vacated` and `member_removed` for a while (section 7): a page reload leaves and
 * re-joins within a second or two, and the backend must hear neither the leave nor the re-join.
 * Only a re-join seen by this node cancels a held leave; the caller re-checks cluster state when
 * the leave comes due.
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
    if (event.type === 'channel_vacated' || event.type === 'member_removed') {
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
