/**
 * Issue #9, "How it starts": a Reverb deployment that scales today keeps its `.env`. Two Herald
 * nodes started from one Laravel `.env` each (REVERB_SCALING_ENABLED=true and Laravel's default
 * REDIS_* lines, `REDIS_PASSWORD=null` included) form one cluster: Echo on one node receives what
 * the app's broadcaster sends to the other, and presence spans both.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { disconnectAll, pusherOf, recorder, until } from '../helpers/clients.js';
import { echoOn, startClusterAuth } from '../helpers/cluster-clients.js';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import type { LaravelAuth } from '../helpers/laravel-auth.js';
import { laravelBroadcast, reverbServerEnv } from '../helpers/laravel-broadcast.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const app = { appId: 'app-id', key: 'app-key', secret: 'app-secret' };
const dir = mkdtempSync(join(tmpdir(), 'herald-laravel-scaling-'));
let redis: TestRedis;
let cluster: Cluster;
let auth: LaravelAuth;

/** The server side of a Reverb `.env` (the client-side REVERB_HOST/PORT/SCHEME lines change nothing here). */
let files = 0;
function envFile(port: number, redisPort: number): string {
  const file = join(dir, `node${files++}.env`);
  writeFileSync(
    file,
    [
      'BROADCAST_CONNECTION=reverb',
      ...reverbServerEnv(app, port),
      'REVERB_SCALING_ENABLED=true',
      'REDIS_CLIENT=phpredis',
      'REDIS_HOST=127.0.0.1',
      'REDIS_PASSWORD=null',
      `REDIS_PORT=${redisPort}`,
    ].join('\n'),
  );
  return file;
}

beforeAll(async () => {
  redis = await startRedis();
  cluster = await startCluster(redis, { nodes: 2, apps: null, credentials: app, args: (port) => ['--env-file', envFile(port, redis.port)] });
  auth = await startClusterAuth();
}, 90_000);

afterAll(async () => {
  disconnectAll();
  await cluster?.close();
  await auth?.close();
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('nodes started from Reverb .env files with REVERB_SCALING_ENABLED share broadcasts and presence', async () => {
  const [a, b] = cluster.nodes as [ClusterNode, ClusterNode];
  const echoA = echoOn('reverb', a, auth, 'u1');
  const shipped = recorder('order.shipped');
  echoA.private('orders.5').listen('.order.shipped', shipped.fn);
  await until(() => pusherOf(echoA).channel('private-orders.5')?.subscribed, 'Echo subscribed', 5000);

  const replies = await laravelBroadcast(b, { channels: ['private-orders.5'], event: 'order.shipped', payload: { id: 5 } }, { app });
  expect(replies).toEqual([{ status: 200, body: '{}' }]);
  expect(await shipped.next(5000)).toEqual({ id: 5 });

  const hereB = recorder<{ name: string }[]>('here on b');
  const joiningB = recorder<{ name: string }>('joining on b');
  echoOn('reverb', b, auth, 'u2').join('room.1').here(hereB.fn).joining(joiningB.fn);
  expect((await hereB.next(5000)).map((m) => m.name)).toEqual(['User 2']);
  const hereA = recorder<{ name: string }[]>('here on a');
  echoA.join('room.1').here(hereA.fn);
  expect((await hereA.next(5000)).map((m) => m.name).sort()).toEqual(['User 1', 'User 2']);
  expect(await joiningB.next(5000)).toEqual({ name: 'User 1' });
});
