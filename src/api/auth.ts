import { checkSignedQuery, verifySignedRequest, type ParsedQuery } from '../../protocol/signing.js';
import type { AppConfig } from '../config/schema.js';
import type { HttpHandler, HttpReply, HttpRequest } from '../transport/uws.js';
import type { ApiContext } from './context.js';
import { decodeParam, fail } from './reply.js';

/** A request that passed every check of section 6.8, with its decoded query parameters. */
export interface SignedCall {
  req: HttpRequest;
  app: AppConfig;
  /** Decoded query (keys lowercased, array params joined with ','), auth_* included. */
  params: Record<string, string>;
  /** Keys of `params` that arrived in array form. */
  arrays: ReadonlySet<string> | undefined;
}

/** An accepted request is its `SignedCall` too, so the endpoint gets it without another object. */
export type AuthDecision = ({ ok: true } & SignedCall) | { ok: false; reply: HttpReply };

/** What the checks before the body found: the app and its parsed query, or the refusal. */
type Head = { ok: true; app: AppConfig; query: ParsedQuery } | { ok: false; reply: HttpReply };

/** The path without the deployment prefix, as clients sign it (section 6.8 step 5). */
export function signedPath(path: string, prefix: string): string {
  if (prefix !== '' && (path === prefix || path.startsWith(prefix + '/'))) return path.slice(prefix.length) || '/';
  return path;
}

/**
 * 404 unknown app id, 400 ambiguous query, 401 key/version/timestamp: all known from the head,
 * so a caller that cannot succeed is answered before its body is read.
 */
function checkHead(ctx: ApiContext, req: HttpRequest): Head {
  const appId = decodeParam(req.params[0]);
  const app = ctx.apps.byId(appId);
  if (!app) return { ok: false, reply: fail(404, `Unknown app id: ${appId}`) };
  const checked = checkSignedQuery(req.query, app, ctx.now() / 1000, ctx.config.timestampWindow);
  if (!checked.ok) return { ok: false, reply: fail(checked.status, checked.error) };
  return { ok: true, app, query: checked.query };
}

/**
 * `checkHead`, then 401 signature/body_md5 (the verifier's exact text), then 403 for a disabled
 * app or plain HTTP to an app that requires TLS: the signature is checked first so an unsigned
 * caller learns nothing about an app's state.
 */
export function authenticate(ctx: ApiContext, req: HttpRequest): AuthDecision {
  const head = (req.early as Head | undefined) ?? checkHead(ctx, req);
  if (!head.ok) return head;
  const { app, query } = head;

  const prefix = ctx.config.pathPrefix;
  const signed = { method: req.method, path: signedPath(req.path, prefix), rawQuery: req.query, body: req.body };
  let result = verifySignedRequest(query, signed, app.secret);
  // A few clients sign the full path, prefix included; accept that form too.
  if (!result.ok && result.error === 'Invalid signature' && prefix !== '' && signed.path !== req.path) {
    result = verifySignedRequest(query, { ...signed, path: req.path }, app.secret);
  }
  if (!result.ok) return { ok: false, reply: fail(result.status, result.error) };

  if (!app.enabled) return { ok: false, reply: fail(403, 'Application disabled') };
  if (app.requireTls && !req.secure) return { ok: false, reply: fail(403, 'This app accepts only https:// requests (requireTls)') };
  return { ok: true, req, app, params: result.params, arrays: query.arrays };
}

/** Wraps an endpoint: authentication, then the app's rate limit, then the endpoint itself. */
export function signedRoute(ctx: ApiContext, handler: (call: SignedCall) => HttpReply | Promise<HttpReply>): HttpHandler {
  const route: HttpHandler = (req) => {
    const auth = authenticate(ctx, req);
    if (!auth.ok) return auth.reply;
    const limited = rateLimited(ctx, auth.app);
    if (limited) return limited;
    return handler(auth);
  };
  route.beforeBody = (req) => {
    const head = checkHead(ctx, req);
    if (!head.ok) return head.reply;
    req.early = head;
    return undefined;
  };
  return route;
}

/** 429 with `Retry-After` when the app is over its `restRateLimit`, else undefined. */
export function rateLimited(ctx: ApiContext, app: AppConfig): HttpReply | undefined {
  const decision = ctx.rateLimiter.take(app, ctx.now());
  if (decision.ok) return undefined;
  return fail(429, 'Too many requests', { 'Retry-After': String(decision.retryAfterSeconds) });
}
