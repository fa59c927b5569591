import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { connect, expectAlive, finishClients, publish, subscribeOk } from './helpers.js';

const MAX_BACKPRESSURE = 64 * 1024;

let h: TestHerald;
beforeAll(async () => {
  h = await startHerald({ server: { maxBackpressure: MAX_BACKPRESSURE } });
});
afterEach(finishClients);
afterAll(() => h.stop());

it('a client that stops reading is disconnected while a reading subscriber gets every event', async () => {
  const channel = 'firehose';
  const slow = await connect(h);
  const fast = await connect(h);
  await subscribeOk(slow.client, channel, '');
  await subscribeOk(fast.client, channel, '');
  expect(h.herald.adapter.connectionCount()).toBe(2);

  // Stop reading from the socket: the kernel buffers fill, then uWS's own buffer for this socket grows.
  const socket = (slow.client.ws as unknown as { _socket: Socket })._socket;
  socket.pause();

  // 32 KB events, each published once the reading subscriber has it (so only the paused one lags).
  const payload = 'x'.repeat(32 * 1024);
  const MAX_EVENTS = 4000; // 128 MB: far beyond any kernel buffer; the slow client must be dropped long before
  let sent = 0;
  while (h.herald.adapter.connection(slow.socketId) && sent < MAX_EVENTS) {
    publish(h, channel, 'tick', `${sent}:${payload}`);
    sent++;
    const frame = await fast.client.next('tick');
    expect((frame.data as string).startsWith(`${sent - 1}:`)).toBe(true);
  }
  expect(h.herald.adapter.connection(slow.socketId), `slow client still connected after ${sent} events`).toBeUndefined();
  expect(h.herald.adapter.connectionCount()).toBe(1);
  expect(await h.herald.adapter.channelInfo(h.app.id, channel)).toMatchObject({ subscriptionCount: 1 });

  // The reader kept up, in order, and is still fine.
  for (let i = 0; i < 20; i++) publish(h, channel, 'tick', `after-${i}`);
  for (let i = 0; i < 20; i++) expect((await fast.client.next('tick')).data).toBe(`after-${i}`);
  await expectAlive(fast.client);

  // Once the slow client reads again it sees the connection end; it got far fewer events than were sent.
  socket.resume();
  const code = await slow.client.closed;
  expect(code).toBeGreaterThanOrEqual(1000);
  const received = slow.client.frames.filter((f) => f.event === 'tick').length;
  expect(received).toBeLessThan(sent);
});
