/** Unit tests of the HTTP API handlers, called directly with fake requests (no sockets). */
import { describe, it, expect } from 'vitest';
import { signRestQuery } from '../../protocol/signing.js';
import { RestRateLimiter } from '../../src/api/rate-limit.js';
import { signedPath } from '../../src/api/auth.js';
import { parseSignedQuery } from '../../protocol/query.js';
import { mergeTriggerQuery, triggerQueryFields } from '../../src/api/validate.js';
import { serverSchema } from '../../src/config/schema.js';
import { vectors } from '../protocol/vectors.js';
import { APP, unitHarness } from './unit-harness.js';

const event = (channel: string, name: string, data: string) =>
  JSON.stringify({ event: name, channel, data });

describe('request signing (section 6.8)', () => {
  const vectorApp = { id: vectors.app.app_id, key: vectors.app.key, secret: vectors.app.secret };

  it.each(vectors.rest_signature.map((v) => [`${v.method} ${v.path}`, v] as const))(
    'accepts the library-signed vector %s',
    async (_, v) => {
      const h = unitHarness({ apps: [vectorApp] });
      h.clock.now = v.auth_timestamp * 1000;
      const res = await h.request(v.method, v.path, v.library_query_string, v.body ?? '');
      expect(res.status, res.raw).toBe(200);
    },
  );

  it.each(vectors.rest_verification_cases.map((c) => [c.description, c] as const))('%s', async (_, c) => {
    const h = unitHarness({ apps: [vectorApp] });
    h.clock.now = c.server_now * 1000;
    const res = await h.request(c.method, c.path, c.raw_query, c.body ?? '');
    if (c.expected.startsWith('accept')) expect(res.status, res.raw).toBe(200);
    else expect(res.status).toBe(401);
    expect(h.deliveries).toEqual([]);
  });

  it('refuses a wrong secret, key, stale or future timestamp and a tampered body with 401 and its reason', async () => {
    const h = unitHarness();
    const body = { name: 'e', channel: 'c', data: 'x' };
    const now = Math.floor(h.clock.now / 1000);
    const cases = [
      [{ secret: 'nope' }, 'Invalid signature'],
      [{ key: 'other-key' }, 'Unknown auth_key: other-key'],
      [{ timestamp: now - 601 }, `Timestamp expired: Given timestamp (${now - 601}) not within 600s of server time (${now})`],
      [{ timestamp: now + 601 }, `Timestamp expired: Given timestamp (${now + 601}) not within 600s of server time (${now})`],
    ] as const;
    for (const [sign, error] of cases) {
      const res = await h.signed('POST', '/apps/app-id/events', body, {}, sign);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error });
    }
    // Body changed after signing.
    const query = signRestQuery('POST', '/apps/app-id/events', APP.key, APP.secret, JSON.stringify(body), now);
    const tampered = await h.request('POST', '/apps/app-id/events', query, JSON.stringify({ ...body, data: 'y' }));
    expect(tampered.status).toBe(401);
    expect(tampered.body).toEqual({ error: 'body_md5 does not match the request body' });
    // No signature at all.
    const unsigned = await h.request('POST', '/apps/app-id/events', '', JSON.stringify(body));
    expect(unsigned.status).toBe(401);
    expect(unsigned.body).toEqual({ error: 'Missing auth_key' });
    expect(h.deliveries).toEqual([]);
  });

  it('honours a configured timestamp window', async () => {
    const h = unitHarness({ server: { timestampWindow: 30 } });
    const now = Math.floor(h.clock.now / 1000);
    expect((await h.signed('GET', '/apps/app-id/channels', undefined, {}, { timestamp: now - 30 })).status).toBe(200);
    const res = await h.signed('GET', '/apps/app-id/channels', undefined, {}, { timestamp: now - 31 });
    expect(res.status).toBe(401);
    expect(res.body.error).toMatch(/not within 30s/);
  });

  it('answers 404 for an unknown app id and 403 for a disabled app', async () => {
    const h = unitHarness({ app: { enabled: false } });
    const unknown = await h.signed('GET', '/apps/nope/channels');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: 'Unknown app id: nope' });
    const disabled = await h.signed('POST', '/apps/app-id/events', { name: 'e', channel: 'c', data: 'x' });
    expect(disabled.status).toBe(403);
    expect(disabled.body).toEqual({ error: 'Application disabled' });
    // A disabled app still checks the signature first.
    expect((await h.signed('GET', '/apps/app-id/channels', undefined, {}, { secret: 'x' })).status).toBe(401);
    expect(h.deliveries).toEqual([]);
  });

  it('verifies the path without the deployment prefix, and also a client that signed the full path', async () => {
    const h = unitHarness({ server: { pathPrefix: '/reverb' } });
    expect(signedPath('/reverb/apps/1/events', '/reverb')).toBe('/apps/1/events');
    expect(signedPath('/reverbx/apps', '/reverb')).toBe('/reverbx/apps');
    const res = await h.signed('POST', '/apps/app-id/events', { name: 'e', channel: 'c', data: 'x' });
    expect(res.status, res.raw).toBe(200);
    const now = Math.floor(h.clock.now / 1000);
    const full = signRestQuery('GET', '/reverb/apps/app-id/channels', APP.key, APP.secret, '', now);
    expect((await h.request('GET', '/reverb/apps/app-id/channels', full)).status).toBe(200);
    // Without the prefix the route does not exist.
    expect((await h.signed('GET', '/apps/app-id/channels', undefined, {}, { prefix: '' })).status).toBe(404);
  });
});

