import { ErrorCode, ErrorMessage } from '../../protocol/codes.js';
import type { ServerContext } from './context.js';

/**
 * Pings idle connections with WebSocket PING frames (the Android SDK never answers `pusher:ping`)
 * and closes with 4201 those that stay silent; enforces the authorized-connections timeout.
 */
/** `now` is `monotonicMs()`, the clock connections are stamped with. */
export function sweepConnections(ctx: ServerContext, now: number): void {
  const pongTimeoutMs = ctx.config.pongTimeout * 1000;
  for (const conn of ctx.adapter.connections()) {
    const { app } = conn;
    if (conn.pingSentAt > 0) {
      if (now - conn.pingSentAt >= pongTimeoutMs) conn.terminate(ErrorCode.PongTimeout, ErrorMessage[ErrorCode.PongTimeout]!);
    } else if (now - conn.lastSeen >= app.activityTimeout * 1000) {
      conn.pingSentAt = now;
      conn.socket.ping();
    }
    if (app.authorizedConnectionsOnly && !conn.authorized && now - conn.connectedAt >= app.authorizationTimeout * 1000) {
      conn.terminate(ErrorCode.Unauthorized, 'Connection not authorized within timeout');
    }
  }
}

/** Often enough to honour the shortest configured timeout to within a quarter of it. */
export function sweepInterval(ctx: Pick<ServerContext, 'config'>): number {
  const shortest = Math.min(
    ctx.config.pongTimeout,
    ...ctx.config.apps.map((app) => Math.min(app.activityTimeout, app.authorizedConnectionsOnly ? app.authorizationTimeout : Infinity)),
  );
  return Math.min(5000, Math.max(250, (shortest * 1000) / 4));
}
