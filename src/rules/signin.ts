import { watchlistEvents } from '../../protocol/frames.js';
import { when } from '../adapter/adapter.js';
import type { Connection, SignedInUser } from './connection.js';
import type { ServerContext } from './context.js';

/**
 * The connection is now this user, whichever protocol proved it: it counts as the user's
 * connection (user events, terminate_connections, watchers, `user_connected`).
 */
export function signInAs(ctx: ServerContext, conn: Connection, user: SignedInUser): void {
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
export function signout(ctx: ServerContext, conn: Connection): void {
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

function notifyWatchers(ctx: ServerContext, conn: Connection, name: 'online' | 'offline'): void {
  ctx.adapter.notifyWatchers(conn.app.id, conn.user!.id, watchlistEvents([{ name, user_ids: [conn.user!.id] }]), conn.socketId);
}
