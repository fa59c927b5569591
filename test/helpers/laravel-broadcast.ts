/**
 * Server-side publishers as a Laravel app drives them: `laravelBroadcast` reproduces
 * PusherBroadcaster::broadcast() + pusher-http-php 7.2 `trigger()` byte for byte (section 8.1);
 * `nodePusher` is the official `pusher` Node SDK pointed at a test Herald.
 */
import Pusher from 'pusher';
import { hmacSha256Hex, md5Hex } from '../../protocol/signing.js';
import { phpJsonEncode } from './laravel-auth.js';

export interface RestTarget {
  /** `http://host:port` plus any path prefix. */
  url: string;
  port: number;
}

export interface AppCredentials {
  appId: string;
  key: string;
  secret: string;
}

/** The server side of a Reverb `.env`: the app's credentials and where Herald binds. */
export function reverbServerEnv(app: AppCredentials, port: number): string[] {
  return [
    `REVERB_APP_ID=${app.appId}`,
    `REVERB_APP_KEY=${app.key}`,
    `REVERB_APP_SECRET=${app.secret}`,
    'REVERB_SERVER_HOST=127.0.0.1',
    `REVERB_SERVER_PORT=${port}`,
  ];
}

export const TEST_CREDENTIALS: AppCredentials = { appId: 'app-id', key: 'app-key', secret: 'app-secret' };

/** The official Node REST SDK against a test Herald. */
export function nodePusher(target: RestTarget, extra: { encryptionMasterKeyBase64?: string; app?: AppCredentials } = {}): Pusher {
  const app = extra.app ?? TEST_CREDENTIALS;
  return new Pusher({
    appId: app.appId,
    key: app.key,
    secret: app.secret,
    host: '127.0.0.1',
    port: String(target.port),
    useTLS: false,
    ...(extra.encryptionMasterKeyBase64 ? { encryptionMasterKeyBase64: extra.encryptionMasterKeyBase64 } : {}),
  });
}

export interface BroadcastInput {
  /** Full channel names as Laravel formats them (`private-orders.5`, `presence-chat.1`, `orders`). */
  channels: string[];
  /** `broadcastAs()` or the class name, e.g. `App\Events\OrderShipped`. */
  event: string;
  /** `broadcastWith()`; a `socket` key is pulled out and sent as `socket_id` (`toOthers()`). */
  payload: Record<string, unknown>;
}

export interface RestReply {
  status: number;
  body: string;
}

/**
 * One `broadcast(new Event)` from a Laravel app with the `pusher`/`reverb` driver: the payload's
 * `socket` is removed, channels are chunked by 100, and each chunk is one `POST /apps/{id}/events`
 * whose body keys are name, data, channel|channels, socket_id (PHP `json_encode`, escaped slashes)
 * and whose query is Guzzle-encoded (RFC 3986). Returns the replies, one per chunk.
 */
export async function laravelBroadcast(
  target: RestTarget,
  input: BroadcastInput,
  options: { app?: AppCredentials; timestamp?: number } = {},
): Promise<RestReply[]> {
  const app = options.app ?? TEST_CREDENTIALS;
  const payload = { ...input.payload };
  const socket = payload.socket;
  delete payload.socket;
  const params: Record<string, string> = socket === null || socket === undefined ? {} : { socket_id: String(socket) };
  const replies: RestReply[] = [];
  for (let i = 0; i < input.channels.length; i += 100) {
    const channels = input.channels.slice(i, i + 100);
    const post: Record<string, unknown> = { name: input.event, data: phpJsonEncode(payload) };
    if (channels.length === 1) post.channel = channels[0];
    else post.channels = channels;
    replies.push(await phpPost(target, app, '/events', phpJsonEncode({ ...post, ...params }), options.timestamp));
  }
  return replies;
}

/** pusher-http-php `post()`: sign with body_md5, send JSON with its library header. */
export async function phpPost(target: RestTarget, app: AppCredentials, path: string, body: string, timestamp = Math.floor(Date.now() / 1000)): Promise<RestReply> {
  const fullPath = `/apps/${app.appId}${path}`;
  // Pusher::build_auth_query_params: ksort, then "METHOD\npath\nk=v&…" unescaped.
  const params: Record<string, string> = {
    auth_key: app.key,
    auth_timestamp: String(timestamp),
    auth_version: '1.0',
    body_md5: md5Hex(body),
  };
  const sorted = Object.keys(params).sort();
  const toSign = `POST\n${fullPath}\n` + sorted.map((k) => `${k}=${params[k]}`).join('&');
  params.auth_signature = hmacSha256Hex(app.secret, toSign);
  const query = [...sorted, 'auth_signature'].map((k) => `${rawurlencode(k)}=${rawurlencode(params[k]!)}`).join('&');
  const res = await fetch(`${target.url}${fullPath}?${query}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Pusher-Library': 'pusher-http-php 7.2.6' },
    body,
  });
  return { status: res.status, body: await res.text() };
}

/** PHP `rawurlencode` / Guzzle's RFC 3986 query encoding. */
export function rawurlencode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
