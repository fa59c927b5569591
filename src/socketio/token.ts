import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AppConfig } from '../config/schema.js';
import { callApp } from './http.js';

export interface TokenUser {
  id: string;
  info: unknown;
}

export type TokenCheck = { ok: true; user: TokenUser } | { ok: false; message: string };

/** Bounds the cache whatever the token churn; the oldest entry goes first. */
const MAX_CACHED = 10_000;

/**
 * Who a Socket.IO client's login token belongs to: the app's user endpoint asked with
 * `Authorization: Bearer <token>` (Sanctum's `/api/user`), or an HS256 JWT checked here. Successful
 * answers are remembered for `ttlSeconds`.
 */
export class TokenUsers {
  private readonly cache = new Map<string, { user: TokenUser; expiresAt: number }>();

  constructor(
    private readonly ttlSeconds: number,
    private readonly timeoutMs: number,
  ) {}

  /** Whether the app checks tokens at all; without a check a token is ignored. */
  static checks(app: AppConfig): boolean {
    return app.tokenJwt || app.userEndpoint !== undefined;
  }

  async check(app: AppConfig, token: string, now = Date.now()): Promise<TokenCheck> {
    if (app.tokenJwt) return checkJwt(token, app.jwtSecret ?? app.secret, app.userIdField, now);
    const key = `${app.id}\n${token}`;
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt > now) return { ok: true, user: cached.user };
    this.cache.delete(key);
    const result = await this.askUserEndpoint(app, token);
    if (result.ok && this.ttlSeconds > 0) {
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, { user: result.user, expiresAt: now + this.ttlSeconds * 1000 });
    }
    return result;
  }

  private async askUserEndpoint(app: AppConfig, token: string): Promise<TokenCheck> {
    const reply = await callApp(
      app.userEndpoint!,
      { method: 'GET', headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' } },
      this.timeoutMs,
    );
    if (!reply.ok) return { ok: false, message: `Token refused: user endpoint ${reply.status === 401 || reply.status === 403 ? `answered ${reply.status}` : reply.message}` };
    let user: unknown;
    try {
      user = JSON.parse(reply.body);
    } catch {
      return { ok: false, message: 'Token refused: user endpoint answered no JSON' };
    }
    return userFrom(user, app.userIdField, 'user endpoint answer');
  }
}

function userFrom(user: unknown, field: string, what: string): TokenCheck {
  const id = field.split('.').reduce<unknown>((value, key) => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined), user);
  if ((typeof id !== 'string' || id === '') && typeof id !== 'number') return { ok: false, message: `Token refused: the ${what} has no user id in "${field}"` };
  return { ok: true, user: { id: String(id), info: user } };
}

const base64url = (s: string) => Buffer.from(s, 'base64url');

/** HS256 only: a token naming another algorithm (or `none`) is refused, never trusted. */
export function checkJwt(token: string, secret: string, idField: string, now: number): TokenCheck {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, message: 'Token refused: not a JWT' };
  const [head, body, signature] = parts as [string, string, string];
  let header: unknown;
  let claims: unknown;
  try {
    header = JSON.parse(base64url(head).toString('utf8'));
    claims = JSON.parse(base64url(body).toString('utf8'));
  } catch {
    return { ok: false, message: 'Token refused: malformed JWT' };
  }
  if ((header as { alg?: unknown } | null)?.alg !== 'HS256') return { ok: false, message: 'Token refused: JWT must be signed with HS256' };
  const expected = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  const given = base64url(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, message: 'Token refused: bad JWT signature' };
  if (typeof claims !== 'object' || claims === null) return { ok: false, message: 'Token refused: JWT claims must be an object' };
  const { exp, nbf } = claims as { exp?: unknown; nbf?: unknown };
  if (typeof exp === 'number' && exp * 1000 <= now) return { ok: false, message: 'Token refused: JWT expired' };
  if (typeof nbf === 'number' && nbf * 1000 > now) return { ok: false, message: 'Token refused: JWT not yet valid' };
  // The default field `id` falls back to the standard subject claim.
  const withSubject = idField === 'id' && (claims as { id?: unknown }).id === undefined ? 'sub' : idField;
  return userFrom(claims, withSubject, 'JWT');
}
