import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHerald, type TestHerald } from '../helpers/herald.js';

// Direct TLS: uWebSockets.js SSLApp serves wss:// and https:// on the one port.
let dir: string;
let h: TestHerald;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert], {
    stdio: 'ignore',
  });
  h = await startHerald({ server: { tlsCert: cert, tlsKey: key } });
});

afterAll(async () => {
  await h?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('accepts wss:// connections', async () => {
  const ws = new WebSocket(`wss://127.0.0.1:${h.port}/app/app-key?protocol=7&client=js&version=8.6.0`, { rejectUnauthorized: false });
  try {
    const frame = await new Promise<{ event: string; data: string }>((resolve, reject) => {
      ws.once('message', (data) => resolve(JSON.parse(String(data)) as { event: string; data: string }));
      ws.once('error', reject);
      ws.once('close', (code) => reject(new Error(`closed with ${code}`)));
    });
    expect(frame.event).toBe('pusher:connection_established');
    expect(JSON.parse(frame.data)).toMatchObject({ socket_id: expect.stringMatching(/^\d+\.\d+$/) });
  } finally {
    ws.close();
  }
});

it('refuses plain ws:// on the TLS port', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${h.port}/app/app-key?protocol=7`);
  const outcome = await new Promise<string>((resolve) => {
    ws.once('open', () => resolve('open'));
    ws.once('error', () => resolve('error'));
  });
  ws.terminate();
  expect(outcome).toBe('error');
});

it('serves the HTTP API over https://', async () => {
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: h.port, path: '/up', method: 'GET', rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', reject);
    req.end();
  });
  expect(status).toBe(200);
  expect(JSON.parse(body)).toEqual({ health: 'OK' });
});
