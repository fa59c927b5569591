import { ErrorCode, ErrorMessage, parseProtocolVersion } from '../../protocol/codes.js';
import type { AppConfig } from '../config/schema.js';
import type { WsContext } from '../rules/context.js';

export interface HandshakeInput {
  key: string;
  protocol: string | undefined;
  origin: string;
  secure: boolean;
}

export type HandshakeResult = { ok: true; app: AppConfig } | { ok: false; code: number; message: string };

const refuse = (code: number): HandshakeResult => ({ ok: false, code, message: ErrorMessage[code] ?? 'Refused' });

/** The checks of section 1.2, in that order; the first failure decides the close code. */
export function checkHandshake(input: HandshakeInput, ctx: WsContext): HandshakeResult {
  const app = ctx.apps.byKey(input.key);
  if (!app) return refuse(ErrorCode.AppNotFound);
  if (app.requireTls && !input.secure) return refuse(ErrorCode.SslOnly);
  if (!app.enabled) return refuse(ErrorCode.AppDisabled);
  if (parseProtocolVersion(input.protocol) === null) return refuse(ErrorCode.UnsupportedProtocol);
  return admitConnection(ctx, app, input.origin);
}

/** The checks after the protocol's own, shared by every protocol: origin, then the app's and the node's capacity. */
export function admitConnection(ctx: WsContext, app: AppConfig, origin: string): HandshakeResult {
  if (!originAllowed(app.allowedOrigins, origin)) return { ok: false, code: ErrorCode.Unauthorized, message: 'Origin not allowed' };
  if (app.maxConnections > 0 && ctx.adapter.connectionCount(app.id) >= app.maxConnections) return refuse(ErrorCode.OverQuota);
  const { maxConnections } = ctx.config;
  if (ctx.isDraining() || (maxConnections > 0 && ctx.adapter.connectionCount() >= maxConnections)) return refuse(ErrorCode.OverCapacity);
  return { ok: true, app };
}

/**
 * Patterns are host names with `*` wildcards, matched against the Origin's host (as Reverb does).
 * A request without an Origin header is not from a browser and cannot be origin-checked: allowed.
 */
export function originAllowed(patterns: readonly string[], origin: string): boolean {
  if (patterns.includes('*') || origin === '') return true;
  let host: string;
  try {
    host = new URL(origin).hostname;
  } catch {
    return false;
  }
  return patterns.some((pattern) => wildcard(pattern).test(host));
}

const wildcard = (pattern: string) =>
  new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
