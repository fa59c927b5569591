// Query-string codec for signed REST requests (section 6.8).

const ARRAY_KEY = /^(.+)\[\d*\]$/;

/**
 * Null prototype so keys like `__proto__` or `constructor` are plain data; a constructor (as Node's
 * querystring does) rather than `Object.create(null)`, whose objects start in slow dictionary mode.
 */
const Params = function () {} as unknown as new () => Record<string, string>;
Params.prototype = Object.create(null);

export interface ParsedQuery {
  /** As `parseQuery` returns them. */
  params: Record<string, string>;
  /**
   * The canonical query of section 6.8 when the raw query already spells it once its
   * auth_signature is cut out (lowercase keys in order, nothing escaped: what the SDKs send),
   * else undefined and the caller sorts `params`.
   */
  canonical: string | undefined;
}

/**
 * Decodes keys and values ('+' is a space, as PHP/Guzzle encode it). Array params
 * (`x[]=a&x[]=b`, or PHP's indexed `x[0]=a&x[1]=b`) are stored under the bare key
 * `x` as `a,b`, because that is exactly what pusher-http-php signs (`x=a,b`).
 * For repeated plain keys the last one wins.
 */
export function parseQuery(rawQuery: string): Record<string, string> {
  return parseSignedQuery(rawQuery).params;
}

/** `parseQuery` and, in the same pass, the canonical query when it comes for free. */
export function parseSignedQuery(rawQuery: string): ParsedQuery {
  const params = new Params();
  const escaped = rawQuery.includes('%') || rawQuery.includes('+');
  let inOrder = !escaped;
  // The raw query minus auth_signature, cut from the runs of pairs around each signature.
  let canonical = '';
  let runStart = 0;
  let previousStart = 0;
  let previousEnd = 0;
  // `<=`: a trailing '&' is an empty pair, which the canonical query leaves out.
  for (let start = 0; start <= rawQuery.length; ) {
    let end = rawQuery.indexOf('&', start);
    if (end === -1) end = rawQuery.length;
    if (end === start) {
      inOrder = false;
      start = end + 1;
      continue;
    }
    let eq = rawQuery.indexOf('=', start);
    if (eq > end) eq = -1;
    let key = rawQuery.slice(start, eq === -1 ? end : eq);
    let value = eq === -1 ? '' : rawQuery.slice(eq + 1, end);
    if (escaped) {
      key = decodeComponent(key);
      value = decodeComponent(value);
    }
    if (key === 'auth_signature') {
      if (inOrder) canonical = joinRun(canonical, rawQuery, runStart, start - 1);
      runStart = end + 1;
    } else if (inOrder) {
      inOrder = eq !== -1 && plainKeyAfter(rawQuery, start, eq, previousStart, previousEnd);
      previousStart = start;
      previousEnd = eq;
    }
    const arrayName = key.endsWith(']') ? ARRAY_KEY.exec(key)?.[1] : undefined;
    if (arrayName === undefined) {
      params[key] = value;
    } else {
      const previous = params[arrayName];
      params[arrayName] = previous === undefined ? value : previous + ',' + value;
    }
    start = end + 1;
  }
  return { params, canonical: inOrder ? joinRun(canonical, rawQuery, runStart, rawQuery.length) : undefined };
}

/**
 * Whether the key at `rawQuery[start, end)` sorts after the one at `[previous, previousEnd)` and
 * is canonical as it stands: ASCII without capitals, not an array key. Compared in place, since
 * comparing and lowercasing the sliced keys costs more than the rest of the parse.
 */
function plainKeyAfter(rawQuery: string, start: number, end: number, previous: number, previousEnd: number): boolean {
  let after = false;
  for (let i = start, j = previous; i < end; i++, j++) {
    const c = rawQuery.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a) || c >= 0x80) return false;
    if (!after && j < previousEnd) {
      const p = rawQuery.charCodeAt(j);
      if (c < p) return false;
      after = c > p;
    } else {
      after = true;
    }
  }
  return after && rawQuery.charCodeAt(end - 1) !== 0x5d;
}

function joinRun(canonical: string, rawQuery: string, from: number, to: number): string {
  if (to <= from) return canonical;
  const run = rawQuery.slice(from, to);
  return canonical === '' ? run : canonical + '&' + run;
}

function decodeComponent(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  const spaced = s.replaceAll('+', ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Malformed escapes are kept literally; the signature check then decides.
    return spaced;
  }
}

/**
 * Escapes what a query parser would misread but leaves `,:@/;` literal, matching
 * what the Node SDK puts on the wire (e.g. `info=user_count,subscription_count`).
 */
export function encodeQueryComponent(s: string): string {
  return encodeURIComponent(s).replace(/%(?:2C|3A|40|2F|3B)/g, decodeURIComponent);
}