describe('rate limit', () => {
  it('is a per-app token bucket answering 429 with Retry-After, off at 0', async () => {
    const h = unitHarness({ app: { restRateLimit: 2 } });
    expect((await h.signed('GET', '/apps/app-id/channels')).status).toBe(200);
    expect((await h.signed('GET', '/apps/app-id/channels')).status).toBe(200);
    const limited = await h.signed('POST', '/apps/app-id/events', { name: 'e', channel: 'c', data: 'x' });
    expect(limited.status).toBe(429);
    expect(limited.headers['Retry-After']).toBe('1');
    expect(limited.body).toEqual({ error: 'Too many requests' });
    expect(h.deliveries).toEqual([]);
    h.clock.now += 500; // one token back
    expect((await h.signed('GET', '/apps/app-id/channels')).status).toBe(200);
    expect((await h.signed('GET', '/apps/app-id/channels')).status).toBe(429);
    // Unauthenticated requests do not consume the app's budget.
    h.clock.now += 1000;
    for (let i = 0; i < 5; i++) expect((await h.signed('GET', '/apps/app-id/channels', undefined, {}, { secret: 'x' })).status).toBe(401);
    expect((await h.signed('GET', '/apps/app-id/channels')).status).toBe(200);
  });

  it('computes Retry-After from the refill rate and is unlimited at 0', () => {
    const limiter = new RestRateLimiter();
    const app = serverSchema.parse({ apps: [{ ...APP, restRateLimit: 1 }] }).apps[0]!;
    expect(limiter.take(app, 0).ok).toBe(true);
    expect(limiter.take(app, 100)).toEqual({ ok: false, retryAfterSeconds: 1 });
    const free = { ...app, restRateLimit: 0 };
    for (let i = 0; i < 1000; i++) expect(limiter.take(free, 0).ok).toBe(true);
  });
});

