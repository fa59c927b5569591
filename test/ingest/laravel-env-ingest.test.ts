/**
 * `herald start --env-file <laravel>/.env` for a Laravel app that broadcasts through Redis: with
 * `BROADCAST_CONNECTION=redis`, or on the reverb driver with `HERALD_REDIS_INGEST=laravel` in the
 * same file. Herald reads REDIS_HOST/PORT/PASSWORD and the APP_NAME-derived prefix from it.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { disconnectAll, echoClient, pusherOf, recorder, sleep } from '../helpers/clients.js';
import { phpJsonEncode, sessionHeaders, startLaravelAuth, type LaravelAuth } from '../helpers/laravel-auth.js';
import { startCli } from '../helpers/cli.js';
import { reverbServerEnv } from '../helpers/laravel-broadcast.js';
import { freePort } from '../helpers/net.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-laravel-ingest-'));
const app = { appId: 'laravel-app', key: 'laravel-key', secret: 'laravel-secret' };
const LARAVEL_LUA = "for i = 2, #ARGV do\n  redis.call('publish', ARGV[i], ARGV[1])\nend";

let redis: TestRedis;
let herald: ChildProcess | undefined;
let auth: LaravelAuth | undefined;
beforeAll(async () => {
  redis = await startRedis({ password: 'laravel pw' });
});
afterEach(async () => {
  disconnectAll();
  await auth?.close();
  auth = undefined;
  herald?.kill('SIGKILL');
  herald = undefined;
});
afterAll(async () => {
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['BROADCAST_CONNECTION=redis', ['BROADCAST_CONNECTION=redis']],
  ['the reverb driver plus HERALD_REDIS_INGEST=laravel', ['BROADCAST_CONNECTION=reverb', 'HERALD_REDIS_INGEST=laravel']],
])('a Laravel app with %s', (_label, lines) => {
  it('Echo receives what RedisBroadcaster publishes; SIGTERM exits 0', async () => {
    const port = await freePort();
    const envFile = join(dir, `${port}.env`);
    writeFileSync(
      envFile,
      [
        'APP_NAME="Acme Shop"',
        ...lines,
        ...reverbServerEnv(app, port),
        'REDIS_CLIENT=phpredis',
        'REDIS_HOST=127.0.0.1',
        `REDIS_PASSWORD="${redis.password}"`,
        `REDIS_PORT=${redis.port}`,
      ].join('\n'),
    );
    herald = await startCli(['--env-file', envFile], 'Redis ingest subscribed');
    auth = await startLaravelAuth({ key: app.key, secret: app.secret, users: { ada: { id: 5, name: 'Ada' } }, channels: { 'commerce.{id}': () => true } });
    const echo = echoClient('reverb', { port, wsHost: '127.0.0.1' }, auth, sessionHeaders('ada'), app.key);
    const shipped = recorder('OrderShipped');
    const subscribed = recorder('subscribed');
    echo.private('commerce.5').listen('OrderShipped', shipped.fn);
    pusherOf(echo).channel('private-commerce.5').bind('pusher:subscription_succeeded', subscribed.fn);
    await subscribed.next(5000);

    // `Str::slug('Acme Shop', '_') . '_database_'`
    const payload = phpJsonEncode({ event: 'App\\Events\\OrderShipped', data: { id: 5, socket: null }, socket: null });
    await redis.client().eval(LARAVEL_LUA, 0, payload, 'acme_shop_database_private-commerce.5');
    expect(await shipped.next()).toEqual({ id: 5, socket: null });

    disconnectAll();
    await sleep(50);
    const exited = new Promise<number | null>((resolve) => herald!.once('exit', resolve));
    herald.kill('SIGTERM');
    expect(await exited).toBe(0);
    herald = undefined;
  }, 30_000);
});
