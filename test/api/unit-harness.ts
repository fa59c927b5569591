/**
 * Calls the HTTP API handlers directly with fake requests: a LocalAdapter whose publishes are
 * recorded, fake connections, a frozen clock and the same route table `registerHttpRoutes` mounts.
 */
import { pino } from 'pino';
import { signRestQuery } from '../../protocol/signing.js';
import { LocalAdapter } from '../../src/adapter/local.js';
import { topicOf } from '../../src/channels/topics.js';
import { StaticAppRegistry } from '../../src/apps/registry.js';
import { serverSchema, type AppInput, type ServerInput } from '../../src/config/schema.js';
import { Lifecycle } from '../../src/events/lifecycle.js';
import { Stats } from '../../src/metrics/stats.js';
import { apiContext, apiRoutes, instrument } from '../../src/api/routes.js';
import type { ApiContext } from '../../src/api/context.js';
import { methodNotAllowed, notFound } from '../../src/api/reply.js';
import type { HttpReply, HttpRequest } from '../../src/transport/uws.js';
import { Connection } from '../../src/rules/connection.js';
import type { Socket } from '../../src/transport/uws.js';

export const APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' } as const;

export interface Delivery {
  topic: string;
  frame: string;
  /** Socket id skipped (publish through that socket). */
  except?: string;
}

export interface FakeConn extends Connection {
  sent: string[];
  closed: { code: number | undefined; reason: string | undefined } | undefined;
}

export function unitHarness(opts: { server?: Partial<ServerInput>; app?: Partial<AppInput>; apps?: AppInput[] } = {}) {
  const config = serverSchema.parse({ ...opts.server, apps: opts.apps ?? [{ ...APP, ...opts.app }] });
  const deliveries: Delivery[] = [];
  const stats = new Stats();
  const subscribers = new Map<string, Set<string>>();
  const adapter = new LocalAdapter(
    {
      // As the transport does: a publish skipping a socket goes out through that socket.
      publish: (topic, frame, except) => {
        if (except) return except.publish(topic, frame);
        deliveries.push({ topic, frame });
        return true;
      },
      numSubscribers: (topic) => subscribers.get(topic)?.size ?? 0,
    },
    stats,
  );
  const clock = { now: 1_700_000_000_000 };
  const state = { draining: false };
  const ctx: ApiContext = apiContext(
    {
      config,
      apps: new StaticAppRegistry(config.apps),
      adapter,
      stats,
      logger: pino({ level: process.env.API_TEST_LOG ?? 'silent' }),
      events: new Lifecycle(),
      startedAt: clock.now - 42_500,
      isDraining: () => state.draining,
    },
    (appId, channel) => subscribers.get(topicOf(appId, channel))?.size ?? 0,
    () => clock.now,
  );
  const routes = apiRoutes(ctx);

  /** A connected fake socket of `appId`, registered with the adapter. */
  function connect(appId: string = config.apps[0]!.id): FakeConn {
    const app = config.apps.find((a) => a.id === appId)!;
    const conn = new Connection(app, clock.now, stats) as FakeConn;
    conn.sent = [];
    conn.closed = undefined;
    const socket: Socket = {
      send: (m) => (conn.sent.push(m), 1),
      subscribe: (topic) => {
        let set = subscribers.get(topic);
        if (!set) subscribers.set(topic, (set = new Set()));
        set.add(conn.socketId);
        return true;
      },
      unsubscribe: (topic) => subscribers.get(topic)?.delete(conn.socketId) ?? false,
      isSubscribed: (topic) => subscribers.get(topic)?.has(conn.socketId) ?? false,
      getTopics: () => [...subscribers].filter(([, set]) => set.has(conn.socketId)).map(([topic]) => topic),
      publish: (topic, frame) => (deliveries.push({ topic, frame, except: conn.socketId }), true),
      ping: () => 1,
      end: (code, reason) => {
        conn.closed = { code, reason };
        conn.open = false;
      },
      cork: (cb) => cb(),
    };
    conn.socket = socket;
    conn.open = true;
    adapter.addConnection(conn);
    return conn;
  }

  function subscribe(conn: Connection, channel: string, userId?: string) {
    adapter.subscribe(conn, channel, userId === undefined ? undefined : { id: userId, info: {} });
  }

  function signIn(conn: Connection, userId: string) {
    conn.user = { id: userId, info: {}, watchlist: [] };
    adapter.signIn(conn);
  }

  /** Dispatches like uWS: method-specific route, else 405 on a known path, else 404. */
  async function request(method: string, fullPath: string, rawQuery = '', body: string | Buffer = '', headers: Record<string, string> = {}) {
    const prefix = config.pathPrefix;
    let reply: HttpReply | undefined;
    for (const route of routes) {
      for (const path of route.paths) {
        const params = match(prefix + path, fullPath);
        if (!params) continue;
        const handler = route.handlers[method.toLowerCase() as keyof typeof route.handlers];
        const req: HttpRequest = {
          method,
          path: fullPath,
          query: rawQuery,
          params,
          headers,
          body: Buffer.isBuffer(body) ? body : Buffer.from(body),
          secure: false,
          early: undefined,
        };
        const allow = Object.keys(route.handlers).map((m) => m.toUpperCase());
        reply = await instrument(ctx, route.endpoint, handler ?? (() => methodNotAllowed(allow)))(req);
        break;
      }
      if (reply) break;
    }
    reply ??= await instrument(ctx, 'not_found', notFound)({} as HttpRequest);
    const raw = typeof reply.body === 'string' ? reply.body : Buffer.from(reply.body).toString();
    return { status: reply.status, headers: reply.headers ?? {}, body: JSON.parse(raw || 'null') as any, raw };
  }

  /** A request signed as the official SDKs sign it (path without the prefix). */
  function signed(
    method: string,
    path: string,
    body: unknown = undefined,
    extra: Record<string, string> = {},
    sign: { key?: string; secret?: string; timestamp?: number; prefix?: string } = {},
  ) {
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    const app = config.apps[0]!;
    const query = signRestQuery(
      method,
      path,
      sign.key ?? app.key,
      sign.secret ?? app.secret,
      text,
      sign.timestamp ?? Math.floor(clock.now / 1000),
      extra,
    );
    return request(method, (sign.prefix ?? config.pathPrefix) + path, query, text);
  }

  return { config, ctx, adapter, stats, clock, state, deliveries, connect, subscribe, signIn, request, signed };
}

function match(pattern: string, path: string): string[] | undefined {
  const p = pattern.split('/');
  const s = path.split('/');
  if (p.length !== s.length) return undefined;
  const params: string[] = [];
  for (let i = 0; i < p.length; i++) {
    if (p[i]!.startsWith(':')) {
      if (s[i] === '') return undefined;
      params.push(s[i]!);
    } else if (p[i] !== s[i]) return undefined;
  }
  return params;
}
