import { describe, expect, it } from 'vitest';
import { AsciiBuilder, ascii } from '../../src/api/ascii-builder.js';

const text = (b: AsciiBuilder) => Buffer.from(b.view()).toString('latin1');

describe('AsciiBuilder', () => {
  it('writes text, constant pieces and integers in order', () => {
    const b = new AsciiBuilder(4).raw(ascii('{"n":')).int(0).raw(ascii(',"s":"')).text('private-user.1').raw(ascii('"}'));
    expect(text(b)).toBe('{"n":0,"s":"private-user.1"}');
  });

  it('writes every integer the way String() does', () => {
    for (const n of [0, 1, 9, 10, 11, 99, 100, 101, 1234567, 2 ** 31, Number.MAX_SAFE_INTEGER]) {
      expect(text(new AsciiBuilder(1).int(n))).toBe(String(n));
    }
  });

  it('grows past its first capacity without losing what was written', () => {
    const b = new AsciiBuilder(8);
    let expected = '';
    for (let i = 0; i < 5000; i++) {
      b.text(`c${i}`).raw(ascii(',')).int(i);
      expected += `c${i},${i}`;
    }
    expect(text(b)).toBe(expected);
    expect(text(new AsciiBuilder(2).text('x'.repeat(100_000)))).toHaveLength(100_000);
  });
});
