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
/** `host:port` or `redis[s]://[user:pass@]host:port`, comma separated. */
const SEED_LIST = /^\s*(rediss?:\/\/[^,\s]+|[^,:\s]+:\d+)(\s*,\s*(rediss?:\/\/[^,\s]+|[^,:\s]+:\d+))*\s*$/;

export const clientEventModes = ['none', 'members', 'all'] as const;
/** uWebSockets.js builds by version (src/transport/engine.ts), or the newest that loads. */
export const uwsChoices = ['auto', '20.57', '20.4x'] as const;

/** Pusher's webhook event types (reference section 7), in its order: a webhook's default. */
export const pusherWebhookEvents = [
  'channel_occupied',
  'channel_vacated',
  'member_added',
  'member_removed',
  'client_event',
  'cache_miss',
  'subscription_count',
] as const;
/** Herald's extras, opt-in per webhook: for backends that keep "who is online" or delivery logs. */
export const heraldWebhookEvents = ['user_connected', 'user_disconnected', 'message_delivered'] as const;
export const webhookEventTypes = [...pusherWebhookEvents, ...heraldWebhookEvents] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

const httpUrl = z.string().refine((u) => /^https?:\/\/[^/]/i.test(u) && URL.canParse(u), 'must be an http:// or https:// URL');

export const webhookSchema = z.strictObject({
  /** `{event}` is replaced by the event name in kebab case (`user-connected`), for one endpoint per type. */
  url: httpUrl,
  events: z.array(z.enum(webhookEventTypes)).min(1).default([...pusherWebhookEvents]),
  headers: z.record(z.string().min(1), z.string()).default({}),
  channelPrefix: z.string().optional(),
  channelSuffix: z.string().optional(),
  batch: z.boolean().default(true),
});
export type WebhookConfig = z.output<typeof webhookSchema>;

/** `{name}` placeholders of an ingest pattern; the channel template may use only these. */
export const placeholdersOf = (template: string): string[] => [...template.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!);

export const redisIngestRuleSchema = z
  .strictObject({
    /** Redis channel; each `{name}` matches one non-empty part and can be used in `channel`. */
    pattern: z.string().min(1),
    /** Pusher channel to deliver to, e.g. `#server-to-user-{user_id}` or `private-user.{user_id}`. */
    channel: z.string().min(1),
    /** JSON field holding the event name. */
    event: z.string().min(1).default('type'),
    /** Event name when the message has no `event` field. */
    defaultEvent: z.string().min(1).default('notification'),
    /** JSON field holding the data; absent = the whole message. */
    data: z.string().min(1).optional(),
    /** JSON field holding a socket id to exclude (as Laravel's `socket`). */
    socket: z.string().min(1).optional(),
  })
  .superRefine((rule, ctx) => {
    const known = new Set(placeholdersOf(rule.pattern));
    for (const name of placeholdersOf(rule.channel)) {
      if (!known.has(name)) ctx.addIssue({ code: 'custom', path: ['channel'], message: `{${name}} does not appear in the pattern` });
    }
  });
export type RedisIngestRule = z.output<typeof redisIngestRuleSchema>;
export const redisIngestModes = ['off', 'laravel'] as const;

