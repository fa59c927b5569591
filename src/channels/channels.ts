/**
 * Who is in which channel on this node: subscription counts and presence members. Plain data, no
 * I/O; the adapter owns one and tells it about every join and leave.
 */
export interface PresenceMember {
  id: string;
  info: unknown;
}

export interface PresenceSnapshot {
  ids: string[];
  hash: Record<string, unknown>;
  count: number;
}

export interface JoinOutcome {
  subscriptionCount: number;
  /** The channel went from empty to occupied. */
  occupied: boolean;
  /** Presence: this user was not yet a member. */
  memberAdded: boolean;
}

export interface LeaveOutcome {
  subscriptionCount: number;
  vacated: boolean;
  /** Presence: that was the user's last connection in the channel. */
  memberRemoved: boolean;
}

interface MemberState {
  info: unknown;
  connections: number;
}

interface AppChannels {
  /** Channel → subscriptions. A bare number per channel: most channels are one user's own. */
  counts: Map<string, number>;
  /** Presence channel → user id → member. */
  members: Map<string, Map<string, MemberState>>;
}

export class ChannelTable {
  private readonly apps = new Map<string, AppChannels>();

  join(appId: string, channel: string, member: PresenceMember | undefined): JoinOutcome {
    let app = this.apps.get(appId);
    if (!app) this.apps.set(appId, (app = { counts: new Map(), members: new Map() }));
    const subscriptionCount = (app.counts.get(channel) ?? 0) + 1;
    app.counts.set(channel, subscriptionCount);
    let memberAdded = false;
    if (member) {
      let members = app.members.get(channel);
      if (!members) app.members.set(channel, (members = new Map()));
      const existing = members.get(member.id);
      if (existing) existing.connections++;
      else {
        members.set(member.id, { info: member.info, connections: 1 });
        memberAdded = true;
      }
    }
    return { subscriptionCount, occupied: subscriptionCount === 1, memberAdded };
  }

  leave(appId: string, channel: string, memberId: string | undefined): LeaveOutcome {
    const app = this.apps.get(appId);
    const count = app?.counts.get(channel);
    if (!app || count === undefined) return { subscriptionCount: 0, vacated: false, memberRemoved: false };
    const subscriptionCount = count - 1;
    let memberRemoved = false;
    const members = app.members.get(channel);
    if (memberId !== undefined && members) {
      const member = members.get(memberId);
      if (member && --member.connections === 0) {
        members.delete(memberId);
        memberRemoved = true;
      }
    }
    const vacated = subscriptionCount <= 0;
    if (vacated) {
      app.counts.delete(channel);
      app.members.delete(channel);
      if (app.counts.size === 0) this.apps.delete(appId);
    } else {
      app.counts.set(channel, subscriptionCount);
    }
    return { subscriptionCount: Math.max(subscriptionCount, 0), vacated, memberRemoved };
  }

  subscriptionCount(appId: string, channel: string): number {
    return this.apps.get(appId)?.counts.get(channel) ?? 0;
  }

  hasMember(appId: string, channel: string, userId: string): boolean {
    return this.apps.get(appId)?.members.get(channel)?.has(userId) ?? false;
  }

  memberCount(appId: string, channel: string): number {
    return this.apps.get(appId)?.members.get(channel)?.size ?? 0;
  }

  presence(appId: string, channel: string): PresenceSnapshot {
    const members = this.apps.get(appId)?.members.get(channel);
    const ids: string[] = [];
    const hash: Record<string, unknown> = {};
    if (members) {
      for (const [id, member] of members) {
        ids.push(id);
        hash[id] = member.info ?? null;
      }
    }
    return { ids, hash, count: ids.length };
  }

  /** Occupied channels of an app with their subscription and member counts. */
  *list(appId: string): Iterable<[channel: string, subscriptions: number, users: number]> {
    const app = this.apps.get(appId);
    if (!app) return;
    for (const [name, subscriptions] of app.counts) yield [name, subscriptions, app.members.get(name)?.size ?? 0];
  }
}