describe('POST /events', () => {
  it('delivers to one channel (`channel`) and to several (`channels`) and answers {}', async () => {
    const h = unitHarness();
    const one = await h.signed('POST', '/apps/app-id/events', { name: 'my-event', channel: 'ch-1', data: '{"a":1}' });
    expect(one).toMatchObject({ status: 200, raw: '{}' });
    const many = await h.signed('POST', '/apps/app-id/events', { name: 'e2', channels: ['a', 'b', 'a'], data: 'plain' });
    expect(many.raw).toBe('{}');
    expect(h.deliveries).toEqual([
      { topic: 'app-id:ch-1', frame: event('ch-1', 'my-event', '{"a":1}') },
      { topic: 'app-id:a', frame: event('a', 'e2', 'plain') },
      { topic: 'app-id:b', frame: event('b', 'e2', 'plain') },
    ]);
  });

  it('serialises non-string data with JSON.stringify and keeps strings verbatim', async () => {
    const h = unitHarness();
    await h.signed('POST', '/apps/app-id/events', { name: 'e', channel: 'c', data: { x: [1, 'ü'] } });
    await h.signed('POST', '/apps/app-id/events', { name: 'e', channel: 'c', data: 42 });
    await h.signed('POST', '/apps/app-id/events', { name: 'e', channel: 'c', data: '' });
    expect(h.deliveries.map((d) => JSON.parse(d.frame).data)).toEqual(['{"x":[1,"ü"]}', '42', '']);
  });

  it('excludes socket_id from delivery', async () => {
    const h = unitHarness();
    const conn = h.connect();
    h.subscribe(conn, 'c');
    await h.signed('POST', '/apps/app-id/events', { name: 'e', channel: 'c', data: 'x', socket_id: conn.socketId });
    expect(h.deliveries).toEqual([{ topic: 'app-id:c', frame: event('c', 'e', 'x'), except: conn.socketId }]);
  });

  it('accepts the PHP SDK body byte-exactly (escaped slashes, single channel)', async () => {
    const v = vectors.rest_signature[2]!;
    const h = unitHarness({ apps: [{ id: vectors.app.app_id, key: vectors.app.key, secret: vectors.app.secret }] });
    h.clock.now = v.auth_timestamp * 1000;
    const res = await h.request('POST', v.path, v.library_query_string, v.body!);
    expect(res.status).toBe(200);
    expect(JSON.parse(h.deliveries[0]!.frame)).toEqual({
      event: 'App\\Events\\OrderShipped',
      channel: 'private-orders.5',
      data: '{"id":5,"url":"http:\\/\\/x\\/y"}',
    });
  });

  it('returns the requested info per unique channel', async () => {
    const h = unitHarness();
    const a = h.connect();
    const b = h.connect();
    h.subscribe(a, 'presence-room', 'u1');
    h.subscribe(b, 'presence-room', 'u1');
    h.subscribe(a, 'public');
    const res = await h.signed('POST', '/apps/app-id/events', {
      name: 'e',
      channels: ['presence-room', 'public', 'empty', 'public'],
      data: 'x',
      info: 'user_count,subscription_count',
    });
    expect(res.body).toEqual({
      channels: {
        'presence-room': { user_count: 1, subscription_count: 2 },
        public: { subscription_count: 1 },
        empty: { subscription_count: 0 },
      },
    });
    const onlyUsers = await h.signed('POST', '/apps/app-id/events', { name: 'e', channel: 'public', data: 'x', info: 'user_count' });
    expect(onlyUsers.body).toEqual({ channels: { public: {} } });
  });

  it('accepts parameters from the query string, the body winning', async () => {
    const fields = (raw: string) => {
      const parsed = parseSignedQuery(raw);
      if (!parsed.ok) throw new Error(parsed.error);
      return triggerQueryFields(parsed.params, parsed.arrays);
    };
    expect(fields('channels[]=a&channels[]=b&name=n&auth_key=k&other=1')).toEqual({ channels: ['a', 'b'], name: 'n' });
    expect(fields('channels=a,b&name[]=n')).toEqual({ channels: ['a', 'b'], name: ['n'] });
    const query = parseSignedQuery('channels[]=a&name=q&data=d');
    if (!query.ok) throw new Error(query.error);
    expect(mergeTriggerQuery({ channel: 'x', name: 'body' }, query.params, query.arrays)).toEqual({
      channel: 'x',
      name: 'body',
      data: 'd',
    });
    const h = unitHarness();
    const res = await h.signed('POST', '/apps/app-id/events', { data: 'x' }, { channels: 'q-chan', name: 'q-name' });
    expect(res.status, res.raw).toBe(200);
    expect(h.deliveries).toEqual([{ topic: 'app-id:q-chan', frame: event('q-chan', 'q-name', 'x') }]);
  });

  it('accepts #server-to-user- channels (sendToUser) and caches events on cache channels', async () => {
    const h = unitHarness();
    expect((await h.signed('POST', '/apps/app-id/events', { name: 'e', channels: ['#server-to-user-42'], data: 'x' })).status).toBe(200);
    await h.signed('POST', '/apps/app-id/events', { name: 'price', channel: 'cache-prices', data: '{"p":1}' });
    expect(h.adapter.cached('app-id', 'cache-prices')).toMatchObject({ event: 'price', data: '{"p":1}' });
    expect(h.deliveries.map((d) => d.topic)).toEqual(['app-id:#server-to-user-42', 'app-id:cache-prices']);
  });

  it('takes null optional fields as absent, and channels over channel', async () => {
    const h = unitHarness();
    const nulls = { name: 'e', channel: null, channels: ['a', 'a'], socket_id: null, info: null, data: 'x', extra: 1 };
    expect((await h.signed('POST', '/apps/app-id/events', nulls)).status).toBe(200);
    expect((await h.signed('POST', '/apps/app-id/events', { name: 'e', channel: 'b', channels: null, data: 'y' })).status).toBe(200);
    expect(h.deliveries).toEqual([
      { topic: 'app-id:a', frame: event('a', 'e', 'x') },
      { topic: 'app-id:b', frame: event('b', 'e', 'y') },
    ]);
  });

  it('accepts data of exactly the limit in UTF-8 bytes', async () => {
    const h = unitHarness();
    const res = await h.signed('POST', '/apps/app-id/events', { name: 'e', channel: 'c', data: 'é'.repeat(5120) });
    expect(res.status).toBe(200);
    const name = await h.signed('POST', '/apps/app-id/events', { name: 'n'.repeat(200), channel: 'c'.repeat(164), data: '' });
    expect(name.status).toBe(200);
  });

  const refusals: [string, unknown, number, string | RegExp][] = [
    ['invalid JSON', '{"name":', 400, 'Invalid JSON in request body'],
    ['a JSON array', '[]', 400, 'Request body must be a JSON object'],
    ['missing name', { channel: 'c', data: 'x' }, 400, 'Missing name'],
    ['numeric name', { name: 5, channel: 'c', data: 'x' }, 400, 'name must be a string'],
    ['missing data', { name: 'e', channel: 'c' }, 400, 'Missing data'],
    ['no channel', { name: 'e', data: 'x' }, 400, 'Missing channel or channels'],
    ['empty channels', { name: 'e', channels: [], data: 'x' }, 400, 'Missing channel or channels'],
    ['channels not an array', { name: 'e', channels: 'a', data: 'x' }, 400, 'channels must be an array of strings'],
    ['a number among channels', { name: 'e', channels: ['a', 1], data: 'x' }, 400, 'channels must be an array of strings'],
    ['numeric channel', { name: 'e', channel: 5, data: 'x' }, 400, 'channel must be a string'],
    ['numeric socket_id', { name: 'e', channel: 'c', data: 'x', socket_id: 5 }, 400, 'socket_id must be a string'],
    ['info as an array', { name: 'e', channel: 'c', data: 'x', info: ['user_count'] }, 400, 'info must be a string'],
    ['pusher: event name', { name: 'pusher:x', channel: 'c', data: 'x' }, 400, "Event names starting with 'pusher:' are reserved"],
    ['pusher_internal: name', { name: 'pusher_internal:x', channel: 'c', data: 'x' }, 400, /reserved/],
    ['event name of 201', { name: 'e'.repeat(201), channel: 'c', data: 'x' }, 400, 'Event name too long (max 200)'],
    ['bad channel char', { name: 'e', channel: 'a b', data: 'x' }, 400, 'Invalid channel name: "a b"'],
    ['# channel', { name: 'e', channel: '#secret', data: 'x' }, 400, /Invalid channel name/],
    ['channel of 165', { name: 'e', channel: 'c'.repeat(165), data: 'x' }, 400, /Channel name too long \(max 164\)/],
    ['101 channels', { name: 'e', channels: Array.from({ length: 101 }, (_, i) => `c${i}`), data: 'x' }, 400, 'Too many channels: 101 (max 100)'],
    ['encrypted multi-channel', { name: 'e', channels: ['a', 'private-encrypted-b'], data: 'x' }, 400, /Encrypted channels/],
    ['bad socket_id', { name: 'e', channel: 'c', data: 'x', socket_id: '1.a' }, 400, 'Invalid socket_id: "1.a"'],
    ['unknown info', { name: 'e', channel: 'c', data: 'x', info: 'cache' }, 400, 'Unsupported info attribute: "cache"'],
    ['data over 10 KB', { name: 'e', channel: 'c', data: 'x'.repeat(10_241) }, 413, 'Event data too large: 10241 bytes (max 10240)'],
    ['data over 10 KB in UTF-8', { name: 'e', channel: 'c', data: 'é'.repeat(5121) }, 413, /10242 bytes/],
    ['object data over 10 KB', { name: 'e', channel: 'c', data: { s: 'x'.repeat(10_240) } }, 413, /Event data too large/],
  ];

  it.each(refusals)('refuses %s (%#) and delivers nothing', async (_, body, status, error) => {
    const h = unitHarness();
    const res = await h.signed('POST', '/apps/app-id/events', body);
    expect(res.status).toBe(status);
    expect(res.body.error).toEqual(typeof error === 'string' ? error : expect.stringMatching(error));
    expect(Object.keys(res.body)).toEqual(['error']);
    expect(h.deliveries).toEqual([]);
    expect(h.stats.httpCalls.get(`events ${status}`)).toBe(1);
  });

  it('honours the app limits', async () => {
    const h = unitHarness({ app: { maxEventDataSize: 5, maxChannelsPerTrigger: 2, maxEventNameLength: 3, maxChannelNameLength: 4 } });
    expect((await h.signed('POST', '/apps/app-id/events', { name: 'e', channel: 'c', data: '123456' })).status).toBe(413);
    expect((await h.signed('POST', '/apps/app-id/events', { name: 'e', channels: ['a', 'b', 'c'], data: '' })).status).toBe(400);
    expect((await h.signed('POST', '/apps/app-id/events', { name: 'long', channel: 'c', data: '' })).status).toBe(400);
    expect((await h.signed('POST', '/apps/app-id/events', { name: 'e', channel: 'chann', data: '' })).status).toBe(400);
    expect((await h.signed('POST', '/apps/app-id/events', { name: 'e', channels: ['a', 'b'], data: '12345' })).status).toBe(200);
  });
});

