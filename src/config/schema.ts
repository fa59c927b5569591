import { z } from 'zod';
import { DEFAULT_TRUSTED_PROXIES, TrustedProxies } from '../transport/forwarded.js';

/**
 * The one config schema. Every option carries its default, the environment variable that sets it
 * and a doc line; `herald config`, the loaders and the README table are all generated from this.
 */
export interface OptionMeta {
  /** Environment variable (HERALD_*); app options set the first app. */
  env: string;
  doc: string;
  secret?: boolean;
}

const opt = <T extends z.ZodType>(schema: T, meta: OptionMeta): T => schema.meta({ ...meta }) as T;

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().min(0);

export const clientEventModes = ['none', 'members', 'all'] as const;

export const appSchema = z.object({
  id: opt(z.string().min(1), { env: 'HERALD_APP_ID', doc: 'App id: the `{id}` in REST paths `/apps/{id}/…`.' }),
  key: opt(z.string().min(1), { env: 'HERALD_APP_KEY', doc: 'App key: the `{key}` in `/app/{key}` and REST `auth_key`.' }),
  secret: opt(z.string().min(1), { env: 'HERALD_APP_SECRET', doc: 'App secret: the HMAC key for every signature.', secret: true }),
  name: opt(z.string().optional(), { env: 'HERALD_APP_NAME', doc: 'Human-readable name, used in logs only.' }),
  enabled: opt(z.boolean().default(true), { env: 'HERALD_APP_ENABLED', doc: 'A disabled app refuses connections (4003) and REST calls (403).' }),
  maxConnections: opt(nonNegativeInt.default(0), {
    env: 'HERALD_APP_MAX_CONNECTIONS',
    doc: 'Connections this app may hold on this node (0 = unlimited); beyond it new connections close with 4004.',
  }),
  activityTimeout: opt(positiveInt.default(120), {
    env: 'HERALD_APP_ACTIVITY_TIMEOUT',
    doc: 'Seconds sent as `activity_timeout`; also the idle time before the server pings a client.',
  }),
  maxMessageSize: opt(positiveInt.default(20_480), {
    env: 'HERALD_APP_MAX_MESSAGE_SIZE',
    doc: 'Largest WebSocket frame accepted from a client, in bytes; larger frames get `pusher:error` (connection stays open).',
  }),
  maxEventDataSize: opt(positiveInt.default(10_240), {
    env: 'HERALD_APP_MAX_EVENT_DATA_SIZE',
    doc: 'Largest event `data` in bytes, for REST (413 above it) and client events.',
  }),
  maxEventNameLength: opt(positiveInt.default(200), { env: 'HERALD_APP_MAX_EVENT_NAME_LENGTH', doc: 'Longest event name.' }),
  maxChannelNameLength: opt(positiveInt.default(164), { env: 'HERALD_APP_MAX_CHANNEL_NAME_LENGTH', doc: 'Longest channel name, prefix included.' }),
  maxChannelsPerConnection: opt(positiveInt.default(500), {
    env: 'HERALD_APP_MAX_CHANNELS_PER_CONNECTION',
    doc: 'Channels one connection may be subscribed to at once; further subscribes get `pusher:error`.',
  }),
  maxChannelsPerTrigger: opt(positiveInt.default(100), { env: 'HERALD_APP_MAX_CHANNELS_PER_TRIGGER', doc: 'Channels in one `POST /events`.' }),
  maxBatchSize: opt(positiveInt.default(10), { env: 'HERALD_APP_MAX_BATCH_SIZE', doc: 'Events in one `POST /batch_events`.' }),
  maxPresenceMembers: opt(positiveInt.default(100), { env: 'HERALD_APP_MAX_PRESENCE_MEMBERS', doc: 'Distinct users per presence channel.' }),
  maxPresenceUserIdLength: opt(positiveInt.default(128), { env: 'HERALD_APP_MAX_PRESENCE_USER_ID_LENGTH', doc: 'Longest presence `user_id`.' }),
  maxPresenceUserInfoSize: opt(positiveInt.default(1024), {
    env: 'HERALD_APP_MAX_PRESENCE_USER_INFO_SIZE',
    doc: 'Largest presence `user_info`, serialised, in bytes.',
  }),
  clientEvents: opt(z.enum(clientEventModes).default('members'), {
    env: 'HERALD_APP_CLIENT_EVENTS',
    doc: "Who may send `client-` events on private/presence channels: `none`, `members` (subscribed connections) or `all` (any connection of the app, as Reverb's `accept_client_events_from`).",
  }),
  clientEventRateLimit: opt(nonNegativeInt.default(10), {
    env: 'HERALD_APP_CLIENT_EVENT_RATE_LIMIT',
    doc: 'Client events per second per connection (0 = unlimited); excess events get `pusher:error` 4301 and are dropped.',
  }),
  userAuthentication: opt(z.boolean().default(true), { env: 'HERALD_APP_USER_AUTHENTICATION', doc: 'Accept `pusher:signin` (user authentication).' }),
  watchlistEvents: opt(z.boolean().default(true), {
    env: 'HERALD_APP_WATCHLIST_EVENTS',
    doc: 'Send `watchlist_events` (online/offline) to signed-in users that have a watchlist.',
  }),
  maxWatchlistSize: opt(positiveInt.default(100), { env: 'HERALD_APP_MAX_WATCHLIST_SIZE', doc: 'Watchlist ids accepted per user; the rest get 4302.' }),
  authorizedConnectionsOnly: opt(z.boolean().default(false), {
    env: 'HERALD_APP_AUTHORIZED_CONNECTIONS_ONLY',
    doc: 'Close (4009) connections that neither sign in nor join a private/presence channel within the timeout.',
  }),
  authorizationTimeout: opt(positiveInt.default(30), {
    env: 'HERALD_APP_AUTHORIZATION_TIMEOUT',
    doc: 'Seconds a connection has to authorize itself when `authorizedConnectionsOnly` is on.',
  }),
  subscriptionCount: opt(z.boolean().default(false), {
    env: 'HERALD_APP_SUBSCRIPTION_COUNT',
    doc: 'Send `pusher_internal:subscription_count` to non-presence channels when their count changes.',
  }),
  cacheTtl: opt(positiveInt.default(1800), { env: 'HERALD_APP_CACHE_TTL', doc: 'Seconds a cache channel keeps its last event.' }),
  allowedOrigins: opt(z.array(z.string()).default(['*']), {
    env: 'HERALD_APP_ALLOWED_ORIGINS',
    doc: 'Hosts allowed in the `Origin` header (comma list in env; `*` wildcards); others close with 4009.',
  }),
  requireTls: opt(z.boolean().default(false), {
    env: 'HERALD_APP_REQUIRE_TLS',
    doc: 'Refuse plain `ws://` connections with 4000 and plain `http://` REST calls with 403; behind a TLS proxy, see `trustedProxies`.',
  }),
  restRateLimit: opt(nonNegativeInt.default(0), {
    env: 'HERALD_APP_REST_RATE_LIMIT',
    doc: 'REST requests per second for this app (0 = unlimited); beyond it 429 with `Retry-After`.',
  }),
  apiKeys: opt(z.array(z.string().min(1)).default([]), {
    env: 'HERALD_APP_API_KEYS',
    doc: 'Keys for the simple `POST /api/broadcast` API (`X-API-Key`, comma list in env); empty = that API is off.',
    secret: true,
  }),
});

