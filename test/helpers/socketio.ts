/**
 * Real socket.io-client 4 (and 2, through the `socket.io-client-v2` npm alias) and Laravel Echo's
 * socket.io connector pointed at a test Herald. Every client made here is remembered so
 * `closeSocketIoClients()` in afterEach leaves no sockets or timers behind.
 */
import Echo from 'laravel-echo';
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { recorder, type Recorder } from './clients.js';
import type { TestHerald } from './herald.js';

const live = new Set<{ disconnect(): unknown }>();

export type Transport = 'websocket' | 'polling';

/** Polling-only clients never upgrade; `['polling', 'websocket']` is socket.io's default (poll, then upgrade). */
export const TRANSPORTS: Record<string, Transport[]> = {
  websocket: ['websocket'],
  polling: ['polling'],
};

/** `io('http://127.0.0.1:port/namespace', options)`; connects at once. */
export function sioClient(h: { port: number }, options: Partial<ManagerOptions & SocketOptions> = {}, namespace = ''): Socket {
  const socket = io(`http://127.0.0.1:${h.port}${namespace}`, { reconnection: false, forceNew: true, ...options });
  live.add(socket);
  return socket;
}

/** Resolves with the socket id once connected; rejects with the `connect_error` message. */
export function sioConnected(socket: Socket, timeoutMs = 5000): Promise<string> {
  if (socket.connected) return Promise.resolve(socket.id!);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for socket.io connect')), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket.id!);
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Records every `(channel, data)` emit of an event name: what Echo's socket.io channels listen to. */
export function sioListen(socket: { on(event: string, fn: (...args: unknown[]) => void): unknown }, event: string): Recorder<unknown[]> {
  const got = recorder<unknown[]>(`socket.io ${event}`);
  socket.on(event, (...args: unknown[]) => got.fn(args));
  return got;
}

export interface SocketIoEchoOptions {
  transports?: Transport[];
  /** Headers Echo sends with every subscribe (`auth.headers`), as a Laravel front end sets them. */
  headers?: Record<string, string>;
  namespace?: string;
}

/** `new Echo({ broadcaster: 'socket.io', host, client: io })` as a laravel-echo-server front end configures it. */
export function socketIoEcho(h: { port: number }, options: SocketIoEchoOptions = {}): Echo<'socket.io'> {
  const echo = new Echo({
    broadcaster: 'socket.io',
    host: `http://127.0.0.1:${h.port}${options.namespace ?? ''}`,
    client: io,
    auth: { headers: { ...options.headers } },
    transports: options.transports ?? ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  live.add(echo);
  return echo;
}

/** The socket.io-client socket behind an Echo. */
export function socketOf(echo: Echo<'socket.io'>): Socket {
  return (echo.connector as unknown as { socket: Socket }).socket;
}

export function closeSocketIoClients(): void {
  for (const client of live) client.disconnect();
  live.clear();
}

/** Herald's subscription count of a channel (Pusher and Socket.IO subscribers alike). */
export async function subscriptionCount(h: TestHerald, channel: string): Promise<number> {
  return (await h.herald.adapter.channelInfo(h.app.id, channel)).subscriptionCount;
}

/** Waits until the channel has `count` subscribers on the server. */
export async function untilSubscribers(h: TestHerald, channel: string, count: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await subscriptionCount(h, channel);
    if (now === count) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} subscribers of ${channel} (has ${now})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
