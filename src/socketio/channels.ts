import { ErrorCode } from '../../protocol/codes.js';
import { subscriptionError, type ClientEventFrame } from '../../protocol/frames.js';
import { isClientEventName, userChannel, type ChannelKind } from '../../protocol/names.js';
import type { PresenceMember } from '../channels/channels.js';
import { clientEvent } from '../rules/client-events.js';
import type { ServerContext } from '../rules/context.js';
import { signInAs } from '../rules/signin.js';
import { admit, authorize, confirm, join, presenceLimits, unsubscribe, type Authorized } from '../rules/subscribe.js';
import { parseAuthReply, type AuthReply } from './auth-reply.js';
import { callApp } from './http.js';
import type { Session } from './session.js';
import type { TokenUser } from './token.js';

/**
 * Echo's socket.io packets → Herald's channel rules (src/rules/subscribe.ts, client-events.ts,
 * signin.ts), the same functions Pusher frames reach. Only who may join differs: Herald asks the
 * app's auth endpoint on the client's behalf, as laravel-echo-server did.
 */

/** Client headers the auth endpoint may see: the session and CSRF ones, nothing else. */
const FORWARDED_HEADERS = ['authorization', 'cookie', 'x-csrf-token', 'x-xsrf-token'] as const;

type Packet = Record<string, unknown>;

const isPacket = (value: unknown): value is Packet => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `subscribe` `{channel, auth: {headers}}`. */
export async function subscribePacket(ctx: ServerContext, session: Session, packet: unknown): Promise<void> {
  const { conn } = session;
  if (!isPacket(packet) || typeof packet.channel !== 'string') return conn.error(null, 'subscribe needs {channel: string}');
  const { channel } = packet;
  if (session.pending.has(channel)) return;
  const admission = admit(conn, channel, session.pending.size);
  if (!admission.ok) return refuse(session, channel, 400, admission.message);
  const { kind } = admission;
  if (admission.joined) return confirm(ctx, conn, channel, kind);
  if (kind.type === 'public' || kind.type === 'user') return settle(ctx, session, channel, kind, authorize(conn, channel, kind, undefined, undefined));

  const { app } = conn;
  if (app.authEndpoint === undefined) return refuse(session, channel, 403, 'No auth endpoint is configured for this app');
  if (session.pending.size >= ctx.config.socketIoMaxPendingAuth) return refuse(session, channel, 429, 'Too many subscriptions awaiting authorization');
  const ticket = {};
  session.pending.set(channel, ticket);
  let reply;
  try {
    reply = await callApp(
      app.authEndpoint,
      { method: 'POST', headers: authHeaders(session, packet.auth), body: new URLSearchParams({ channel_name: channel, socket_id: conn.socketId }).toString() },
      ctx.config.socketIoAuthTimeout * 1000,
      session.gone.signal,
    );
  } finally {
    // Not ours any more when the client unsubscribed meanwhile (Echo's leave()).
    if (session.pending.get(channel) === ticket) session.pending.delete(channel);
    else reply = undefined;
  }
  if (!reply || !conn.open) return;
  if (!reply.ok) {
    ctx.logger.debug({ app: app.id, socket_id: conn.socketId, channel, status: reply.status, reason: reply.message }, 'socket.io channel auth refused');
    return refuse(session, channel, reply.status, reply.message);
  }
  // Things may have changed while the app answered: the client left, or joined another way.
  const again = admit(conn, channel, session.pending.size);
  if (!again.ok) return refuse(session, channel, 400, again.message);
  if (again.joined) return confirm(ctx, conn, channel, kind);
  settle(ctx, session, channel, kind, verdictOf(ctx, session, channel, kind, parseAuthReply(reply.body)));
}

export function unsubscribePacket(ctx: ServerContext, session: Session, packet: unknown): void {
  if (!isPacket(packet) || typeof packet.channel !== 'string') return session.conn.error(null, 'unsubscribe needs {channel: string}');
  session.pending.delete(packet.channel);
  unsubscribe(ctx, session.conn, packet.channel);
}

