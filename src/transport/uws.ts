/**
 * The one adapter over uWebSockets.js's API (engine.ts picks and loads the build, v20.30 or v20.57;
 * differences between them are handled here). Everything above it sees `Socket`, `HttpRequest`
 * and `HttpReply`, so the engine can be swapped without touching protocol code.
 */
import type * as UWS from '@trufflesuite/uws-js-unofficial';
import { loadUws, type UwsChoice, type UwsModule } from './engine.js';

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
}

/** The request headers any HTTP handler may read. */
export const HTTP_HEADERS = ['x-api-key'] as const;
export type HttpHeader = (typeof HTTP_HEADERS)[number];

// Names as bytes: uWS converts a string argument on every call, which doubles the cost of a lookup.
const HEADER_KEYS = HTTP_HEADERS.map((name) => Buffer.from(name));
const CONTENT_LENGTH = Buffer.from('content-length');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding');

export interface HttpReply {
  status: number;
  /** JSON text, or its UTF-8 bytes (a large body written as bytes needs no string at all). */
  body: string | Uint8Array;
  headers?: Record<string, string>;
}

export type HttpHandler = (req: HttpRequest) => HttpReply | Promise<HttpReply>;
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
    const secure = this.secure;
    const paramCount = countParams(pattern);
    this.app.ws<Holder<U>>(pattern, {
      maxPayloadLength: this.options.maxPayloadLength,
      maxBackpressure: this.options.maxBackpressure,
      // v20.30 declares a number, v20.57 a boolean; both read 1 as on (test/ws/backpressure.test.ts runs on both).
      closeOnBackpressureLimit: 1,
      // Liveness is ours (pings, 4201 with a Pusher code), not uWS's silent idle close.
      idleTimeout: 0,
      sendPingsAutomatically: false,
      upgrade: (res, req, context) => {
        // `req` is valid only until this callback returns, and `handlers.upgrade` is synchronous.
        const userData = handlers.upgrade({
          params: paramsOf(req, paramCount),
          query: req.getQuery() ?? '',
          header: (name) => req.getHeader(name),
          secure,
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
    };
    const declared = req.getHeader(CONTENT_LENGTH);
    const chunked = req.getHeader(TRANSFER_ENCODING).includes('chunked');
    if (declared === '' && !chunked) return this.run(res, handler, request);
    const length = declared === '' ? 0 : Number(declared);
    const limit = this.options.maxBodyBytes;
    if (length > limit) return tooLarge(res, limit);
    if (length === 0 && !chunked) return this.run(res, handler, request);

    // uWS insists on an abort handler while the body is pending; an aborted request gets no more data.
    res.onAborted(IGNORE);
    // Bounded before buffering: a declared length is checked above, a streamed body as it arrives.
    let chunks: Buffer[] | undefined;
    let received = 0;
    res.onData((chunk, isLast) => {
      if (received > limit) return;
      received += chunk.byteLength;
      if (received > limit) return tooLarge(res, limit);
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

const EMPTY = Buffer.alloc(0);
const topicDecoder = new TextDecoder();

function write(res: UWS.HttpResponse, reply: HttpReply): void {
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
  res.end(reply.body);
}

function tooLarge(res: UWS.HttpResponse, limit: number): void {
  res.cork(() => {
    res.writeStatus(statusLine(413)).writeHeader('Content-Type', JSON_TYPE);
    res.end(JSON.stringify({ error: `Request body exceeds ${limit} bytes` }), true);
  });
}

const INTERNAL_ERROR: HttpReply = { status: 500, body: '{"error":"Internal server error"}' };

const countParams = (pattern: string) => pattern.split('/').filter((part) => part.startsWith(':')).length;

function paramsOf(req: UWS.HttpRequest, count: number): string[] {
  // Sized up front: the first push would reserve room for 17.
  const params = new Array<string>(count);
  for (let i = 0; i < count; i++) params[i] = req.getParameter(i) ?? '';
  return params;
}
