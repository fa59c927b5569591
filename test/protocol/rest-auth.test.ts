import { describe, it, expect } from 'vitest';
import {
  hmacSha256Hex,
  md5Hex,
  parseSignedQuery,
  restStringToSign,
  signRestQuery,
  verifyRestRequest,
  type RestAuthResult,
  type SignedRequest,
} from '../../protocol/signing.js';
import { vectors } from './vectors.js';

/** The decoded params of a query the parser accepts. */
function parseQuery(raw: string): Record<string, string> {
  const parsed = parseSignedQuery(raw);
  if (!parsed.ok) throw new Error(`refused ${JSON.stringify(raw)}: ${parsed.error}`);
  return parsed.params;
}

function parsed(raw: string) {
  const result = parseSignedQuery(raw);
  if (!result.ok) throw new Error(`refused ${JSON.stringify(raw)}: ${result.error}`);
  return result;
}

const { key, secret } = vectors.app;
const app = { key, secret };
const WINDOW = 600;
const bytes = (s: string | null | undefined): Uint8Array => new TextEncoder().encode(s ?? '');

function request(method: string, path: string, rawQuery: string, body = ''): SignedRequest {
  return { method, path, rawQuery, body: bytes(body) };
}

describe('rest_signature vectors (section 6.8)', () => {
  for (const v of vectors.rest_signature) {
    describe(`${v.method} ${v.path} ${JSON.stringify(v.query_params)}`, () => {
      const body = v.body ?? '';

      it('string to sign and signature', () => {
        const params: Record<string, string> = {
          ...v.query_params,
          auth_key: key,
          auth_timestamp: String(v.auth_timestamp),
          auth_version: '1.0',
        };
        if (v.body_md5 !== null) params.body_md5 = v.body_md5;
        expect(restStringToSign(v.method, v.path, params)).toBe(v.string_to_sign);
        expect(hmacSha256Hex(secret, v.string_to_sign)).toBe(v.auth_signature);
      });

      it('body_md5 is sent iff the body is non-empty', () => {
        expect(v.body_md5 === null ? body === '' : md5Hex(body) === v.body_md5).toBe(true);
      });

      it('signRestQuery reproduces the library query string', () => {
        expect(signRestQuery(v.method, v.path, key, secret, body, v.auth_timestamp, v.query_params)).toBe(v.library_query_string);
        expect(signRestQuery(v.method, v.path, key, secret, bytes(body), v.auth_timestamp, v.query_params)).toBe(v.library_query_string);
        if (v.full_url) expect(v.path + '?' + v.library_query_string).toBe(v.full_url);
      });

      it('verifies at its timestamp', () => {
        const result = verifyRestRequest(request(v.method, v.path, v.library_query_string, body), app, v.auth_timestamp, WINDOW);
        expect(result.ok).toBe(true);
        expect(result.ok && result.params).toMatchObject({ ...v.query_params, auth_signature: v.auth_signature });
      });

      it('fails under another secret or path', () => {
        const req = request(v.method, v.path, v.library_query_string, body);
        expect(verifyRestRequest(req, { key, secret: 'wrong' }, v.auth_timestamp, WINDOW)).toEqual({ ok: false, status: 401, error: 'Invalid signature' });
        expect(verifyRestRequest({ ...req, path: v.path + '/x' }, app, v.auth_timestamp, WINDOW).ok).toBe(false);
        expect(verifyRestRequest({ ...req, method: v.method === 'GET' ? 'POST' : 'GET' }, app, v.auth_timestamp, WINDOW).ok).toBe(false);
      });
    });
  }
});

describe('body_md5 vectors', () => {
  for (const v of vectors.body_md5) {
    it(JSON.stringify(v.body).slice(0, 60), () => {
      if (v.body_md5 === null) {
        expect(v.body).toBe('');
        expect(signRestQuery('POST', '/apps/3/events', key, secret, v.body, 1700000000)).not.toContain('body_md5');
      } else {
        expect(md5Hex(v.body)).toBe(v.body_md5);
        expect(md5Hex(bytes(v.body))).toBe(v.body_md5);
      }
    });
  }
});

// The vectors phrase outcomes as "accept (200)" / "reject 401 (<reason>)"; each
// reason maps to the error text verifyRestRequest gives for it.
const REJECT_REASONS: Record<string, RegExp> = {
  'timestamp expired': /^Timestamp expired: Given timestamp \(\d+\) not within 600s of server time \(\d+\)$/,
  'invalid signature': /^Invalid signature$/,
  'body_md5 mismatch': /^body_md5 does not match/,
};

