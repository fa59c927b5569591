import { ErrorCode } from '../../protocol/codes.js';
import {
  cacheMiss,
  channelEvent,
  memberAdded,
  memberRemoved,
  parseChannelData,
  subscriptionError,
  subscriptionSucceeded,
} from '../../protocol/frames.js';
import { channelKind, channelNameError, userChannel, type ChannelKind } from '../../protocol/names.js';
import { channelSignatureInput, verifyAuthToken } from '../../protocol/signing.js';
import type { LeaveOutcome, PresenceMember } from '../channels/channels.js';
import type { Connection } from './connection.js';
import type { WsContext } from './context.js';

/**
 * The channel rules every protocol shares: a protocol parses its own packets, decides who may join
 * (Pusher: the client's `auth` signature; Socket.IO: the app's auth endpoint), then calls
 * `admit`, `authorize`/`presenceLimits` and `join` here; replies go out as Pusher frames through
 * `conn.send`, which a Socket.IO connection's socket renders as Socket.IO events.
 */
export type Authorized = { ok: true; member?: PresenceMember } | { ok: false; code: number | null; message: string };

const unauthorized = (message: string): Authorized => ({ ok: false, code: ErrorCode.Unauthorized, message });

export type Admission = { ok: true; kind: ChannelKind; joined: boolean } | { ok: false; message: string };

/** Name and per-connection limit, checked before authorizing; `pending` joins still being authorized count toward the limit. */
export function admit(conn: Connection, channel: string, pending = 0): Admission {
  const { app } = conn;
  const nameError = channelNameError(channel, app.maxChannelNameLength);
  if (nameError) {
    // Reference 3.3: the message is "Invalid channel name" (with the limit when length is the reason).
    const tooLong = channel.length > app.maxChannelNameLength;
    return { ok: false, message: tooLong ? `Invalid channel name: longer than ${app.maxChannelNameLength} characters` : 'Invalid channel name' };
  }
  const kind = channelKind(channel);
  // Idempotent: confirm again, never a second membership or member_added (section 2.2 rule 4).
  if (conn.inChannel(channel)) return { ok: true, kind, joined: true };
  if (conn.channelCount + pending >= app.maxChannelsPerConnection) {
    return { ok: false, message: `Subscription limit reached (max ${app.maxChannelsPerConnection} channels per connection)` };
  }
  return { ok: true, kind, joined: false };
}

export function subscribe(ctx: WsContext, conn: Connection, channel: string, auth: string | undefined, channelData: string | undefined): void {
  const admission = admit(conn, channel);
  if (!admission.ok) return conn.error(null, admission.message);
  const { kind } = admission;
  if (admission.joined) return confirm(ctx, conn, channel, kind);

  const verdict = authorize(ctx, conn, channel, kind, auth, channelData);
  if (!verdict.ok) {
    conn.error(verdict.code, verdict.message);
    if (verdict.code === ErrorCode.Unauthorized) conn.send(subscriptionError(channel, 401, verdict.message));
    return;
  }
  join(ctx, conn, channel, kind, verdict.member);
}

/** Sends the subscription's confirmation again, for a connection already in the channel. */
export function confirm(ctx: WsContext, conn: Connection, channel: string, kind: ChannelKind): void {
  conn.send(succeeded(ctx, conn, channel, kind));
}

/** An authorized connection joins: membership, presence, confirmation, cache, lifecycle events and counts. */
export function join(ctx: WsContext, conn: Connection, channel: string, kind: ChannelKind, member: PresenceMember | undefined): void {
  const { app } = conn;
  if (kind.type !== 'public') conn.authorized = true;

  const outcome = ctx.adapter.subscribe(conn, channel, member);
  ctx.stats.subscribed(kind.type);
  conn.socket.cork(() => {
    conn.send(succeeded(ctx, conn, channel, kind));
    if (kind.cache) {
      const cached = ctx.adapter.cached(app.id, channel);
      conn.send(cached ? channelEvent(cached.event, channel, JSON.stringify(cached.data)) : cacheMiss(channel));
      if (!cached) ctx.events.emit({ type: 'cache_miss', appId: app.id, channel });
    }
  });
  if (outcome.occupied) ctx.events.emit({ type: 'channel_occupied', appId: app.id, channel });
  if (member && outcome.memberAdded) {
    ctx.adapter.publish(app.id, channel, memberAdded(channel, member.id, member.info), conn.socketId);
    ctx.events.emit({ type: 'member_added', appId: app.id, channel, userId: member.id });
  }
  if (app.subscriptionCount && kind.type !== 'presence') {
    ctx.counts.changed(app.id, channel, outcome.subscriptionCount, Date.now());
  }
}

