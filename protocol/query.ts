// Query-string codec for signed REST requests (section 6.8).

const ARRAY_KEY = /^(.+)\[\d*\]$/;

/**
 * Decodes keys and values ('+' is a space, as PHP/Guzzle encode it). Array params
 * (`x[]=a&x[]=b`, or PHP's indexed `x[0]=a&x[1]=b`) are stored under the bare key
 * `x` as `a,b`, because that is exactly what pusher-http-php signs (`x=a,b`).
 * For repeated plain keys the last one wins.
 */
export function parseQuery(rawQuery: string): Record<string, string> {
  // Null prototype so keys like `__proto__` or `constructor` are plain data.
  const params: Record<string, string> = Object.create(null);
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decodeComponent(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? '' : decodeComponent(part.slice(eq + 1));
    const arrayName = key.endsWith(']') ? ARRAY_KEY.exec(key)?.[1] : undefined;
    if (arrayName === undefined) {
      params[key] = value;
    } else {
      const previous = params[arrayName];
      params[arrayName] = previous === undefined ? value : previous + ',' + value;
    }
  }
  return params;
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
