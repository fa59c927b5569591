import { verifyRestRequest } from '../../protocol/signing.js';
import type { AppConfig } from '../config/schema.js';
import type { HttpHandler, HttpReply, HttpRequest } from '../transport/uws.js';
import type { ApiContext } from './context.js';
import { decodeParam, fail } from './reply.js';

/** A request that passed every check of section 6.8, with its decoded query parameters. */
export interface SignedCall {
  req: HttpRequest;
  app: AppConfig;
  /** Decoded query (array params joined with ','), auth_* included. */
  params: Record<string, string>;
}

/** An accepted request is its `SignedCall` too, so the endpoint gets it without another object. */
export type AuthDecision = ({ ok: true } & SignedCall) | { ok: false; reply: HttpReply };

/** The path without the deployment prefix, as clients sign it (section 6.8 step 5). */
export function signedPath(path: string, prefix: string): string {
  if (prefix !== '' && (path === prefix || path.startsWith(prefix + '/'))) return path.slice(prefix.length) || '/';
  return path;
}

/**
 * 404 unknown app id, 401 signature/key/timestamp/body_md5 (the verifier's exact text), then
 * 403 for a disabled app: the signature is checked first so an unsigned caller learns nothing
 * about an app's state.
 */
export function authenticate(ctx: ApiContext, req: HttpRequest): AuthDecision {
  const appId = decodeParam(req.params[0]);
  const app = ctx.apps.byId(appId);
  if (!app) return { ok: false, reply: fail(404, `Unknown app id: ${appId}`) };

  const prefix = ctx.config.pathPrefix;
  const now = ctx.now() / 1000;
  const window = ctx.config.timestampWindow;
  const signed = { method: req.method, path: signedPath(req.path, prefix), rawQuery: req.query, body: req.body };
  let result = verifyRestRequest(signed, app, now, window);
  // A few clients sign the full path, prefix included; accept that form too.
  if (!result.ok && result.error === 'Invalid signature' && prefix !== '' && signed.path !== req.path) {
    result = verifyRestRequest({ ...signed, path: req.path }, app, now, window);
  }
  if (!result.ok) return { ok: false, reply: fail(result.status, result.error) };

  if (!app.enabled) return { ok: false, reply: fail(403, 'Application disabled') };
  return { ok: true, req, app, params: result.params };
}

/** Wraps an endpoint: authentication, then the app's rate limit, then the endpoint itself. */
export function signedRoute(ctx: ApiContext, handler: (call: SignedCall) => HttpReply | Promise<HttpReply>): HttpHandler {
  return (req) => {
    const auth = authenticate(ctx, req);
    if (!auth.ok) return auth.reply;
    const limited = rateLimited(ctx, auth.app);
    if (limited) return limited;
    return handler(auth);
  };
}

/** 429 with `Retry-After` when the app is over its `restRateLimit`, else undefined. */
export function rateLimited(ctx: ApiContext, app: AppConfig): HttpReply | undefined {
  const decision = ctx.rateLimiter.take(app, ctx.now());
  if (decision.ok) return undefined;
  return fail(429, 'Too many requests', { 'Retry-After': String(decision.retryAfterSeconds) });
}
