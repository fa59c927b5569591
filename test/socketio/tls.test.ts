// Socket.IO on Herald's TLS port (uWS SSLApp): https:// long-polling, the upgrade to wss://, and an
// app that requires TLS.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { Agent } from 'node:https';
import Pusher from 'pusher';
import { sioConnected, sioListen, untilSubscribers } from '../helpers/socketio.js';

let dir: string;
let h: TestHerald;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-sio-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  h = await startHerald({ server: { tlsCert: cert, tlsKey: key }, app: { socketIo: true, requireTls: true } });
});

afterAll(async () => {
  await h?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('polls over https://, upgrades to wss:// and receives events', async () => {
  const socket = io(`https://127.0.0.1:${h.port}`, { rejectUnauthorized: false, reconnection: false, forceNew: true });
  try {
    await sioConnected(socket);
    const got = sioListen(socket, 'shipped');
    socket.emit('subscribe', { channel: 'orders' });
    await untilSubscribers(h, 'orders', 1);
    const deadline = Date.now() + 5000;
    while (socket.io.engine.transport.name !== 'websocket' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(socket.io.engine.transport.name).toBe('websocket');
    const rest = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1', port: String(h.port), useTLS: true, agent: new Agent({ rejectUnauthorized: false }) });
    await rest.trigger('orders', 'shipped', { id: 1 });
    expect(await got.next()).toEqual(['orders', { id: 1 }]);
  } finally {
    socket.disconnect();
  }
});
