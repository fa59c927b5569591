import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { freePort } from '../helpers/net.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import PusherServer from 'pusher';
import PusherModule from 'pusher-js';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHerald, type TestHerald } from '../helpers/herald.js';

/**
 * The repository's Caddyfile, run for real by Caddy in front of a Herald: pusher-js connects and the
 * official `pusher` SDK triggers through Caddy only. The site is plain HTTP on a free port here
 * (HERALD_SITE_ADDRESS=http://127.0.0.1:PORT); in production the same file gets automatic HTTPS.
 */
/** pusher-js's CommonJS entry is the class itself; its typings claim an ES default export (NodeNext reads `.default`). */
const Pusher = PusherModule as unknown as typeof PusherModule.default;

const CADDYFILE = fileURLToPath(new URL('../../Caddyfile', import.meta.url));
const hasCaddy = spawnSync('caddy', ['version'], { stdio: 'ignore' }).status === 0;
if (!hasCaddy) console.warn('test/ops/caddy.test.ts skipped: `caddy` is not installed (apt-get install caddy; .ci/run installs it)');


describe.skipIf(!hasCaddy)('Caddy in front of Herald', () => {
  let h: TestHerald;
  let home: string;
  let caddy: ChildProcess;
  let caddyPort: number;
  let caddyLog = '';
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    h = await startHerald({ apps: [{ id: 'app-id', key: 'app-key', secret: 'app-secret', socketIo: true }, { id: 'tls-id', key: 'tls-key', secret: 'tls-secret', requireTls: true }] });
    home = mkdtempSync(join(tmpdir(), 'herald-caddy-'));
    caddyPort = await freePort();
    env = {
      ...process.env,
      HOME: home,
      XDG_DATA_HOME: join(home, 'data'),
      XDG_CONFIG_HOME: join(home, 'config'),
      CADDY_ADMIN: 'off',
      HERALD_SITE_ADDRESS: `http://127.0.0.1:${caddyPort}`,
      HERALD_UPSTREAM: `127.0.0.1:${h.port}`,
    };
    caddy = spawn('caddy', ['run', '--config', CADDYFILE, '--adapter', 'caddyfile'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    caddy.stdout!.on('data', (chunk: Buffer) => (caddyLog += chunk.toString()));
    caddy.stderr!.on('data', (chunk: Buffer) => (caddyLog += chunk.toString()));

    const deadline = Date.now() + 15_000;
    for (;;) {
      if (caddy.exitCode !== null) throw new Error(`caddy exited with ${caddy.exitCode}:\n${caddyLog}`);
      try {
        if ((await fetch(`http://127.0.0.1:${caddyPort}/up`)).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`caddy did not answer on ${caddyPort}:\n${caddyLog}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    if (caddy && caddy.exitCode === null) {
      const exited = new Promise((resolve) => caddy.once('exit', resolve));
      caddy.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (caddy.exitCode === null) caddy.kill('SIGKILL');
    }
    await h?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('is a valid Caddyfile with the env placeholders resolved', () => {
    const out = execFileSync('caddy', ['adapt', '--config', CADDYFILE, '--adapter', 'caddyfile'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const json = JSON.parse(out) as { admin?: { disabled?: boolean } };
    expect(json.admin?.disabled).toBe(true);
    expect(out).toContain(`"dial":"127.0.0.1:${h.port}"`);
    expect(out).toContain('"flush_interval":-1');
  });

  it('proxies the health routes and answers 404 outside Herald’s paths', async () => {
    const up = await fetch(`http://127.0.0.1:${caddyPort}/up`);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ health: 'OK' });
    expect((await fetch(`http://127.0.0.1:${caddyPort}/ready`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${caddyPort}/somewhere-else`)).status).toBe(404);
  });

  it('delivers an event triggered with the pusher SDK to pusher-js, both through Caddy', async () => {
    const client = new Pusher('app-key', {
      cluster: '',
      wsHost: '127.0.0.1',
      wsPort: caddyPort,
      forceTLS: false,
      enabledTransports: ['ws'],
    });
    try {
      const channel = client.subscribe('orders');
      await new Promise<void>((resolve, reject) => {
        channel.bind('pusher:subscription_succeeded', () => resolve());
        channel.bind('pusher:subscription_error', (err: unknown) => reject(new Error(`subscription_error ${JSON.stringify(err)}`)));
      });
      expect(h.herald.adapter.connectionCount('app-id')).toBe(1);

      const received = new Promise<unknown>((resolve) => channel.bind('order-shipped', resolve));
      const server = new PusherServer({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1', port: String(caddyPort), useTLS: false });
      const res = await server.trigger('orders', 'order-shipped', { id: 42, note: 'via caddy' });
      expect(res.status).toBe(200);
      expect(await received).toEqual({ id: 42, note: 'via caddy' });

      // The REST query API goes through the same proxy.
      const info = await server.get({ path: '/channels/orders', params: { info: 'subscription_count' } });
      expect(info.status).toBe(200);
      expect(await info.json()).toMatchObject({ occupied: true, subscription_count: 1 });
    } finally {
      client.disconnect();
    }
  });

  it('carries Socket.IO long-polling and its upgrade to WebSocket', async () => {
    const socket = io(`http://127.0.0.1:${caddyPort}`, { reconnection: false, forceNew: true });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      const received = new Promise<unknown[]>((resolve) => socket.on('order-shipped', (...args: unknown[]) => resolve(args)));
      socket.emit('subscribe', { channel: 'socketio-orders' });
      const deadline = Date.now() + 5000;
      while ((socket.io.engine.transport.name !== 'websocket' || (await h.herald.adapter.channelInfo('app-id', 'socketio-orders')).subscriptionCount !== 1) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(socket.io.engine.transport.name).toBe('websocket');
      const server = new PusherServer({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1', port: String(caddyPort), useTLS: false });
      await server.trigger('socketio-orders', 'order-shipped', { id: 7 });
      expect(await received).toEqual(['socketio-orders', { id: 7 }]);
    } finally {
      socket.disconnect();
    }
  });

  it('tells Herald the scheme the client used: a requireTls app refuses plain ws:// through it, even when the client claims https', async () => {
    // Caddy sets X-Forwarded-Proto itself (http here: this site is plain HTTP) and drops what an
    // untrusted client sent; Herald believes it because Caddy connects from loopback.
    const ws = new WebSocket(`ws://127.0.0.1:${caddyPort}/app/tls-key?protocol=7&client=js&version=8.6.0`, {
      headers: { 'X-Forwarded-Proto': 'https' },
    });
    try {
      const first = await new Promise<string>((resolve, reject) => {
        ws.once('message', (data) => resolve(String(data)));
        ws.once('error', reject);
      });
      expect(JSON.parse(first)).toMatchObject({ event: 'pusher:error', data: { code: 4000 } });
    } finally {
      ws.close();
    }
  });

  it('keeps an idle WebSocket open through the proxy', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${caddyPort}/app/app-key?protocol=7&client=js&version=8.6.0`);
    try {
      const first = await new Promise<string>((resolve, reject) => {
        ws.once('message', (data) => resolve(String(data)));
        ws.once('error', reject);
      });
      expect(JSON.parse(first)).toMatchObject({ event: 'pusher:connection_established' });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(ws.readyState).toBe(WebSocket.OPEN);
      ws.send(JSON.stringify({ event: 'pusher:ping', data: {} }));
      const pong = await new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
      expect(JSON.parse(pong)).toMatchObject({ event: 'pusher:pong' });
    } finally {
      ws.close();
    }
  });
});
