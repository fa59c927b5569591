/**
 * A stand-in for a Laravel app's broadcasting auth routes (section 8.2): `Broadcast::routes()` →
 * `/broadcasting/auth`, `Broadcast::userRoutes()` → `/broadcasting/user-auth`, signing exactly as
 * PusherBroadcaster + pusher-http-php do. Channel callbacks come from a routes table written like
 * `routes/channels.php`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from './net.js';
import { sharedSecretFor, signChannel, signUser } from '../../protocol/signing.js';

/** Master key of the encrypted-channel vector (ASCII "0123456789abcdef0123456789abcdef"). */
export const VECTOR_MASTER_KEY = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';

export interface LaravelUser {
  /** The auth identifier (an int in most Laravel apps). */
  id: number | string;
  name: string;
  [field: string]: unknown;
}

/**
 * `Broadcast::channel('commerce.{id}', fn ($user, $id) => …)`: receives the user and the `{…}`
 * parameters in pattern order; a falsy result (PHP truthiness) means 403, anything else allows
 * and, for presence channels, becomes `user_info`.
 */
export type ChannelCallback = (user: LaravelUser, ...params: string[]) => unknown;

export interface LaravelAuthOptions {
  key?: string;
  secret?: string;
  /** `routes/channels.php`, pattern → callback, tried in order. */
  channels: Record<string, ChannelCallback>;
  /** Logged-in users by session token: `Authorization: Bearer <token>` or cookie `laravel_session=<token>`. */
  users: Record<string, LaravelUser>;
  /** `broadcasting.connections.pusher.options.encryption_master_key_base64`. */
  encryptionMasterKeyBase64?: string;
  /** `Broadcast::resolveAuthenticatedUserUsing(fn ($request) => …)`; default `['id' => (string) $user->id, 'user_info' => ['name' => …]]` (+ `watchlist` if the user has one). */
  resolveAuthenticatedUser?: (user: LaravelUser) => Record<string, unknown> | null;
  /**
   * `BROADCAST_CONNECTION`: `pusher` (default) signs replies; `redis` answers as RedisBroadcaster's
   * validAuthenticationResponse does: `true`, or `{"channel_data":{"user_id":…,"user_info":…}}`.
   */
  broadcaster?: 'pusher' | 'redis';
  /** Milliseconds `/broadcasting/auth` waits before answering (a slow app). */
  delayMs?: number;
}

export interface AuthRequestLog {
  path: string;
  socketId: string | undefined;
  channelName: string | undefined;
  user: string | undefined;
  status: number;
  headers: IncomingMessage['headers'];
}

export interface LaravelAuth {
  /** `http://127.0.0.1:port` — the app URL; endpoints are `${url}/broadcasting/auth` and `${url}/broadcasting/user-auth`. */
  url: string;
  authEndpoint: string;
  userAuthEndpoint: string;
  /** Every request answered, oldest first. */
  readonly requests: AuthRequestLog[];
  close(): Promise<void>;
}

