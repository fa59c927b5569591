/** Signed-in users and their watchers on this node, per app. */
export class UserIndex<C> {
  private readonly users = new Map<string, Set<C>>();
  private readonly watchers = new Map<string, Set<C>>();

  /** Returns true when this is the user's first signed-in connection (the user came online). */
  add(appId: string, userId: string, conn: C): boolean {
    const key = userKey(appId, userId);
    let conns = this.users.get(key);
    if (!conns) {
      conns = new Set();
      this.users.set(key, conns);
    }
    conns.add(conn);
    return conns.size === 1;
  }

  /** Returns true when that was the user's last signed-in connection (the user went offline). */
  remove(appId: string, userId: string, conn: C): boolean {
    const key = userKey(appId, userId);
    const conns = this.users.get(key);
    if (!conns || !conns.delete(conn)) return false;
    if (conns.size > 0) return false;
    this.users.delete(key);
    return true;
  }

  connections(appId: string, userId: string): readonly C[] {
    return [...(this.users.get(userKey(appId, userId)) ?? [])];
  }

  /** The app's online user ids (a walk over every app's users: for reports, not the hot path). */
  online(appId: string): string[] {
    const prefix = userKey(appId, '');
    const ids: string[] = [];
    for (const key of this.users.keys()) if (key.startsWith(prefix)) ids.push(key.slice(prefix.length));
    return ids;
  }

  isOnline(appId: string, userId: string): boolean {
    return this.users.has(userKey(appId, userId));
  }

  watch(appId: string, userIds: readonly string[], conn: C): void {
    for (const id of userIds) {
      const key = userKey(appId, id);
      let set = this.watchers.get(key);
      if (!set) {
        set = new Set();
        this.watchers.set(key, set);
      }
      set.add(conn);
    }
  }

  unwatch(appId: string, userIds: readonly string[], conn: C): void {
    for (const id of userIds) {
      const key = userKey(appId, id);
      const set = this.watchers.get(key);
      if (set?.delete(conn) && set.size === 0) this.watchers.delete(key);
    }
  }

  watchersOf(appId: string, userId: string): Iterable<C> {
    return this.watchers.get(userKey(appId, userId)) ?? [];
  }
}

const userKey = (appId: string, userId: string) => `${appId}\n${userId}`;
