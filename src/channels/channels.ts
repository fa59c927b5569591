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

interface ChannelState {
  subscriptions: number;
  members: Map<string, MemberState> | undefined;
}

export class ChannelTable {
  private readonly apps = new Map<string, Map<string, ChannelState>>();

  join(appId: string, channel: string, member: PresenceMember | undefined): JoinOutcome {
    const channels = this.channelsOf(appId, true)!;
    let state = channels.get(channel);
    const occupied = state === undefined;
    if (!state) {
      state = { subscriptions: 0, members: member ? new Map() : undefined };
      channels.set(channel, state);
    }
    state.subscriptions++;
    let memberAdded = false;
    if (member && state.members) {
      const existing = state.members.get(member.id);
      if (existing) existing.connections++;
      else {
        state.members.set(member.id, { info: member.info, connections: 1 });
        memberAdded = true;
      }
    }
    return { subscriptionCount: state.subscriptions, occupied, memberAdded };
  }

  leave(appId: string, channel: string, memberId: string | undefined): LeaveOutcome {
    const channels = this.channelsOf(appId, false);
    const state = channels?.get(channel);
    if (!channels || !state) return { subscriptionCount: 0, vacated: false, memberRemoved: false };
    state.subscriptions--;
    let memberRemoved = false;
    if (memberId !== undefined && state.members) {
      const member = state.members.get(memberId);
      if (member && --member.connections === 0) {
        state.members.delete(memberId);
        memberRemoved = true;
      }
    }
    const vacated = state.subscriptions <= 0;
    if (vacated) {
      channels.delete(channel);
      if (channels.size === 0) this.apps.delete(appId);
    }
    return { subscriptionCount: Math.max(state.subscriptions, 0), vacated, memberRemoved };
  }

  subscriptionCount(appId: string, channel: string): number {
    return this.apps.get(appId)?.get(channel)?.subscriptions ?? 0;
  }

  hasMember(appId: string, channel: string, userId: string): boolean {
    return this.apps.get(appId)?.get(channel)?.members?.has(userId) ?? false;
  }

  memberCount(appId: string, channel: string): number {
    return this.apps.get(appId)?.get(channel)?.members?.size ?? 0;
  }

  presence(appId: string, channel: string): PresenceSnapshot {
    const members = this.apps.get(appId)?.get(channel)?.members;
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
    const channels = this.apps.get(appId);
    if (!channels) return;
    for (const [name, state] of channels) yield [name, state.subscriptions, state.members?.size ?? 0];
  }

  private channelsOf(appId: string, create: boolean): Map<string, ChannelState> | undefined {
    let channels = this.apps.get(appId);
    if (!channels && create) {
      channels = new Map();
      this.apps.set(appId, channels);
    }
    return channels;
  }
}
