import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHerald, TEST_APP, type TestHerald } from '../helpers/herald.js';
import { RawClient } from '../helpers/raw-client.js';
import { connect, expectAlive, expectRefused, finishClients, JAVA_QUERY, JS_QUERY, refused, subscribeOk, track, until } from './helpers.js';

const app = (id: string, extra: Record<string, unknown> = {}) => ({ id, key: `${id}-key`, secret: `${id}-secret`, ...extra });

let h: TestHerald;
beforeAll(async () => {
  h = await startHerald({
    apps: [
      TEST_APP,
      app('disabled', { enabled: false }),
      app('tls', { requireTls: true }),
      app('tls-disabled', { requireTls: true, enabled: false }),
      app('disabled-origin', { enabled: false, allowedOrigins: ['only.test'] }),
      app('origin', { allowedOrigins: ['example.com', '*.good.test'] }),
      app('origin-quota', { allowedOrigins: ['ok.test'], maxConnections: 1 }),
      app('quota', { maxConnections: 2 }),
      app('slow', { activityTimeout: 45 }),
      app('race', { maxConnections: 3 }),
    ],
  });
});
afterEach(finishClients);
afterAll(() => h.stop());

const path = (key: string, query = JS_QUERY) => `/app/${key}${query}`;

describe('connection_established', () => {
  it('is the first frame, with data as a JSON string holding socket_id and activity_timeout 120', async () => {
    const client = track(await RawClient.connect(h.port, path('app-key')));
    const frame = await client.next();
    expect(frame.event).toBe('pusher:connection_established');
    expect(typeof frame.data).toBe('string');
    const data = JSON.parse(frame.data as string) as Record<string, unknown>;
    expect(Object.keys(data).sort()).toEqual(['activity_timeout', 'socket_id']);
    expect(data.socket_id).toMatch(/^\d+\.\d+$/);
    expect(data.activity_timeout).toBe(120);
    expect(frame.channel).toBeUndefined();
    await expectAlive(client);
  });

  it('sends the app activityTimeout when configured', async () => {
    const client = track(await RawClient.connect(h.port, path('slow-key')));
    const frame = await client.next('pusher:connection_established');
    expect(JSON.parse(frame.data as string)).toEqual({ socket_id: expect.stringMatching(/^\d+\.\d+$/), activity_timeout: 45 });
  });

  it('gives every live connection a distinct socket_id of two safe integers', async () => {
    const conns = await Promise.all(Array.from({ length: 20 }, () => connect(h)));
    const ids = conns.map((c) => c.socketId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id).toMatch(/^\d+\.\d+$/);
      for (const part of id.split('.')) expect(Number.isSafeInteger(Number(part))).toBe(true);
    }
  });
});

describe('query parameters', () => {
  it.each(['4', '5', '6', '7'])('accepts protocol=%s', async (protocol) => {
    const { client } = await connect(h, `/app/app-key?protocol=${protocol}&client=js&version=8.6.0`);
    await expectAlive(client);
  });

  it('accepts a missing protocol (treated as 7) and an empty query', async () => {
    await expectAlive((await connect(h, '/app/app-key?client=js&version=8.6.0')).client);
    await expectAlive((await connect(h, '/app/app-key')).client);
  });

  it('accepts the Android URL (protocol=5, client=java-client)', async () => {
    const { client } = await connect(h, path('app-key', JAVA_QUERY));
    await expectAlive(client);
  });

  it('ignores unknown query parameters', async () => {
    const { client } = await connect(h, '/app/app-key?protocol=7&flash=false&foo=bar&x[]=1&&=&client=js&version=8.6.0');
    await expectAlive(client);
  });

  it.each(['1', '2', '3', '8', '70', 'abc', '7.0', '-7', ' 7'])('refuses protocol=%j with 4007', async (protocol) => {
    const client = await refused(h.port, `/app/app-key?protocol=${encodeURIComponent(protocol)}&client=js`);
    await expectRefused(client, 4007, 'Unsupported protocol version');
  });
});

