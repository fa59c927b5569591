import { ErrorCode } from '../../protocol/codes.js';
import {
  cacheMiss,
  memberAdded,
  memberRemoved,
  parseChannelData,
  serverEvent,
  subscriptionError,
  subscriptionSucceeded,
} from '../../protocol/frames.js';
import { channelKind, channelNameError, userChannel, type ChannelKind } from '../../protocol/names.js';
import { channelSignatureInput, verifyAuthToken } from '../../protocol/signing.js';
import { when } from '../adapter/adapter.js';
import type { JoinResult, LeaveOutcome, PresenceMember } from '../channels/channels.js';
import type { AppConfig } from '../config/schema.js';
import type { Connection } from './connection.js';
import type { ServerContext } from './context.js';

/**
 * The channel rules every protocol shares: a protocol parses its own packets, decides who may join
 * (Pusher: the client's `auth` signature; Socket.IO: the app's auth endpoint), then calls
 * `admit`, `authorize`/`presenceLimits` and `join` here. Replies are Pusher frames, the one
 * internal message format (fanned out and relayed between nodes as such): a Socket.IO
 * connection's socket renders them as Socket.IO events.
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

/** Sends the subscription's confirmation again, for a connection already in the channel. */
export function confirm(ctx: ServerContext, conn: Connection, channel: string, kind: ChannelKind): void {
  if (kind.type !== 'presence') return conn.send(subscriptionSucceeded(channel));
  when(ctx.adapter.presence(conn.app.id, channel), (members) => conn.send(subscriptionSucceeded(channel, members)), failed(ctx, conn));
}

/**
 * An authorized connection joins: membership, presence, confirmation, cache, lifecycle events and
 * counts. In a cluster the join is settled once the shared state has it: the promise says when, for
 * a protocol whose next packets must wait for it.
 */
export function join(ctx: ServerContext, conn: Connection, channel: string, kind: ChannelKind, member: PresenceMember | undefined): Promise<void> | undefined {
  const result = ctx.adapter.subscribe(conn, channel, member);
  if (!(result instanceof Promise)) {
    joined(ctx, conn, channel, kind, member, result);
    return undefined;
  }
  return result.then((settled) => joined(ctx, conn, channel, kind, member, settled)).catch(failed(ctx, conn));
}

/** The join is settled: confirm it to the client, tell the channel, emit the lifecycle events. */
function joined(ctx: ServerContext, conn: Connection, channel: string, kind: ChannelKind, member: PresenceMember | undefined, result: JoinResult): void {
  const { app } = conn;
  if ('refused' in result) {
    if (result.refused === 'full') conn.error(null, `Presence channel is full (max ${app.maxPresenceMembers} members)`);
    if (result.refused === 'unavailable') conn.send(subscriptionError(channel, 503, 'Presence is unavailable: the cluster state cannot be reached'));
    return;
  }
  if (kind.type !== 'public') conn.authorized = true;
  ctx.stats.subscribed(kind.type);
  conn.socket.cork(() => {
    conn.send(subscriptionSucceeded(channel, result.presence));
    if (kind.cache) {
      const cached = result.cached;
      conn.send(cached ? serverEvent(cached.event, channel, cached.data) : cacheMiss(channel));
      if (!cached) ctx.events.emit({ type: 'cache_miss', appId: app.id, channel });
    }
  });
  if (result.occupied) ctx.events.emit({ type: 'channel_occupied', appId: app.id, channel });
  if (member && result.memberAdded) {
    ctx.adapter.publishMember(app.id, channel, memberAdded(channel, member.id, member.info), conn.socketId, result.memberSeq);
    ctx.events.emit({ type: 'member_added', appId: app.id, channel, userId: member.id });
  }
  if (app.subscriptionCount && kind.type !== 'presence') {
    ctx.counts.changed(app.id, channel, result.subscriptionCount, Date.now());
  }
}

export function unsubscribe(ctx: ServerContext, conn: Connection, channel: string): void {
  if (!conn.inChannel(channel)) return;
  const memberId = conn.presenceId(channel);
  const { app } = conn;
  when(ctx.adapter.unsubscribe(conn, channel), (outcome) => announceLeave(ctx, app, channel, conn.socketId, memberId, outcome), failed(ctx, conn));
}

/** Tells the channel that a connection left it, by unsubscribing or by closing. */
export function announceLeave(
  ctx: ServerContext,
  app: AppConfig,
  channel: string,
  socketId: string,
  memberId: string | undefined,
  outcome: LeaveOutcome,
): void {
  if (memberId !== undefined && outcome.memberRemoved) {
    ctx.adapter.publishMember(app.id, channel, memberRemoved(channel, memberId), socketId, outcome.memberSeq);
    ctx.events.emit({ type: 'member_removed', appId: app.id, channel, userId: memberId });
  }
  if (outcome.vacated) ctx.events.emit({ type: 'channel_vacated', appId: app.id, channel });
  if (app.subscriptionCount && memberId === undefined && channelKind(channel).type !== 'presence') {
    ctx.counts.changed(app.id, channel, outcome.subscriptionCount, Date.now());
  }
}

/** A shared-state call that threw: logged, and the client told, instead of an unhandled rejection. */
function failed(ctx: ServerContext, conn: Connection): (err: unknown) => void {
  return (err) => {
    ctx.logger.error({ err, app: conn.app.id, socket_id: conn.socketId }, 'subscription update failed');
    conn.error(null, 'Internal server error');
  };
}

/** Verifies a Pusher `auth` signature (and `channel_data`) for the channel, then the member's own limits. */
export function authorize(
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
      return presenceLimits(conn, member);
    }
  }
}

/** The member's own limits; the channel's `maxPresenceMembers` is checked by the adapter, atomically with the join. */
export function presenceLimits(conn: Connection, member: PresenceMember): Authorized {
  const { app } = conn;
  if (member.id === '' || member.id.length > app.maxPresenceUserIdLength) {
    return { ok: false, code: null, message: `Presence user_id must be 1 to ${app.maxPresenceUserIdLength} characters` };
  }
  if (member.info !== undefined && Buffer.byteLength(JSON.stringify(member.info)) > app.maxPresenceUserInfoSize) {
    return { ok: false, code: null, message: `Presence user_info exceeds ${app.maxPresenceUserInfoSize} bytes` };
  }
  return { ok: true, member };
}
