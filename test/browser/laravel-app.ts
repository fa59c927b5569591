/**
 * The browser-facing half of a Laravel app for the Chromium test: one origin that logs a user in
 * (`laravel_session` cookie + a per-session CSRF token), serves a dashboard page whose
 * `resources/js/echo.js` is the browser builds of pusher-js and Laravel Echo straight from
 * node_modules, and answers `/broadcasting/auth` + `/broadcasting/user-auth` on the same origin.
 * Those two routes pass the `VerifyCsrfToken` check here and are then forwarded to
 * test/helpers/laravel-auth.ts, so signing and `routes/channels.php` stay in one place.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from '../helpers/net.js';
import { fileURLToPath } from 'node:url';
import type { LaravelAuth } from '../helpers/laravel-auth.js';

const nodeModules = (path: string) => fileURLToPath(new URL(`../../node_modules/${path}`, import.meta.url));

/** The built assets a Laravel page would load (never copied into the repo). */
const ASSETS: Record<string, string> = {
  '/js/pusher.min.js': nodeModules('pusher-js/dist/web/pusher.min.js'),
  // Echo 2.x ships an IIFE build: `var Echo = { default: EchoClass, … }`.
  '/js/echo.iife.js': nodeModules('laravel-echo/dist/echo.iife.js'),
};

export interface LaravelAppOptions {
  /** The Laravel-shaped auth server the broadcasting routes are forwarded to. */
  auth: LaravelAuth;
  /** `VITE_REVERB_HOST` / `VITE_REVERB_PORT`: where the page's Echo connects. */
  wsHost: string;
  wsPort: number;
  /** Session token → CSRF token (`csrf_token()`); a session logs in as `users[token]` of the auth server. */
  sessions: Record<string, string>;
}

export interface BroadcastRequest {
  path: string;
  cookie: string | undefined;
  csrf: string | undefined;
  /** Status sent back to the browser. */
  status: number;
}

export interface LaravelApp {
  /** `http://127.0.0.1:port`; `${url}/login/<session>` sets the cookie and redirects to `/dashboard`. */
  url: string;
  /** Every `/broadcasting/*` request the browser made, oldest first. */
  readonly broadcastRequests: BroadcastRequest[];
  close(): Promise<void>;
}

export async function startLaravelApp(options: LaravelAppOptions): Promise<LaravelApp> {
  const broadcastRequests: BroadcastRequest[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    const session = /(?:^|;\s*)laravel_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];

    const login = /^\/login\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && login) {
      const token = decodeURIComponent(login[1]!);
      if (!(token in options.sessions)) return send(res, 404, 'text/plain', 'Not Found');
      res.writeHead(302, { Location: '/dashboard', 'Set-Cookie': `laravel_session=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Lax` });
      res.end();
      return;
    }

    if (req.method === 'GET' && url.pathname === '/dashboard') {
      const csrf = session === undefined ? undefined : options.sessions[decodeURIComponent(session)];
      if (csrf === undefined) return send(res, 401, 'text/plain', 'Unauthenticated.');
      return send(res, 200, 'text/html; charset=utf-8', dashboard(csrf, options.wsHost, options.wsPort));
    }

    const asset = ASSETS[url.pathname];
    if (req.method === 'GET' && asset) return send(res, 200, 'text/javascript; charset=utf-8', readFileSync(asset));

    if (url.pathname === '/broadcasting/auth' || url.pathname === '/broadcasting/user-auth') {
      const body = await readBody(req);
      const csrf = header(req, 'x-csrf-token');
      const expected = session === undefined ? undefined : options.sessions[decodeURIComponent(session)];
      const log = (status: number) => broadcastRequests.push({ path: url.pathname, cookie: req.headers.cookie, csrf, status });
      // VerifyCsrfToken: a POST without the session's token is a 419 before any route runs.
      if (req.method === 'POST' && (expected === undefined || csrf !== expected)) {
        log(419);
        return send(res, 419, 'application/json', JSON.stringify({ message: 'CSRF token mismatch.' }));
      }
      const upstream = await fetch(options.auth.url + url.pathname + url.search, {
        method: req.method ?? 'POST',
        headers: {
          'Content-Type': header(req, 'content-type') ?? 'application/x-www-form-urlencoded',
          ...(req.headers.cookie ? { Cookie: req.headers.cookie } : {}),
          ...(req.headers.authorization ? { Authorization: req.headers.authorization } : {}),
        },
        ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body }),
      });
      log(upstream.status);
      return send(res, upstream.status, upstream.headers.get('content-type') ?? 'application/json', await upstream.text());
    }

    send(res, 404, 'text/plain', 'Not Found');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain', String(err));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    broadcastRequests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A Blade layout with `<meta name="csrf-token">` (Echo reads it and sends `X-CSRF-TOKEN`) and the
 * app's JS: `window.Echo = new Echo({...})` plus what a dashboard subscribes to. Everything the
 * test inspects is recorded on `window`.
 */
function dashboard(csrf: string, wsHost: string, wsPort: number): string {
  const config = JSON.stringify({
    broadcaster: 'reverb',
    key: 'app-key',
    wsHost,
    wsPort,
    wssPort: wsPort,
    forceTLS: false,
    enabledTransports: ['ws', 'wss'],
    authEndpoint: '/broadcasting/auth',
  });
  return `<!doctype html>
<html>
<head>
  <meta charset="utf-8">
  <meta name="csrf-token" content="${csrf}">
  <title>Dashboard</title>
  <script src="/js/pusher.min.js"></script>
  <script src="/js/echo.iife.js"></script>
</head>
<body>
  <h1>Dashboard</h1>
  <script>
    window.received = [];
    window.here = null;
    window.errors = {};
    window.subscribed = [];
    window.Echo = new Echo.default(${config});

    window.Echo.private('commerce.5')
      .subscribed(function () { window.subscribed.push('private-commerce.5'); })
      .listen('.notification.created', function (e) { window.received.push(e); });

    window.Echo.join('chat.1')
      .subscribed(function () { window.subscribed.push('presence-chat.1'); })
      .here(function (users) { window.here = users; });

    // Not this user's channel: /broadcasting/auth answers 403.
    window.Echo.private('commerce.6')
      .subscribed(function () { window.subscribed.push('private-commerce.6'); })
      .error(function (e) { window.errors['private-commerce.6'] = e; });
  </script>
</body>
</html>
`;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'Content-Type': type });
  res.end(body);
}

