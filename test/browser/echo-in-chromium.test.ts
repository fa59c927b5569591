// End-to-end in a real browser: a logged-in Laravel page in headless Chromium runs the browser
// builds of pusher-js 8.6 (dist/web) and Laravel Echo 2.5 (IIFE) against a real Herald. Auth is
// same-origin: the `laravel_session` cookie plus Echo's X-CSRF-TOKEN from <meta name="csrf-token">.
// Events are published through the official `pusher` Node SDK.
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { startLaravelAuth, type LaravelAuth, type LaravelUser } from '../helpers/laravel-auth.js';
import { nodePusher } from '../helpers/laravel-broadcast.js';
import { startLaravelApp, type LaravelApp } from './laravel-app.js';

/** `CHROMIUM_PATH` overrides Debian's `chromium` package. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const USERS: Record<string, LaravelUser> = { 'ada-session': { id: 5, name: 'Ada' } };
const CSRF = 'r3W9cY1n0bqYQp4lT7gA2vKxE8sJm6dHfU5oZiLw';

// routes/channels.php
const CHANNELS = {
  'commerce.{id}': (user: LaravelUser, id: string) => user.id == Number(id),
  'chat.{id}': (user: LaravelUser) => ({ id: user.id, name: user.name }),
};

/** What the dashboard page records on `window` (see laravel-app.ts). */
interface Dashboard {
  received: unknown[];
  here: unknown[] | null;
  errors: Record<string, unknown>;
  subscribed: string[];
  Echo: { socketId(): string | undefined; connectionStatus(): string };
}

let h: TestHerald;
let auth: LaravelAuth;
let app: LaravelApp;
let browser: Browser | undefined;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  h = await startHerald();
  auth = await startLaravelAuth({ users: USERS, channels: CHANNELS });
  app = await startLaravelApp({ auth, wsHost: h.wsHost, wsPort: h.port, sessions: { 'ada-session': CSRF } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 });
  page = await browser.newPage();
  page.setDefaultTimeout(5_000);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  // Logging in sets the session cookie and redirects to the dashboard, which connects Echo.
  const res = await page.goto(`${app.url}/login/ada-session`);
  expect(res?.url()).toBe(`${app.url}/dashboard`);
  expect(res?.status()).toBe(200);
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await auth?.close();
  await h?.stop();
});

describe('Laravel Echo + pusher-js browser builds in Chromium', () => {
  it('connects, subscribes with cookie + CSRF auth, receives events, lists presence members, reports 403s', async () => {
    // Connected, with a Pusher socket id that Herald knows.
    await page.waitForFunction(() => (window as unknown as Dashboard).Echo.connectionStatus() === 'connected');
    const socketId = await page.evaluate(() => (window as unknown as Dashboard).Echo.socketId());
    expect(socketId).toMatch(/^\d+\.\d+$/);
    expect(h.herald.adapter.connection(socketId!)).toBeDefined();

    // Both allowed channels subscribe; the presence here() lists the logged-in user.
    await page.waitForFunction(() => (window as unknown as Dashboard).subscribed.length >= 2);
    expect((await page.evaluate(() => (window as unknown as Dashboard).subscribed)).sort()).toEqual(['presence-chat.1', 'private-commerce.5']);
    await page.waitForFunction(() => (window as unknown as Dashboard).here !== null);
    expect(await page.evaluate(() => (window as unknown as Dashboard).here)).toEqual([{ id: 5, name: 'Ada' }]);

    // The official SDK triggers; the page's listen('.notification.created') gets the exact payload.
    const payload = { message: 'Order paid', order: { id: 5, total: '€12.50', url: 'https://shop.test/orders/5', items: [1, 2, 3] }, read: false, note: null };
    await nodePusher(h).trigger('private-commerce.5', 'notification.created', payload);
    await page.waitForFunction(() => (window as unknown as Dashboard).received.length > 0);
    expect(await page.evaluate(() => (window as unknown as Dashboard).received)).toEqual([payload]);

    // commerce.6 is not Ada's: Echo's .error() fires with the 403 and it never subscribes.
    await page.waitForFunction(() => 'private-commerce.6' in (window as unknown as Dashboard).errors);
    expect(await page.evaluate(() => (window as unknown as Dashboard).errors['private-commerce.6'])).toMatchObject({ type: 'AuthError', status: 403 });
    expect(await page.evaluate(() => (window as unknown as Dashboard).subscribed)).not.toContain('private-commerce.6');
    expect(h.herald.adapter.connection(socketId!)?.inChannel('private-commerce.6')).toBe(false);

    // Every auth request came from the browser with the session cookie and the page's CSRF token,
    // and was signed for user 5 for this socket.
    const fromBrowser = app.broadcastRequests.map((r) => ({ path: r.path, status: r.status, csrf: r.csrf, session: /laravel_session=([^;]+)/.exec(r.cookie ?? '')?.[1] }));
    expect(fromBrowser).toHaveLength(3);
    for (const r of fromBrowser) expect(r).toMatchObject({ path: '/broadcasting/auth', csrf: CSRF, session: 'ada-session' });
    expect(
      auth.requests.map((r) => [r.channelName, r.status, r.user, r.socketId]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    ).toEqual([
      ['presence-chat.1', 200, '5', socketId],
      ['private-commerce.5', 200, '5', socketId],
      ['private-commerce.6', 403, '5', socketId],
    ]);
    expect(pageErrors).toEqual([]);
  }, 30_000);
});
