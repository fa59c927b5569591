/**
 * Real pusher-js (Node build, which bundles tweetnacl and so also handles `private-encrypted-`)
 * and Laravel Echo clients pointed at a test Herald, plus small waiting utilities. Every client made
 * here is remembered so `disconnectAll()` in afterEach leaves no sockets or timers behind.
 */
import Echo from 'laravel-echo';
import PusherModule, { type Channel, type Options } from 'pusher-js';

/**
 * pusher-js's CommonJS entry exports the class itself, but its typings declare an ES default
 * export, which NodeNext resolution reads as `module.exports.default`; re-exported here typed right.
 */
export const Pusher = PusherModule as unknown as typeof PusherModule.default;
export type Pusher = InstanceType<typeof Pusher>;
export { Echo };

const live = new Set<{ disconnect(): void }>();

export interface ClientTarget {
  port: number;
  wsHost: string;
}

export interface AuthTarget {
  authEndpoint: string;
  userAuthEndpoint: string;
}

/** Options a Laravel app's `resources/js/echo.js` would pass for a self-hosted server. */
export function pusherOptions(h: ClientTarget, auth?: AuthTarget, headers: Record<string, string> = {}): Options {
  return {
    cluster: '',
    wsHost: h.wsHost,
    wsPort: h.port,
    wssPort: h.port,
    forceTLS: false,
    enabledTransports: ['ws', 'wss'],
    ...(auth
      ? {
          channelAuthorization: { endpoint: auth.authEndpoint, transport: 'ajax', headers },
          userAuthentication: { endpoint: auth.userAuthEndpoint, transport: 'ajax', headers },
        }
      : {}),
  };
}

/** `new Pusher('app-key', …)` — connects at once. */
export function pusherClient(h: ClientTarget, auth?: AuthTarget, headers?: Record<string, string>, extra: Partial<Options> = {}, key = 'app-key'): Pusher {
  const client = new Pusher(key, { ...pusherOptions(h, auth, headers), ...extra });
  live.add(client);
  return client;
}

export type Broadcaster = 'reverb' | 'pusher';

export type AnyEcho = Echo<'reverb'> | Echo<'pusher'>;

/**
 * `new Echo({...})` as a Laravel front end configures it, with pusher-js passed as the `Pusher`
 * option (Echo 2.x builds `new options.Pusher(key, options)`; `client` would take an instance).
 */
export function echoClient(
  broadcaster: Broadcaster,
  h: ClientTarget,
  auth: AuthTarget,
  headers: Record<string, string> = {},
  key = 'app-key',
): AnyEcho {
  const options = {
    // Echo's typings see pusher-js through the same NodeNext lens: the module, which at runtime is the class.
    Pusher: PusherModule,
    key,
    wsHost: h.wsHost,
    wsPort: h.port,
    wssPort: h.port,
    forceTLS: false as const,
    enabledTransports: ['ws', 'wss'] as Options['enabledTransports'],
    cluster: '',
    authEndpoint: auth.authEndpoint,
    auth: { headers: { ...headers } },
    userAuthentication: { endpoint: auth.userAuthEndpoint, transport: 'ajax' as const, headers: { ...headers } },
  };
  const echo = broadcaster === 'reverb' ? new Echo({ ...options, broadcaster }) : new Echo({ ...options, broadcaster });
  live.add(echo);
  return echo;
}

/** The pusher-js instance behind an Echo. */
export function pusherOf(echo: AnyEcho): Pusher {
  return (echo.connector as unknown as { pusher: Pusher }).pusher;
}

export function disconnectAll(): void {
  for (const client of live) client.disconnect();
  live.clear();
}

/** Disconnects every client and waits until the server has seen each one leave. */
export async function disconnectAllAndWait(h: { herald: { adapter: { connectionCount(): number } } }): Promise<void> {
  disconnectAll();
  await until(() => h.herald.adapter.connectionCount() === 0, 'server to see every client leave');
}

/** Resolves with the socket id once the client reaches `connected`. */
export function connected(client: Pusher, timeoutMs = 5000): Promise<string> {
  if (client.connection.state === 'connected') return Promise.resolve(client.connection.socket_id);
  return withTimeout(
    new Promise<string>((resolve) => {
      const onConnected = () => {
        client.connection.unbind('connected', onConnected);
        resolve(client.connection.socket_id);
      };
      client.connection.bind('connected', onConnected);
    }),
    timeoutMs,
    `connected (state ${client.connection.state})`,
  );
}

/**
 * Collects every call of a callback, so a test can bind first and await later without races:
 * `const got = recorder(); channel.bind('x', got.fn); …; await got.next()`.
 */
export interface Recorder<T = unknown> {
  readonly fn: (value: T, ...rest: unknown[]) => void;
  readonly calls: T[];
  /** The next call not yet returned by `next`, or a timeout error. */
  next(timeoutMs?: number): Promise<T>;
  /** Fails if a (further) call arrives within `ms`. */
  none(ms?: number): Promise<void>;
}

export function recorder<T = unknown>(label = 'callback'): Recorder<T> {
  const calls: T[] = [];
  let read = 0;
  let wake: (() => void) | undefined;
  return {
    calls,
    fn: (value: T) => {
      calls.push(value);
      wake?.();
    },
    async next(timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      while (read >= calls.length) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${label} (${calls.length} calls so far)`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            wake = undefined;
            resolve();
          };
        });
      }
      return calls[read++]!;
    },
    async none(ms = 300) {
      const before = calls.length;
      await sleep(ms);
      if (calls.length > before) throw new Error(`${label} unexpectedly called with ${JSON.stringify(calls.slice(before))}`);
    },
  };
}

/** Polls `check` until it returns a truthy value. */
export async function until<T>(check: () => T | undefined | null | false, label: string, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await sleep(10);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function withTimeout<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${label}`)), ms);
    }),
  ]);
}

/** Subscribes and waits for `pusher:subscription_succeeded`. */
export async function subscribed(p: Pusher, name: string): Promise<Channel> {
  const channel = p.subscribe(name);
  const done = recorder(`subscription_succeeded ${name}`);
  channel.bind('pusher:subscription_succeeded', done.fn);
  await done.next();
  return channel;
}

/** Records every `event` the channel receives. */
export function listen(channel: Channel, event: string): Recorder {
  const got = recorder(`${channel.name} ${event}`);
  channel.bind(event, got.fn);
  return got;
}
