/**
 * Seeded fuzzing of the two parsers a stranger feeds: the WebSocket frame parser and the REST path
 * (query, signature, body, validation), plus raw bytes at a live server's HTTP edge.
 *
 * `npm test` runs a bounded number of iterations; `npm run fuzz` runs many more. The seed is random
 * unless FUZZ_SEED is set, and is printed with any failure: `FUZZ_SEED=<seed> npm run fuzz` replays it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClientFrame, relayedClientEvent } from '../../protocol/frames.js';
import { parseSignedQuery, signRestQuery } from '../../protocol/signing.js';
import { RawHttp } from '../helpers/raw-http.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { unitHarness } from '../api/unit-harness.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 400);
const REPLAY = `(replay: FUZZ_SEED=${SEED} FUZZ_ITERATIONS=${ITERATIONS} npx vitest run test/fuzz)`;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof rng>;

const ALPHABET = ['a', 'Z', '0', '-', '_', '=', '&', '%', '%2', '%26', '%3D', '%FF', '%C3%A9', '+', ' ', '[', ']', '[]', ',', '"', '\\', '{', '}', ':', '\u00e9', '\u2713', '\ud83d\ude00', '\u0000', '\n'];
const randomText = (r: Rng, max = 12) => Array.from({ length: r.int(max) }, () => r.pick(ALPHABET)).join('');

/** A JSON value of bounded size with awkward members. */
function randomJson(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 3 ? 4 : 7)) {
    case 0:
      return randomText(r);
    case 1:
      return r.int(2) === 0 ? r.int(1000) : -r.next() * 1e300;
    case 2:
      return r.pick([true, false, null]);
    case 3:
      return r.pick(['client-x', 'pusher:subscribe', 'private-a', 'presence-b', '#server-to-user-1', 'news', '']);
    case 4:
      return Array.from({ length: r.int(4) }, () => randomJson(r, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) {
        out[r.pick(['event', 'channel', 'data', 'name', 'channels', 'socket_id', 'info', 'user_id', 'auth', 'channel_data', randomText(r, 4)])] = randomJson(r, depth + 1);
      }
      return out;
    }
  }
}

function mutateText(r: Rng, text: string): string {
  const at = r.int(text.length + 1);
  switch (r.int(5)) {
    case 0:
      return text.slice(0, at) + randomText(r, 3) + text.slice(at);
    case 1:
      return text.slice(0, at) + text.slice(at + 1 + r.int(4));
    case 2:
      return text.slice(0, at);
    case 3:
      return text.slice(0, at) + text.slice(at).replace(/./, r.pick(['"', '}', ']', ',', '\\u', '\\']));
    default:
      return text;
  }
}

describe(`frame parser fuzz, seed ${SEED}`, () => {
  it(`never throws, and relays exactly what it accepted ${REPLAY}`, () => {
    const r = rng(SEED);
    for (let i = 0; i < ITERATIONS * 5; i++) {
      const event = r.pick(['client-move', 'pusher:subscribe', 'pusher:unsubscribe', 'pusher:ping', 'pusher:signin', 'client-', randomText(r, 6)]);
      const base = JSON.stringify({ event, channel: r.pick(['private-a', 'presence-b', randomText(r, 5)]), data: randomJson(r), ...(r.int(3) === 0 ? { extra: randomJson(r) } : {}) });
      const text = r.int(3) === 0 ? mutateText(r, base) : r.int(4) === 0 ? JSON.stringify(randomJson(r)) : base;
      let result: ReturnType<typeof parseClientFrame>;
      try {
        result = parseClientFrame(text);
      } catch (error) {
        throw new Error(`parseClientFrame threw on ${JSON.stringify(text)} ${REPLAY}: ${String(error)}`);
      }
      if (!result.ok) {
        expect(typeof result.message, text).toBe('string');
        continue;
      }
      if (result.frame.kind !== 'client-event') continue;
      const frame = result.frame;
      for (const userId of [undefined, '7']) {
        const relayed = JSON.parse(relayedClientEvent(frame, userId)) as Record<string, unknown>;
        // A frame with extra members is rebuilt, so `data` goes through one JSON round trip (a
        // number beyond double range becomes null, as in any JSON server); an envelope is verbatim.
        expect(relayed, `${text} ${REPLAY}`).toEqual({
          event: frame.event,
          channel: frame.channel,
          data: frame.envelopeOnly ? frame.data : JSON.parse(JSON.stringify(frame.data) ?? 'null'),
          ...(userId === undefined ? {} : { user_id: userId }),
        });
      }
    }
  });
});