describe('POST /batch_events', () => {
  const item = (i: number, extra: object = {}) => ({ channel: `c${i}`, name: `e${i}`, data: `d${i}`, ...extra });

  it('delivers up to 10 events and answers {}', async () => {
    const h = unitHarness();
    const res = await h.signed('POST', '/apps/app-id/batch_events', { batch: Array.from({ length: 10 }, (_, i) => item(i)) });
    expect(res).toMatchObject({ status: 200, raw: '{}' });
    expect(h.deliveries.map((d) => d.frame)).toEqual(Array.from({ length: 10 }, (_, i) => event(`c${i}`, `e${i}`, `d${i}`)));
  });

  it('answers info index-aligned', async () => {
    const h = unitHarness();
    const conn = h.connect();
    h.subscribe(conn, 'presence-b', 'u7');
    h.subscribe(conn, 'a');
    const res = await h.signed('POST', '/apps/app-id/batch_events', {
      batch: [
        { channel: 'a', name: 'e1', data: '{"x":1}', info: 'subscription_count' },
        { channel: 'z', name: 'e1', data: 'x' },
        { channel: 'presence-b', name: 'e2', data: '"str"', info: 'user_count,subscription_count' },
      ],
    });
    expect(res.body).toEqual({ batch: [{ subscription_count: 1 }, {}, { user_count: 1, subscription_count: 1 }] });
    expect(h.deliveries).toHaveLength(3);
  });

  it.each([
    ['11 events', { batch: Array.from({ length: 11 }, (_, i) => item(i)) }, 400, 'Too many events in batch: 11 (max 10)'],
    ['no batch', {}, 400, 'Missing batch'],
    ['batch not an array', { batch: {} }, 400, 'batch must be an array'],
    ['an item not an object', { batch: [item(0), 'x'] }, 400, 'batch[1]: must be a JSON object'],
    ['an item without channel', { batch: [item(0), { name: 'e', data: 'x' }] }, 400, 'batch[1]: Missing channel'],
    ['an item with a reserved name', { batch: [item(0), item(1, { name: 'pusher:x' })] }, 400, /^batch\[1\]: Event names/],
    ['an item with a bad channel', { batch: [item(0), item(1, { channel: 'a:b' })] }, 400, /^batch\[1\]: Invalid channel name/],
    ['an item with a bad socket_id', { batch: [item(0, { socket_id: 'x' })] }, 400, /^batch\[0\]: Invalid socket_id/],
    ['an item over the data limit', { batch: [item(0), item(1, { data: 'x'.repeat(10_241) })] }, 413, /^batch\[1\]: Event data too large/],
  ] as const)('refuses %s and delivers nothing', async (_, body, status, error) => {
    const h = unitHarness();
    const res = await h.signed('POST', '/apps/app-id/batch_events', body);
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: typeof error === 'string' ? error : expect.stringMatching(error) });
    expect(h.deliveries).toEqual([]);
  });

  // The depth scan runs only on bodies long enough to nest past the cap (two bytes per level).
  // Depth counts the body object: `x` adds `levels` more.
  const nestedBatch = (levels: number) => `{"batch":[${JSON.stringify(item(0))}],"x":${'['.repeat(levels)}${']'.repeat(levels)}}`;

  it('accepts unknown fields nested 1000 levels deep, the most the cap allows', async () => {
    const h = unitHarness();
    expect(await h.signed('POST', '/apps/app-id/batch_events', nestedBatch(999))).toMatchObject({ status: 200 });
    expect(h.deliveries).toHaveLength(1);
  });

  it.each([
    ['nested past the cap', nestedBatch(1000), 'JSON in request body is nested deeper than 1000 levels'],
    ['short, more than 1000 openers and not JSON', '['.repeat(1500), 'Invalid JSON in request body'],
  ])('refuses a body %s with a 400 and delivers nothing', async (_, body, error) => {
    const h = unitHarness();
    const res = await h.signed('POST', '/apps/app-id/batch_events', body);
    expect(res).toMatchObject({ status: 400, body: { error } });
    expect(h.deliveries).toEqual([]);
  });
});