function expectOutcome(result: RestAuthResult, expected: string): void {
  if (expected === 'accept (200)') {
    expect(result.ok).toBe(true);
    return;
  }
  const reason = /^reject 401 \((.+)\)$/.exec(expected)?.[1];
  const pattern = reason === undefined ? undefined : REJECT_REASONS[reason];
  if (!pattern) throw new Error(`unrecognised expected outcome: ${expected}`);
  expect(result).toMatchObject({ ok: false, status: 401 });
  expect(!result.ok && result.error).toMatch(pattern);
}

describe('rest_verification_cases', () => {
  for (const c of vectors.rest_verification_cases) {
    it(`${c.description} → ${c.expected}`, () => {
      const result = verifyRestRequest(request(c.method, c.path, c.raw_query, c.body), app, c.server_now, WINDOW);
      expectOutcome(result, c.expected);
    });
  }

  it('reports both timestamps in the hosted service wording', () => {
    const c = vectors.rest_verification_cases.find((x) => x.server_now === 1700000601);
    if (!c) throw new Error('vector missing');
    expect(verifyRestRequest(request(c.method, c.path, c.raw_query), app, c.server_now, WINDOW)).toEqual({
      ok: false,
      status: 401,
      error: 'Timestamp expired: Given timestamp (1700000000) not within 600s of server time (1700000601)',
    });
  });

  it('returns decoded params on success', () => {
    const [c] = vectors.rest_verification_cases;
    if (!c) throw new Error('vector missing');
    const result = verifyRestRequest(request(c.method, c.path, c.raw_query), app, c.server_now, WINDOW);
    expect(result.ok && result.params.info).toBe('user_count,subscription_count');
  });
});

