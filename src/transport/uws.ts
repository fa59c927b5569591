/**
 * The one adapter over uWebSockets.js's API (engine.ts picks and loads the build, v20.4x or v20.57;
 * differences between them are handled here). Everything above it sees `Socket`, `HttpRequest`
 * and `HttpReply`, so the engine can be swapped without touching protocol code.
 */
import type * as UWS from 'uws-pack';
import { loadUws, type UwsChoice, type UwsModule } from './engine.js';
import { forwardedHttps, TrustedProxies } from './forwarded.js';
import { upgradeRefusal } from './upgrade-refusal.js';

/** What the protocol layer may do with one WebSocket. */
export interface Socket {
  send(message: string): number;
  subscribe(topic: string): boolean;
  unsubscribe(topic: string): boolean;
  isSubscribed(topic: string): boolean;
  /** Allocates the list on every call: only for rare walks (a node rewriting its shared state). */
  getTopics(): string[];
  /** Publish to a topic's uWS subscribers, skipping this socket. */
  publish(topic: string, message: string): boolean;
  ping(): number;
  end(code?: number, reason?: string): void;
  cork(cb: () => void): unknown;
}

export interface UpgradeRequest {
  /** Route parameters in pattern order (`/app/:key` → [key]). */
  params: string[];
  query: string;
  /** A header by lowercase name ('' when absent); only during `WsHandlers.upgrade`. */
  header(name: string): string;
  secure: boolean;
}

export interface WsHandlers<U> {
  /** Builds the socket's state; the upgrade is always accepted so refusals can carry a Pusher close code. */
  upgrade(req: UpgradeRequest): U;
  open(socket: Socket, state: U): void;
  message(state: U, data: ArrayBuffer, isBinary: boolean): void;
  /** A ping or pong control frame arrived. */
  activity(state: U): void;
  /**
   * The socket left a topic: through its own `unsubscribe`, or because it is closing (uWS drops a
   * closing socket from each of its topics before `close` runs, and the socket is unusable by then).
   */
  left(state: U, topic: string, remaining: number): void;
  close(state: U, code: number): void;
}

/**
 * uWS copies user data's own properties onto its socket object (prototypes are lost), so the
 * handlers' state rides in one property and keeps its class.
 */
interface Holder<U> {
  state: U;
}

export interface HttpRequest {
  method: string;
  path: string;
  /** Raw query string, without '?'. */
  query: string;
  params: string[];
  /** Only the headers in `HTTP_HEADERS`: reading every header costs more than the rest of a request. */
  headers: Partial<Record<HttpHeader, string>>;
  body: Buffer;
  /** Reached over TLS: served with TLS, or said so by a trusted proxy (when `trustForwardedTls`). */
  secure: boolean;
  /** What the route's `beforeBody` learned about the request, for its handler. */
  early: unknown;
}

/** The request headers any HTTP handler may read. */
export const HTTP_HEADERS = ['x-api-key'] as const;
export type HttpHeader = (typeof HTTP_HEADERS)[number];

// Names as bytes: uWS converts a string argument on every call, which doubles the cost of a lookup.
const HEADER_KEYS = HTTP_HEADERS.map((name) => Buffer.from(name));
const CONTENT_LENGTH = Buffer.from('content-length');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding');
const X_FORWARDED_PROTO = Buffer.from('x-forwarded-proto');
const FORWARDED = Buffer.from('forwarded');

export interface HttpReply {
  status: number;
  /** JSON text, or its UTF-8 bytes (a large body written as bytes needs no string at all). */
  body: string | Uint8Array;
  headers?: Record<string, string>;
}

export type HttpHandler = ((req: HttpRequest) => HttpReply | Promise<HttpReply>) & {
  /**
   * Runs once the head is in, before a byte of the body is read: a reply refuses the request
   * without buffering its body (404, 405, a 401 that needs no body). Not run for bodiless requests.
   */
  beforeBody?: (req: HttpRequest) => HttpReply | undefined;
};
export type HttpMethod = 'get' | 'post' | 'put' | 'del' | 'patch' | 'head' | 'options' | 'any';

/**
 * Subscribers a topic has besides uWS's own (Socket.IO rooms), reached by the same publish and
 * counted with uWS's subscribers.
 */
export interface FanOutTarget {
  publish(topic: string, message: string, except?: Socket): void;
  numSubscribers(topic: string): number;
}

