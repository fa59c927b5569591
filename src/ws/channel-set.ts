/**
 * One connection's channels, each with its presence user id (undefined elsewhere). Connections
 * hold a handful of channels, so a flat `[name, userId, name, userId, …]` array, scanned linearly,
 * costs a fraction of a Map's hash table in the per-connection memory that bounds a node.
 */
export class ChannelSet {
  private entries: (string | undefined)[] = [];

  get size(): number {
    return this.entries.length / 2;
  }

  has(channel: string): boolean {
    return this.indexOf(channel) !== -1;
  }

  /** The presence user id on that channel. */
  get(channel: string): string | undefined {
    const i = this.indexOf(channel);
    return i === -1 ? undefined : this.entries[i + 1];
  }

  set(channel: string, userId: string | undefined): void {
    const i = this.indexOf(channel);
    if (i !== -1) this.entries[i + 1] = userId;
    // concat allocates exactly what is needed, where push would leave spare capacity behind.
    else this.entries = this.entries.concat(channel, userId);
  }

  delete(channel: string): boolean {
    const i = this.indexOf(channel);
    if (i === -1) return false;
    this.entries.splice(i, 2);
    return true;
  }

  keys(): string[] {
    const names: string[] = [];
    for (let i = 0; i < this.entries.length; i += 2) names.push(this.entries[i]!);
    return names;
  }

  private indexOf(channel: string): number {
    for (let i = 0; i < this.entries.length; i += 2) if (this.entries[i] === channel) return i;
    return -1;
  }
}