export function unsubscribe(ctx: WsContext, conn: Connection, channel: string): void {
  if (!conn.inChannel(channel)) return;
  const memberId = conn.presenceId(channel);
  announceLeave(ctx, conn, channel, memberId, ctx.adapter.unsubscribe(conn, channel));
}

/** Tells the channel that a connection left it, by unsubscribing or by closing. */
export function announceLeave(ctx: WsContext, conn: Connection, channel: string, memberId: string | undefined, outcome: LeaveOutcome): void {
  const { app } = conn;
  if (memberId !== undefined && outcome.memberRemoved) {
    ctx.adapter.publish(app.id, channel, memberRemoved(channel, memberId), conn.socketId);
    ctx.events.emit({ type: 'member_removed', appId: app.id, channel, userId: memberId });
  }
  if (outcome.vacated) ctx.events.emit({ type: 'channel_vacated', appId: app.id, channel });
  if (app.subscriptionCount && memberId === undefined && channelKind(channel).type !== 'presence') {
    ctx.counts.changed(app.id, channel, outcome.subscriptionCount, Date.now());
  }
}

function succeeded(ctx: WsContext, conn: Connection, channel: string, kind: ChannelKind): string {
  return kind.type === 'presence'
    ? subscriptionSucceeded(channel, ctx.adapter.presence(conn.app.id, channel))
    : subscriptionSucceeded(channel);
}

/** Verifies a Pusher `auth` signature (and `channel_data`) for the channel, then the presence limits. */
export function authorize(
  ctx: WsContext,
  conn: Connection,
  channel: string,
  kind: ChannelKind,
  auth: string | undefined,
  channelData: string | undefined,
): Authorized {
  const { app, socketId } = conn;
  switch (kind.type) {
    case 'public':
      return { ok: true };
    case 'user':
      return conn.user && userChannel(conn.user.id) === channel ? { ok: true } : unauthorized('Connection is unauthorized');
    case 'private':
    case 'encrypted': {
      const check = verifyAuthToken(auth, app.key, app.secret, channelSignatureInput(socketId, channel));
      return check.ok ? { ok: true } : unauthorized(check.message);
    }
    case 'presence': {
      // Without channel_data a signed-in connection joins as its user (section 2.2).
      const signedInMember = channelData === undefined && conn.user;
      if (channelData === undefined && !signedInMember) return unauthorized('Missing channel_data');
      const check = verifyAuthToken(auth, app.key, app.secret, channelSignatureInput(socketId, channel, channelData));
      if (!check.ok) return unauthorized(check.message);
      let member: PresenceMember;
      if (signedInMember) member = { id: signedInMember.id, info: signedInMember.info };
      else {
        const parsed = parseChannelData(channelData!);
        if (!parsed.ok) return unauthorized(parsed.message);
        member = { id: parsed.userId, info: parsed.userInfo };
      }
      return presenceLimits(ctx, conn, channel, member);
    }
  }
}

export function presenceLimits(ctx: WsContext, conn: Connection, channel: string, member: PresenceMember): Authorized {
  const { app } = conn;
  if (member.id === '' || member.id.length > app.maxPresenceUserIdLength) {
    return { ok: false, code: null, message: `Presence user_id must be 1 to ${app.maxPresenceUserIdLength} characters` };
  }
  if (member.info !== undefined && Buffer.byteLength(JSON.stringify(member.info)) > app.maxPresenceUserInfoSize) {
    return { ok: false, code: null, message: `Presence user_info exceeds ${app.maxPresenceUserInfoSize} bytes` };
  }
  if (!ctx.adapter.hasMember(app.id, channel, member.id) && ctx.adapter.memberCount(app.id, channel) >= app.maxPresenceMembers) {
    return { ok: false, code: null, message: `Presence channel is full (max ${app.maxPresenceMembers} members)` };
  }
  return { ok: true, member };
}