export const serverSchema = z.object({
  host: opt(z.string().default('0.0.0.0'), { env: 'HERALD_HOST', doc: 'Address to bind.' }),
  port: opt(port.default(8080), { env: 'HERALD_PORT', doc: 'Port for WebSockets and the HTTP API (0 = any free port).' }),
  pathPrefix: opt(
    z
      .string()
      .default('')
      .refine((p) => p === '' || (p.startsWith('/') && !p.endsWith('/')), 'must be empty or start with / and not end with /'),
    { env: 'HERALD_PATH_PREFIX', doc: "Prefix for every route, WebSocket and REST (Reverb's `REVERB_SERVER_PATH`)." },
  ),
  maxConnections: opt(nonNegativeInt.default(0), {
    env: 'HERALD_MAX_CONNECTIONS',
    doc: 'Connections this node accepts across all apps (0 = unlimited); beyond it new connections close with 4100.',
  }),
  maxBackpressure: opt(positiveInt.default(1024 * 1024), {
    env: 'HERALD_MAX_BACKPRESSURE',
    doc: 'Bytes queued for a slow client before it is disconnected.',
  }),
  maxPayloadLength: opt(positiveInt.default(256 * 1024), {
    env: 'HERALD_MAX_PAYLOAD_LENGTH',
    doc: 'Hard cap on one WebSocket frame in bytes; above it the socket is dropped without a close frame. App `maxMessageSize` answers below it.',
  }),
  pongTimeout: opt(positiveInt.default(30), {
    env: 'HERALD_PONG_TIMEOUT',
    doc: 'Seconds to wait for any frame after a ping before closing with 4201.',
  }),
  maxRequestSize: opt(positiveInt.default(256 * 1024), {
    env: 'HERALD_MAX_REQUEST_SIZE',
    doc: 'Largest HTTP request body in bytes (413 above it), checked before it is buffered.',
  }),
  drainLimit: opt(positiveInt.default(8 * 1024 * 1024), {
    env: 'HERALD_DRAIN_LIMIT',
    doc: 'A request refused before its body was read (413, 401, 404…) has up to this many body bytes read and dropped, so the client gets the answer rather than a reset; a longer body closes the connection.',
  }),
  drainTimeout: opt(z.number().positive().default(10), {
    env: 'HERALD_DRAIN_TIMEOUT',
    doc: 'Seconds a refused chunked body may keep streaming before the connection closes.',
  }),
  trustedProxies: opt(
    z
      .array(z.string())
      .default(DEFAULT_TRUSTED_PROXIES)
      .superRefine((entries, ctx) => {
        try {
          new TrustedProxies(entries);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
        }
      }),
    {
      env: 'HERALD_TRUSTED_PROXIES',
      doc: 'Addresses or CIDR ranges (comma list in env) whose `X-Forwarded-Proto` / `Forwarded: proto=` count as TLS for `requireTls`, WebSocket and REST; default loopback and the private ranges (10/8, 172.16/12, 192.168/16, fc00::/7). `[]` trusts no proxy.',
    },
  ),
  timestampWindow: opt(positiveInt.default(600), {
    env: 'HERALD_TIMESTAMP_WINDOW',
    doc: 'Seconds a signed REST request `auth_timestamp` may differ from server time.',
  }),
  shutdownGracePeriod: opt(nonNegativeInt.default(10), {
    env: 'HERALD_SHUTDOWN_GRACE_PERIOD',
    doc: 'Seconds to wait on SIGTERM/SIGINT for clients to close after 4200 before exiting.',
  }),
  tlsCert: opt(z.string().optional(), { env: 'HERALD_TLS_CERT', doc: 'PEM certificate file; with `tlsKey`, serve wss:// and https:// directly.' }),
  tlsKey: opt(z.string().optional(), { env: 'HERALD_TLS_KEY', doc: 'PEM private key file for `tlsCert`.', secret: true }),
  tlsPassphrase: opt(z.string().optional(), { env: 'HERALD_TLS_PASSPHRASE', doc: 'Passphrase of `tlsKey`, if any.', secret: true }),
  metricsEnabled: opt(z.boolean().default(true), { env: 'HERALD_METRICS_ENABLED', doc: 'Serve Prometheus metrics on a separate port.' }),
  metricsHost: opt(z.string().default('0.0.0.0'), { env: 'HERALD_METRICS_HOST', doc: 'Address the metrics server binds.' }),
  metricsPort: opt(port.default(9601), { env: 'HERALD_METRICS_PORT', doc: 'Port of `GET /metrics` (0 = any free port).' }),
  logLevel: opt(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), {
    env: 'HERALD_LOG_LEVEL',
    doc: 'pino log level (`--debug` sets debug).',
  }),
  logPretty: opt(z.boolean().optional(), {
    env: 'HERALD_LOG_PRETTY',
    doc: 'Human-readable logs; by default only when stdout is a TTY.',
  }),
  apps: opt(z.array(appSchema).default([]), {
    env: 'HERALD_APPS',
    doc: 'The apps (JSON array in env). With none configured a development app is used and a warning printed.',
  }),
}).superRefine((cfg, ctx) => {
  // Cross-field checks: app ids and keys are lookup keys, so they must be unique; TLS needs both files.
  for (const field of ['id', 'key'] as const) {
    const seen = new Map<string, number>();
    cfg.apps.forEach((app, i) => {
      const first = seen.get(app[field]);
      if (first === undefined) seen.set(app[field], i);
      else ctx.addIssue({ code: 'custom', path: ['apps', i, field], message: `duplicate app ${field} ${JSON.stringify(app[field])} (also apps[${first}].${field})` });
    });
  }
  if (cfg.tlsCert !== undefined && cfg.tlsKey === undefined) {
    ctx.addIssue({ code: 'custom', path: ['tlsKey'], message: 'required when tlsCert is set (set both or neither)' });
  }
  if (cfg.tlsKey !== undefined && cfg.tlsCert === undefined) {
    ctx.addIssue({ code: 'custom', path: ['tlsCert'], message: 'required when tlsKey is set (set both or neither)' });
  }
});

export type AppInput = z.input<typeof appSchema>;
export type AppConfig = z.output<typeof appSchema>;
export type ServerInput = z.input<typeof serverSchema>;
export type HeraldConfig = z.output<typeof serverSchema>;

/** Used when no app is configured: printed at start with a warning, never meant for production. */
export const developmentApp: AppInput = { id: 'app-id', key: 'app-key', secret: 'app-secret', name: 'development' };
