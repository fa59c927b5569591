import type { HttpReply } from '../transport/uws.js';

/** A JSON reply; the transport adds `Content-Type: application/json`. */
export function json(status: number, body: unknown, headers?: Record<string, string>): HttpReply {
  return headers ? { status, body: JSON.stringify(body), headers } : { status, body: JSON.stringify(body) };
}

/** Every refusal: `{"error":"…"}` with the given status. */
export function fail(status: number, error: string, headers?: Record<string, string>): HttpReply {
  return json(status, { error }, headers);
}

const EMPTY_OBJECT: HttpReply = Object.freeze({ status: 200, body: '{}' });

/** `{}`: what Pusher answers for a successful trigger, batch or terminate. */
export function ok(): HttpReply {
  return EMPTY_OBJECT;
}

export const notFound = (): HttpReply => fail(404, 'Not found');

export const methodNotAllowed = (allow: readonly string[]): HttpReply =>
  fail(405, 'Method not allowed', { Allow: allow.join(', ') });

/** Route parameters arrive as raw URL segments; `%23server-to-user-1` names `#server-to-user-1`. */
export function decodeParam(raw: string | undefined): string {
  if (raw === undefined) return '';
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