describe('GET /channels', () => {
  function populated() {
    const h = unitHarness();
    const a = h.connect();
    const b = h.connect();
    h.subscribe(a, 'presence-one', 'u1');
    h.subscribe(b, 'presence-one', 'u2');
    h.subscribe(a, 'presence-two', 'u1');
    h.subscribe(a, 'private-x');
    h.subscribe(b, 'public');
    h.subscribe(b, '#server-to-user-u2');
    h.subscribe(a, 'gone');
    h.adapter.unsubscribe(a, 'gone');
    return h;
  }

  it('lists occupied channels only, never user channels', async () => {
    const h = populated();
    const res = await h.signed('GET', '/apps/app-id/channels');
    expect(res.body).toEqual({ channels: { 'presence-one': {}, 'presence-two': {}, 'private-x': {}, public: {} } });
  });

  it('filters by prefix and reports user_count / subscription_count', async () => {
    const h = populated();
    const res = await h.signed('GET', '/apps/app-id/channels', undefined, { filter_by_prefix: 'presence-', info: 'user_count' });
    expect(res.body).toEqual({ channels: { 'presence-one': { user_count: 2 }, 'presence-two': { user_count: 1 } } });
    const subs = await h.signed('GET', '/apps/app-id/channels', undefined, { filter_by_prefix: 'p', info: 'subscription_count' });
    expect(subs.body).toEqual({
      channels: { 'presence-one': { subscription_count: 2 }, 'presence-two': { subscription_count: 1 }, 'private-x': { subscription_count: 1 }, public: { subscription_count: 1 } },
    });
  });

  it('refuses user_count without a presence- prefix and unknown attributes', async () => {
    const h = populated();
    for (const params of [{ info: 'user_count' }, { info: 'user_count', filter_by_prefix: 'private-' }] as Record<string, string>[]) {
      const res = await h.signed('GET', '/apps/app-id/channels', undefined, params);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'info=user_count requires filter_by_prefix starting with presence-' });
    }
    expect((await h.signed('GET', '/apps/app-id/channels', undefined, { info: 'cache' })).status).toBe(400);
  });
});