describe('verifyRestRequest failure modes', () => {
  const now = 1700000000;
  const path = '/apps/3/channels';
  const signed = (extra: Record<string, string> = {}, body = '', method = 'GET') =>
    signRestQuery(method, path, key, secret, body, now, extra);
  const verify = (rawQuery: string, body = '', method = 'GET', p = path) =>
    verifyRestRequest(request(method, p, rawQuery, body), app, now, WINDOW);
  const deny = (error: string | RegExp) => ({ ok: false, status: 401, error });

  it('accepts a freshly signed request', () => {
    expect(verify(signed()).ok).toBe(true);
  });

  it('rejects a missing or unknown auth_key', () => {
    expect(verify(signed().replace(/auth_key=[^&]*&/, ''))).toEqual(deny('Missing auth_key'));
    expect(verifyRestRequest(request('GET', path, signed()), { key: 'other', secret }, now, WINDOW)).toEqual(deny(`Unknown auth_key: ${key}`));
  });

  it('rejects another auth_version', () => {
    expect(verify(signed().replace('auth_version=1.0', 'auth_version=2.0'))).toEqual(deny('Unsupported auth_version (expected 1.0)'));
    expect(verify(signed().replace('auth_version=1.0&', ''))).toEqual(deny('Unsupported auth_version (expected 1.0)'));
  });

  it('rejects a missing or non-numeric auth_timestamp', () => {
    expect(verify(signed().replace(/auth_timestamp=\d+&/, ''))).toEqual(deny('Missing or invalid auth_timestamp'));
    expect(verify(signed().replace(/auth_timestamp=\d+/, 'auth_timestamp=soon'))).toEqual(deny('Missing or invalid auth_timestamp'));
    expect(verify(signed().replace(/auth_timestamp=\d+/, 'auth_timestamp=-5'))).toEqual(deny('Missing or invalid auth_timestamp'));
  });

  it('uses whole seconds of server time', () => {
    const query = signed();
    expect(verifyRestRequest(request('GET', path, query), app, now + 600.9, WINDOW).ok).toBe(true);
    expect(verifyRestRequest(request('GET', path, query), app, now + 601, WINDOW).ok).toBe(false);
  });

  it('honours a configured window', () => {
    expect(verifyRestRequest(request('GET', path, signed()), app, now + 30, 30).ok).toBe(true);
    expect(verifyRestRequest(request('GET', path, signed()), app, now + 31, 30)).toEqual(
      deny(`Timestamp expired: Given timestamp (${now}) not within 30s of server time (${now + 31})`),
    );
  });

  it('requires body_md5 when the body is non-empty', () => {
    const query = signed();
    expect(verify(query, '{}', 'POST')).toEqual(deny('Missing body_md5'));
  });

  it('checks a body_md5 sent with an empty body instead of rejecting it', () => {
    const withEmptyMd5 = signed({ body_md5: md5Hex('') });
    expect(verify(withEmptyMd5).ok).toBe(true);
    expect(verify(signed({ body_md5: md5Hex('x') }))).toEqual(deny('body_md5 does not match the request body'));
  });

  it('hashes the raw body bytes, not re-serialised JSON', () => {
    const body = '{"a":"http:\\/\\/x"}';
    const query = signRestQuery('POST', '/apps/3/events', key, secret, body, now);
    expect(verify(query, body, 'POST', '/apps/3/events').ok).toBe(true);
    expect(verify(query, JSON.stringify(JSON.parse(body)), 'POST', '/apps/3/events')).toEqual(deny('body_md5 does not match the request body'));
  });

  it('rejects a missing auth_signature', () => {
    expect(verify(signed().replace(/&auth_signature=.*$/, ''))).toEqual(deny('Missing auth_signature'));
  });

  it('rejects an added or altered parameter', () => {
    expect(verify(signed({ info: 'user_count' }) + '&filter_by_prefix=presence-')).toEqual(deny('Invalid signature'));
    expect(verify(signed({ info: 'user_count' }).replace('info=user_count', 'info=subscription_count'))).toEqual(deny('Invalid signature'));
  });

  it('accepts parameters in any order', () => {
    const parts = signed({ info: 'user_count', filter_by_prefix: 'presence-' }).split('&').reverse().join('&');
    expect(verify(parts).ok).toBe(true);
  });

  it('falls back to the percent-decoded path', () => {
    const decodedPath = '/apps/3/channels/presence-room';
    const query = signRestQuery('GET', decodedPath, key, secret, '', now);
    expect(verify(query, '', 'GET', '/apps/3/channels/presence%2Droom').ok).toBe(true);
  });

  it('tries the path exactly as received first', () => {
    const rawPath = '/apps/3/channels/presence%2Droom';
    const query = signRestQuery('GET', rawPath, key, secret, '', now);
    expect(verify(query, '', 'GET', rawPath).ok).toBe(true);
    expect(verify(query, '', 'GET', '/apps/3/channels/presence-room').ok).toBe(false);
  });

  it('survives a malformed percent-encoded path', () => {
    expect(verify(signed(), '', 'GET', '/apps/3/channels/%E0%A4%A').ok).toBe(false);
  });

  it('verifies a pusher-http-php style array param (signed as channels=a,b, sent as channels[0]=a&channels[1]=b)', () => {
    const base = `auth_key=${key}&auth_timestamp=${now}&auth_version=1.0`;
    const signature = hmacSha256Hex(secret, `GET\n${path}\n${base}&channels=a,b`);
    expect(verify(`${base}&channels%5B0%5D=a&channels%5B1%5D=b&auth_signature=${signature}`).ok).toBe(true);
    expect(verify(`${base}&channels[]=a&channels[]=b&auth_signature=${signature}`).ok).toBe(true);
  });

  it('signRestQuery escapes values that would break the query and they verify after decoding', () => {
    const extra = { filter_by_prefix: 'b=c d+e%', info: 'user_count,subscription_count' };
    const query = signed(extra);
    expect(query).toContain('info=user_count,subscription_count');
    expect(query).toContain('filter_by_prefix=b%3Dc%20d%2Be%25');
    const result = verify(query);
    expect(result.ok && result.params).toMatchObject(extra);
  });

  it("refuses a value with '&': signed unescaped, it would read as two params", () => {
    expect(verify(signed({ filter_by_prefix: 'a&b=c' }))).toEqual({ ok: false, status: 400, error: `Query parameter "filter_by_prefix" has '&' in its value` });
  });
});

describe('restStringToSign', () => {
  it('uppercases the method, lowercases and sorts keys, drops auth_signature, keeps values unescaped', () => {
    expect(
      restStringToSign('get', '/apps/3/channels', {
        Info: 'user_count,subscription_count',
        auth_signature: 'x',
        auth_key: 'k',
        filter_by_prefix: 'presence-',
      }),
    ).toBe('GET\n/apps/3/channels\nauth_key=k&filter_by_prefix=presence-&info=user_count,subscription_count');
  });

  it('sorts by key, not by the joined key=value text', () => {
    expect(restStringToSign('GET', '/p', { 'a-b': '1', a: '2' })).toBe('GET\n/p\na=2&a-b=1');
  });

  it('with no params ends in an empty canonical query', () => {
    expect(restStringToSign('GET', '/p', {})).toBe('GET\n/p\n');
  });
});

