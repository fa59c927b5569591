import type { CachedEvent } from './cache.js';

/**
 * The shapes of channel membership, and who is in which presence channel on this node. Plain data,
 * no I/O; the adapter owns a `PresenceTable` and tells it about every presence join and leave.
 * Subscription counts are kept by `ChannelIndex`.
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
  /**
   * Cluster: the number the shared state gave this member change, which orders its member event
   * among those of other nodes (`Adapter.publishMember`). Absent on a single node.
   */
  memberSeq?: number;
  /** Presence: the members, this one included, for `subscription_succeeded`. */
  presence?: PresenceSnapshot;
  /** Cache channels: the last event, or null when there is none. */
  cached?: CachedEvent | null;
}

/**
 * A subscribe that did not happen: the presence channel is at `maxPresenceMembers`, the shared
 * state could not be reached in time (503), or the connection closed while it was being confirmed.
 */
export interface JoinRefusal {
  refused: 'full' | 'unavailable' | 'closed';
}

export type JoinResult = JoinOutcome | JoinRefusal;

export interface LeaveOutcome {
  subscriptionCount: number;
  vacated: boolean;
  /** Presence: that was the user's last connection in the channel. */
  memberRemoved: boolean;
  /** Cluster: as `JoinOutcome.memberSeq`. */
  memberSeq?: number;
}

interface MemberState {
  info: unknown;
  connections: number;
}

export class PresenceTable {
  /** App → presence channel → user id → member. */
  private readonly apps = new Map<string, Map<string, Map<string, MemberState>>>();

  /** Returns true when this user was not yet a member. */
  join(appId: string, channel: string, member: PresenceMember): boolean {
    let channels = this.apps.get(appId);
    if (!channels) this.apps.set(appId, (channels = new Map()));
    let members = channels.get(channel);
    if (!members) channels.set(channel, (members = new Map()));
    const existing = members.get(member.id);
    if (existing) {
      existing.connections++;
      return false;
    }
    members.set(member.id, { info: member.info, connections: 1 });
    return true;
  }

  /** Returns true when that was the user's last connection in the channel. */
  leave(appId: string, channel: string, userId: string): boolean {
    const channels = this.apps.get(appId);
    const members = channels?.get(channel);
    const member = members?.get(userId);
    if (!member || --member.connections > 0) return false;
    members!.delete(userId);
    if (members!.size === 0) channels!.delete(channel);
    if (channels!.size === 0) this.apps.delete(appId);
    return true;
  }

  hasMember(appId: string, channel: string, userId: string): boolean {
    return this.apps.get(appId)?.get(channel)?.has(userId) ?? false;
  }

  memberCount(appId: string, channel: string): number {
    return this.apps.get(appId)?.get(channel)?.size ?? 0;
  }

  presence(appId: string, channel: string): PresenceSnapshot {
    const members = this.apps.get(appId)?.get(channel);
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

  /** A member's user_info (undefined when not a member). */
  info(appId: string, channel: string, userId: string): unknown {
    return this.apps.get(appId)?.get(channel)?.get(userId)?.info;
  }
}