/** Headers that log a request in as the user with this session token. */
export function sessionHeaders(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

export async function startLaravelAuth(options: LaravelAuthOptions): Promise<LaravelAuth> {
  const key = options.key ?? 'app-key';
  const secret = options.secret ?? 'app-secret';
  const requests: AuthRequestLog[] = [];
  const routes = Object.entries(options.channels).map(([pattern, callback]) => ({ ...compilePattern(pattern), callback }));

  const handle = async (req: IncomingMessage): Promise<{ status: number; body: unknown; user?: LaravelUser; fields: URLSearchParams; path: string }> => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const raw = await readBody(req);
    // Laravel's $request->input() merges the query string and the form body (routes accept GET too).
    const fields = new URLSearchParams(new URL(req.url ?? '/', 'http://x').search);
    for (const [k, v] of new URLSearchParams(raw)) fields.set(k, v);
    const user = currentUser(req, options.users);
    const reply = (status: number, body: unknown) => ({ status, body, user, fields, path });

    // Sanctum's `Route::middleware('auth:sanctum')->get('/api/user', fn (Request $r) => $r->user())`.
    if (path === '/api/user') return user ? reply(200, user) : reply(401, { message: 'Unauthenticated.' });

    if (path === '/broadcasting/auth') {
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      const channelName = fields.get('channel_name') ?? '';
      const socketId = fields.get('socket_id') ?? '';
      // PusherBroadcaster::auth: empty channel, or a guarded channel without a user → 403.
      if (channelName === '' || (isGuarded(channelName) && !user)) return reply(403, { message: 'This action is unauthorized.' });
      const normalized = normalizeChannelName(channelName);
      for (const route of routes) {
        const params = route.match(normalized);
        if (!params) continue;
        // Broadcaster::verifyUserCanAccessChannel: `false` denies at once, other falsy results try the next pattern.
        const result = await route.callback(user!, ...params);
        if (result === false) break;
        if (phpTruthy(result)) return authorize(channelName, socketId, user!, result);
      }
      return reply(403, { message: 'This action is unauthorized.' });
    }

    if (path === '/broadcasting/user-auth') {
      if (!user) return reply(403, { message: 'This action is unauthorized.' });
      const resolve = options.resolveAuthenticatedUser ?? defaultUserData;
      const userData = resolve(user);
      if (!userData) return reply(403, { message: 'This action is unauthorized.' });
      const socketId = fields.get('socket_id') ?? '';
      // pusher-http-php authenticateUser(): socket id and a non-empty string id are required.
      if (!SOCKET_ID.test(socketId)) return reply(500, { message: 'Invalid socket ID ' + socketId });
      if (typeof userData.id !== 'string' || userData.id === '') return reply(500, { message: 'Invalid user id' });
      const encoded = phpJsonEncode(userData);
      return reply(200, { auth: signUser(key, secret, socketId, encoded), user_data: encoded });
    }

    return reply(404, { message: 'Not Found' });

    function authorize(channelName: string, socketId: string, user: LaravelUser, result: unknown) {
      if (options.broadcaster === 'redis') {
        // RedisBroadcaster: no signature (the app answers the server, not the client); presence gets the member.
        if (typeof result === 'boolean') return reply(200, result);
        return reply(200, { channel_data: { user_id: user.id, user_info: result } });
      }
      // pusher-http-php validates both before signing; Laravel turns its exception into a 500.
      if (!SOCKET_ID.test(socketId)) return reply(500, { message: 'Invalid socket ID ' + socketId });
      if (!CHANNEL.test(channelName)) return reply(500, { message: 'Invalid channel name ' + channelName });
      if (channelName.startsWith('presence-')) {
        // authorizePresenceChannel(): user_id cast to string, user_info only when truthy.
        const channelData: Record<string, unknown> = { user_id: String(user.id) };
        if (phpTruthy(result)) channelData.user_info = result;
        const encoded = phpJsonEncode(channelData);
        return reply(200, { auth: signChannel(key, secret, socketId, channelName, encoded), channel_data: encoded });
      }
      const body: Record<string, string> = { auth: signChannel(key, secret, socketId, channelName) };
      if (channelName.startsWith('private-encrypted-')) {
        if (!options.encryptionMasterKeyBase64) return reply(500, { message: 'Cannot generate shared_secret because encryption master key is not set' });
        body.shared_secret = sharedSecretFor(channelName, options.encryptionMasterKeyBase64);
      }
      return reply(200, body);
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    handle(req).then(
      ({ status, body, user, fields, path }) => {
        requests.push({ path, socketId: fields.get('socket_id') ?? undefined, channelName: fields.get('channel_name') ?? undefined, user: user ? String(user.id) : undefined, status, headers: req.headers });
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(phpJsonEncode(body));
      },
      (err: unknown) => {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: String(err) }));
      },
    );
  });
  // Keep-alive sockets from pusher-js's XHR would otherwise hold close() open.
  server.keepAliveTimeout = 100;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    authEndpoint: `${url}/broadcasting/auth`,
    userAuthEndpoint: `${url}/broadcasting/user-auth`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const SOCKET_ID = /^\d+\.\d+$/;
const CHANNEL = /^#?[-a-zA-Z0-9_=@,.;]+$/;

function defaultUserData(user: LaravelUser): Record<string, unknown> {
  const data: Record<string, unknown> = { id: String(user.id), user_info: { name: user.name } };
  if (Array.isArray(user.watchlist)) data.watchlist = user.watchlist.map(String);
  return data;
}

function currentUser(req: IncomingMessage, users: Record<string, LaravelUser>): LaravelUser | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (bearer !== undefined) return users[bearer];
  const session = /(?:^|;\s*)laravel_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
  return session === undefined ? undefined : users[decodeURIComponent(session)];
}

/** Broadcaster::isGuardedChannel. */
const isGuarded = (channel: string) => channel.startsWith('private-') || channel.startsWith('presence-');

/** Broadcaster::normalizeChannelName: the first matching prefix is removed. */
function normalizeChannelName(channel: string): string {
  for (const prefix of ['private-encrypted-', 'private-', 'presence-']) {
    if (channel.startsWith(prefix)) return channel.slice(prefix.length);
  }
  return channel;
}

/**
 * `Str::is()` with each `{param}` as `*` decides the match; the parameters are then read with
 * `{param}` → `[^.]+` anchored at the start only, as Broadcaster::extractChannelKeys does.
 */
function compilePattern(pattern: string): { match(channel: string): string[] | null } {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const parts = pattern.split(/\{[^}]*\}/);
  const is = new RegExp('^' + parts.map((p) => p.split('*').map(escape).join('.*')).join('.*') + '$', 's');
  const keys = new RegExp('^' + parts.map(escape).join('([^.]+)'));
  return {
    match(channel) {
      if (!is.test(channel)) return null;
      const m = keys.exec(channel);
      return m ? m.slice(1) : [];
    },
  };
}

/** PHP truthiness of a decoded value: false, null, 0, '', '0' and empty arrays are falsy. */
export function phpTruthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '' || value === '0') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/** `json_encode($value)` with default flags: `/` escaped as `\/`, non-ASCII as `\uXXXX`. */
export function phpJsonEncode(value: unknown): string {
  return JSON.stringify(value)
    .replace(/\//g, '\\/')
    .replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

