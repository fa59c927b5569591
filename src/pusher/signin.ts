import { ErrorCode } from '../../protocol/codes.js';
import { parseUserData, signinSuccess } from '../../protocol/frames.js';
import { userSignatureInput, verifyAuthToken } from '../../protocol/signing.js';
import type { Connection } from '../rules/connection.js';
import type { ServerContext } from '../rules/context.js';
import { signInAs } from '../rules/signin.js';

/** `pusher:signin` (section 2.7). Failures answer 4009 and keep the connection open. */
export function signin(ctx: ServerContext, conn: Connection, auth: string, userData: string): void {
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
