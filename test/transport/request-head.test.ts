import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { RawHttp } from '../helpers/raw-http.js';

/**
 * `maxRequestHeadSize` reaches uWebSockets.js, which reads it once per process before its binary
 * loads: so a Herald process of its own, started as an operator starts it.
 */
let herald: ChildProcess | undefined;
let port: number;

beforeAll(async () => {
  port = await freePort();
  herald = await startCli(['--host', '127.0.0.1', '--port', String(port)], 'Herald listening', {
    HERALD_APP_ID: 'app-id',
    HERALD_APP_KEY: 'app-key',
    HERALD_APP_SECRET: 'app-secret',
    HERALD_MAX_REQUEST_HEAD_SIZE: '2048',
  });
}, 30_000);

afterAll(() => {
  herald?.kill('SIGKILL');
});

const request = (cookieBytes: number) => `GET /up HTTP/1.1\r\nHost: x\r\nCookie: c=${'v'.repeat(cookieBytes)}\r\n\r\n`;

it('a head under the configured size is served', async () => {
  const conn = await RawHttp.connect(port);
  await conn.write(request(1500));
  expect((await conn.response(2000))?.status).toBe(200);
  conn.end();
});

it('a head over it gets 431 and a close, below uWebSockets.js\'s own 4 KB', async () => {
  const conn = await RawHttp.connect(port);
  await conn.write(request(3000));
  expect((await conn.response(2000))?.status).toBe(431);
  expect(await conn.waitClosed(2000)).toBe(true);
});