describe('GET /channels/{name}', () => {
  it('always reports occupied, with counts (0 when empty)', async () => {
    const h = unitHarness();
    const a = h.connect();
    const b = h.connect();
    h.subscribe(a, 'presence-room', 'u1');
    h.subscribe(b, 'presence-room', 'u1');
    const res = await h.signed('GET', '/apps/app-id/channels/presence-room', undefined, { info: 'user_count,subscription_count' });
    expect(res.body).toEqual({ occupied: true, user_count: 1, subscription_count: 2 });
    expect((await h.signed('GET', '/apps/app-id/channels/empty')).body).toEqual({ occupied: false });
    const empty = await h.signed('GET', '/apps/app-id/channels/presence-x', undefined, { info: 'user_count' });
    expect(empty.body).toEqual({ occupied: false, user_count: 0 });
    expect((await h.signed('GET', '/apps/app-id/channels/pub', undefined, { info: 'subscription_count' })).body).toEqual({
      occupied: false,
      subscription_count: 0,
    });
  });

  it('reports the cached event with its remaining ttl, or null', async () => {
    const h = unitHarness({ app: { cacheTtl: 60 } });
    const none = await h.signed('GET', '/apps/app-id/channels/cache-prices', undefined, { info: 'cache' });
    expect(none.body).toEqual({ occupied: false, cache: null });
    // The local adapter's cache runs on the real clock; keep ours beside it.
    h.clock.now = Date.now();
    await h.signed('POST', '/apps/app-id/events', { name: 'p', channel: 'cache-prices', data: '{"price":1}' });
    h.clock.now += 10_500;
    const res = await h.signed('GET', '/apps/app-id/channels/cache-prices', undefined, { info: 'cache' });
    expect(res.body).toEqual({ occupied: false, cache: { data: '{"price":1}', ttl: 50 } });
  });

  it.each([
    ['user_count on a public channel', 'public', 'user_count', 'info=user_count is only available for presence channels'],
    ['user_count on a private channel', 'private-x', 'user_count', 'info=user_count is only available for presence channels'],
    ['cache on a non-cache channel', 'presence-x', 'cache', 'info=cache is only available for cache channels'],
    ['an unknown attribute', 'public', 'members', 'Unsupported info attribute: "members"'],
    ['an invalid channel name', 'a%20b', '', 'Invalid channel name: "a b"'],
  ])('refuses %s with 400', async (_, channel, info, error) => {
    const h = unitHarness();
    const res = await h.signed('GET', `/apps/app-id/channels/${channel}`, undefined, info ? { info } : {});
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error });
  });
});

