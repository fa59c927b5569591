/**
 * Every refusal of the HTTP API over real HTTP against a real Herald: the status on the wire,
 * the JSON body, and that a pusher-js client subscribed to the targeted channel received nothing.
 *
 * "Nothing delivered" is proven with a sentinel: after each refused request a valid event is
 * published to the same channel; events reach the client in order, so the sentinel must be the
 * first thing the client sees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel } from 'pusher-js';
import { signRestQuery } from '../../protocol/signing.js';
import { disconnectAll, pusherClient, recorder, type Pusher, type Recorder } from '../helpers/clients.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';


const MAIN = { id: 'app-id', key: 'app-key', secret: 'app-secret' };
const DISABLED = { id: 'off-id', key: 'off-key', secret: 'off-secret', enabled: false };
const LIMITED = { id: 'slow-id', key: 'slow-key', secret: 'slow-secret', restRateLimit: 2 };

let h: TestHerald;
let client: Pusher;
let news: Channel;
let seen: Recorder<{ event: string; data: unknown }>;
let sentinels = 0;

beforeAll(async () => {
  h = await startHerald({ apps: [MAIN, DISABLED, LIMITED] });
  client = pusherClient(h);
  news = client.subscribe('news');
  const ok = recorder('subscribed');
  news.bind('pusher:subscription_succeeded', ok.fn);
  await ok.next();
  seen = recorder('news event');
  news.bind_global((event: string, data: unknown) => seen.fn({ event, data }));
});
afterAll(async () => {
  disconnectAll();
  await h?.stop();
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

interface Sign {
  app?: { id: string; key: string; secret: string };
  key?: string;
  secret?: string;
  timestamp?: number;
  params?: Record<string, string>;
}

/** A request signed the way the official SDKs sign it. */
async function call(method: string, path: string, body?: unknown, sign: Sign = {}) {
  const app = sign.app ?? MAIN;
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  const query = signRestQuery(method, path, sign.key ?? app.key, sign.secret ?? app.secret, text, sign.timestamp ?? nowSeconds(), sign.params);
  return send(method, `${path}?${query}`, text);
}

async function send(method: string, pathAndQuery: string, body = '', headers: Record<string, string> = {}) {
  const res = await fetch(`${h.url}${pathAndQuery}`, {
    method,
    body: body === '' ? undefined : body,
    headers: body === '' ? headers : { 'content-type': 'application/json', ...headers },
  });
  const raw = await res.text();
  return { status: res.status, headers: res.headers, raw, body: raw === '' ? undefined : JSON.parse(raw) };
}

/** Publishes a sentinel to `news` and checks it is the first event the client got since the last check. */
async function expectNothingDelivered() {
  const marker = `sentinel-${++sentinels}`;
  const res = await call('POST', `/apps/${MAIN.id}/events`, { name: marker, channel: 'news', data: '{}' });
  expect(res.status).toBe(200);
  expect((await seen.next()).event).toBe(marker);
}

function expectRefusal(res: Awaited<ReturnType<typeof send>>, status: number, error: string | RegExp) {
  expect(res.status, res.raw).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/json');
  expect(res.body).toEqual({ error: typeof error === 'string' ? error : expect.stringMatching(error) });
}

const valid = { name: 'update', channel: 'news', data: '{"ok":true}' };

