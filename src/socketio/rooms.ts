import type { Namespace } from 'socket.io';
import { when, type Maybe } from '../adapter/adapter.js';
import type { PresenceSnapshot } from '../channels/channels.js';
import type { FanOutTarget, Socket } from '../transport/uws.js';
import { renderFrame, type PresenceMemberView } from './render.js';
import { SocketIoSocket } from './socket.js';

interface Room {
  channel: string;
  /** Socket.IO subscribers per namespace (an app's `/key` and, for the first app, `/`). */
  namespaces: Map<Namespace, number>;
  count: number;
  /**
   * Presence channels: member infos, kept while Socket.IO clients are in the channel, because
   * `member_removed` carries only the id and Echo's `leaving()` hands over the member's info.
   */
  members: Map<string, unknown> | undefined;
}

/**
 * Herald channels that have Socket.IO subscribers, as one more fan-out target of every publish: a
 * frame for such a channel is rendered once and emitted once per namespace, as a socket.io room
 * broadcast (encoded once by socket.io, then published by uWS to its WebSocket clients). Channels
 * without Socket.IO subscribers cost one map lookup.
 */
export class SocketIoRooms implements FanOutTarget {
  private readonly rooms = new Map<string, Room>();

  constructor(
    private readonly presenceOf: (topic: string, channel: string) => Maybe<PresenceSnapshot> | undefined,
    private readonly onError: (err: unknown) => void,
  ) {}

  join(topic: string, channel: string, nsp: Namespace): void {
    let room = this.rooms.get(topic);
    if (!room) {
      const presence = this.presenceOf(topic, channel);
      const members = presence && new Map<string, unknown>();
      // A cluster answers later: members that joined meanwhile are tracked already and kept.
      if (presence) when(presence, (p) => p.ids.forEach((id) => members!.has(id) || members!.set(id, p.hash[id])), this.onError);
      room = { channel, namespaces: new Map(), count: 0, members };
      this.rooms.set(topic, room);
    }
    room.namespaces.set(nsp, (room.namespaces.get(nsp) ?? 0) + 1);
    room.count++;
  }

  leave(topic: string, nsp: Namespace): void {
    const room = this.rooms.get(topic);
    if (!room) return;
    const left = (room.namespaces.get(nsp) ?? 1) - 1;
    if (left > 0) room.namespaces.set(nsp, left);
    else room.namespaces.delete(nsp);
    if (--room.count <= 0) this.rooms.delete(topic);
  }

  numSubscribers(topic: string): number {
    return this.rooms.get(topic)?.count ?? 0;
  }

  publish(topic: string, message: string, except?: Socket): void {
    const room = this.rooms.get(topic);
    if (!room) return;
    // Whatever a frame holds, the publish to Pusher clients must go on.
    try {
      const emit = renderFrame(message);
      if (!emit) return;
      if (room.members && (emit[0] === 'presence:joining' || emit[0] === 'presence:leaving')) trackMember(room.members, emit[0], emit[2] as PresenceMemberView);
      const skip = except instanceof SocketIoSocket ? except.id : undefined;
      for (const nsp of room.namespaces.keys()) {
        const to = nsp.to(room.channel);
        (skip === undefined ? to : to.except(skip)).emit(...emit);
      }
    } catch (err) {
      this.onError(err);
    }
  }
}

function trackMember(members: Map<string, unknown>, event: string, member: PresenceMemberView): void {
  if (event === 'presence:joining') {
    members.set(member.user_id, member.user_info);
    return;
  }
  member.user_info = members.get(member.user_id) ?? null;
  members.delete(member.user_id);
}
