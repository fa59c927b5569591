/**
 * Signed Pusher REST trigger client (protocol reference section 6.8). The query string is built
 * exactly like the official `pusher` SDK's createSignedQueryString (test/bench-signing.test.ts checks
 * it byte for byte).
 *
 * The transport is raw `node:net` rather than `node:http`: the load process measures the server's CPU
 * per request, so it must keep the server busy while costing far less than the server per request,
 * and node:http's agent, request and response objects and stream machinery cost several times more
 * than the rest of a request. Each request goes out as one write; responses are parsed by hand from
 * a shared `onread` buffer. Like the official SDKs, a socket carries one request at a time.
 */
import { createHash, createHmac } from 'node:crypto';
import net from 'node:net';
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
  /** At most this many sockets, each carrying one request at a time; more requests wait in line. */
  connections?: number;
  creds?: Credentials;
  /** Per-request timeout in ms, from the moment the request is written. */
  timeoutMs?: number;
}

// ───────────────────────────── HTTP/1.1 response parsing ─────────────────────────────

const CRLF = Buffer.from('\r\n');
const CRLF2 = Buffer.from('\r\n\r\n');
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: |\r|$)/;
/** A response head larger than this is not one our targets send: fail rather than buffer forever. */
const MAX_HEAD = 64 * 1024;
/** All sockets read into this one buffer; anything kept past a read callback is copied out. */
const SHARED = Buffer.allocUnsafe(64 * 1024);

/** What the last parseResponse call found; one object, read right after each call. */
const parsed = { status: 0, body: '', close: false, need: 0 };

/**
 * Parse the response starting at data[pos]. Returns the offset just past it, or -1 if data ends
 * first, with `parsed.need` set to how many bytes from pos it needs at least (0: unknown).
 * Throws on anything that is not a well-formed response.
 */
function parseResponse(data: Buffer, pos: number): number {
  const headEnd = data.indexOf(CRLF2, pos);
  if (headEnd < 0) {
    if (data.length - pos > MAX_HEAD) throw new Error(`response head over ${MAX_HEAD} bytes`);
    parsed.need = 0;
    return -1;
  }
  const head = data.toString('latin1', pos, headEnd);
  const statusLine = STATUS_LINE.exec(head);
  if (!statusLine) throw new Error(`bad status line ${JSON.stringify(head.slice(0, 80))}`);
  const status = Number(statusLine[2]);
  // We never ask to switch protocols.
  if (status === 101) throw new Error('unexpected 101 Switching Protocols');
  let keepAlive = statusLine[1] === '1'; // HTTP/1.0 closes unless told otherwise
  let close = false;
  let length = -1;
  let chunked = false;
  for (let line = head.indexOf('\r\n'); line >= 0; ) {
    const start = line + 2;
    line = head.indexOf('\r\n', start);
    const end = line < 0 ? head.length : line;
    const colon = head.indexOf(':', start);
    if (colon < 0 || colon > end) throw new Error(`bad header line ${JSON.stringify(head.slice(start, end))}`);
    const name = head.slice(start, colon).toLowerCase();
    if (name === 'content-length') {
      const v = head.slice(colon + 1, end).trim();
      if (!/^\d+$/.test(v) || (length >= 0 && length !== Number(v))) throw new Error(`bad Content-Length ${JSON.stringify(v)}`);
      length = Number(v);
    } else if (name === 'transfer-encoding') {
      chunked = /(?:^|,)\s*chunked\s*$/i.test(head.slice(colon + 1, end));
      if (!chunked) throw new Error(`unsupported Transfer-Encoding ${JSON.stringify(head.slice(colon + 1, end).trim())}`);
    } else if (name === 'connection') {
      for (const token of head.slice(colon + 1, end).split(',')) {
        const t = token.trim().toLowerCase();
        if (t === 'close') close = true;
        else if (t === 'keep-alive') keepAlive = true;
      }
    }
  }
  parsed.status = status;
  parsed.close = close || !keepAlive;
  let at = headEnd + 4;
  if (status < 200 || status === 204 || status === 304) {
    parsed.body = '';
    return at;
  }
  if (chunked) {
    const parts: Buffer[] = [];
    for (;;) {
      const eol = data.indexOf(CRLF, at);
      if (eol < 0) break;
      const sizeText = data.toString('latin1', at, eol).split(';')[0]!.trim();
      if (!/^[0-9a-f]+$/i.test(sizeText)) throw new Error(`bad chunk size ${JSON.stringify(sizeText)}`);
      const size = parseInt(sizeText, 16);
      at = eol + 2;
      if (size === 0) {
        // Trailer fields, if any, up to an empty line.
        for (;;) {
          const e = data.indexOf(CRLF, at);
          if (e < 0) {
            parsed.need = 0;
            return -1;
          }
          const empty = e === at;
          at = e + 2;
          if (empty) {
            parsed.body = Buffer.concat(parts).toString();
            return at;
          }
        }
      }
      if (at + size + 2 > data.length) break;
      if (data[at + size] !== 0x0d || data[at + size + 1] !== 0x0a) throw new Error('chunk not followed by CRLF');
      parts.push(data.subarray(at, at + size));
      at += size + 2;
    }
    parsed.need = 0;
    return -1;
  }
  if (length < 0) throw new Error(`${status} response with neither Content-Length nor chunked body`);
  if (at + length > data.length) {
    parsed.need = at + length - pos;
    return -1;
  }
  parsed.body = data.toString('utf8', at, at + length);
  return at + length;
}