describe(`REST path fuzz, seed ${SEED}`, () => {
  it(`answers every mutated request with a JSON refusal or, only when it means what was signed, 200 ${REPLAY}`, async () => {
    const r = rng(SEED ^ 0x5eed);
    const h = unitHarness();
    const appKey = h.config.apps[0]!.key;
    const statuses = new Map<number, number>();
    for (let i = 0; i < ITERATIONS; i++) {
      const path = r.pick(['/apps/app-id/events', '/apps/app-id/batch_events', '/apps/app-id/channels', '/apps/app-id/channels/presence-x/users']);
      const method = path.endsWith('events') ? 'POST' : 'GET';
      const item = () => ({ name: r.pick(['e', 'client-x', 'pusher:x', randomText(r, 4)]), channel: r.pick(['news', 'private-a', 'presence-b', randomText(r, 5)]), data: r.pick(['x', randomJson(r)]) });
      const bodyValue = method === 'GET' ? undefined : path.endsWith('batch_events') ? { batch: Array.from({ length: r.int(12) }, item) } : { ...item(), ...(r.int(4) === 0 ? { extra: randomJson(r) } : {}) };
      let body = Buffer.from(bodyValue === undefined ? '' : r.int(6) === 0 ? mutateText(r, JSON.stringify(bodyValue)) : JSON.stringify(bodyValue));
      if (r.int(10) === 0 && body.length > 0) body = Buffer.concat([body.subarray(0, body.length - 2), Buffer.from([0xc3]), body.subarray(body.length - 2)]);
      const extra: Record<string, string> = r.int(3) === 0 ? { info: r.pick(['user_count', 'subscription_count', 'cache', randomText(r, 5)]) } : {};
      const signedQuery = signRestQuery(method, path, appKey, 'app-secret', body, Math.floor(h.clock.now / 1000), extra);
      const query = r.int(4) === 0 ? signedQuery : mutateQuery(r, signedQuery);

      const res = await h.request(method, path, query, body);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const where = `${method} ${path}?${query} body ${JSON.stringify(body.toString('latin1').slice(0, 200))} ${REPLAY}`;
      expect([200, 400, 401, 403, 404, 413], where).toContain(res.status);
      if (res.status !== 200) {
        expect(res.body, where).toEqual({ error: expect.any(String) });
        continue;
      }
      // Accepted: the query must mean exactly what was signed.
      const sent = parseSignedQuery(query);
      const original = parseSignedQuery(signedQuery);
      expect(sent.ok && original.ok && { ...sent.params }, where).toEqual(original.ok && { ...original.params });
    }
    expect(statuses.get(200) ?? 0, `no request was accepted at all ${REPLAY}`).toBeGreaterThan(0);
  });
});

/** Query mutations an attacker or a careless client would try on a signed query. */
function mutateQuery(r: Rng, query: string): string {
  const pairs = query.split('&');
  const pair = r.pick(pairs);
  const [name = '', value = ''] = pair.split('=');
  switch (r.int(9)) {
    case 0:
      return `${query}&${name}=${r.pick([value, randomText(r, 5)])}`;
    case 1:
      return `${name}=${randomText(r, 5)}&${query}`;
    case 2:
      return query.replace(`${name}=`, `${name}[]=`);
    case 3:
      return query.replace(`${name}=`, `${name.toUpperCase()}=`);
    case 4:
      return query.replace(pair, `${name}=${encodeURIComponent(value)}`);
    case 5:
      return query.replace(pair, `${name.replace('_', '%5F')}=${value}`);
    case 6:
      return pairs.reverse().join('&');
    case 7:
      return `${query}&${randomText(r, 6)}=${randomText(r, 6)}`;
    default:
      return query.replace(pair, mutateText(r, pair));
  }
}

describe(`HTTP edge fuzz, seed ${SEED}`, () => {
  let h: TestHerald;
  beforeAll(async () => {
    h = await startHerald({ server: { maxRequestSize: 4096, drainTimeout: 0.2 } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it(`answers or closes each malformed request and keeps serving ${REPLAY}`, async () => {
    const r = rng(SEED ^ 0xed9e);
    const rounds = Math.max(10, Math.floor(ITERATIONS / 10));
    for (let i = 0; i < rounds; i++) {
      const headers = [`Host: 127.0.0.1`];
      for (let n = r.int(4); n > 0; n--) {
        headers.push(
          r.pick([
            `Content-Length: ${r.pick([0, 2, 10, 5000, 99999999999, -1])}`,
            'Transfer-Encoding: chunked',
            `Transfer-Encoding: ${randomText(r, 5)}`,
            'Connection: Upgrade',
            'Upgrade: websocket',
            'Sec-WebSocket-Version: 13',
            `Sec-WebSocket-Key: ${r.pick(['dGhlIHNhbXBsZSBub25jZQ==', randomText(r, 8)])}`,
            `X-Forwarded-Proto: ${r.pick(['https', 'http', randomText(r, 4)])}`,
            `${randomText(r, 6)}: ${randomText(r, 6)}`,
          ]),
        );
      }
      const target = r.pick(['/apps/app-id/events', '/app/app-key', '/up', '/apps/app-id/events?auth_key=app-key&auth_key=x', `/${randomText(r, 6)}`]);
      const method = r.pick(['GET', 'POST', 'PUT', 'DELETE']);
      const body = r.int(2) === 0 ? '' : r.int(2) === 0 ? '2\r\n{}\r\n0\r\n\r\n' : randomText(r, 40);
      const bytes = `${method} ${target} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
      const conn = await RawHttp.connect(h.port);
      await conn.write(bytes);
      // An answer, a close, or (for a body still owed) silence: never a crash. Waits are short.
      const res = await Promise.race([conn.response(1000).catch(() => undefined), new Promise<undefined>((resolve) => setTimeout(resolve, 300))]);
      // uWebSockets.js (either build) refuses what it cannot parse itself (400, 431 or 505 with a line of HTML)
      // and closes; every answer of Herald's own carries a JSON content type.
      const refusedByUws = res !== undefined && res.status >= 400 && res.headers['content-type'] === undefined;
      if (res && res.status !== 101 && !refusedByUws) {
        expect(res.headers['content-type'], `${JSON.stringify(bytes)} ${REPLAY}`).toBe('application/json');
        expect(() => JSON.parse(res.body), `${JSON.stringify(bytes)} ${REPLAY}`).not.toThrow();
      }
      conn.end();
    }
    const check = await RawHttp.connect(h.port);
    await check.write('GET /up HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await check.response())?.status, REPLAY).toBe(200);
    check.end();
  }, 120_000);
});
