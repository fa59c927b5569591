import { afterAll, afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { RawClient } from '../helpers/raw-client.js';
import { connect, expectAlive, finishClients, JS_QUERY, privateAuth, subscribeOk, track, trigger } from './helpers.js';

afterEach(finishClients);

/** Tries to open a WebSocket; reports whether it got established, refused with a code, or failed to connect. */
async function attempt(port: number, path: string): Promise<{ established: boolean; code?: number; error?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { event: string };
      if (frame.event === 'pusher:connection_established') {
        resolve({ established: true });
        ws.terminate();
      }
    });
    ws.on('close', (code) => resolve({ established: false, code }));
    ws.on('error', (err) => resolve({ established: false, error: (err as NodeJS.ErrnoException).code ?? err.message }));
  });
}

describe('graceful stop', () => {
  it('sends pusher:error 4200 and closes every client with 4200, then refuses new connections', async () => {
    const h = await startHerald();
    const clients = await Promise.all(Array.from({ length: 5 }, () => connect(h)));
    await subscribeOk(clients[0]!.client, 'busy', '');
    await subscribeOk(clients[1]!.client, 'private-busy', privateAuth(h, clients[1]!.socketId, 'private-busy'));
    const cd = '{"user_id":"1"}';
    await subscribeOk(clients[2]!.client, 'presence-busy', privateAuth(h, clients[2]!.socketId, 'presence-busy', cd), cd);

    // The probe's keep-alive connection is open before the stop: on a loaded box a new TCP
    // connection may not be accepted before the listener closes.
    expect((await fetch(`${h.url}/ready`)).status).toBe(200);
    const stopping = h.stop();
    // While draining the readiness probe fails, so a load balancer stops sending clients here.
    const ready = await fetch(`${h.url}/ready`);
    expect(ready.status).toBe(503);
    // While draining, a new connection is not accepted (refused at TCP level, or with a Pusher code).
    const during = await attempt(h.port, `/app/app-key${JS_QUERY}`);
    expect(during.established).toBe(false);
    if (during.code !== undefined) expect([4100, 4200]).toContain(during.code);

    for (const { client } of clients) {
      const frame = await client.next('pusher:error');
      expect(frame.data).toEqual({ code: 4200, message: expect.any(String) });
      expect(await client.closed).toBe(4200);
      // Nothing but the error precedes the close (no member_removed to a closing peer, etc.).
      expect(client.frames.at(-1)).toEqual(frame);
    }
    await stopping;
    expect(h.herald.adapter.connectionCount()).toBe(0);
    const after = await attempt(h.port, `/app/app-key${JS_QUERY}`);
    expect(after.established).toBe(false);
    // A second stop is harmless.
    await h.stop();
  });

  it('stop resolves promptly when there are no clients', async () => {
    const h = await startHerald();
    const started = Date.now();
    await h.stop();
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('path prefix', () => {
  let h: TestHerald;
  afterAll(() => h?.stop());

  it('serves /ws-prefix/app/{key} and not /app/{key}', async () => {
    h = await startHerald({ server: { pathPrefix: '/ws-prefix' } });
    expect(h.url).toBe(`http://127.0.0.1:${h.port}/ws-prefix`);
    const { client, socketId } = await connect(h, `/ws-prefix/app/app-key${JS_QUERY}`);
    expect(socketId).toMatch(/^\d+\.\d+$/);
    await subscribeOk(client, 'prefixed', '');
    await expectAlive(client);
    // REST under the same prefix (signed over /apps/... without it, as the SDKs do) reaches it.
    await trigger(h, 'prefixed', 'e', '"via prefix"');
    expect(await client.next()).toEqual({ event: 'e', channel: 'prefixed', data: '"via prefix"' });
    // Handshake refusals work under the prefix too.
    const unknown = track(await RawClient.connect(h.port, `/ws-prefix/app/nope${JS_QUERY}`));
    expect(await unknown.closed).toBe(4001);
    // The unprefixed path is not a WebSocket endpoint.
    const bare = await attempt(h.port, `/app/app-key${JS_QUERY}`);
    expect(bare.established).toBe(false);
  });
});
