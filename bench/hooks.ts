/**
 * What webhooks and Redis ingest cost the server (not part of `npm run bench`, which compares peers):
 * `npx tsx bench/hooks.ts [--events 20000] [--no-pin]`.
 *
 * 1. client events on a private channel, webhooks off then `client_event` webhooks on (batched, to a
 *    local receiver): relayed events/s, server CPU per relayed event (until the last relay, and until
 *    the last webhook was answered), how long the webhooks take to arrive after the last relay;
 * 2. Redis ingest: PUBLISHes (pipelined) through a mapped pattern to one subscriber: messages/s and
 *    server CPU per message.
 * Herald runs from the sources (tsx) pinned to core 0 when taskset exists; figures are this box's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { signChannel } from '../protocol/signing.js';
import { freePort } from '../test/helpers/net.js';
import { startRedis } from '../test/helpers/redis.js';
import { cpuNs } from './proc.js';
import { hasTaskset } from './servers.js';

const N = Number(process.argv[process.argv.indexOf('--events') + 1]) || 20_000;
const pin = !process.argv.includes('--no-pin') && hasTaskset();
const APP = { HERALD_APP_ID: 'bench', HERALD_APP_KEY: 'bench-key', HERALD_APP_SECRET: 'bench-secret' };
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_')));

async function herald(port: number, env: Record<string, string>, ready: string): Promise<ChildProcess> {
  const args = ['--import', 'tsx', 'src/cli.ts', 'start', '--host', '127.0.0.1', '--port', String(port)];
  const proc = spawn(pin ? 'taskset' : process.execPath, pin ? ['-c', '0', process.execPath, ...args] : args, {
    env: { ...cleanEnv, ...APP, HERALD_METRICS_ENABLED: 'false', HERALD_APP_CLIENT_EVENT_RATE_LIMIT: '0', ...env },
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes(ready)) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`herald exited ${code}: ${out}`)));
  });
  return proc;
}

interface Client {
  ws: WebSocket;
  socketId: string;
  frames(event: string): { count: number };
}

async function client(port: number, channel: string): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/app/bench-key?protocol=7`);
  const counts = new Map<string, { count: number }>();
  let socketId = '';
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (raw: Buffer) => {
      const frame = JSON.parse(raw.toString()) as { event: string; data: string };
      if (frame.event === 'pusher:connection_established') {
        socketId = (JSON.parse(frame.data) as { socket_id: string }).socket_id;
        const auth = channel.startsWith('private-') ? signChannel('bench-key', 'bench-secret', socketId, channel) : undefined;
        ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel, auth } }));
      } else if (frame.event === 'pusher_internal:subscription_succeeded') resolve();
      const c = counts.get(frame.event);
      if (c) c.count++;
    });
    ws.once('error', reject);
  });
  return {
    ws,
    socketId,
    frames(event) {
      let c = counts.get(event);
      if (!c) counts.set(event, (c = { count: 0 }));
      return c;
    },
  };
}

async function waitFor(check: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

async function clientEvents(webhooks: boolean): Promise<Record<string, number>> {
  let received = 0;
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received += (JSON.parse(body) as { events: unknown[] }).events.length;
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = await freePort();
  const env: Record<string, string> = webhooks
    ? {
        HERALD_APP_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
        HERALD_APP_WEBHOOK_EVENTS: 'client_event',
        HERALD_APP_WEBHOOK_QUEUE_SIZE: String(N),
      }
    : {};
  const server = await herald(port, env, 'Herald listening');
  try {
    const [sender, listener] = [await client(port, 'private-bench'), await client(port, 'private-bench')];
    const got = listener.frames('client-tick');
    const cpu0 = cpuNs(server.pid!);
    const t0 = performance.now();
    const frame = JSON.stringify({ event: 'client-tick', channel: 'private-bench', data: { n: 1 } });
    for (let i = 0; i < N; i += 500) {
      for (let j = i; j < Math.min(N, i + 500); j++) sender.ws.send(frame);
      await waitFor(() => got.count >= i - 2000);
    }
    await waitFor(() => got.count >= N);
    const t1 = performance.now();
    const cpu1 = cpuNs(server.pid!);
    await waitFor(() => !webhooks || received >= N);
    const t2 = performance.now();
    const cpu2 = cpuNs(server.pid!);
    sender.ws.close();
    listener.ws.close();
    return {
      relayed_per_s: round(N / ((t1 - t0) / 1000), 0),
      cpu_us_per_event: round((cpu1 - cpu0) / 1000 / N, 2),
      cpu_us_per_event_until_webhooks_sent: round((cpu2 - cpu0) / 1000 / N, 2),
      webhook_events_received: received,
      webhooks_done_ms_after_last_relay: round(t2 - t1, 0),
    };
  } finally {
    server.kill('SIGKILL');
    receiver.close();
  }
}

async function ingest(): Promise<Record<string, number>> {
  const redis = await startRedis({ password: 'bench-pw' });
  const port = await freePort();
  const server = await herald(
    port,
    {
      HERALD_REDIS_URL: redis.url,
      HERALD_SCALING: 'false',
      HERALD_APP_REDIS_INGEST: JSON.stringify([{ pattern: 'bench:{id}', channel: 'bench-{id}', event: 'type', data: 'payload' }]),
    },
    'Redis ingest subscribed',
  );
  try {
    const listener = await client(port, 'bench-1');
    const got = listener.frames('tick');
    const publisher = redis.client();
    const message = JSON.stringify({ type: 'tick', payload: { n: 1, text: 'hello' } });
    const cpu0 = cpuNs(server.pid!);
    const t0 = performance.now();
    for (let i = 0; i < N; i += 1000) {
      const batch = publisher.pipeline();
      for (let j = i; j < Math.min(N, i + 1000); j++) batch.publish('bench:1', message);
      await batch.exec();
    }
    await waitFor(() => got.count >= N);
    const t1 = performance.now();
    const cpu1 = cpuNs(server.pid!);
    listener.ws.close();
    return { messages_per_s: round(N / ((t1 - t0) / 1000), 0), cpu_us_per_message: round((cpu1 - cpu0) / 1000 / N, 2) };
  } finally {
    server.kill('SIGKILL');
    await redis.close();
  }
}

console.log(JSON.stringify({ events: N, pinned: pin }));
console.log('client events, webhooks off', JSON.stringify(await clientEvents(false)));
console.log('client events, client_event webhooks on', JSON.stringify(await clientEvents(true)));
console.log('redis ingest', JSON.stringify(await ingest()));