export interface TransportOptions {
  /** Which uWebSockets.js build to run on (see engine.ts). */
  uws: UwsChoice;
  tls?: { certFile: string; keyFile: string; passphrase?: string };
  maxPayloadLength: number;
  maxBackpressure: number;
  maxBodyBytes: number;
  /**
   * After answering before the body was read (413, 401, 404…), the server reads and drops up to
   * this many body bytes so the client sees the answer, not a reset; a longer body closes.
   */
  maxDrainBytes: number;
  /** How long a chunked body refused midway may keep streaming before the connection closes. */
  drainTimeoutMs: number;
  /**
   * Believe `X-Forwarded-Proto` / `Forwarded` from these peers about TLS. Undefined: never read
   * (no app requires TLS, so reading three more values per request would buy nothing).
   */
  trustedProxies: TrustedProxies | undefined;
  /** A handler threw: the client gets a 500 and the server keeps running. */
  onError(error: unknown): void;
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  413: '413 Payload Too Large',
  426: '426 Upgrade Required',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

const statusLine = (status: number) => STATUS_TEXT[status] ?? `${status} Status`;

const JSON_TYPE = 'application/json';
// Bytes for the header every reply carries, as for the header names read above.
const CONTENT_TYPE = Buffer.from('Content-Type');
const JSON_TYPE_BYTES = Buffer.from(JSON_TYPE);
const LISTEN_DEFAULT = 0;
const LISTEN_EXCLUSIVE_PORT = 1;

export class Transport {
  private readonly uws: UwsModule;
  /** Read by src/transport/socketio.ts only, to attach Socket.IO to the same port. */
  readonly app: UWS.TemplatedApp;
  private fanOut: FanOutTarget | undefined;
  private listenSocket: UWS.us_listen_socket | undefined;
  readonly secure: boolean;

  constructor(private readonly options: TransportOptions) {
    this.secure = options.tls !== undefined;
    const uws = (this.uws = loadUws(options.uws).uws);
    this.app = options.tls
      ? uws.SSLApp({
          cert_file_name: options.tls.certFile,
          key_file_name: options.tls.keyFile,
          ...(options.tls.passphrase ? { passphrase: options.tls.passphrase } : {}),
        })
      : uws.App();
  }