describe('refusals (section 1.2): pusher:error with object data, then close with the same code', () => {
  it('unknown key → 4001', async () => {
    await expectRefused(await refused(h.port, path('no-such-key')), 4001, 'Application does not exist');
  });

  it('the app id or secret is not a key → 4001', async () => {
    await expectRefused(await refused(h.port, path('app-id')), 4001);
    await expectRefused(await refused(h.port, path('app-secret')), 4001);
  });

  it('disabled app → 4003', async () => {
    await expectRefused(await refused(h.port, path('disabled-key')), 4003, 'Application disabled');
  });

  it('TLS-only app over plain ws → 4000', async () => {
    await expectRefused(await refused(h.port, path('tls-key')), 4000, 'Application only accepts SSL connections, reconnect using wss://');
  });

  it('origin not allowed → 4009; allowed origins, wildcards and no Origin header connect', async () => {
    await expectRefused(await refused(h.port, path('origin-key'), { Origin: 'https://evil.test' }), 4009, 'Origin not allowed');
    await expectRefused(await refused(h.port, path('origin-key'), { Origin: 'https://example.com.evil.test' }), 4009);
    await expectRefused(await refused(h.port, path('origin-key'), { Origin: 'not a url' }), 4009);
    for (const origin of ['https://example.com', 'http://example.com:8080', 'https://a.good.test', 'https://a.b.good.test']) {
      const client = track(await RawClient.connect(h.port, path('origin-key'), { Origin: origin }));
      expect((await client.next()).event, origin).toBe('pusher:connection_established');
    }
    const client = track(await RawClient.connect(h.port, path('origin-key')));
    expect((await client.next()).event).toBe('pusher:connection_established');
  });

  it('app over its connection quota → 4004, and a freed slot is reusable', async () => {
    const a = await connect(h, path('quota-key'));
    await connect(h, path('quota-key'));
    await expectRefused(await refused(h.port, path('quota-key')), 4004, 'Application is over connection quota');
    // Other apps are unaffected by this app's quota.
    await expectAlive((await connect(h)).client);
    a.client.close();
    await a.client.closed;
    await until(() => h.herald.adapter.connectionCount('quota') === 1);
    await expectAlive((await connect(h, path('quota-key'))).client);
  });

  it('the quota holds under simultaneous handshakes', async () => {
    const attempts = await Promise.all(Array.from({ length: 12 }, () => refused(h.port, path('race-key'))));
    const firsts = await Promise.all(attempts.map((c) => c.next()));
    const established = firsts.filter((f) => f.event === 'pusher:connection_established');
    expect(established).toHaveLength(3);
    for (const f of firsts.filter((x) => x.event !== 'pusher:connection_established')) expect(f.data).toEqual({ code: 4004, message: expect.any(String) });
    expect(h.herald.adapter.connectionCount('race')).toBe(3);
  });

  it('a refused socket that talks before the close does not disturb the server', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}${path('no-such-key')}`);
    ws.on('open', () => {
      ws.send('{"event":"pusher:ping","data":{}}');
      ws.send('{"event":"pusher:subscribe","data":{"channel":"x"}}');
      ws.send('garbage');
      ws.send(Buffer.from([1, 2, 3]));
    });
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(4001);
    const { client } = await connect(h);
    await subscribeOk(client, 'after-refusal', '');
  });

  it('a path that is not /app/{key} is not upgraded (HTTP 404 or 4005)', async () => {
    const outcome = await new Promise<{ status?: number; code?: number }>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${h.port}/apps/app-key${JS_QUERY}`);
      ws.on('unexpected-response', (_req, res) => {
        resolve({ status: res.statusCode });
        res.resume();
        ws.terminate();
      });
      ws.on('close', (code) => resolve({ code }));
      ws.on('error', () => undefined);
    });
    if (outcome.status !== undefined) expect(outcome.status).toBe(404);
    else expect(outcome.code).toBe(4005);
  });
});

describe('order of the checks', () => {
  it('unknown key is checked before anything else', async () => {
    await expectRefused(await refused(h.port, '/app/no-such-key?protocol=2', { Origin: 'https://evil.test' }), 4001);
  });

  it('TLS (4000) before disabled (4003)', async () => {
    await expectRefused(await refused(h.port, path('tls-disabled-key')), 4000);
  });

  it('disabled (4003) before protocol (4007) and origin', async () => {
    await expectRefused(await refused(h.port, path('disabled-origin-key', '?protocol=2'), { Origin: 'https://evil.test' }), 4003);
  });

  it('protocol (4007) before origin (4009)', async () => {
    await expectRefused(await refused(h.port, path('origin-key', '?protocol=2'), { Origin: 'https://evil.test' }), 4007);
  });

  it('origin (4009) before quota (4004)', async () => {
    await connect(h, path('origin-quota-key'));
    await expectRefused(await refused(h.port, path('origin-quota-key'), { Origin: 'https://evil.test' }), 4009);
    await expectRefused(await refused(h.port, path('origin-quota-key'), { Origin: 'https://ok.test' }), 4004);
  });
});

describe('server capacity', () => {
  let full: TestHerald;
  beforeAll(async () => {
    full = await startHerald({ server: { maxConnections: 2 }, apps: [TEST_APP, app('one', { maxConnections: 1 })] });
  });
  afterAll(() => full.stop());

  it('refuses with 4100 when the node is full, after the app quota (4004) check', async () => {
    const one = await connect(full, path('one-key'));
    const other = await connect(full);
    expect(full.herald.adapter.connectionCount()).toBe(2);
    // App "one" is over its own quota and the server is full: the app quota decides.
    await expectRefused(await refused(full.port, path('one-key')), 4004);
    await expectRefused(await refused(full.port, path('app-key')), 4100, 'Over capacity');
    // Refused sockets never count as connections.
    expect(full.herald.adapter.connectionCount()).toBe(2);
    other.client.close();
    await other.client.closed;
    await until(() => full.herald.adapter.connectionCount() === 1);
    await expectAlive((await connect(full)).client);
    await expectAlive(one.client);
  });
});

