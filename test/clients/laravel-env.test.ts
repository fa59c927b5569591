/**
 * Issue #4's promise, end to end: `herald start --env-file <laravel>/.env` with nothing but the
 * values a Laravel app already has, then its Echo front end and its broadcaster work unchanged.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { disconnectAll, echoClient, pusherOf, recorder, type Broadcaster } from '../helpers/clients.js';
import { sessionHeaders, startLaravelAuth, type LaravelAuth } from '../helpers/laravel-auth.js';
import { nodePusher, reverbServerEnv } from '../helpers/laravel-broadcast.js';
import { startCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-laravel-env-'));
const app = { appId: 'laravel-app', key: 'laravel-key', secret: 'laravel-secret' };

let herald: ChildProcess | undefined;
let auth: LaravelAuth | undefined;
afterEach(async () => {
  disconnectAll();
  await auth?.close();
  auth = undefined;
  herald?.kill('SIGKILL');
  herald = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The `.env` lines `php artisan install:broadcasting` leaves for each driver. */
function laravelEnv(driver: Broadcaster, port: number): string {
  if (driver === 'reverb') {
    return [
      'BROADCAST_CONNECTION=reverb',
      ...reverbServerEnv(app, port),
      'REVERB_HOST="localhost"',
      `REVERB_PORT=${port}`,
      'REVERB_SCHEME=http',
      'VITE_REVERB_APP_KEY="${REVERB_APP_KEY}"',
      'VITE_REVERB_HOST="${REVERB_HOST}"',
    ].join('\n');
  }
  return [
    'BROADCAST_CONNECTION=pusher',
    `PUSHER_APP_ID=${app.appId}`,
    `PUSHER_APP_KEY=${app.key}`,
    `PUSHER_APP_SECRET=${app.secret}`,
    'PUSHER_HOST=127.0.0.1',
    `PUSHER_PORT=${port}`,
    'PUSHER_SCHEME=http',
    'PUSHER_APP_CLUSTER=mt1',
  ].join('\n');
}

describe.each(['reverb', 'pusher'] as const)('a Laravel app with BROADCAST_CONNECTION=%s', (driver) => {
  it('starts Herald from its .env; Echo receives what its broadcaster sends; SIGTERM exits 0', async () => {
    const port = await freePort();
    const envFile = join(dir, `${driver}.env`);
    writeFileSync(envFile, laravelEnv(driver, port));
    // The pusher driver's .env names no bind address: the operator gives it as flags.
    herald = await startCli(driver === 'reverb' ? ['--env-file', envFile] : ['--env-file', envFile, '--host', '127.0.0.1', '--port', String(port)]);
    auth = await startLaravelAuth({
      key: app.key,
      secret: app.secret,
      users: { ada: { id: 5, name: 'Ada' } },
      channels: { 'commerce.{id}': (user, id) => String(user.id) === id },
    });

    const echo = echoClient(driver, { port, wsHost: '127.0.0.1' }, auth, sessionHeaders('ada'), app.key);
    const shipped = recorder('order.shipped');
    const subscribed = recorder('subscribed');
    echo.private('commerce.5').listen('.order.shipped', shipped.fn);
    pusherOf(echo).channel('private-commerce.5').bind('pusher:subscription_succeeded', subscribed.fn);
    await subscribed.next();

    await nodePusher({ url: `http://127.0.0.1:${port}`, port }, { app }).trigger('private-commerce.5', 'order.shipped', { id: 5 });
    expect(await shipped.next()).toEqual({ id: 5 });

    disconnectAll();
    const exited = new Promise<number | null>((resolve) => herald!.once('exit', resolve));
    herald.kill('SIGTERM');
    expect(await exited).toBe(0);
    herald = undefined;
  }, 30_000);
});
