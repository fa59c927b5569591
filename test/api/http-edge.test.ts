/**
 * The HTTP edge as a hostile or careless caller meets it: exact bytes over node:net, the status
 * and JSON body on the wire, whether the connection survived, and what a subscriber received.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import PusherServer from 'pusher';
import { hmacSha256Hex, md5Hex, signRestQuery } from '../../protocol/signing.js';
import { RawHttp } from '../helpers/raw-http.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { RawClient, dataOf } from '../ws/helpers.js';

const APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' };
const now = () => Math.floor(Date.now() / 1000);

let h: TestHerald;
let watcher: RawClient;

beforeAll(async () => {
  // A short drain timeout keeps the "beyond the bound" cases fast.
  h = await startHerald({ server: { maxRequestSize: 64 * 1024, drainTimeout: 0.5 }, apps: [APP] });
  watcher = await RawClient.connect(h.port);
  await watcher.next('pusher:connection_established');
  watcher.ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'edge' } }));
  await watcher.next('pusher_internal:subscription_succeeded');
});
afterAll(async () => {
  watcher?.ws.close();
  await h?.stop();
});

function head(method: string, pathAndQuery: string, headers: Record<string, string | number> = {}): string {
  const lines = [`${method} ${pathAndQuery} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** One request on a fresh connection; the connection is returned for further checks. */
async function exchange(bytes: string | Buffer) {
  const conn = await RawHttp.connect(h.port);
  await conn.write(bytes);
  const res = await conn.response();
  return { conn, res };
}

function trigger(body: string | Buffer, mutate: (query: string) => string = (q) => q) {
  const path = `/apps/${APP.id}/events`;
  const query = mutate(signRestQuery('POST', path, APP.key, APP.secret, body, now()));
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return Buffer.concat([Buffer.from(head('POST', `${path}?${query}`, { 'Content-Type': 'application/json', 'Content-Length': bytes.length })), bytes]);
}

let marks = 0;
/** A valid event to `edge`: must be the next thing the watcher sees, so nothing refused got through. */
async function expectNothingDelivered() {
  const name = `mark-${++marks}`;
  const { conn, res } = await exchange(trigger(JSON.stringify({ name, channel: 'edge', data: 'm' })));
  conn.end();
  expect(res?.status).toBe(200);
  expect((await watcher.next()).event).toBe(name);
}

const EVENT = JSON.stringify({ name: 'e', channel: 'edge', data: 'x' });

/** A trigger path with a query that passes every check made before the body. */
const signedEvents = () => `/apps/${APP.id}/events?${signRestQuery('POST', `/apps/${APP.id}/events`, APP.key, APP.secret, 'body', now())}`;

