/**
 * Redis ingest over TLS with a password (`rediss://`), the way managed Redis services are reached:
 * a real TLS-only redis-server with its own CA, trusted by Herald through NODE_EXTRA_CA_CERTS.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { disconnectAll, listen, pusherClient, subscribed } from '../helpers/clients.js';
import { startCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { startRedis, type RedisTls, type TestRedis } from '../helpers/redis.js';
import { redisCertificates } from '../helpers/redis-certs.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-redis-tls-'));
let redis: TestRedis;
let herald: ChildProcess | undefined;

let tls: RedisTls;

beforeAll(async () => {
  tls = redisCertificates(dir);
  redis = await startRedis({ password: 'tls pw', tls });
});
afterAll(async () => {
  disconnectAll();
  herald?.kill('SIGKILL');
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('subscribes over rediss:// and relays what is published there', async () => {
  expect(redis.url.startsWith('rediss://')).toBe(true);
  const port = await freePort();
  herald = await startCli(['--host', '127.0.0.1', '--port', String(port)], 'Redis ingest subscribed', {
    NODE_EXTRA_CA_CERTS: tls.caFile,
    HERALD_APP_ID: 'app-id',
    HERALD_APP_KEY: 'app-key',
    HERALD_APP_SECRET: 'app-secret',
    HERALD_REDIS_URL: redis.url,
    HERALD_SCALING: 'false',
    HERALD_APP_REDIS_INGEST: JSON.stringify([{ pattern: 'prices:{symbol}', channel: 'prices-{symbol}', event: 'kind', data: 'quote' }]),
  });
  const client = pusherClient({ port, wsHost: '127.0.0.1' });
  const got = listen(await subscribed(client, 'prices-ACME'), 'tick');
  await redis.client().publish('prices:ACME', JSON.stringify({ kind: 'tick', quote: { bid: 10.5 } }));
  expect(await got.next()).toEqual({ bid: 10.5 });
}, 30_000);
