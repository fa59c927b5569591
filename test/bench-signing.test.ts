/**
 * The benchmark's REST trigger client (bench/rest-client.ts) must sign exactly like the official
 * `pusher` SDK, otherwise Herald's REST figures would be for rejected requests.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RestClient, signedQuery } from '../bench/rest-client.js';

const require = createRequire(import.meta.url);
const Pusher = require('pusher') as new (opts: Record<string, unknown>) => {
  trigger(channels: string | string[], event: string, data: unknown, params?: Record<string, unknown>): Promise<unknown>;
  triggerBatch(batch: { channel: string; name: string; data: unknown }[]): Promise<unknown>;
};

interface RestVector {
  method: string;
  path: string;
  query_params: Record<string, string>;
  body?: string;
  auth_timestamp: number;
  library_query_string?: string;
  full_url?: string;
  auth_signature: string;
}

const vectors = JSON.parse(readFileSync(new URL('./data/vectors.json', import.meta.url), 'utf8')) as {
  app: { app_id: string; key: string; secret: string };
  rest_signature: RestVector[];
};

describe('bench REST signing: reference vectors (section 6.8)', () => {
  const { key, secret } = vectors.app;
  for (const v of vectors.rest_signature) {
    it(`${v.method} ${v.path} ${JSON.stringify(v.query_params)}`, () => {
      const q = signedQuery({ key, secret }, v.method, v.path, v.body || undefined, v.query_params, v.auth_timestamp);
      expect(q.endsWith(`&auth_signature=${v.auth_signature}`)).toBe(true);
      if (v.library_query_string) expect(q).toBe(v.library_query_string);
    });
  }
});

describe('bench REST signing: same requests as the pusher SDK', () => {
  const creds = { appId: 'bench', key: 'bench-key', secret: 'bench-secret' };
  const captured: { method: string; url: string; body: string }[] = [];
  let server: http.Server;
  let port = 0;
  const FROZEN = 1_700_000_123_456;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        captured.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString() });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  afterEach(() => {
    vi.restoreAllMocks();
    captured.length = 0;
  });

  const sdk = () => new Pusher({ appId: creds.appId, key: creds.key, secret: creds.secret, host: '127.0.0.1', port: String(port), useTLS: false });

  it('single-channel trigger: SDK query string == ours for the SDK body', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(FROZEN);
    await sdk().trigger('private-user.7', 'bench', '~T123:4~xxxx');
    const req = captured[0]!;
    const [path, query] = req.url.split('?') as [string, string];
    expect(path).toBe('/apps/bench/events');
    expect(query).toBe(signedQuery(creds, 'POST', path, req.body, {}, Math.floor(FROZEN / 1000)));
  });

  it('multi-channel trigger with socket_id', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(FROZEN);
    await sdk().trigger(['a', 'b', 'presence-c'], 'ev', { x: 1 }, { socket_id: '123.456' });
    const req = captured[0]!;
    const [path, query] = req.url.split('?') as [string, string];
    expect(query).toBe(signedQuery(creds, 'POST', path, req.body, {}, Math.floor(FROZEN / 1000)));
  });

  it('batch trigger', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(FROZEN);
    await sdk().triggerBatch([
      { channel: 'a', name: 'e1', data: '1' },
      { channel: 'b', name: 'e2', data: { y: 2 } },
    ]);
    const req = captured[0]!;
    const [path, query] = req.url.split('?') as [string, string];
    expect(path).toBe('/apps/bench/batch_events');
    expect(query).toBe(signedQuery(creds, 'POST', path, req.body, {}, Math.floor(FROZEN / 1000)));
  });

  it('RestClient sends what the SDK sends (same body, same signed URL)', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(FROZEN);
    await sdk().trigger('fanout', 'bench', '~T1:2~');
    const client = new RestClient({ host: '127.0.0.1', port, connections: 2, creds });
    try {
      await client.trigger('fanout', 'bench', '~T1:2~');
      await client.triggerBatch([{ channel: 'a', name: 'e1', data: '1' }]);
      await sdk().triggerBatch([{ channel: 'a', name: 'e1', data: '1' }]);
    } finally {
      client.close();
    }
    expect(captured).toHaveLength(4);
    expect(captured[1]).toEqual(captured[0]);
    expect(captured[2]).toEqual(captured[3]);
  });

  it('RestClient keeps connections alive', async () => {
    const client = new RestClient({ host: '127.0.0.1', port, connections: 2, creds });
    try {
      for (let i = 0; i < 10; i++) await client.trigger('x', 'e', String(i));
    } finally {
      client.close();
    }
    expect(client.requests).toBe(10);
    expect(client.socketsOpened).toBe(1);
  });
});