describe('signed queries are unambiguous', () => {
  const PARAMS = ['auth_key', 'auth_signature', 'auth_timestamp', 'auth_version', 'body_md5'];

  it.each(PARAMS)('a repeated %s is 400, whichever copy comes first', async (name) => {
    for (const where of ['after', 'before'] as const) {
      const { conn, res } = await exchange(
        trigger(EVENT, (q) => {
          const pair = q.split('&').find((p) => p.startsWith(`${name}=`))!;
          const forged = `${name}=${name === 'auth_version' ? '2.0' : 'forged'}`;
          return where === 'after' ? `${q}&${forged}` : q.replace(pair, `${forged}&${pair}`);
        }),
      );
      conn.end();
      expect(res?.status).toBe(400);
      expect(JSON.parse(res!.body)).toEqual({ error: `Duplicate query parameter: "${name}"` });
    }
    await expectNothingDelivered();
  });

  it('a repeat of any other parameter, or the same name in another case, is 400 too', async () => {
    const path = `/apps/${APP.id}/channels`;
    const signed = signRestQuery('GET', path, APP.key, APP.secret, '', now(), { info: 'subscription_count' });
    for (const extra of ['info=user_count', 'INFO=subscription_count', 'auth_KEY=app-key']) {
      const { conn, res } = await exchange(head('GET', `${path}?${signed}&${extra}`));
      conn.end();
      expect(res?.status, extra).toBe(400);
      expect(JSON.parse(res!.body).error).toMatch(/^Duplicate query parameter/);
    }
  });

  it('auth_key[]= standing in for auth_key= never authenticates', async () => {
    // Signed exactly as the SDKs sign `auth_key=app-key`; only the name on the wire differs.
    const { conn, res } = await exchange(trigger(EVENT, (q) => q.replace('auth_key=', 'auth_key[]=')));
    conn.end();
    expect(res?.status).toBe(400);
    expect(JSON.parse(res!.body)).toEqual({ error: 'Query parameter "auth_key[]" must be auth_key, not an array' });
    await expectNothingDelivered();
  });

  it('a signature for a=1&b=2 does not verify a=1%262%3D… (one param that decodes to the same text)', async () => {
    const path = `/apps/${APP.id}/channels`;
    const base = `auth_key=${APP.key}&auth_timestamp=${now()}&auth_version=1.0`;
    const signature = hmacSha256Hex(APP.secret, `GET\n${path}\n${base}&filter_by_prefix=x&info=subscription_count`);
    const honest = await exchange(head('GET', `${path}?${base}&filter_by_prefix=x&info=subscription_count&auth_signature=${signature}`));
    honest.conn.end();
    expect(honest.res?.status).toBe(200);
    const forged = await exchange(head('GET', `${path}?${base}&filter_by_prefix=x%26info%3Dsubscription_count&auth_signature=${signature}`));
    forged.conn.end();
    expect(forged.res?.status).toBe(400);
    expect(JSON.parse(forged.res!.body)).toEqual({ error: `Query parameter "filter_by_prefix" has '&' in its value` });
  });

  it('malformed percent-encoding is 400, not kept literally', async () => {
    const { conn, res } = await exchange(trigger(EVENT, (q) => `${q}&x=%E0%A4%A`));
    conn.end();
    expect(res?.status).toBe(400);
    expect(JSON.parse(res!.body)).toEqual({ error: 'Malformed percent-encoding in query parameter "x"' });
  });
});