describe('parseQuery', () => {
  it.each([
    ['', {}],
    ['a=1&b=2', { a: '1', b: '2' }],
    ['info=user_count%2Csubscription_count', { info: 'user_count,subscription_count' }],
    ['q=a+b%20c', { q: 'a b c' }],
    ['q=a%2Bb', { q: 'a+b' }],
    ['filter%5Fby%5Fprefix=presence-', { filter_by_prefix: 'presence-' }],
    ['a=b=c', { a: 'b=c' }],
    ['flag', { flag: '' }],
    ['a=', { a: '' }],
    ['a=1&&b=2&', { a: '1', b: '2' }],
    ['x[]=a&x[]=b', { x: 'a,b' }],
    ['x%5B%5D=a&x%5B%5D=b', { x: 'a,b' }],
    ['x[0]=a&x[1]=b&x[2]=c', { x: 'a,b,c' }],
    ['x[]=only', { x: 'only' }],
    ['caf%C3%A9=%E2%9C%93', { 'caf\u00e9': '\u2713' }],
    ['Info=a&AUTH_KEY=k', { info: 'a', auth_key: 'k' }],
  ])('%j → %j', (raw, expected) => {
    expect({ ...parseQuery(raw) }).toEqual(expected);
  });

  it('treats prototype-ish keys as plain data', () => {
    const params = parseQuery('__proto__=x&constructor=y');
    expect(params['__proto__']).toBe('x');
    expect(params['constructor']).toBe('y');
    expect(parseQuery('a=1')['toString']).toBeUndefined();
  });
});

describe('restStringToSign canonical order', () => {
  it('is the same whether the query arrives sorted, shuffled or with upper-case keys', () => {
    const sorted = { auth_key: 'k', auth_timestamp: '1', auth_version: '1.0', body_md5: 'm', info: 'a,b' };
    const expected = 'POST\n/apps/1/events\nauth_key=k&auth_timestamp=1&auth_version=1.0&body_md5=m&info=a,b';
    expect(restStringToSign('post', '/apps/1/events', sorted)).toBe(expected);
    expect(restStringToSign('POST', '/apps/1/events', { info: 'a,b', body_md5: 'm', auth_version: '1.0', auth_timestamp: '1', auth_key: 'k' })).toBe(expected);
    expect(restStringToSign('POST', '/apps/1/events', { Auth_Key: 'k', auth_timestamp: '1', auth_version: '1.0', body_md5: 'm', INFO: 'a,b' })).toBe(expected);
    expect(restStringToSign('POST', '/apps/1/events', { ...sorted, auth_signature: 'x' })).toBe(expected);
    expect(restStringToSign('POST', '/apps/1/events', { auth_signature: 'x', ...sorted })).toBe(expected);
  });
});

describe('parseSignedQuery', () => {
  const canonicalOf = (params: Record<string, string>) => restStringToSign('GET', '/p', params).slice('GET\n/p\n'.length);

  it('takes the canonical query from an SDK query as sent (every vector), without sorting', () => {
    for (const v of vectors.rest_signature) {
      const { params, canonical } = parsed(v.library_query_string);
      expect(canonical).toBe(v.string_to_sign.split('\n')[2]);
      expect(params).toEqual(parseQuery(v.library_query_string));
    }
  });

  it.each([
    ['auth_signature=s&a=1&b=2', 'a=1&b=2'],
    ['a=1&auth_signature=s&b=2', 'a=1&b=2'],
    ['a=1&b=2&auth_signature=s', 'a=1&b=2'],
    ['auth_signature=s', ''],
    ['auth_key=k&AUTH_SIGNATURE=s', 'auth_key=k'],
    ['a=b=c&d=', 'a=b=c&d='],
    ['a=1,2:3@4/5;6&b=x-y.z_~', 'a=1,2:3@4/5;6&b=x-y.z_~'],
    // Keys compare as text, so `10` sorts before `9`.
    ['10=a&9=b', '10=a&9=b'],
    ['a=1&ab=2&b=3', 'a=1&ab=2&b=3'],
  ])('%j is canonical once the signature is cut out: %j', (raw, expected) => {
    const { params, canonical } = parsed(raw);
    expect(canonical).toBe(expected);
    expect(canonical).toBe(canonicalOf(params));
  });

  // Each needs decoding, reordering, lowercasing, merging or dropping before it is canonical.
  it.each([
    '',
    'b=1&a=2',
    'A=1&b=2',
    'a=1&B=2',
    'a=x%2Cy',
    'a=x+y',
    'a%5Fb=1',
    'x[]=a&x[]=b',
    'x[0]=a&y=b',
    'a]=1',
    'flag&z=1',
    'a=1&&b=2',
    '&a=1',
    'a=1&',
    '=1&a=2',
    'b=1&auth_signature=s&a=2',
    'auth_key=k&auth_signature=a%2Bb',
    '9=a&10=b',
    'ab=1&a=2',
    'a=1&x]=2',
    'caf\u00e9=1',
  ])('%j leaves the canonical query to the sorted form', (raw) => {
    const { params, canonical } = parsed(raw);
    expect(canonical).toBeUndefined();
    expect({ ...params }).toEqual({ ...parseQuery(raw) });
  });

  it('agrees with the sorted form wherever it gives one', () => {
    const raws = [
      ...vectors.rest_signature.map((v) => v.library_query_string),
      ...vectors.rest_verification_cases.map((c) => c.raw_query),
      'a=1&b=2&c=3',
      'a=&b=&auth_signature=',
      'a-b=1&a=2',
      'a=2&a-b=1',
      'caf\u00e9=1&z=2',
    ];
    for (const raw of raws) {
      const { params, canonical } = parsed(raw);
      if (canonical !== undefined) expect(canonical).toBe(canonicalOf(params));
    }
  });
});

