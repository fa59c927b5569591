import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export function hmacSha256Hex(secret: string, message: string): string {
  return createHmac('sha256', secret).update(message).digest('hex');
}

export function md5Hex(body: Uint8Array | string): string {
  return createHash('md5').update(body).digest('hex');
}

/** Constant-time for equal lengths; a length mismatch reveals nothing secret (signatures have a fixed length). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
