import { ErrorCode, ErrorMessage } from '../../protocol/codes.js';
import type { AppConfig } from '../config/schema.js';
import type { ServerContext } from './context.js';

export type Admitted = { ok: true; app: AppConfig } | { ok: false; code: number; message: string };

/** A refusal with the code's standard message. */
export const refuse = (code: number): Admitted => ({ ok: false, code, message: ErrorMessage[code] ?? 'Refused' });

/** The checks after the protocol's own, shared by every protocol: origin, then the app's and the node's capacity. */
export function admitConnection(ctx: ServerContext, app: AppConfig, origin: string): Admitted {
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