describe('bodies are what they claim', () => {
  it('a body that is not UTF-8 is 400, not repaired with U+FFFD', async () => {
    const body = Buffer.concat([Buffer.from('{"name":"e","channel":"edge","data":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    expect(md5Hex(body)).not.toBe(md5Hex(body.toString('utf8')));
    const { conn, res } = await exchange(trigger(body));
    conn.end();
    expect(res?.status).toBe(400);
    expect(JSON.parse(res!.body)).toEqual({ error: 'Request body is not valid UTF-8' });
    await expectNothingDelivered();
  });

  it('deeply nested unknown fields are accepted and the event delivered', async () => {
    const deep = '['.repeat(900) + ']'.repeat(900);
    const nested = '{"a":'.repeat(90) + '1' + '}'.repeat(90);
    const { conn, res } = await exchange(trigger(`{"name":"deep","channel":"edge","data":"d","extra":${deep},"more":${nested}}`));
    conn.end();
    expect(res?.status, res?.body).toBe(200);
    expect(await watcher.next()).toMatchObject({ event: 'deep', channel: 'edge', data: 'd' });
  });

  it('nesting beyond 1000 levels is 400 after one linear pass (JSON.parse would take its time)', async () => {
    const body = `{"name":"e","channel":"edge","data":"x","extra":${"[".repeat(30_000)}${"]".repeat(30_000)}}`;
    const before = process.cpuUsage();
    const { conn, res } = await exchange(trigger(body));
    const used = process.cpuUsage(before);
    conn.end();
    expect(res?.status).toBe(400);
    expect(JSON.parse(res!.body)).toEqual({ error: 'JSON in request body is nested deeper than 1000 levels' });
    // Server and test share this process: MD5, the scan and the test's own work, well under a parse of this depth.
    expect((used.user + used.system) / 1000).toBeLessThan(150);
    await expectNothingDelivered();
  });
});

describe('early refusals are readable, then the body is drained', () => {
  it('413 as soon as Content-Length is over maxRequestSize; the client writes its whole body without a reset, and the connection serves the next request', async () => {
    const size = 600 * 1024;
    const conn = await RawHttp.connect(h.port);
    await conn.write(head('POST', signedEvents(), { 'Content-Length': size }));
    const res = await conn.response();
    expect(res?.status).toBe(413);
    expect(res?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res!.body)).toEqual({ error: 'Request body exceeds 65536 bytes' });
    await conn.stream(size);
    expect(conn.error).toBeUndefined();
    await conn.write(head('GET', '/up'));
    expect((await conn.response())?.status).toBe(200);
    conn.end();
  });

  it('the official pusher SDK reports the 413 with its JSON body, not EPIPE', async () => {
    const pusher = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String(h.port), useTLS: false });
    const error = await pusher.trigger('edge', 'big', 'x'.repeat(6 * 1024 * 1024)).then(
      () => undefined,
      (e: unknown) => e as { status?: number; body?: string; error?: Error },
    );
    expect(error?.error?.message).toBeUndefined();
    expect(error?.status).toBe(413);
    expect(JSON.parse(error!.body!)).toEqual({ error: 'Request body exceeds 65536 bytes' });
    await expectNothingDelivered();
  });

  it('a declared body beyond drainLimit gets the 413 and a close', async () => {
    const conn = await RawHttp.connect(h.port);
    await conn.write(head('POST', signedEvents(), { 'Content-Length': 9 * 1024 * 1024 }));
    expect((await conn.response())?.status).toBe(413);
    expect(await conn.waitClosed(5000)).toBe(true);
  });

  it('a chunked body over the limit is read to its end and answered 413; the connection stays usable', async () => {
    const conn = await RawHttp.connect(h.port);
    await conn.write(head('POST', signedEvents(), { 'Transfer-Encoding': 'chunked' }));
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    for (let i = 0; i < 20; i++) await conn.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
    await conn.write('0\r\n\r\n');
    const res = await conn.response();
    expect(res?.status).toBe(413);
    expect(conn.error).toBeUndefined();
    await conn.write(head('GET', '/up'));
    expect((await conn.response())?.status).toBe(200);
    conn.end();
  });

  it('a chunked body that never ends is cut off after drainTimeout with the 413', async () => {
    const conn = await RawHttp.connect(h.port);
    await conn.write(head('POST', signedEvents(), { 'Transfer-Encoding': 'chunked' }));
    const chunk = Buffer.alloc(70 * 1024, 0x61);
    await conn.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
    const res = await conn.response();
    expect(res?.status).toBe(413);
    expect(res?.headers.connection).toBe('close');
    expect(await conn.waitClosed(5000)).toBe(true);
  });

  it.each([
    ['401 for a wrong key', `/apps/${APP.id}/events?auth_key=nope&auth_timestamp=1&auth_version=1.0&auth_signature=x`, 401, 'Unknown auth_key: nope'],
    ['401 for a stale timestamp', `/apps/${APP.id}/events?auth_key=${APP.key}&auth_timestamp=1&auth_version=1.0&auth_signature=x`, 401, /^Timestamp expired/],
    ['404 for an unknown app', '/apps/nope/events?auth_key=x', 404, 'Unknown app id: nope'],
    ['404 for an unknown route', '/nowhere', 404, 'Not found'],
    ['405 for a known route', `/apps/${APP.id}/channels`, 405, 'Method not allowed'],
    ['404 while the broadcast API is off (no apiKeys)', '/api/broadcast', 404, 'Not found'],
  ])('%s before any body byte, then the body is drained and the connection kept', async (_, path, status, error) => {
    const size = 40 * 1024;
    const conn = await RawHttp.connect(h.port);
    await conn.write(head('POST', path, { 'Content-Type': 'application/json', 'Content-Length': size }));
    const res = await conn.response();
    expect(res?.status).toBe(status);
    expect(JSON.parse(res!.body).error).toEqual(typeof error === 'string' ? error : expect.stringMatching(error));
    await conn.stream(size);
    await conn.write(head('GET', '/up'));
    expect((await conn.response())?.status).toBe(200);
    expect(conn.error).toBeUndefined();
    conn.end();
  });
});

/**
 * What uWebSockets.js refuses itself, before any route (both builds alike): an answer of its own
 * (no JSON, a line of HTML) and a close, at once rather than after its 10 s idle timeout.
 */
async function expectRefusedByUws(bytes: string | Buffer, status: number) {
  const conn = await RawHttp.connect(h.port);
  await conn.write(bytes);
  const res = await conn.response(2000);
  expect(res?.status).toBe(status);
  expect(res?.headers['content-type']).toBeUndefined();
  expect(await conn.waitClosed(2000)).toBe(true);
}