// ───────────────────────────── client ─────────────────────────────

interface Pending {
  /** The whole request, written with one call. */
  text: string;
  path: string;
  resolve: (body: string) => void;
  reject: (e: Error) => void;
}

interface Conn {
  /** null: the next request opens a new socket. */
  socket: net.Socket | null;
  req: Pending | null;
  sentAt: number;
  /** Bytes of an incomplete response (copies), and how many it needs in all before parsing again. */
  parts: Buffer[] | null;
  partsLen: number;
  need: number;
}

export class RestClient {
  private readonly creds: Credentials;
  private readonly hostHeader: string;
  private readonly maxConns: number;
  private readonly timeoutMs: number;
  private readonly conns: Conn[] = [];
  private readonly idle: Conn[] = [];
  private readonly queue: Pending[] = [];
  /** Checks the age of every request in flight: cheaper than arming and clearing a timer per request. */
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;
  /** Requests completed with 2xx. */
  requests = 0;
  /** TCP connections opened: equals `requests` for a server that closes after each response. */
  socketsOpened = 0;

  constructor(private readonly opts: RestClientOptions) {
    assertLoopback(opts.host);
    this.creds = opts.creds ?? BENCH_CREDENTIALS;
    this.hostHeader = `${opts.host}:${opts.port}`;
    this.maxConns = Math.max(1, opts.connections ?? 8);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.sweeper = setInterval(() => this.expire(), Math.min(1000, Math.max(1, this.timeoutMs / 4)));
    this.sweeper.unref();
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
    const text =
      `POST ${path}?${signedQuery(this.creds, 'POST', path, body)} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    return this.request(path, text);
  }

  /** A signed GET (`/apps/{id}/channels`…); `params` values must need no URL escaping. */
  get(path: string, params: Record<string, string> = {}): Promise<string> {
    return this.request(path, `GET ${path}?${signedQuery(this.creds, 'GET', path, undefined, params)} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n\r\n`);
  }

  private request(path: string, text: string): Promise<string> {
    if (this.closed) return Promise.reject(new Error(`REST ${path}: client closed`));
    return new Promise((resolve, reject) => {
      const req: Pending = { text, path, resolve, reject };
      let conn = this.idle.pop();
      if (!conn && this.conns.length < this.maxConns) {
        conn = { socket: null, req: null, sentAt: 0, parts: null, partsLen: 0, need: 0 };
        this.conns.push(conn);
      }
      if (conn) this.send(conn, req);
      else this.queue.push(req);
    });
  }

  /** Rejects what is queued or in flight. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const conn of this.conns) {
      const req = conn.req;
      conn.req = null;
      this.dropSocket(conn);
      req?.reject(new Error(`REST ${req.path}: client closed`));
    }
    for (const req of this.queue.splice(0)) req.reject(new Error(`REST ${req.path}: client closed`));
  }

  private send(conn: Conn, req: Pending): void {
    conn.req = req;
    conn.sentAt = performance.now();
    (conn.socket ?? this.open(conn)).write(req.text);
  }

  private open(conn: Conn): net.Socket {
    let lastError = '';
    const socket = net.connect({
      host: this.opts.host,
      port: this.opts.port,
      noDelay: true,
      onread: {
        buffer: SHARED,
        callback: (n: number, buf: Uint8Array): boolean => {
          if (conn.socket === socket) this.onRead(conn, (buf as Buffer).subarray(0, n));
          return true;
        },
      },
    });
    socket.on('error', (e) => {
      lastError = e.message;
    });
    socket.on('close', () => {
      // A socket we dropped on purpose has already been detached.
      if (conn.socket !== socket) return;
      conn.socket = null;
      conn.parts = null;
      const req = conn.req;
      if (!req) return;
      conn.req = null;
      req.reject(new Error(`REST ${req.path}: connection closed before the response${lastError ? ` (${lastError})` : ''}`));
      this.release(conn);
    });
    conn.socket = socket;
    this.socketsOpened++;
    return socket;
  }

  private onRead(conn: Conn, chunk: Buffer): void {
    let data = chunk;
    if (conn.parts) {
      conn.parts.push(Buffer.from(chunk));
      conn.partsLen += chunk.length;
      if (conn.partsLen < conn.need) return;
      data = Buffer.concat(conn.parts, conn.partsLen);
      conn.parts = null;
    }
    let pos = 0;
    while (pos < data.length) {
      const req = conn.req;
      if (!req) {
        // Bytes nobody asked for (e.g. a 408 on an idle socket): this socket is out of step.
        this.dropSocket(conn);
        return;
      }
      let end: number;
      try {
        end = parseResponse(data, pos);
      } catch (e) {
        conn.req = null;
        this.dropSocket(conn);
        req.reject(new Error(`REST ${req.path}: ${(e as Error).message}`));
        this.release(conn);
        return;
      }
      if (end < 0) {
        const rest = data.subarray(pos);
        conn.parts = [data === chunk ? Buffer.from(rest) : rest];
        conn.partsLen = rest.length;
        conn.need = parsed.need;
        return;
      }
      pos = end;
      if (parsed.status < 200) continue; // interim (100 Continue…): the final response follows
      conn.req = null;
      // Anything after the response cannot be ours: we never have two requests on a socket.
      if (parsed.close || pos < data.length) this.dropSocket(conn);
      if (parsed.status < 300) {
        this.requests++;
        req.resolve(parsed.body);
      } else req.reject(new RestError(parsed.status, parsed.body, req.path));
      this.release(conn);
      return;
    }
  }

  private release(conn: Conn): void {
    if (this.closed) return;
    const next = this.queue.shift();
    if (next) this.send(conn, next);
    else this.idle.push(conn);
  }

  private dropSocket(conn: Conn): void {
    const socket = conn.socket;
    conn.socket = null;
    conn.parts = null;
    socket?.destroy();
  }

  private expire(): void {
    const now = performance.now();
    for (const conn of this.conns) {
      const req = conn.req;
      if (!req || now - conn.sentAt <= this.timeoutMs) continue;
      conn.req = null;
      this.dropSocket(conn);
      req.reject(new Error(`REST ${req.path} timed out after ${this.timeoutMs} ms`));
      this.release(conn);
    }
  }
}
