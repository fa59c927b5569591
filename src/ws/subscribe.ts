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

type Authorized = { ok: true; member?: PresenceMember } | { ok: false; code: number | null; message: string };

const unauthorized = (message: string): Authorized => ({ ok: false, code: ErrorCode.Unauthorized, message });

export function subscribe(ctx: WsContext, conn: Connection, channel: string, auth: string | undefined, channelData: string | undefined): void {
  const { app } = conn;
  const nameError = channelNameError(channel, app.maxChannelNameLength);
  if (nameError) {
    // Reference 3.3: the message is "Invalid channel name" (with the limit when length is the reason).
    const tooLong = channel.length > app.maxChannelNameLength;
    return conn.error(null, tooLong ? `Invalid channel name: longer than ${app.maxChannelNameLength} characters` : 'Invalid channel name');
  }
  const kind = channelKind(channel);

  if (conn.inChannel(channel)) {
    // Idempotent: confirm again, never a second membership or member_added (section 2.2 rule 4).
    return conn.send(succeeded(ctx, conn, channel, kind));
  }
  if (conn.channelCount >= app.maxChannelsPerConnection) {
    return conn.error(null, `Subscription limit reached (max ${app.maxChannelsPerConnection} channels per connection)`);
  }

  const verdict = authorize(ctx, conn, channel, kind, auth, channelData);
  if (!verdict.ok) {
    conn.error(verdict.code, verdict.message);
    if (verdict.code === ErrorCode.Unauthorized) conn.send(subscriptionError(channel, 401, verdict.message));
    return;
  }
  if (kind.type !== 'public') conn.authorized = true;

  const outcome = ctx.adapter.subscribe(conn, channel, verdict.member);
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
  if (verdict.member && outcome.memberAdded) {
    ctx.adapter.publish(app.id, channel, memberAdded(channel, verdict.member.id, verdict.member.info), conn.socketId);
    ctx.events.emit({ type: 'member_added', appId: app.id, channel, userId: verdict.member.id });
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

function authorize(
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

function presenceLimits(ctx: WsContext, conn: Connection, channel: string, member: PresenceMember): Authorized {
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
