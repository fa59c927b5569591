// The Laravel stand-ins the client tests rely on, checked byte for byte against the reference's
// verified PHP outputs (sections 5.2, 5.5, 6.1, 8.2) so that a passing client test means "works
// with a real Laravel app", not "works with our idea of one".
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import vectors from '../data/vectors.json' with { type: 'json' };
import { sessionHeaders, startLaravelAuth, VECTOR_MASTER_KEY, type LaravelAuth } from '../helpers/laravel-auth.js';
import { laravelBroadcast } from '../helpers/laravel-broadcast.js';

const KEY = vectors.app.key;
const SECRET = vectors.app.secret;

describe('startLaravelAuth (/broadcasting/auth, /broadcasting/user-auth)', () => {
  let app: LaravelAuth;
  beforeAll(async () => {
    app = await startLaravelAuth({
      key: KEY,
      secret: SECRET,
      encryptionMasterKeyBase64: VECTOR_MASTER_KEY,
      users: { ada: { id: 7, name: 'Ada' }, five: { id: 5, name: 'Five' }, nobody: { id: 9, name: 'Nobody' } },
      channels: {
        'commerce.{id}': (user, id) => user.id == Number(id),
        'chat.{id}': (user) => ({ id: user.id, name: user.name }),
        'flag.{id}': (user) => (user.id === 9 ? true : false),
        foobar: () => true,
      },
    });
  });
  afterAll(() => app?.close());

  const post = async (path: string, form: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await fetch(app.url + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, text: await res.text() };
  };

  it('presence: the reply pusher-http-php gives PusherBroadcaster (user_id cast to string)', async () => {
    const res = await post('/broadcasting/auth', { socket_id: '123.456', channel_name: 'presence-chat.1' }, sessionHeaders('ada'));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({
      auth: '278d425bdf160c739803:386f3884e3b342d2d72251253ecd3808055ba678157a5117b6fa497a52d0405c',
      channel_data: '{"user_id":"7","user_info":{"id":7,"name":"Ada"}}',
    });
  });

  it('presence: user_info omitted when the callback result is not an array (true)', async () => {
    const res = await post('/broadcasting/auth', { socket_id: '123.456', channel_name: 'presence-flag.1' }, sessionHeaders('nobody'));
    expect(JSON.parse(res.text).channel_data).toBe('{"user_id":"9","user_info":true}');
  });

  it('private: the section 5.2 signature; cookie sessions work too', async () => {
    const res = await post('/broadcasting/auth', { socket_id: '123.456', channel_name: 'private-commerce.5' }, { Cookie: 'XSRF-TOKEN=x; laravel_session=five' });
    expect(JSON.parse(res.text)).toEqual({ auth: '278d425bdf160c739803:e507d4ab42519db1b4a7cc6da372141afc8269f638ebf8a3fdb2560c66935b5a' });
  });

  it('encrypted: auth plus the shared_secret derived from the master key', async () => {
    const [v] = vectors.encrypted_channel;
    const res = await post('/broadcasting/auth', { socket_id: v!.socket_id, channel_name: v!.channel_name }, sessionHeaders('ada'));
    expect(JSON.parse(res.text)).toEqual(v!.expected_endpoint_response);
  });

  it('403 when not logged in, when the callback denies, and for unknown channels', async () => {
    expect((await post('/broadcasting/auth', { socket_id: '1.2', channel_name: 'private-commerce.7' })).status).toBe(403);
    expect((await post('/broadcasting/auth', { socket_id: '1.2', channel_name: 'private-commerce.7' }, sessionHeaders('five'))).status).toBe(403);
    expect((await post('/broadcasting/auth', { socket_id: '1.2', channel_name: 'presence-flag.1' }, sessionHeaders('ada'))).status).toBe(403);
    expect((await post('/broadcasting/auth', { socket_id: '1.2', channel_name: 'private-unknown' }, sessionHeaders('ada'))).status).toBe(403);
    expect((await post('/broadcasting/user-auth', { socket_id: '1.2' })).status).toBe(403);
  });

  it('user-auth: user_data with a string id, signed as section 5.4', async () => {
    const res = await post('/broadcasting/user-auth', { socket_id: '1234.1234' }, sessionHeaders('ada'));
    const body = JSON.parse(res.text) as { auth: string; user_data: string };
    expect(body.user_data).toBe('{"id":"7","user_info":{"name":"Ada"}}');
    expect(body.auth).toMatch(/^278d425bdf160c739803:[0-9a-f]{64}$/);
  });
});

describe('laravelBroadcast (PusherBroadcaster + pusher-http-php trigger)', () => {
  it('sends the exact bytes, query and headers of the reference vector', async () => {
    const vector = vectors.rest_signature.find((v) => v.body?.includes('OrderShipped'))!;
    const seen: { url: string; body: string; headers: IncomingMessage['headers'] }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ url: req.url!, body: Buffer.concat(chunks).toString(), headers: req.headers });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const replies = await laravelBroadcast(
        { url: `http://127.0.0.1:${port}`, port },
        { channels: ['private-orders.5'], event: 'App\\Events\\OrderShipped', payload: { id: 5, url: 'http://x/y', socket: '123.456' } },
        { app: { appId: vectors.app.app_id, key: KEY, secret: SECRET }, timestamp: vector.auth_timestamp },
      );
      expect(replies).toEqual([{ status: 200, body: '{}' }]);
      expect(seen[0]!.body).toBe(vector.body);
      expect(seen[0]!.url).toBe(`${vector.path}?${vector.library_query_string}`);
      expect(seen[0]!.headers['content-type']).toBe('application/json');
      expect(seen[0]!.headers['x-pusher-library']).toBe('pusher-http-php 7.2.6');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
