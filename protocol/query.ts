// Query-string codec for signed REST requests (section 6.8).

const ARRAY_KEY = /^(.+)\[\d*\]$/;

/** The names section 6.8 gives meaning to: each must appear once, spelled exactly, never as an array. */
const SIGNING_PARAMS: ReadonlySet<string> = new Set(['auth_key', 'auth_signature', 'auth_timestamp', 'auth_version', 'body_md5']);

/**
 * Null prototype so keys like `__proto__` or `constructor` are plain data; a constructor (as Node's
 * querystring does) rather than `Object.create(null)`, whose objects start in slow dictionary mode.
 */
const Params = function () {} as unknown as new () => Record<string, string>;
Params.prototype = Object.create(null);

export interface ParsedQuery {
  ok: true;
  /** Decoded, keys lowercased (as they are signed); an array param's values joined with ','. */
  params: Record<string, string>;
  /** Keys that arrived in array form (`x[]=a&x[]=b`), whose value in `params` is a ',' list. */
  arrays: ReadonlySet<string> | undefined;
  /**
   * The canonical query of section 6.8 when the raw query already spells it once its
   * auth_signature is cut out (lowercase keys in order, nothing escaped: what the SDKs send),
   * else undefined and the caller sorts `params`.
   */
  canonical: string | undefined;
}

/** A query that two different requests could share a signature with, or that cannot be decoded. */
export interface AmbiguousQuery {
  ok: false;
  error: string;
}

/**
 * Decodes keys and values ('+' is a space, as PHP/Guzzle encode it). Array params
 * (`x[]=a&x[]=b`, or PHP's indexed `x[0]=a&x[1]=b`) are stored under the bare key
 * `x` as `a,b`, because that is exactly what pusher-http-php signs (`x=a,b`).
 *
 * The canonical query is rebuilt from the decoded pairs, so every decoded pair must read back
 * as itself from it, or two different requests would share one signature. Refused: a key given
 * twice (in any case or form, whichever copy comes first), an auth_* or body_md5 key in array
 * form, a decoded key holding '&' or '=', a decoded value holding '&', an array value holding
 * ',', and malformed percent-encoding (kept literally, it would stand for two spellings).
 */
export function parseSignedQuery(rawQuery: string): ParsedQuery | AmbiguousQuery {
  const params = new Params();
  let arrays: Set<string> | undefined;
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
      const decodedKey = decodeComponent(key);
      const decodedValue = decodeComponent(value);
      if (decodedKey === undefined || decodedValue === undefined) return ambiguous(`Malformed percent-encoding in query parameter ${quote(key)}`);
      key = decodedKey;
      value = decodedValue;
      if (key.includes('&') || key.includes('=')) return ambiguous(`Query parameter name ${quote(key)} contains '&' or '='`);
      if (value.includes('&')) return ambiguous(`Query parameter ${quote(key)} has '&' in its value`);
    }
    key = lowercase(key);
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
      if (params[key] !== undefined) return ambiguous(`Duplicate query parameter: ${quote(key)}`);
      params[key] = value;
    } else {
      if (SIGNING_PARAMS.has(arrayName)) return ambiguous(`Query parameter ${quote(key)} must be ${arrayName}, not an array`);
      if (value.includes(',')) return ambiguous(`Array query parameter ${quote(key)} has ',' in a value`);
      const previous = params[arrayName];
      if (previous !== undefined && !arrays?.has(arrayName)) return ambiguous(`Duplicate query parameter: ${quote(arrayName)}`);
      (arrays ??= new Set()).add(arrayName);
      params[arrayName] = previous === undefined ? value : previous + ',' + value;
    }
    start = end + 1;
  }
  return { ok: true, params, arrays, canonical: inOrder ? joinRun(canonical, rawQuery, runStart, rawQuery.length) : undefined };
}

const ambiguous = (error: string): AmbiguousQuery => ({ ok: false, error });

/** Names quoted in messages are cut short: the query may be long. */
const quote = (s: string) => JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s);

/** Cheaper than `toLowerCase` for the usual all-lowercase key, which it returns as is. */
function lowercase(key: string): string {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a) || c >= 0x80) return key.toLowerCase();
  }
  return key;
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

/** undefined for malformed escapes or escapes that are not UTF-8. */
function decodeComponent(s: string): string | undefined {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

/**
 * Escapes what a query parser would misread but leaves `,:@/;` literal, matching
 * what the Node SDK puts on the wire (e.g. `info=user_count,subscription_count`).
 */
export function encodeQueryComponent(s: string): string {
  return encodeURIComponent(s).replace(/%(?:2C|3A|40|2F|3B)/g, decodeURIComponent);
}
