import { ErrorCode } from '../../protocol/codes.js';
import { parseUserData, signinSuccess, watchlistEvents } from '../../protocol/frames.js';
import { userSignatureInput, verifyAuthToken } from '../../protocol/signing.js';
import { when } from '../adapter/adapter.js';
import type { Connection, SignedInUser } from './connection.js';
import type { WsContext } from './context.js';

/** `pusher:signin` (section 2.7). Failures answer 4009 and keep the connection open. */
export function signin(ctx: WsContext, conn: Connection, auth: string, userData: string): void {
  const { app } = conn;
  if (!app.userAuthentication) return conn.error(ErrorCode.Unauthorized, 'User authentication is disabled for this app');
  const check = verifyAuthToken(auth, app.key, app.secret, userSignatureInput(conn.socketId, userData));
  if (!check.ok) return conn.error(ErrorCode.Unauthorized, check.message);
  const parsed = parseUserData(userData);
  if (!parsed.ok) return conn.error(ErrorCode.Unauthorized, parsed.message);
  if (conn.user) {
    if (conn.user.id !== parsed.id) return conn.error(ErrorCode.Unauthorized, 'Connection is already signed in as another user');
    return conn.send(signinSuccess(userData));
  }

  conn.send(signinSuccess(userData));
  if (parsed.watchlist.length > app.maxWatchlistSize) {
    conn.error(ErrorCode.WatchlistLimit, `Watchlist limit exceeded. Only the first ${app.maxWatchlistSize} user IDs are accepted.`);
  }
  signInAs(ctx, conn, { id: parsed.id, info: parsed.userInfo, watchlist: parsed.watchlist.slice(0, app.maxWatchlistSize) });
}

/**
 * The connection is now this user, whichever protocol proved it: it counts as the user's
 * connection (user events, terminate_connections, watchers, `user_connected`).
 */
export function signInAs(ctx: WsContext, conn: Connection, user: SignedInUser): void {
  const { app } = conn;
  const { watchlist } = user;
  conn.user = user;
  conn.authorized = true;
  const cameOnline = ctx.adapter.signIn(conn);
  const failed = (err: unknown) => ctx.logger.error({ err, app: app.id, socket_id: conn.socketId }, 'sign-in update failed');
  if (app.watchlistEvents && watchlist.length > 0) {
    ctx.adapter.watch(conn);
    when(
      ctx.adapter.onlineUsers(app.id, watchlist),
      (onlineIds) => {
        const online = new Set(onlineIds);
        const offline = watchlist.filter((id) => !online.has(id));
        const events: Parameters<typeof watchlistEvents>[0] = [];
        if (online.size) events.push({ name: 'online', user_ids: watchlist.filter((id) => online.has(id)) });
        if (offline.length) events.push({ name: 'offline', user_ids: offline });
        conn.send(watchlistEvents(events));
      },
      failed,
    );
  }
  when(
    cameOnline,
    (came) => {
      if (!came) return;
      ctx.events.emit({ type: 'user_connected', appId: app.id, userId: user.id, socketId: conn.socketId });
      if (app.watchlistEvents) notifyWatchers(ctx, conn, 'online');
    },
    failed,
  );
}

/** Forgets a closing connection's sign-in; its watchers hear `offline` if it was the user's last. */
export function signout(ctx: WsContext, conn: Connection): void {
  const user = conn.user;
  if (!user) return;
  ctx.adapter.unwatch(conn);
  when(
    ctx.adapter.signOut(conn),
    (wentOffline) => {
      if (!wentOffline) return;
      ctx.events.emit({ type: 'user_disconnected', appId: conn.app.id, userId: user.id, socketId: conn.socketId });
      if (conn.app.watchlistEvents) notifyWatchers(ctx, conn, 'offline');
    },
    (err) => ctx.logger.error({ err, app: conn.app.id, socket_id: conn.socketId }, 'sign-out failed'),
  );
}

function notifyWatchers(ctx: WsContext, conn: Connection, name: 'online' | 'offline'): void {
  ctx.adapter.notifyWatchers(conn.app.id, conn.user!.id, watchlistEvents([{ name, user_ids: [conn.user!.id] }]), conn.socketId);
}
