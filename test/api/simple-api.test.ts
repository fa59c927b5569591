/**
 * The simple broadcast API (`POST /api/broadcast` + `X-API-Key`), the health routes and a path
 * prefix (Reverb's REVERB_SERVER_PATH), end to end with pusher-js clients.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Channel } from 'pusher-js';
import { signRestQuery } from '../../protocol/signing.js';
import { connected, disconnectAll, disconnectAllAndWait, listen, pusherClient, recorder, subscribed } from '../helpers/clients.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';



async function http(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const raw = await res.text();
  return { status: res.status, headers: res.headers, raw, body: raw === '' ? undefined : JSON.parse(raw) };
}

describe('POST /api/broadcast', () => {
  let h: TestHerald;
  beforeAll(async () => {
    h = await startHerald({
      apps: [
        { id: 'app-id', key: 'app-key', secret: 'app-secret', apiKeys: ['key-one', 'key-one-b'] },
        { id: 'two', key: 'two-key', secret: 'two-secret', apiKeys: ['key-two'] },
      ],
    });
  });
  afterEach(async () => {
    await disconnectAllAndWait(h);
  });
  afterAll(async () => h?.stop());

  const broadcast = (body: unknown, key?: string) =>
    http(`${h.url}/api/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'X-API-Key': key }) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('delivers to the key’s app and reports the local recipients', async () => {
    const [a, b, other] = [pusherClient(h), pusherClient(h), pusherClient(h, undefined, undefined, {}, 'two-key')];
    const [chA, chB, chOther] = await Promise.all([subscribed(a, 'orders'), subscribed(b, 'orders'), subscribed(other, 'orders')]);
    const [gotA, gotB, gotOther] = [listen(chA, 'created'), listen(chB, 'created'), listen(chOther, 'created')];

    const res = await broadcast({ channel: 'orders', event: 'created', data: { id: 1 }, timestamp: Date.now() }, 'key-one');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, message: 'Message broadcasted successfully', recipients: 2 });
    expect(await gotA.next()).toEqual({ id: 1 });
    expect(await gotB.next()).toEqual({ id: 1 });

    const socketId = await connected(a);
    const excluded = await broadcast({ channel: 'orders', event: 'created', data: 'text', socket_id: socketId }, 'key-one-b');
    expect(excluded.body.recipients).toBe(1);
    expect(await gotB.next()).toBe('text');

    expect((await broadcast({ channel: 'orders', event: 'created', data: 2 }, 'key-two')).body.recipients).toBe(1);
    expect(await gotOther.next()).toBe(2);
    await gotA.none(200);
    expect((await broadcast({ channel: 'empty', event: 'e', data: 'x' }, 'key-two')).body.recipients).toBe(0);
  });

  it.each([
    ['no key', undefined, { channel: 'orders', event: 'e', data: 'x' }, 401, 'Missing X-API-Key header'],
    ['a wrong key', 'key-on', { channel: 'orders', event: 'e', data: 'x' }, 401, 'Invalid API key'],
    ['a Pusher app key', 'app-key', { channel: 'orders', event: 'e', data: 'x' }, 401, 'Invalid API key'],
    ['bad JSON', 'key-one', '{', 400, 'Invalid JSON in request body'],
    ['a bad channel', 'key-one', { channel: 'or ders', event: 'e', data: 'x' }, 400, 'Invalid channel name: "or ders"'],
    ['a reserved event', 'key-one', { channel: 'orders', event: 'pusher:x', data: 'x' }, 400, "Event names starting with 'pusher:' are reserved"],
    ['oversized data', 'key-one', { channel: 'orders', event: 'e', data: 'x'.repeat(10_241) }, 413, 'Event data too large: 10241 bytes (max 10240)'],
  ] as const)('refuses %s and delivers nothing', async (_, key, body, status, error) => {
    const p = pusherClient(h);
    const channel = await subscribed(p, 'orders');
    const any = recorder('orders event');
    channel.bind_global((event: string) => any.fn(event));
    const res = await broadcast(body, key);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.body).toEqual({ error });
    // Sentinel: a valid broadcast must be the first thing the client sees.
    await broadcast({ channel: 'orders', event: 'sentinel', data: 'x' }, 'key-one');
    expect(await any.next()).toBe('sentinel');
  });

  it('GET /api/health answers status and uptime', async () => {
    const res = await http(`${h.url}/api/health`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', uptime: expect.any(Number), draining: false });
  });
});

describe('without API keys', () => {
  it('the broadcast API is off (404)', async () => {
    const h = await startHerald();
    try {
      const res = await http(`${h.url}/api/broadcast`, { method: 'POST', headers: { 'X-API-Key': 'x' }, body: '{}' });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: 'Not found' });
    } finally {
      await h.stop();
    }
  });
});

describe('health routes', () => {
  it('answers /up, / and /ready', async () => {
    const h = await startHerald();
    try {
      expect(await http(`${h.url}/up`)).toMatchObject({ status: 200, body: { health: 'OK' } });
      expect(await http(`${h.url}/`)).toMatchObject({ status: 200, body: { status: 'ok' } });
      expect(await http(`${h.url}/ready`)).toMatchObject({ status: 200, body: { status: 'ok' } });
      expect((await http(`${h.url}/ready`, { method: 'HEAD' })).status).toBe(200);
      expect((await http(`${h.url}/up`, { method: 'POST' })).status).toBe(405);
    } finally {
      await h.stop();
    }
  });
});

describe('path prefix', () => {
  let h: TestHerald;
  beforeAll(async () => {
    h = await startHerald({ server: { pathPrefix: '/reverb' } });
  });
  afterAll(async () => {
    disconnectAll();
    await h?.stop();
  });

  it('serves WebSocket and REST under the prefix, signing the path without it', async () => {
    expect(h.url.endsWith('/reverb')).toBe(true);
    const p = pusherClient(h, undefined, undefined, { wsPath: '/reverb' });
    const got = listen(await subscribed(p, 'news'), 'hello');
    const body = JSON.stringify({ name: 'hello', channel: 'news', data: '"prefixed"' });
    const query = signRestQuery('POST', '/apps/app-id/events', 'app-key', 'app-secret', body, Math.floor(Date.now() / 1000));
    const res = await http(`${h.url}/apps/app-id/events?${query}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(res).toMatchObject({ status: 200, raw: '{}' });
    expect(await got.next()).toBe('prefixed');

    expect(await http(`${h.url}/up`)).toMatchObject({ status: 200, body: { health: 'OK' } });
    expect((await http(`${h.url}`)).status).toBe(200);
    const outside = `http://127.0.0.1:${h.port}`;
    expect((await http(`${outside}/up`)).status).toBe(404);
    expect((await http(`${outside}/apps/app-id/events?${query}`, { method: 'POST', body })).status).toBe(404);
  });
});