describe('signing', () => {
  it('delivers a correctly signed trigger (control)', async () => {
    const res = await call('POST', '/apps/app-id/events', valid);
    expect(res).toMatchObject({ status: 200, raw: '{}' });
    expect(await seen.next()).toEqual({ event: 'update', data: { ok: true } });
  });

  it('401 for a wrong secret', async () => {
    expectRefusal(await call('POST', '/apps/app-id/events', valid, { secret: 'wrong' }), 401, 'Invalid signature');
    await expectNothingDelivered();
  });

  it('401 for another app’s key', async () => {
    expectRefusal(await call('POST', '/apps/app-id/events', valid, { key: 'slow-key', secret: 'slow-secret' }), 401, 'Unknown auth_key: slow-key');
    await expectNothingDelivered();
  });

  it('401 for a stale and a future timestamp (601 s)', async () => {
    for (const offset of [-601, 601]) {
      const res = await call('POST', '/apps/app-id/events', valid, { timestamp: nowSeconds() + offset });
      expectRefusal(res, 401, /^Timestamp expired: Given timestamp \(\d+\) not within 600s of server time \(\d+\)$/);
    }
    await expectNothingDelivered();
  });

  it('401 for a body changed after signing', async () => {
    const query = signRestQuery('POST', '/apps/app-id/events', MAIN.key, MAIN.secret, JSON.stringify(valid), nowSeconds());
    const res = await send('POST', `/apps/app-id/events?${query}`, JSON.stringify({ ...valid, data: 'tampered' }));
    expectRefusal(res, 401, 'body_md5 does not match the request body');
    await expectNothingDelivered();
  });

  it('401 for an unsigned request', async () => {
    expectRefusal(await send('POST', '/apps/app-id/events', JSON.stringify(valid)), 401, 'Missing auth_key');
    await expectNothingDelivered();
  });

  it('accepts a percent-encoded query (Guzzle) and query-string trigger params', async () => {
    const query = signRestQuery('GET', '/apps/app-id/channels/news', MAIN.key, MAIN.secret, '', nowSeconds(), { info: 'subscription_count' });
    const encoded = await send('GET', `/apps/app-id/channels/news?${query.replace('info=subscription_count', 'info=subscription%5Fcount')}`);
    expect(encoded.body).toEqual({ occupied: true, subscription_count: 1 });
    const res = await call('POST', '/apps/app-id/events', { data: '"q"' }, { params: { name: 'from-query', channel: 'news' } });
    expect(res.status).toBe(200);
    expect(await seen.next()).toEqual({ event: 'from-query', data: 'q' });
  });
});

describe('apps', () => {
  it('404 for an unknown app id', async () => {
    expectRefusal(await call('POST', '/apps/nope/events', valid), 404, 'Unknown app id: nope');
    await expectNothingDelivered();
  });

  it('403 for a disabled app', async () => {
    expectRefusal(await call('POST', '/apps/off-id/events', valid, { app: DISABLED }), 403, 'Application disabled');
    expectRefusal(await call('GET', '/apps/off-id/channels', undefined, { app: DISABLED }), 403, 'Application disabled');
  });

  it('429 with Retry-After over the app’s rate limit; other apps unaffected', async () => {
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof send>> | undefined;
    for (let i = 0; i < 4; i++) {
      const res = await call('GET', '/apps/slow-id/channels', undefined, { app: LIMITED });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses).toContain(429);
    expectRefusal(limited!, 429, 'Too many requests');
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await call('GET', '/apps/app-id/channels')).status).toBe(200);
  });
});

describe('POST /events bodies', () => {
  const cases: [string, unknown, number, string | RegExp][] = [
    ['bad JSON', '{"name":"update",', 400, 'Invalid JSON in request body'],
    ['a missing name', { channel: 'news', data: 'x' }, 400, 'Missing name'],
    ['missing data', { name: 'update', channel: 'news' }, 400, 'Missing data'],
    ['no channel', { name: 'update', data: 'x' }, 400, 'Missing channel or channels'],
    ['a bad channel name', { name: 'update', channels: ['news', 'bad channel'], data: 'x' }, 400, 'Invalid channel name: "bad channel"'],
    ['a # channel', { name: 'update', channels: ['news', '#news'], data: 'x' }, 400, 'Invalid channel name: "#news"'],
    ['a 165-character channel', { name: 'update', channels: ['news', 'c'.repeat(165)], data: 'x' }, 400, /^Channel name too long \(max 164\)/],
    ['a pusher: event name', { ...valid, name: 'pusher:subscribe' }, 400, "Event names starting with 'pusher:' are reserved"],
    ['a pusher_internal: event name', { ...valid, name: 'pusher_internal:member_added' }, 400, "Event names starting with 'pusher_internal:' are reserved"],
    ['a 201-character event name', { ...valid, name: 'e'.repeat(201) }, 400, 'Event name too long (max 200)'],
    ['101 channels', { ...valid, channel: undefined, channels: ['news', ...Array.from({ length: 100 }, (_, i) => `c${i}`)] }, 400, 'Too many channels: 101 (max 100)'],
    ['an encrypted channel among several', { ...valid, channel: undefined, channels: ['news', 'private-encrypted-x'] }, 400, /^Encrypted channels cannot/],
    ['a bad socket_id', { ...valid, socket_id: '123' }, 400, 'Invalid socket_id: "123"'],
    ['an unknown info attribute', { ...valid, info: 'occupied' }, 400, 'Unsupported info attribute: "occupied"'],
    ['data of 10 KB + 1 byte', { ...valid, data: 'x'.repeat(10_241) }, 413, 'Event data too large: 10241 bytes (max 10240)'],
    ['data over 10 KB counted in UTF-8 bytes', { ...valid, data: '€'.repeat(3414) }, 413, 'Event data too large: 10242 bytes (max 10240)'],
  ];

  it.each(cases)('refuses %s', async (_, body, status, error) => {
    expectRefusal(await call('POST', '/apps/app-id/events', body), status, error);
    await expectNothingDelivered();
  });

  it('accepts 100 channels, a 200-character name and exactly 10 KB of data', async () => {
    const channels = ['news', ...Array.from({ length: 99 }, (_, i) => `c${i}`)];
    expect((await call('POST', '/apps/app-id/events', { name: 'e'.repeat(200), channels, data: 'x'.repeat(10_240) })).status).toBe(200);
    expect((await seen.next()).event).toBe('e'.repeat(200));
  });
});