describe('HTTP framing', () => {
  it('two Content-Length headers are 400 and a close, even when one is the real length', async () => {
    for (const lengths of [
      [2, 5],
      [5, 2],
      [2, 2],
    ]) {
      const { conn, res } = await exchange(`POST /apps/${APP.id}/events HTTP/1.1\r\nHost: x\r\nContent-Length: ${lengths[0]}\r\nContent-Length: ${lengths[1]}\r\n\r\n{}abc`);
      expect(res?.status, String(lengths)).toBe(400);
      expect(JSON.parse(res!.body)).toEqual({ error: 'More than one Content-Length header' });
      expect(await conn.waitClosed(5000)).toBe(true);
    }
  });

  it('Content-Length with Transfer-Encoding is 400 from uWebSockets.js and a close, no request handled', async () => {
    await expectRefusedByUws(`POST /apps/${APP.id}/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400);
  });

  it.each([
    ['a non-chunked Transfer-Encoding', 'Transfer-Encoding: gzip\r\n', 'Unsupported Transfer-Encoding: "gzip" (only chunked)'],
    ['two Transfer-Encoding headers', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', 'More than one Transfer-Encoding header'],
  ])('%s is 400 and a close', async (_, headers, error) => {
    const { conn, res } = await exchange(`POST /apps/${APP.id}/events HTTP/1.1\r\nHost: x\r\n${headers}\r\n2\r\n{}\r\n0\r\n\r\n`);
    expect(res?.status).toBe(400);
    expect(JSON.parse(res!.body)).toEqual({ error });
    expect(await conn.waitClosed(5000)).toBe(true);
  });

  it.each([
    ['a non-numeric length', 'Content-Length: abc\r\n'],
    ['a signed length', 'Content-Length: +2\r\n'],
    ['a list of lengths', 'Content-Length: 2, 2\r\n'],
  ])('%s is 400 from uWebSockets.js and a close', async (_, headers) => {
    await expectRefusedByUws(`POST /apps/${APP.id}/events HTTP/1.1\r\nHost: x\r\n${headers}\r\n{}`, 400);
  });

  it.each([
    ['not HTTP at all', 'HELLO THERE\r\n\r\n', 505],
    ['HTTP/1.0', 'GET /up HTTP/1.0\r\n\r\n', 505],
    // The start of a TLS ClientHello, no line end: an https:// client on the plain port.
    ['binary garbage', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]), 505],
    // Over `maxRequestHeadSize` (16 KB by default; uWS alone would stop at 4 KB).
    ['over-long (20 KB)', `GET /${'a'.repeat(20 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
  ])('a request line that is %s is answered by uWebSockets.js and closed at once', async (_, bytes, status) => {
    await expectRefusedByUws(bytes, status);
  });
});

describe('the WebSocket route explains itself to plain HTTP', () => {
  const path = `/app/${APP.key}`;
  const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

  it.each([
    ['no upgrade headers at all', {}, 426, 'This is the WebSocket endpoint: connect with a WebSocket client (the request needs "Upgrade: websocket")'],
    [
      'the curl command from deployment guides (key "test")',
      { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': 13, 'Sec-WebSocket-Key': 'test' },
      400,
      'WebSocket handshake: invalid Sec-WebSocket-Key "test" (must be 16 random bytes in base64, 24 characters)',
    ],
    ['no key', { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': 13 }, 400, 'WebSocket handshake: missing Sec-WebSocket-Key'],
    [
      'a wrong version',
      { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': 8, 'Sec-WebSocket-Key': KEY },
      426,
      'WebSocket handshake: unsupported Sec-WebSocket-Version "8" (must be 13)',
    ],
    [
      'no version',
      { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': KEY },
      426,
      'WebSocket handshake: missing Sec-WebSocket-Version (must be 13)',
    ],
    [
      'Connection without Upgrade',
      { Connection: 'keep-alive', Upgrade: 'websocket', 'Sec-WebSocket-Version': 13, 'Sec-WebSocket-Key': KEY },
      400,
      'WebSocket handshake: the Connection header must include "Upgrade"',
    ],
  ])('%s → %i with a JSON body', async (_, headers, status, error) => {
    const { conn, res } = await exchange(head('GET', `${path}?protocol=7`, headers));
    conn.end();
    expect(res?.status).toBe(status);
    expect(res?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res!.body)).toEqual({ error });
    if (status === 426) expect(res?.headers['sec-websocket-version']).toBe('13');
  });

  it('a valid handshake still upgrades', async () => {
    const { conn, res } = await exchange(
      head('GET', `${path}?protocol=7`, { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': 13, 'Sec-WebSocket-Key': KEY }),
    );
    conn.end();
    expect(res?.status).toBe(101);
    expect(res?.headers['sec-websocket-accept']).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('a browser handshake carrying 10 KB of the site\'s cookies upgrades (uWS alone refuses heads over 4 KB)', async () => {
    const cookies = Array.from({ length: 40 }, (_, i) => `c${i}=${'v'.repeat(250)}`).join('; ');
    const { conn, res } = await exchange(
      head('GET', `${path}?protocol=7`, { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': 13, 'Sec-WebSocket-Key': KEY, Cookie: cookies }),
    );
    conn.end();
    expect(cookies.length).toBeGreaterThan(10_000);
    expect(res?.status).toBe(101);
  });
});

describe('requireTls behind a proxy', () => {
  const TLS_APP = { id: 'tls-id', key: 'tls-key', secret: 'tls-secret', requireTls: true };
  let proxied: TestHerald;
  let untrusting: TestHerald;

  beforeAll(async () => {
    proxied = await startHerald({ apps: [TLS_APP] });
    untrusting = await startHerald({ server: { trustedProxies: ['10.0.0.0/8'] }, apps: [TLS_APP] });
  });
  afterAll(async () => {
    await proxied?.stop();
    await untrusting?.stop();
  });

  async function wsOutcome(target: TestHerald, headers: Record<string, string>): Promise<string> {
    const client = await RawClient.connect(target.port, `/app/${TLS_APP.key}?protocol=7`, headers);
    const frame = await client.next();
    client.ws.close();
    return frame.event === 'pusher:error' ? `error ${(dataOf(frame) as { code: number }).code}` : frame.event;
  }

  async function restStatus(target: TestHerald, headers: Record<string, string>): Promise<number> {
    const path = `/apps/${TLS_APP.id}/channels`;
    const conn = await RawHttp.connect(target.port);
    await conn.write(head('GET', `${path}?${signRestQuery('GET', path, TLS_APP.key, TLS_APP.secret, '', now())}`, headers));
    const res = await conn.response();
    conn.end();
    return res!.status;
  }

  it.each([
    ['X-Forwarded-Proto: https', { 'X-Forwarded-Proto': 'https' }, 'pusher:connection_established', 200],
    ['Forwarded: proto=https', { Forwarded: 'for=203.0.113.9;proto=https' }, 'pusher:connection_established', 200],
    ['no forwarding header', {}, 'error 4000', 403],
    ['X-Forwarded-Proto: http', { 'X-Forwarded-Proto': 'http' }, 'error 4000', 403],
    ['headers that disagree', { 'X-Forwarded-Proto': 'http', Forwarded: 'proto=https' }, 'error 4000', 403],
  ])('from a trusted proxy (loopback), %s → WebSocket %s, REST %i', async (_, headers, ws, rest) => {
    expect(await wsOutcome(proxied, headers)).toBe(ws);
    expect(await restStatus(proxied, headers)).toBe(rest);
  });

  it('from an address outside trustedProxies the headers count for nothing', async () => {
    expect(await wsOutcome(untrusting, { 'X-Forwarded-Proto': 'https' })).toBe('error 4000');
    expect(await restStatus(untrusting, { 'X-Forwarded-Proto': 'https', Forwarded: 'proto=https' })).toBe(403);
  });

  it('REST says why', async () => {
    const path = `/apps/${TLS_APP.id}/channels`;
    const { conn, res } = await (async () => {
      const c = await RawHttp.connect(proxied.port);
      await c.write(head('GET', `${path}?${signRestQuery('GET', path, TLS_APP.key, TLS_APP.secret, '', now())}`));
      return { conn: c, res: await c.response() };
    })();
    conn.end();
    expect(JSON.parse(res!.body)).toEqual({ error: 'This app accepts only https:// requests (requireTls)' });
  });
});
