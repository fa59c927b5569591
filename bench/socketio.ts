/**
 * Socket.IO fan-out against Pusher fan-out on the same Herald, in the same run: N WebSocket
 * subscribers of one channel per protocol, REST-triggered 100-byte events, closed loop (the next
 * event goes out when one is fully delivered, `window` in flight). The figure is server CPU per
 * delivered message (schedstat of the server process, pinned to core 0), so the load side's own
 * cost (the `ws` package here) does not count.
 *
 *   npm run build && taskset -c 1 npx tsx bench/socketio.ts [--subscribers 1000] [--events 2000] [--reps 3]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { APP, TARGET_HOST, median, round, sleep } from './common.js';
import { CpuMeter } from './proc.js';
import { RestClient } from './rest-client.js';
import { HERALD_CLI, ROOT, freePort, hasTaskset, pinned } from './servers.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const SUBSCRIBERS = arg('subscribers', 1000);
const EVENTS = arg('events', 2000);
const REPS = arg('reps', 3);
const WINDOW = 4;
const DATA = JSON.stringify({ pad: 'x'.repeat(88) });

interface Subscribers {
  received: number;
  close(): void;
}

async function startHerald(): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'herald-sio-bench-'));
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({ host: TARGET_HOST, apps: [{ ...APP, socketIo: true, maxConnections: 0 }], metricsEnabled: false, logLevel: 'warn' }),
  );
  const [cmd, args] = pinned(hasTaskset() ? 0 : null, process.execPath, ['--max-semi-space-size=1', HERALD_CLI, 'start', '--port', String(port), '--config', config]);
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { PATH: process.env.PATH, NODE_ENV: 'production' } });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  for (let i = 0; i < 200; i++) {
    const up = await fetch(`http://${TARGET_HOST}:${port}/up`).then((r) => r.ok, () => false);
    if (up) break;
    await sleep(50);
  }
  return {
    port,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function open(url: string, onMessage: (ws: WebSocket, text: string) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('message', (data) => onMessage(ws, String(data)));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function pusherSubscribers(port: number, channel: string): Promise<Subscribers> {
  const state = { received: 0, subscribed: 0 };
  const sockets: WebSocket[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    sockets.push(
      await open(`ws://${TARGET_HOST}:${port}/app/${APP.key}?protocol=7`, (ws, text) => {
        if (text.includes('"bench"')) state.received++;
        else if (text.includes('connection_established')) ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
        else if (text.includes('subscription_succeeded')) state.subscribed++;
      }),
    );
  }
  while (state.subscribed < SUBSCRIBERS) await sleep(10);
  return { get received() { return state.received; }, close: () => sockets.forEach((ws) => ws.terminate()) };
}

async function socketIoSubscribers(port: number, channel: string): Promise<Subscribers> {
  const state = { received: 0, connected: 0 };
  const sockets: WebSocket[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    sockets.push(
      await open(`ws://${TARGET_HOST}:${port}/socket.io/?EIO=4&transport=websocket`, (ws, text) => {
        if (text.startsWith('42["bench"')) state.received++;
        else if (text === '2') ws.send('3');
        else if (text.startsWith('0{')) ws.send('40');
        else if (text.startsWith('40{')) {
          ws.send(`42${JSON.stringify(['subscribe', { channel }])}`);
          state.connected++;
        }
      }),
    );
  }
  while (state.connected < SUBSCRIBERS) await sleep(10);
  return { get received() { return state.received; }, close: () => sockets.forEach((ws) => ws.terminate()) };
}

/** Closed loop: `count` events, at most WINDOW not yet fully delivered. */
async function drive(rest: RestClient, channel: string, subs: Subscribers, count: number): Promise<void> {
  const start = subs.received;
  for (let sent = 0; sent < count; sent++) {
    while ((sent - WINDOW) * SUBSCRIBERS > subs.received - start) await new Promise((resolve) => setImmediate(resolve));
    await rest.trigger(channel, 'bench', DATA);
  }
  const deadline = Date.now() + 30_000;
  while (subs.received - start < count * SUBSCRIBERS) {
    if (Date.now() > deadline) throw new Error(`${channel}: ${count * SUBSCRIBERS - (subs.received - start)} messages lost`);
    await sleep(5);
  }
}

async function measure(server: { port: number; pid: number }, channel: string, subs: Subscribers): Promise<{ cpuUsPerMsg: number; msgsPerS: number }> {
  const rest = new RestClient({ host: TARGET_HOST, port: server.port, connections: WINDOW });
  try {
    await drive(rest, channel, subs, 50);
    const cpu = new CpuMeter(server.pid);
    await drive(rest, channel, subs, EVENTS);
    const { cpuMs, wallMs } = cpu.read();
    const delivered = EVENTS * SUBSCRIBERS;
    return { cpuUsPerMsg: round((cpuMs * 1000) / delivered, 3), msgsPerS: round((delivered / wallMs) * 1000, 0) };
  } finally {
    rest.close();
  }
}

const rows: { pusher: number; sio: number; pusherRate: number; sioRate: number }[] = [];
for (let rep = 0; rep < REPS; rep++) {
  const server = await startHerald();
  try {
    const pusher = await pusherSubscribers(server.port, 'fan-pusher');
    const sio = await socketIoSubscribers(server.port, 'fan-sio');
    await sleep(500);
    // Alternate which protocol goes first, so warm-up effects do not favour one.
    const runs = { pusher: () => measure(server, 'fan-pusher', pusher), socketio: () => measure(server, 'fan-sio', sio) };
    const order = rep % 2 === 0 ? (['pusher', 'socketio'] as const) : (['socketio', 'pusher'] as const);
    const result: Partial<Record<'pusher' | 'socketio', { cpuUsPerMsg: number; msgsPerS: number }>> = {};
    for (const which of order) result[which] = await runs[which]();
    const { pusher: pr, socketio: sr } = result as Record<'pusher' | 'socketio', { cpuUsPerMsg: number; msgsPerS: number }>;
    rows.push({ pusher: pr.cpuUsPerMsg, sio: sr.cpuUsPerMsg, pusherRate: pr.msgsPerS, sioRate: sr.msgsPerS });
    console.log(JSON.stringify({ rep, subscribers: SUBSCRIBERS, events: EVENTS, pusher: pr, socketio: sr }));
    pusher.close();
    sio.close();
  } finally {
    await server.stop();
  }
}
const p = median(rows.map((r) => r.pusher));
const s = median(rows.map((r) => r.sio));
console.log(`\n| subscribers | Pusher CPU µs/msg | Socket.IO CPU µs/msg | Socket.IO / Pusher | Pusher msgs/s | Socket.IO msgs/s |`);
console.log(`|---|---|---|---|---|---|`);
console.log(`| ${SUBSCRIBERS} | ${p} | ${s} | ${round(s / p, 2)} | ${median(rows.map((r) => r.pusherRate))} | ${median(rows.map((r) => r.sioRate))} |`);