  ws<U>(pattern: string, handlers: WsHandlers<U>): this {
    const paramCount = countParams(pattern);
    this.app.ws<Holder<U>>(pattern, {
      maxPayloadLength: this.options.maxPayloadLength,
      maxBackpressure: this.options.maxBackpressure,
      closeOnBackpressureLimit: true,
      // Liveness is ours (pings, 4201 with a Pusher code), not uWS's silent idle close.
      idleTimeout: 0,
      sendPingsAutomatically: false,
      upgrade: (res, req, context) => {
        // uWS checks only the key's length: a wrong version or a missing Upgrade header gets here.
        const refusal = upgradeRefusal(upgradeHeaders(req));
        if (refusal) return write(res, { status: refusal.status, body: JSON.stringify({ error: refusal.error }), headers: refusal.headers });
        // `req` is valid only until this callback returns, and `handlers.upgrade` is synchronous.
        const userData = handlers.upgrade({
          params: paramsOf(req, paramCount),
          query: req.getQuery() ?? '',
          header: (name) => req.getHeader(name),
          secure: this.isSecure(res, req),
        });
        res.upgrade(
          { state: userData },
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
      },
      open: (ws) => handlers.open(ws as unknown as Socket, ws.getUserData().state),
      message: (ws, data, isBinary) => handlers.message(ws.getUserData().state, data, isBinary),
      ping: (ws) => handlers.activity(ws.getUserData().state),
      pong: (ws) => handlers.activity(ws.getUserData().state),
      subscription: (ws, topic, newCount, oldCount) => {
        // `remaining` comes from the event: during a close, `numSubscribers` still counts this socket.
        if (newCount < oldCount) {
          const name = topicDecoder.decode(topic);
          handlers.left(ws.getUserData().state, name, newCount + (this.fanOut?.numSubscribers(name) ?? 0));
        }
      },
      close: (ws, code) => handlers.close(ws.getUserData().state, code),
    });
    // uWS passes a GET without a well-formed key on to the next route: tell the caller what is wrong.
    this.app.get(pattern, (res, req) => {
      const refusal = upgradeRefusal(upgradeHeaders(req)) ?? { status: 400, error: 'Not a valid WebSocket handshake' };
      write(res, { status: refusal.status, body: JSON.stringify({ error: refusal.error }), headers: refusal.headers });
    });
    return this;
  }

  http(method: HttpMethod, pattern: string, handler: HttpHandler): this {
    const paramCount = countParams(pattern);
    // uWS gives a method route only requests of that method, spelled in capitals.
    const methodName = method === 'any' ? undefined : method === 'del' ? 'DELETE' : method.toUpperCase();
    this.app[method](pattern, (res, req) => this.serve(res, req, paramCount, methodName, handler));
    return this;
  }

  /** To every subscriber of the topic, except `except` when given. */
  publish(topic: string, message: string, except?: Socket): boolean {
    this.fanOut?.publish(topic, message, except);
    // uWS skips the socket a publish comes from.
    return except ? except.publish(topic, message) : this.app.publish(topic, message);
  }

  numSubscribers(topic: string): number {
    return this.app.numSubscribers(topic) + (this.fanOut?.numSubscribers(topic) ?? 0);
  }

  setFanOut(target: FanOutTarget): void {
    this.fanOut = target;
  }

  /**
   * Exclusive unless `shared`: by default uSockets sets SO_REUSEPORT, so a second Herald on the
   * same port would silently share it instead of failing; `--workers` siblings share it on purpose.
   * (The typings lack the host + options overload.)
   */
  listen(host: string, port: number, shared = false): Promise<number> {
    const listen = this.app.listen as unknown as (
      host: string,
      port: number,
      options: number,
      cb: (socket: UWS.us_listen_socket | false) => void,
    ) => void;
    return new Promise((resolve, reject) => {
      listen.call(this.app, host, port, shared ? LISTEN_DEFAULT : LISTEN_EXCLUSIVE_PORT, (socket) => {
        if (!socket) return reject(new Error(`cannot listen on ${host}:${port}`));
        this.listenSocket = socket;
        resolve(this.uws.us_socket_local_port(socket));
      });
    });
  }

  /** Stops accepting connections; open ones live on until closed. */
  stopListening(): void {
    if (this.listenSocket) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
  }

  private serve(
    res: UWS.HttpResponse,
    req: UWS.HttpRequest,
    paramCount: number,
    method: string | undefined,
    handler: HttpHandler,
  ): void {
    const headers: HttpRequest['headers'] = {};
    for (let i = 0; i < HTTP_HEADERS.length; i++) {
      const value = req.getHeader(HEADER_KEYS[i]!);
      if (value !== '') headers[HTTP_HEADERS[i]!] = value;
    }
    const request: HttpRequest = {
      method: method ?? req.getCaseSensitiveMethod().toUpperCase(),
      path: req.getUrl(),
      query: req.getQuery() ?? '',
      params: paramsOf(req, paramCount),
      headers,
      body: EMPTY,
      secure: this.isSecure(res, req),
      early: undefined,
    };
    const declared = req.getHeader(CONTENT_LENGTH);
    const encoding = req.getHeader(TRANSFER_ENCODING);
    if (declared === '' && encoding === '') return this.run(res, handler, request);
    // uWS itself closes on Content-Length with Transfer-Encoding or a non-numeric length, but
    // takes the first of two lengths: a proxy that took the other would see another request.
    const framing = framingError(req, encoding);
    if (framing) return write(res, { status: 400, body: JSON.stringify({ error: framing }) }, true);
    const chunked = encoding !== '';
    const length = chunked ? undefined : Number(declared);
    if (length === 0) return this.run(res, handler, request);

    const early = handler.beforeBody?.(request);
    if (early) return this.refuseBeforeBody(res, early, length);
    const limit = this.options.maxBodyBytes;
    if (length !== undefined && length > limit) return this.refuseBeforeBody(res, tooLarge(limit), length);

    // uWS insists on an abort handler while the body is pending; an aborted request gets no more data.
    res.onAborted(IGNORE);
    // Bounded before buffering: a declared length is checked above, a streamed body as it arrives.
    let chunks: Buffer[] | undefined;
    let received = 0;
    let drain: Drain | undefined;
    res.onData((chunk, isLast) => {
      if (drain) return drain(chunk.byteLength, isLast);
      received += chunk.byteLength;
      if (received > limit) {
        chunks = undefined;
        drain = this.drain(res, tooLarge(limit), received);
        return drain(0, isLast);
      }
      // uWS reuses the chunk's memory after this callback returns. Copying from a view fills a
      // slice of Node's buffer pool; `chunk.slice(0)` would allocate a whole ArrayBuffer, far slower.
      const copy = Buffer.from(new Uint8Array(chunk));
      if (!isLast) {
        (chunks ??= []).push(copy);
        return;
      }
      request.body = chunks === undefined ? copy : Buffer.concat([...chunks, copy]);
      this.run(res, handler, request);
    });
  }

  /**
   * Answers before the whole body was read, without the reset a client still writing would get
   * from a close. A declared length is at most `maxDrainBytes` away: answer now, and uWS skips
   * the rest of the body before it parses the next request. A chunked body has no known end.
   */
  private refuseBeforeBody(res: UWS.HttpResponse, reply: HttpReply, length: number | undefined): void {
    if (length !== undefined) return write(res, reply, length > this.options.maxDrainBytes);
    const drain = this.drain(res, reply, 0);
    res.onData((chunk, isLast) => drain(chunk.byteLength, isLast));
  }

  /**
   * Drops a chunked body as it comes and answers at its end, or closes after `maxDrainBytes` or
   * `drainTimeoutMs`. The caller feeds it from its one `onData` handler: uWS must not have that
   * handler replaced while it runs.
   */
  private drain(res: UWS.HttpResponse, reply: HttpReply, received: number): Drain {
    const { maxDrainBytes, drainTimeoutMs } = this.options;
    let done = false;
    const finish = (close: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      res.cork(() => write(res, reply, close));
    };
    const timer = setTimeout(() => finish(true), drainTimeoutMs);
    res.onAborted(() => {
      done = true;
      clearTimeout(timer);
    });
    return (bytes, isLast) => {
      received += bytes;
      if (isLast) finish(false);
      else if (received > maxDrainBytes) finish(true);
    };
  }

  /** TLS on this socket, or a trusted proxy's word that the client used it. */
  private isSecure(res: UWS.HttpResponse, req: UWS.HttpRequest): boolean {
    const trusted = this.options.trustedProxies;
    if (this.secure || trusted === undefined) return this.secure;
    const proto = req.getHeader(X_FORWARDED_PROTO);
    const forwarded = req.getHeader(FORWARDED);
    if (proto === '' && forwarded === '') return false;
    return trusted.has(textDecoder.decode(res.getRemoteAddressAsText())) && forwardedHttps(proto, forwarded);
  }

  /** Called from a uWS callback, which has the response corked already: only a late reply corks. */
  private run(res: UWS.HttpResponse, handler: HttpHandler, request: HttpRequest): void {
    let reply: HttpReply | Promise<HttpReply>;
    try {
      reply = handler(request);
    } catch (error) {
      reply = this.failed(error);
    }
    if (!(reply instanceof Promise)) return write(res, reply);
    let aborted = false;
    res.onAborted(() => (aborted = true));
    reply
      .catch((error: unknown) => this.failed(error))
      .then((late) => {
        if (!aborted) res.cork(() => write(res, late));
      });
  }

  private failed(error: unknown): HttpReply {
    this.options.onError(error);
    return INTERNAL_ERROR;
  }
}

const IGNORE = (): void => {};

/** Takes the byte count of each further body chunk of a refused request. */
type Drain = (bytes: number, isLast: boolean) => void;

const EMPTY = Buffer.alloc(0);
const topicDecoder = new TextDecoder();
const textDecoder = topicDecoder;

/**
 * Body framing a proxy in front could read differently, as text for a 400; undefined when sound.
 * Only requests declaring a body pay for the walk over every header.
 */
function framingError(req: UWS.HttpRequest, encoding: string): string | undefined {
  let lengths = 0;
  let encodings = 0;
  req.forEach((name) => {
    if (name === 'content-length') lengths++;
    else if (name === 'transfer-encoding') encodings++;
  });
  if (lengths > 1) return 'More than one Content-Length header';
  if (encodings > 1) return 'More than one Transfer-Encoding header';
  if (encoding !== '' && encoding.trim().toLowerCase() !== 'chunked') return `Unsupported Transfer-Encoding: ${JSON.stringify(encoding.slice(0, 40))} (only chunked)`;
  return undefined;
}

function upgradeHeaders(req: UWS.HttpRequest) {
  return {
    upgrade: req.getHeader('upgrade'),
    connection: req.getHeader('connection'),
    version: req.getHeader('sec-websocket-version'),
    key: req.getHeader('sec-websocket-key'),
  };
}

function write(res: UWS.HttpResponse, reply: HttpReply, close = false): void {
  // Without a status uWS writes `200 OK` itself.
  if (reply.status !== 200) res.writeStatus(statusLine(reply.status));
  let typed = false;
  if (reply.headers) {
    for (const name in reply.headers) {
      if (name.toLowerCase() === 'content-type') typed = true;
      res.writeHeader(name, reply.headers[name]!);
    }
  }
  if (!typed) res.writeHeader(CONTENT_TYPE, JSON_TYPE_BYTES);
  res.end(reply.body, close);
}

const tooLarge = (limit: number): HttpReply => ({ status: 413, body: JSON.stringify({ error: `Request body exceeds ${limit} bytes` }) });

const INTERNAL_ERROR: HttpReply = { status: 500, body: '{"error":"Internal server error"}' };

const countParams = (pattern: string) => pattern.split('/').filter((part) => part.startsWith(':')).length;

function paramsOf(req: UWS.HttpRequest, count: number): string[] {
  // Sized up front: the first push would reserve room for 17.
  const params = new Array<string>(count);
  for (let i = 0; i < count; i++) params[i] = req.getParameter(i) ?? '';
  return params;
}