export const appSchema = z.object({
  id: opt(z.string().min(1), { env: 'HERALD_APP_ID', doc: 'App id: the `{id}` in REST paths `/apps/{id}/…`.' }),
  key: opt(z.string().min(1), { env: 'HERALD_APP_KEY', doc: 'App key: the `{key}` in `/app/{key}` and REST `auth_key`.' }),
  secret: opt(z.string().min(1), { env: 'HERALD_APP_SECRET', doc: 'App secret: the HMAC key for every signature.', secret: true }),
  name: opt(z.string().optional(), { env: 'HERALD_APP_NAME', doc: 'Human-readable name, used in logs only.' }),
  enabled: opt(z.boolean().default(true), { env: 'HERALD_APP_ENABLED', doc: 'A disabled app refuses connections (4003) and REST calls (403).' }),
  maxConnections: opt(nonNegativeInt.default(0), {
    env: 'HERALD_APP_MAX_CONNECTIONS',
    doc: 'Connections this app may hold (0 = unlimited), on every node together in cluster mode; beyond it new connections close with 4004.',
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
  socketIo: opt(z.boolean().default(false), {
    env: 'HERALD_APP_SOCKETIO',
    doc: 'Serve Socket.IO clients (Echo `broadcaster: \'socket.io\'`, socket.io-client) on `/socket.io/`, namespace `/{key}` (the first app also on `/`).',
  }),
  authEndpoint: opt(httpUrl.optional(), {
    env: 'HERALD_APP_AUTH_ENDPOINT',
    doc: "The app's `/broadcasting/auth` URL, called by Herald to authorize a Socket.IO client's private and presence channels.",
  }),
  userEndpoint: opt(httpUrl.optional(), {
    env: 'HERALD_APP_USER_ENDPOINT',
    doc: "URL answering a Socket.IO client's token (sent as `Authorization: Bearer`) with the user as JSON, e.g. Sanctum's `/api/user`.",
  }),
  userIdField: opt(z.string().min(1).default('id'), {
    env: 'HERALD_APP_USER_ID_FIELD',
    doc: "Field of the user endpoint's JSON (or the JWT's claims) holding the user id; dots reach into objects (`data.id`).",
  }),
  userChannels: opt(z.array(z.string().min(1)).default(['private-user.{id}']), {
    env: 'HERALD_APP_USER_CHANNELS',
    doc: 'Channels a token-authenticated Socket.IO client joins at once, `{id}` being its user id (comma list in env).',
  }),
  tokenJwt: opt(z.boolean().default(false), {
    env: 'HERALD_APP_TOKEN_JWT',
    doc: 'Check Socket.IO tokens locally as HS256 JWTs (with `jwtSecret`, else the app secret) instead of calling `userEndpoint`.',
  }),
  jwtSecret: opt(z.string().min(1).optional(), {
    env: 'HERALD_APP_JWT_SECRET',
    doc: 'HS256 key for `tokenJwt`; the app secret when unset.',
    secret: true,
  }),
  webhooks: opt(z.array(webhookSchema).default([]), {
    env: 'HERALD_APP_WEBHOOKS',
    doc:
      'Webhooks (JSON array in env): `{"url", "events", "headers", "channelPrefix", "channelSuffix", "batch"}`, see Webhooks. ' +
      'One webhook from env: `HERALD_APP_WEBHOOK_URL`, `HERALD_APP_WEBHOOK_EVENTS` (comma list, default every Pusher type), ' +
      '`HERALD_APP_WEBHOOK_HEADERS` (JSON object or `Name: value` lines/`;`-separated).',
    secret: true,
  }),
  redisIngest: opt(z.array(redisIngestRuleSchema).default([]), {
    env: 'HERALD_APP_REDIS_INGEST',
    doc:
      'Redis PUBLISH ingest rules (JSON array in env): `{"pattern": "user_noti:{user_id}", "channel": "#server-to-user-{user_id}", "event": "type", "data": "payload"}`, ' +
      'plus `defaultEvent` (`notification`) and `socket`; needs `redisUrl`. See Redis ingest.',
  }),
  webhookQueueSize: opt(positiveInt.default(10_000), {
    env: 'HERALD_APP_WEBHOOK_QUEUE_SIZE',
    doc: "Webhook events this app may have waiting; when full the oldest are dropped (`herald_webhook_events_dropped_total`).",
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
    doc: 'Bytes queued for a slow client (on its WebSocket, or for a Socket.IO long-polling client between polls) before it is disconnected.',
  }),
  maxPayloadLength: opt(positiveInt.default(256 * 1024), {
    env: 'HERALD_MAX_PAYLOAD_LENGTH',
    doc: 'Hard cap on one WebSocket frame (or Socket.IO long-polling request body) in bytes; above it the socket is dropped without a close frame. App `maxMessageSize` answers below it.',
  }),
  pongTimeout: opt(positiveInt.default(30), {
    env: 'HERALD_PONG_TIMEOUT',
    doc: 'Seconds to wait for any frame after a ping before closing with 4201.',
  }),
  maxRequestSize: opt(positiveInt.default(256 * 1024), {
    env: 'HERALD_MAX_REQUEST_SIZE',
    doc: 'Largest HTTP request body in bytes (413 above it), checked before it is buffered.',
  }),
  maxRequestHeadSize: opt(z.number().int().min(1024).default(16 * 1024), {
    env: 'HERALD_MAX_REQUEST_HEAD_SIZE',
    doc: 'Largest HTTP request head (request line and headers) in bytes, WebSocket handshakes included; above it uWebSockets.js answers 431 and closes. Browsers send their cookies for the host with the handshake, which can pass uWebSockets.js\'s own 4 KB.',
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
  uws: opt(z.enum(uwsChoices).default('auto'), {
    env: 'HERALD_UWS',
    doc: 'uWebSockets.js build: `auto` (the newest whose native binary loads here), or `20.57` / `20.4x` to insist on one (start fails if it does not load).',
  }),
  tlsCert: opt(z.string().optional(), { env: 'HERALD_TLS_CERT', doc: 'PEM certificate file; with `tlsKey`, serve wss:// and https:// directly.' }),
  tlsKey: opt(z.string().optional(), { env: 'HERALD_TLS_KEY', doc: 'PEM private key file for `tlsCert`.', secret: true }),
  tlsPassphrase: opt(z.string().optional(), { env: 'HERALD_TLS_PASSPHRASE', doc: 'Passphrase of `tlsKey`, if any.', secret: true }),
  redisUrl: opt(z.string().refine((url) => /^rediss?:\/\//.test(url), 'must start with redis:// or rediss://').optional(), {
    env: 'HERALD_REDIS_URL',
    doc: 'Redis server, `redis://[user:pass@]host:port[/db]` (`rediss://` for TLS), for scale-out and Redis ingest (`--redis`).',
    secret: true,
  }),
  redisCluster: opt(z.string().refine((v) => SEED_LIST.test(v), 'must be host:port seeds separated by commas (each may be a redis:// or rediss:// URL)').optional(), {
    env: 'HERALD_REDIS_CLUSTER',
    doc: 'Redis Cluster seed nodes, `host:port,host:port,…` (or `rediss://[user:pass@]host:port,…` for TLS), instead of `redisUrl` (`--redis-cluster`). Cross-node events use sharded pub/sub.',
    secret: true,
  }),
  redisSentinels: opt(z.string().refine((v) => SEED_LIST.test(v), 'must be host:port sentinels separated by commas').optional(), {
    env: 'HERALD_REDIS_SENTINELS',
    doc: 'Redis Sentinels, `host:port,host:port,…`, instead of `redisUrl`: Herald asks them for the primary of `redisSentinelName` and follows failovers.',
  }),
  redisSentinelName: opt(z.string().min(1).default('mymaster'), {
    env: 'HERALD_REDIS_SENTINEL_NAME',
    doc: 'Name of the primary the sentinels monitor (`sentinel monitor <name> …`).',
  }),
  redisSentinelPassword: opt(z.string().optional(), {
    env: 'HERALD_REDIS_SENTINEL_PASSWORD',
    doc: "The sentinels' own password (`requirepass` in sentinel.conf), if any.",
    secret: true,
  }),
  redisUsername: opt(z.string().optional(), {
    env: 'HERALD_REDIS_USERNAME',
    doc: 'ACL user of the Redis Cluster nodes or of the Sentinel-managed primary (with `redisUrl` put it in the URL).',
  }),
  redisPassword: opt(z.string().optional(), {
    env: 'HERALD_REDIS_PASSWORD',
    doc: 'Password of the Redis Cluster nodes or of the Sentinel-managed primary (with `redisUrl` put it in the URL).',
    secret: true,
  }),
  redisTls: opt(z.boolean().default(false), {
    env: 'HERALD_REDIS_TLS',
    doc: 'TLS to the Redis Cluster nodes or the Sentinel-managed primary and its sentinels (`rediss://` seeds turn it on too).',
  }),
  redisPrefix: opt(z.string().default('herald:'), {
    env: 'HERALD_REDIS_PREFIX',
    doc: 'Prefix of every Redis key and pub/sub channel Herald uses, so several clusters can share one Redis.',
  }),
  scaling: opt(z.boolean().default(true), {
    env: 'HERALD_SCALING',
    doc: 'With Redis configured (`redisUrl`, `redisCluster` or `redisSentinels`), share fan-out, presence and counts with every node on it; false keeps this node alone (Redis then serves ingest only).',
  }),
  redisNodeTimeout: opt(z.number().positive().default(30), {
    env: 'HERALD_REDIS_NODE_TIMEOUT',
    doc: 'Seconds a node may miss its Redis heartbeat before the others declare it dead and remove its connections, members and counts.',
  }),
  redisPresenceTimeout: opt(z.number().positive().default(5), {
    env: 'HERALD_REDIS_PRESENCE_TIMEOUT',
    doc: 'Seconds a presence subscribe waits for an unreachable Redis before `pusher:subscription_error` with status 503.',
  }),
  redisQueueSize: opt(nonNegativeInt.default(10_000), {
    env: 'HERALD_REDIS_QUEUE_SIZE',
    doc: 'Cross-node publishes held while Redis is unreachable; beyond it the oldest are dropped (and counted).',
  }),
  workers: opt(z.union([positiveInt, z.literal('auto')]).default(1), {
    env: 'HERALD_WORKERS',
    doc: 'Herald processes sharing the port (SO_REUSEPORT), each a cluster node on `redisUrl`; `auto` = one per core. Above 1 needs `redisUrl`.',
  }),
  socketIoEio3: opt(z.boolean().default(false), {
    env: 'HERALD_SOCKETIO_EIO3',
    doc: 'Also accept socket.io-client 2.x (Engine.IO 3), as laravel-echo-server users run.',
  }),
  socketIoAuthTimeout: opt(z.number().positive().default(5), {
    env: 'HERALD_SOCKETIO_AUTH_TIMEOUT',
    doc: 'Seconds Herald waits for an app auth or user endpoint before refusing the channel or connection.',
  }),
  socketIoTokenCacheTtl: opt(z.number().min(0).default(30), {
    env: 'HERALD_SOCKETIO_TOKEN_CACHE_TTL',
    doc: 'Seconds a Socket.IO token check is remembered (0 = ask the user endpoint on every connection).',
  }),
  socketIoMaxPendingAuth: opt(positiveInt.default(10), {
    env: 'HERALD_SOCKETIO_MAX_PENDING_AUTH',
    doc: 'Auth endpoint calls one Socket.IO connection may have in flight; further subscribes get `subscription_error` 429.',
  }),
  redisIngest: opt(z.enum(redisIngestModes).default('off'), {
    env: 'HERALD_REDIS_INGEST',
    doc: "`laravel`: relay Laravel's `redis` broadcaster (`PSUBSCRIBE {redisIngestPrefix}*`) to the first app; set by `BROADCAST_CONNECTION=redis` in `--env-file`.",
  }),
  redisIngestPrefix: opt(z.string().default('laravel_database_'), {
    env: 'HERALD_REDIS_INGEST_PREFIX',
    doc: "Laravel's Redis prefix (`REDIS_PREFIX`, else the `APP_NAME` slug + `_database_`), stripped from ingested channel names.",
  }),
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
  webhookBatchMs: opt(nonNegativeInt.default(50), {
    env: 'HERALD_WEBHOOK_BATCH_MS',
    doc: 'How long a batching webhook collects events before it sends them (sooner when `webhookBatchSize` is reached).',
  }),
  webhookBatchSize: opt(positiveInt.max(1000).default(100), { env: 'HERALD_WEBHOOK_BATCH_SIZE', doc: 'Most events in one webhook request.' }),
  webhookTimeoutMs: opt(positiveInt.default(10_000), { env: 'HERALD_WEBHOOK_TIMEOUT_MS', doc: 'A webhook request that takes longer fails and is retried.' }),
  webhookRetryWindowMs: opt(nonNegativeInt.default(300_000), {
    env: 'HERALD_WEBHOOK_RETRY_WINDOW_MS',
    doc: 'How long a failing webhook request (non-2xx or network error) is retried before its events are dropped.',
  }),
  webhookBackoffMs: opt(positiveInt.default(1000), {
    env: 'HERALD_WEBHOOK_BACKOFF_MS',
    doc: 'First retry delay; each retry doubles it (with jitter) up to `webhookBackoffMaxMs`.',
  }),
  webhookBackoffMaxMs: opt(positiveInt.default(60_000), { env: 'HERALD_WEBHOOK_BACKOFF_MAX_MS', doc: 'Longest delay between two retries.' }),
  webhookLeaveDelayMs: opt(nonNegativeInt.default(3000), {
    env: 'HERALD_WEBHOOK_LEAVE_DELAY_MS',
    doc: '`channel_vacated` and `member_removed` wait this long; a re-join within it sends neither them nor the re-add.',
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
  const redis = [cfg.redisUrl, cfg.redisCluster, cfg.redisSentinels].filter((v) => v !== undefined).length;
  if (redis > 1) {
    ctx.addIssue({ code: 'custom', path: ['redisCluster'], message: 'set one of redisUrl, redisCluster and redisSentinels' });
  }
  if (cfg.workers !== 1 && cfg.workers !== 'auto' && redis === 0) {
    ctx.addIssue({ code: 'custom', path: ['workers'], message: 'above 1 needs redisUrl (--redis): workers without Redis could not see each other' });
  }
  const ingests = cfg.redisIngest !== 'off' || cfg.apps.some((app) => app.redisIngest.length > 0);
  if (ingests && redis === 0) {
    ctx.addIssue({ code: 'custom', path: ['redisUrl'], message: 'required for Redis ingest (redisIngest is set)' });
  }
  if (cfg.tlsCert !== undefined && cfg.tlsKey === undefined) {
    ctx.addIssue({ code: 'custom', path: ['tlsKey'], message: 'required when tlsCert is set (set both or neither)' });
  }
  if (cfg.tlsKey !== undefined && cfg.tlsCert === undefined) {
    ctx.addIssue({ code: 'custom', path: ['tlsCert'], message: 'required when tlsKey is set (set both or neither)' });
  }
});

/** Set by the `--workers` supervisor in each worker's environment (its index); not an option. */
export const WORKER_ENV = 'HERALD_WORKER_ID';

export type AppInput = z.input<typeof appSchema>;
export type AppConfig = z.output<typeof appSchema>;
export type ServerInput = z.input<typeof serverSchema>;
export type HeraldConfig = z.output<typeof serverSchema>;

/** Used when no app is configured: printed at start with a warning, never meant for production. */
export const developmentApp: AppInput = { id: 'app-id', key: 'app-key', secret: 'app-secret', name: 'development' };