describe('GET /channels/{name}/users', () => {
  it('lists distinct user ids of a presence channel', async () => {
    const h = unitHarness();
    const a = h.connect();
    const b = h.connect();
    h.subscribe(a, 'presence-room', '1');
    h.subscribe(b, 'presence-room', '1');
    h.subscribe(b, 'presence-room', '2');
    const res = await h.signed('GET', '/apps/app-id/channels/presence-room/users');
    expect(res.body).toEqual({ users: [{ id: '1' }, { id: '2' }] });
    expect((await h.signed('GET', '/apps/app-id/channels/presence-empty/users')).body).toEqual({ users: [] });
  });

  it('refuses non-presence channels with 400', async () => {
    const h = unitHarness();
    const res = await h.signed('GET', '/apps/app-id/channels/private-x/users');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'Users are only available for presence channels' });
  });
});

describe('POST /users/{id}/terminate_connections', () => {
  it('closes every connection signed in as that user with 4009 and nothing else', async () => {
    const h = unitHarness();
    const [a, b, c, d] = [h.connect(), h.connect(), h.connect(), h.connect()];
    h.signIn(a, '42');
    h.signIn(b, '42');
    h.signIn(c, '7');
    h.subscribe(d, 'presence-room', '42'); // a presence member only, not signed in
    const res = await h.signed('POST', '/apps/app-id/users/42/terminate_connections', {});
    expect(res).toMatchObject({ status: 200, raw: '{}' });
    for (const conn of [a, b]) {
      expect(conn.closed).toEqual({ code: 4009, reason: 'Connection is unauthorized' });
      expect(conn.sent).toEqual(['{"event":"pusher:error","data":{"code":4009,"message":"Connection is unauthorized"}}']);
    }
    expect(c.closed).toBeUndefined();
    expect(d.closed).toBeUndefined();
    expect(h.stats.httpCalls.get('terminate 200')).toBe(1);
  });
});

describe('GET /connections', () => {
  it('counts this app’s connections', async () => {
    const h = unitHarness();
    h.connect();
    h.connect();
    expect((await h.signed('GET', '/apps/app-id/connections')).body).toEqual({ connections: 2 });
  });
});

describe('POST /api/broadcast', () => {
  const apps = [
    { id: 'one', key: 'k1', secret: 's1', apiKeys: ['first-key'] },
    { id: 'two', key: 'k2', secret: 's2', apiKeys: ['second-key', 'other'] },
    { id: 'off', key: 'k3', secret: 's3', apiKeys: ['off-key'], enabled: false },
  ];
  const post = (h: ReturnType<typeof unitHarness>, body: unknown, key?: string) =>
    h.request('POST', '/api/broadcast', '', typeof body === 'string' ? body : JSON.stringify(body), key === undefined ? {} : { 'x-api-key': key });

  it('is off (404) unless an app has an API key', async () => {
    const h = unitHarness();
    const res = await post(h, { channel: 'c', event: 'e', data: 'x' }, 'anything');
    expect(res).toMatchObject({ status: 404, body: { error: 'Not found' } });
    expect(h.deliveries).toEqual([]);
  });

  it('publishes to the app owning the key and reports local recipients', async () => {
    const h = unitHarness({ apps });
    const [a, b, c] = [h.connect('two'), h.connect('two'), h.connect('one')];
    h.subscribe(a, 'news');
    h.subscribe(b, 'news');
    h.subscribe(c, 'news');
    const res = await post(h, { channel: 'news', event: 'update', data: { n: 1 }, timestamp: 1700000000 }, 'second-key');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, message: 'Message broadcasted successfully', recipients: 2 });
    expect(h.deliveries).toEqual([{ topic: 'two:news', frame: event('news', 'update', '{"n":1}') }]);
    const excluded = await post(h, { channel: 'news', event: 'update', data: 'raw', socket_id: a.socketId }, 'other');
    expect(excluded.body.recipients).toBe(1);
    expect(h.deliveries[1]).toEqual({ topic: 'two:news', frame: event('news', 'update', 'raw'), except: a.socketId });
    expect((await post(h, { channel: 'nobody', event: 'e', data: 'x' }, 'first-key')).body.recipients).toBe(0);
  });

  it.each([
    ['a missing key', { channel: 'c', event: 'e', data: 'x' }, undefined, 401, 'Missing X-API-Key header'],
    ['a wrong key', { channel: 'c', event: 'e', data: 'x' }, 'first-keyX', 401, 'Invalid API key'],
    ['a disabled app', { channel: 'c', event: 'e', data: 'x' }, 'off-key', 403, 'Application disabled'],
    ['invalid JSON', '{', 'first-key', 400, 'Invalid JSON in request body'],
    ['a missing channel', { event: 'e', data: 'x' }, 'first-key', 400, 'Missing channel'],
    ['a missing event', { channel: 'c', data: 'x' }, 'first-key', 400, 'Missing event'],
    ['missing data', { channel: 'c', event: 'e' }, 'first-key', 400, 'Missing data'],
    ['a bad channel', { channel: 'a b', event: 'e', data: 'x' }, 'first-key', 400, 'Invalid channel name: "a b"'],
    ['a reserved event', { channel: 'c', event: 'pusher:x', data: 'x' }, 'first-key', 400, "Event names starting with 'pusher:' are reserved"],
    ['a bad socket_id', { channel: 'c', event: 'e', data: 'x', socket_id: 'abc' }, 'first-key', 400, 'Invalid socket_id: "abc"'],
    ['oversized data', { channel: 'c', event: 'e', data: 'x'.repeat(10_241) }, 'first-key', 413, /Event data too large/],
  ] as const)('refuses %s', async (_, body, key, status, error) => {
    const h = unitHarness({ apps });
    const res = await post(h, body, key);
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: typeof error === 'string' ? error : expect.stringMatching(error) });
    expect(h.deliveries).toEqual([]);
    expect(h.stats.httpCalls.get(`broadcast ${status}`)).toBe(1);
  });

  it('is rate limited per app', async () => {
    const h = unitHarness({ apps: [{ ...apps[0]!, restRateLimit: 1 }] });
    expect((await post(h, { channel: 'c', event: 'e', data: 'x' }, 'first-key')).status).toBe(200);
    const res = await post(h, { channel: 'c', event: 'e', data: 'x' }, 'first-key');
    expect(res.status).toBe(429);
    expect(res.headers['Retry-After']).toBe('1');
  });
});