describe('POST /batch_events bodies', () => {
  const item = (i: number) => ({ channel: 'news', name: `batch-${i}`, data: String(i) });
  const cases: [string, unknown, number, string | RegExp][] = [
    ['11 events', { batch: Array.from({ length: 11 }, (_, i) => item(i)) }, 400, 'Too many events in batch: 11 (max 10)'],
    ['a bad item after good ones', { batch: [item(0), item(1), { ...item(2), name: 'pusher:x' }] }, 400, /^batch\[2\]: Event names starting/],
    ['an item without a channel', { batch: [item(0), { name: 'x', data: 'y' }] }, 400, 'batch[1]: Missing channel'],
    ['an oversized item', { batch: [item(0), { ...item(1), data: 'x'.repeat(10_241) }] }, 413, /^batch\[1\]: Event data too large/],
    ['bad JSON', '{"batch":[', 400, 'Invalid JSON in request body'],
  ];

  it.each(cases)('refuses %s', async (_, body, status, error) => {
    expectRefusal(await call('POST', '/apps/app-id/batch_events', body), status, error);
    await expectNothingDelivered();
  });

  it('accepts 10 events', async () => {
    expect((await call('POST', '/apps/app-id/batch_events', { batch: Array.from({ length: 10 }, (_, i) => item(i)) })).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await seen.next()).event).toBe(`batch-${i}`);
  });
});

describe('queries', () => {
  it('400 for user_count without a presence- prefix', async () => {
    const res = await call('GET', '/apps/app-id/channels', undefined, { params: { info: 'user_count' } });
    expectRefusal(res, 400, 'info=user_count requires filter_by_prefix starting with presence-');
  });

  it('400 for user_count or cache on a channel without them, and users of a non-presence channel', async () => {
    expectRefusal(await call('GET', '/apps/app-id/channels/news', undefined, { params: { info: 'user_count' } }), 400, 'info=user_count is only available for presence channels');
    expectRefusal(await call('GET', '/apps/app-id/channels/news', undefined, { params: { info: 'cache' } }), 400, 'info=cache is only available for cache channels');
    expectRefusal(await call('GET', '/apps/app-id/channels/news/users'), 400, 'Users are only available for presence channels');
  });
});

describe('routing and transport limits', () => {
  it('404 for unknown routes, 405 with Allow for a known route and another method', async () => {
    expectRefusal(await call('GET', '/apps/app-id/nothing'), 404, 'Not found');
    expectRefusal(await send('GET', '/favicon.ico'), 404, 'Not found');
    const wrong = await call('GET', '/apps/app-id/events');
    expectRefusal(wrong, 405, 'Method not allowed');
    expect(wrong.headers.get('allow')).toBe('POST');
    const put = await call('PUT', '/apps/app-id/channels', { a: 1 });
    expectRefusal(put, 405, 'Method not allowed');
    expect(put.headers.get('allow')).toBe('GET');
  });

  it('413 for a request body over maxRequestSize, before it is buffered', async () => {
    const big = JSON.stringify({ ...valid, data: 'x'.repeat(300_000) });
    expectRefusal(await call('POST', '/apps/app-id/events', big), 413, 'Request body exceeds 262144 bytes');
    await expectNothingDelivered();
  });
});
