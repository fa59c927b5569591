/**
 * An ASCII response body written into one growing buffer and handed to the transport as bytes. A
 * listing of 100k channels built by string concatenation leaves a rope of several strings per
 * channel for the young generation to copy (and `npm start` keeps that generation small), then one
 * more copy into a flat string and one into UTF-8; here each piece is copied once.
 * Only for text known to be ASCII: anything else must be JSON-escaped first.
 */
export class AsciiBuilder {
  private buf: Buffer;
  private length = 0;

  constructor(capacity = 16 * 1024) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  text(s: string): this {
    this.room(s.length);
    this.length += this.buf.write(s, this.length, 'latin1');
    return this;
  }

  /** A constant piece (from `ascii`): a few bytes copied in a loop cost less than a `write` call. */
  raw(piece: Uint8Array): this {
    this.room(piece.length);
    const { buf } = this;
    for (let i = 0; i < piece.length; i++) buf[this.length++] = piece[i]!;
    return this;
  }

  /** A non-negative integer in decimal. */
  int(n: number): this {
    let digits = 1;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    this.room(digits);
    this.length += digits;
    for (let at = this.length; at > this.length - digits; n = Math.floor(n / 10)) this.buf[--at] = 48 + (n % 10);
    return this;
  }

  /** What was written: a view of the buffer, to be handed over when the body is complete. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  private room(needed: number): void {
    if (this.length + needed <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + needed));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }
}

/** A constant piece for `AsciiBuilder.raw`. */
export const ascii = (s: string): Uint8Array => Buffer.from(s, 'latin1');
