import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { RawClient } from '../helpers/raw-client.js';
import { connect, expectAlive, expectErrorNext, finishClients, JAVA_QUERY, subscribeOk, track } from './helpers.js';

/** activity_timeout 1 s and pong timeout 1 s: a silent client is pinged after ~1 s and closed after ~2 s. */
let h: TestHerald;
beforeAll(async () => {
  h = await startHerald({ app: { activityTimeout: 1 }, server: { pongTimeout: 1 } });
});
// Clients are cleaned up once at the end: the timing tests below run concurrently.
afterAll(async () => {
  finishClients();
  await h.stop();
});

const URL_PATH = '/app/app-key?protocol=7&client=js&version=8.6.0&flash=false';

/** `startedAt` is taken before connecting, so it is never later than the server's view of the connection start. */
async function rawConnect(
  options: WebSocket.ClientOptions = {},
  path = URL_PATH,
): Promise<{ ws: WebSocket; client: RawClient; pings: number[]; startedAt: number }> {
  const startedAt = Date.now();
  const client = track(await RawClient.connect(h.port, path, undefined, options));
  const pings: number[] = [];
  client.ws.on('ping', () => pings.push(Date.now()));
  await client.next('pusher:connection_established');
  return { ws: client.ws, client, pings, startedAt };
}

describe('pusher:ping → pusher:pong', () => {
  it.each([
    ['data {}', { event: 'pusher:ping', data: {} }],
    ['no data', { event: 'pusher:ping' }],
    ['data "{}"', { event: 'pusher:ping', data: '{}' }],
    ['data null', { event: 'pusher:ping', data: null }],
  ])('answers a ping with %s', async (_label, ping) => {
    const { client } = await connect(h);
    client.send(ping);
    expect(await client.next()).toEqual({ event: 'pusher:pong', data: '{}' });
  });

  it('answers the Java client byte shape {"event": "pusher:ping"}', async () => {
    const { client } = await connect(h, `/app/app-key${JAVA_QUERY}`);
    client.send('{"event": "pusher:ping"}');
    expect(await client.next()).toEqual({ event: 'pusher:pong', data: '{}' });
  });

  it('ignores extra members on a ping', async () => {
    const { client } = await connect(h);
    client.send({ event: 'pusher:ping', data: { x: 1 }, channel: 'whatever', extra: true });
    expect(await client.next()).toEqual({ event: 'pusher:pong', data: '{}' });
  });

  it('answers WebSocket PING frames from the client with PONG', async () => {
    const { client } = await connect(h);
    const pong = new Promise<string>((resolve) => client.ws.once('pong', (data) => resolve(String(data))));
    client.ws.ping('hello');
    expect(await pong).toBe('hello');
    await expectAlive(client);
  });

  it('accepts pusher:pong from the client silently', async () => {
    const { client } = await connect(h);
    client.send({ event: 'pusher:pong', data: {} });
    client.send({ event: 'pusher:pong' });
    await expectAlive(client);
  });
});

// Timing tests wait seconds each; they use separate connections and run concurrently.
describe.concurrent('server-initiated WebSocket PING frames', () => {
  it('pings an idle client after activity_timeout; a client that auto-pongs stays open', async () => {
    const { ws, client, pings, startedAt: opened } = await rawConnect();
    // A second ping comes activity_timeout after the first pong, which is later than the pong timeout
    // (the socket would have been closed ~1 s after the first ping had its pong not counted).
    while (pings.length < 2) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(client.closeCode, 'closed although it answered pings').toBeUndefined();
      expect(Date.now() - opened).toBeLessThan(6000);
    }
    expect(pings[0]! - opened).toBeGreaterThanOrEqual(990);
    expect(pings[1]! - pings[0]!).toBeGreaterThanOrEqual(500);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(client.frames.map((f) => f.event)).toEqual(['pusher:connection_established']);
    await expectAlive(client);
  });

  it('closes a client that does not answer PING frames with pusher:error 4201 then close 4201', async () => {
    const { client, pings, startedAt: opened } = await rawConnect({ autoPong: false });
    await expectErrorNext(client, 4201, 'Pong reply not received');
    expect(await client.closed).toBe(4201);
    const elapsed = Date.now() - opened;
    expect(pings.length).toBeGreaterThanOrEqual(1);
    // Pinged after ~activity_timeout, closed ~pong timeout later; never earlier than both.
    expect(elapsed).toBeGreaterThanOrEqual(1990);
    expect(elapsed).toBeLessThan(5000);
  });

  it('any client frame counts as activity: pusher:ping events or WebSocket PING frames keep a no-autoPong socket open', async () => {
    const byEvent = await rawConnect({ autoPong: false });
    const byFrame = await rawConnect({ autoPong: false });
    const stop = Date.now() + 2500;
    while (Date.now() < stop) {
      byFrame.ws.ping();
      await expectAlive(byEvent.client);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    for (const c of [byEvent, byFrame]) {
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
      // Never idle, so never pinged.
      expect(c.pings).toHaveLength(0);
    }
    await expectAlive(byFrame.client);
  });

  it('a silent client is removed from its channels when closed for 4201', async () => {
    const { client } = await rawConnect({ autoPong: false });
    await subscribeOk(client, 'liveness-channel', '');
    expect((await h.herald.adapter.channelInfo('app-id', 'liveness-channel')).subscriptionCount).toBe(1);
    expect(await client.closed).toBe(4201);
    expect((await h.herald.adapter.channelInfo('app-id', 'liveness-channel')).subscriptionCount).toBe(0);
  });
});

describe.concurrent('Android-shaped client', () => {
  it('protocol=5 URL, public subscribe without auth, ping without data, answers PING frames', async () => {
    const { ws, client, pings } = await rawConnect({}, `/app/app-key${JAVA_QUERY}`);
    client.send('{"event":"pusher:subscribe","data":{"channel":"android-public"}}');
    const ok = await client.next();
    expect(ok).toEqual({ event: 'pusher_internal:subscription_succeeded', channel: 'android-public', data: '{}' });
    client.send('{"event": "pusher:ping"}');
    expect(await client.next()).toEqual({ event: 'pusher:pong', data: '{}' });
    // The Java client never answers pusher:ping events, only PING frames: it must survive idling.
    while (pings.length < 2) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(client.closeCode).toBeUndefined();
  });
});