describe('parseSignedQuery refuses what two different requests could share a signature with', () => {
  it.each([
    // Repeats, whichever copy comes first, in any spelling of the key.
    ['auth_key=a&auth_key=b', 'Duplicate query parameter: "auth_key"'],
    ['auth_key=b&auth_key=a', 'Duplicate query parameter: "auth_key"'],
    ['auth_signature=s&auth_signature=t', 'Duplicate query parameter: "auth_signature"'],
    ['auth_timestamp=1&x=1&auth_timestamp=2', 'Duplicate query parameter: "auth_timestamp"'],
    ['body_md5=a&body_md5=a', 'Duplicate query parameter: "body_md5"'],
    ['auth_version=1.0&auth_version=1.0', 'Duplicate query parameter: "auth_version"'],
    ['info=a&info=b', 'Duplicate query parameter: "info"'],
    ['auth_key=a&AUTH_KEY=b', 'Duplicate query parameter: "auth_key"'],
    ['auth_key=a&auth%5Fkey=b', 'Duplicate query parameter: "auth_key"'],
    ['x=1&x[]=2', 'Duplicate query parameter: "x"'],
    ['x[]=1&x=2', 'Duplicate query parameter: "x"'],
    // A signing parameter under another name on the wire.
    ['auth_key[]=k', 'Query parameter "auth_key[]" must be auth_key, not an array'],
    ['auth_signature[0]=s', 'Query parameter "auth_signature[0]" must be auth_signature, not an array'],
    ['body_md5%5B%5D=m', 'Query parameter "body_md5[]" must be body_md5, not an array'],
    // Decoded text that would read back as other pairs in the string to sign.
    ['a=1%262=3', `Query parameter "a" has '&' in its value`],
    ['a%3D1=2', `Query parameter name "a=1" contains '&' or '='`],
    ['a%261=2', `Query parameter name "a&1" contains '&' or '='`],
    ['x[]=a%2Cb&x[]=c', `Array query parameter "x[]" has ',' in a value`],
    // Escapes that do not decode (kept literally, they would equal their own escaped form).
    ['bad=%E0%A4%A', 'Malformed percent-encoding in query parameter "bad"'],
    ['bad=100%', 'Malformed percent-encoding in query parameter "bad"'],
    ['bad=%FF', 'Malformed percent-encoding in query parameter "bad"'],
  ])('%j → %s', (raw, error) => {
    expect(parseSignedQuery(raw)).toEqual({ ok: false, error });
  });

  it('verifyRestRequest answers an ambiguous query with 400, before any other check', () => {
    const now = 1700000000;
    const query = signRestQuery('GET', '/apps/3/channels', key, secret, '', now);
    expect(verifyRestRequest(request('GET', '/apps/3/channels', `${query}&auth_key=${key}`), app, now, WINDOW)).toEqual({
      ok: false,
      status: 400,
      error: 'Duplicate query parameter: "auth_key"',
    });
    // The array form alone never stands in for the signed name.
    const renamed = query.replace('auth_key=', 'auth_key[]=');
    expect(verifyRestRequest(request('GET', '/apps/3/channels', renamed), app, now, WINDOW)).toMatchObject({ ok: false, status: 400 });
  });
});