describe('health and routing', () => {
  it('answers /up, /, /ready and /api/health; / and /ready are 503 while draining', async () => {
    const h = unitHarness();
    expect(await h.request('GET', '/up')).toMatchObject({ status: 200, body: { health: 'OK' } });
    expect(await h.request('GET', '/')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await h.request('GET', '/ready')).toMatchObject({ status: 200, body: { status: 'ok' } });
    const health = await h.request('GET', '/api/health');
    expect(health.body).toMatchObject({ status: 'ok', uptime: 42, connections: 0, draining: false });
    h.state.draining = true;
    expect(await h.request('GET', '/')).toMatchObject({ status: 503, body: { status: 'draining' } });
    expect(await h.request('GET', '/ready')).toMatchObject({ status: 503, body: { status: 'draining' } });
    expect((await h.request('GET', '/up')).status).toBe(200);
    expect((await h.request('HEAD', '/ready')).status).toBe(503);
    expect((await h.request('HEAD', '/ready')).raw).toBe('');
    expect(h.stats.httpCalls.get('health 503')).toBe(4);
  });

  it('mounts health routes under the prefix', async () => {
    const h = unitHarness({ server: { pathPrefix: '/ws' } });
    expect((await h.request('GET', '/ws')).status).toBe(200);
    expect((await h.request('GET', '/ws/')).status).toBe(200);
    expect((await h.request('GET', '/ws/up')).status).toBe(200);
    expect((await h.request('GET', '/up')).status).toBe(404);
  });

  it('answers 405 with Allow for a known path and another method, 404 otherwise', async () => {
    const h = unitHarness();
    const wrong = await h.request('GET', '/apps/app-id/events');
    expect(wrong).toMatchObject({ status: 405, body: { error: 'Method not allowed' }, headers: { Allow: 'POST' } });
    expect((await h.request('DELETE', '/apps/app-id/channels')).headers.Allow).toBe('GET');
    expect((await h.request('POST', '/up')).headers.Allow).toBe('GET, HEAD');
    expect(await h.request('GET', '/apps/app-id/nothing')).toMatchObject({ status: 404, body: { error: 'Not found' } });
    expect(h.stats.httpCalls.get('events 405')).toBe(1);
    expect(h.stats.httpCalls.get('not_found 404')).toBe(1);
  });

  it('turns a throwing endpoint into a logged 500', async () => {
    const h = unitHarness();
    h.adapter.channels = async () => {
      throw new Error('boom');
    };
    const res = await h.signed('GET', '/apps/app-id/channels');
    expect(res).toMatchObject({ status: 500, body: { error: 'Internal server error' } });
    expect(h.stats.httpCalls.get('channels 500')).toBe(1);
  });
});
