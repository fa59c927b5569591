/**
 * Signed Pusher REST trigger client (protocol reference section 6.8) over node:http with a keep-alive
 * Agent and several concurrent sockets. The query string is built exactly like the official `pusher`
 * SDK's createSignedQueryString (test/bench-signing.test.ts checks it byte for byte).
 */
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { APP, assertLoopback } from './common.js';

export interface Credentials {
  appId: string;
  key: string;
  secret: string;
}

export const BENCH_CREDENTIALS: Credentials = { appId: APP.id, key: APP.key, secret: APP.secret };

/**
 * `auth_key=…&auth_timestamp=…&auth_version=1.0[&body_md5=…][&extra…]&auth_signature=…`
 * Keys sorted, values not escaped, signature over `METHOD\npath\nquery`.
 */
export function signedQuery(
  creds: Pick<Credentials, 'key' | 'secret'>,
  method: string,
  path: string,
  body: string | undefined,
  params: Record<string, string> = {},
  timestamp: number = Math.floor(Date.now() / 1000),
): string {
  const all: Record<string, string> = {
    ...params,
    auth_key: creds.key,
    auth_timestamp: String(timestamp),
    auth_version: '1.0',
  };
  if (body) all.body_md5 = createHash('md5').update(body).digest('hex');
  const query = Object.keys(all)
    .map((k) => [k.toLowerCase(), all[k]!] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const signature = createHmac('sha256', creds.secret)
    .update(`${method.toUpperCase()}\n${path}\n${query}`)
    .digest('hex');
  return `${query}&auth_signature=${signature}`;
}

export interface BatchItem {
  channel: string;
  name: string;
  data: string;
  socket_id?: string;
}

export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`REST ${what} -> ${status}: ${body.slice(0, 300)}`);
  }
}

export interface RestClientOptions {
  host: string;
  port: number;
  /** Concurrent keep-alive sockets. */
  connections?: number;
  creds?: Credentials;
  /** Per-request timeout in ms. */
  timeoutMs?: number;
}

export class RestClient {
  readonly agent: http.Agent;
  private readonly seen = new WeakSet<Socket>();
  private readonly creds: Credentials;
  /** Requests completed with 2xx. */
  requests = 0;
  /** TCP connections opened: equals `requests` for a server that closes after each response. */
  socketsOpened = 0;

  constructor(private readonly opts: RestClientOptions) {
    assertLoopback(opts.host);
    this.creds = opts.creds ?? BENCH_CREDENTIALS;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections ?? 8, maxFreeSockets: 256, scheduling: 'fifo' });
  }

  trigger(channels: string | string[], name: string, data: string, socketId?: string): Promise<string> {
    // Same member order as the pusher SDK: name, data, channels[, socket_id].
    const body: Record<string, unknown> = { name, data, channels: Array.isArray(channels) ? channels : [channels] };
    if (socketId !== undefined) body.socket_id = socketId;
    return this.post(`/apps/${this.creds.appId}/events`, JSON.stringify(body));
  }

  triggerBatch(batch: BatchItem[]): Promise<string> {
    return this.post(`/apps/${this.creds.appId}/batch_events`, JSON.stringify({ batch }));
  }

  post(path: string, body: string): Promise<string> {
    const query = signedQuery(this.creds, 'POST', path, body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.opts.host,
          port: this.opts.port,
          method: 'POST',
          path: `${path}?${query}`,
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: this.opts.timeoutMs ?? 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              this.requests++;
              resolve(text);
            } else reject(new RestError(status, text, `POST ${path}`));
          });
          res.on('error', reject);
        },
      );
      req.on('socket', (s: Socket) => {
        if (!this.seen.has(s)) {
          this.seen.add(s);
          this.socketsOpened++;
        }
      });
      req.on('timeout', () => req.destroy(new Error(`REST POST ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