/** `client event` `{channel, event, data}`: relayed under the app's client-event rules, never echoed. */
export function clientEventPacket(ctx: ServerContext, session: Session, packet: unknown): void {
  const { conn } = session;
  if (!isPacket(packet) || typeof packet.channel !== 'string' || typeof packet.event !== 'string') {
    return conn.error(null, 'client event needs {channel: string, event: string, data}');
  }
  const { channel, event } = packet;
  if (!isClientEventName(event)) return conn.error(null, "Client event names must start with 'client-'");
  const data = packet.data === undefined ? null : packet.data;
  // Serialised once: relayed to Pusher subscribers as is, and measured against the data limit.
  const text = JSON.stringify({ event, channel, data });
  const frame: ClientEventFrame = { kind: 'client-event', event, channel, data, text, envelopeOnly: true };
  clientEvent(ctx, conn, frame);
}

/**
 * A token client is signed in as its user: it receives `#server-to-user-{id}` and joins the app's
 * user channels, the token being its authorization for them.
 */
export function signInWithToken(ctx: ServerContext, session: Session, user: TokenUser): void {
  const { conn } = session;
  signInAs(ctx, conn, { id: user.id, info: user.info, watchlist: [] });
  const channels = [userChannel(user.id), ...conn.app.userChannels.map((pattern) => pattern.replaceAll('{id}', user.id))];
  for (const channel of channels) {
    const admission = admit(conn, channel);
    if (!admission.ok) {
      refuse(session, channel, 400, admission.message);
      continue;
    }
    if (admission.joined) continue;
    const member: PresenceMember | undefined = admission.kind.type === 'presence' ? { id: user.id, info: user.info } : undefined;
    settle(ctx, session, channel, admission.kind, member ? presenceLimits(conn, member) : { ok: true });
  }
}

function verdictOf(ctx: ServerContext, session: Session, channel: string, kind: ChannelKind, reply: AuthReply): Authorized {
  switch (reply.format) {
    case 'pusher':
      return authorize(session.conn, channel, kind, reply.auth, reply.channelData);
    case 'invalid':
      return { ok: false, code: ErrorCode.Unauthorized, message: reply.message };
    case 'redis':
      if (kind.type !== 'presence') return { ok: true };
      if (!reply.member) return { ok: false, code: ErrorCode.Unauthorized, message: 'Presence channels need channel_data from the auth endpoint' };
      return presenceLimits(session.conn, reply.member);
  }
}

function settle(ctx: ServerContext, session: Session, channel: string, kind: ChannelKind, verdict: Authorized): void {
  if (!verdict.ok) return refuse(session, channel, verdict.code === ErrorCode.Unauthorized ? 401 : 403, verdict.message);
  join(ctx, session.conn, channel, kind, verdict.member);
}

/** `subscription_error(channel, status)`; the socket stays connected. */
function refuse(session: Session, channel: string, status: number, message: string): void {
  session.conn.send(subscriptionError(channel, status, message));
}

/** The allow-listed headers from the handshake, overridden by those Echo sends with the subscribe (`auth.headers`). */
function authHeaders(session: Session, auth: unknown): Record<string, string> {
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'Content-Type': 'application/x-www-form-urlencoded',
    // Laravel then answers a refusal with 403 JSON instead of a redirect to its login page.
    'X-Requested-With': 'XMLHttpRequest',
  };
  for (const name of FORWARDED_HEADERS) {
    const value = session.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const given = isPacket(auth) && isPacket(auth.headers) ? auth.headers : {};
  for (const [name, value] of Object.entries(given)) {
    const lower = name.toLowerCase();
    if (typeof value === 'string' && (FORWARDED_HEADERS as readonly string[]).includes(lower)) headers[lower] = value;
  }
  return headers;
}
