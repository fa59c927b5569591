/**
 * The benchmark's REST trigger client (bench/rest-client.ts) must sign exactly like the official
 * `pusher` SDK, otherwise Herald's REST figures would be for rejected requests.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RestClient, RestError, signedQuery } from '../bench/rest-client.js';

const require = createRequire(import.meta.url);
const Pusher = require('pusher') as new (opts: Record<string, unknown>) => {
  trigger(channels: string | string[], event: string, data: unknown, params?: Record<string, unknown>): Promise<unknown>;
  triggerBatch(batch: { channel: string; name: string; data: unknown }[]): Promise<unknown>;
};

interface RestVector {
  method: string;
  path: string;
  query_params: Record<string, string>;
  body?: string;
  auth_timestamp: number;
  library_query_string?: string;
  full_url?: string;
  auth_signature: string;
}

const vectors = JSON.parse(readFileSync(new URL('./data/vectors.json', import.meta.url), 'utf8')) as {
  app: { app_id: string; key: string; secret: string };
  rest_signature: RestVector[];
};

describe('bench REST signing: reference vectors (section 6.8)', () => {
  const { key, secret } = vectors.app;
  for (const v of vectors.rest_signature) {
    it(`${v.method} ${v.path} ${JSON.stringify(v.query_params)}`, () => {
      const q = signedQuery({ key, secret }, v.method, v.path, v.body || undefined, v.query_params, v.auth_timestamp);
      expect(q.endsWith(`&auth_signature=${v.auth_signature}`)).toBe(true);
      if (v.library_query_string) expect(q).toBe(v.library_query_string);
    });
  }
});

describe('bench REST signing: same requests as the pusher SDK', () => {
  const creds = { appId: 'bench', key: 'bench-key', secret: 'bench-secret' };
  const captured: { method: string; url: string; body: string }[] = [];
  let server: http.Server;
  let port = 0;
  const FROZEN = 1_700_000_123_456;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        captured.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString() });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  afterEach(() => {
    vi.restoreAllMocks();
    captured.length = 0;
  });

  const sdk = () => new Pusher({ appId: creds.appId, key: creds.key, secret: creds.secret, host: '127.0.0.1', port: String(port), useTLS: false });

  it('single-channel trigger: SDK query string == ours for the SDK body', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(FROZEN);
    await sdk().trigger('private-user.7', 'bench', '~T123:4~xxxx');
    const req = captured[0]!;
    const [path, query] = req.url.split('?') as [string, string];
    expect(path).toBe('/apps/bench/events');
    expect(query).toBe(signedQuery(creds, 'POST', path, req.body, {}, Math.floor(FROZEN / 1000)));
  });

  it('multi-channel trigger with socket_id', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(FROZEN);
    await sdk().trigger(['a', 'b', 'presence-c'], 'ev', { x: 1 }, { socket_id: '123.456' });
    const req = captured[0]!;
    const [path, query] = req.url.split('?') as [string, string];
    expect(query).toBe(signedQuery(creds, 'POST', path, req.body, {}, Math.floor(FROZEN / 1000)));
  });

  it('batch trigger', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(FROZEN);
    await sdk().triggerBatch([
      { channel: 'a', name: 'e1', data: '1' },
      { channel: 'b', name: 'e2', data: { y: 2 } },
    ]);
    const req = captured[0]!;
    const [path, query] = req.url.split('?') as [string, string];
    expect(path).toBe('/apps/bench/batch_events');
    expect(query).toBe(signedQuery(creds, 'POST', path, req.body, {}, Math.floor(FROZEN / 1000)));
  });

  it('RestClient sends what the SDK sends (same body, same signed URL)', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(FROZEN);
    await sdk().trigger('fanout', 'bench', '~T1:2~');
    const client = new RestClient({ host: '127.0.0.1', port, connections: 2, creds });
    try {
      await client.trigger('fanout', 'bench', '~T1:2~');
      await client.triggerBatch([{ channel: 'a', name: 'e1', data: '1' }]);
      await sdk().triggerBatch([{ channel: 'a', name: 'e1', data: '1' }]);
    } finally {
      client.close();
    }
    expect(captured).toHaveLength(4);
    expect(captured[1]).toEqual(captured[0]);
    expect(captured[2]).toEqual(captured[3]);
  });

  it('RestClient keeps connections alive', async () => {
    let accepted = 0;
    const onConnection = (): void => {
      accepted++;
    };
    server.on('connection', onConnection);
    const client = new RestClient({ host: '127.0.0.1', port, connections: 2, creds });
    try {
      for (let i = 0; i < 10; i++) await client.trigger('x', 'e', String(i));
    } finally {
      client.close();
      server.off('connection', onConnection);
    }
    expect(client.requests).toBe(10);
    expect(client.socketsOpened).toBe(1);
    expect(accepted).toBe(1);
    expect(captured.map((c) => JSON.parse(c.body).data)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });
});

describe('bench RestClient: HTTP/1.1 over raw sockets', () => {
  const creds = { appId: 'bench', key: 'bench-key', secret: 'bench-secret' };
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const ok = (body: string, extra = ''): string =>
    `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

  interface Received {
    head: string;
    body: string;
  }
  /** A TCP server that hands each complete request to `answer`, which writes whatever it likes. */
  let raw: net.Server;
  let rawPort = 0;
  let answer: (socket: net.Socket, req: Received) => void = () => {};
  const received: Received[] = [];
  let accepted = 0;
  let open = 0;
  let maxOpen = 0;

  beforeAll(async () => {
    raw = net.createServer((socket) => {
      accepted++;
      maxOpen = Math.max(maxOpen, ++open);
      socket.setNoDelay(true);
      socket.on('close', () => open--);
      socket.on('error', () => {});
      let buf = Buffer.alloc(0);
      socket.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          const headEnd = buf.indexOf('\r\n\r\n');
          if (headEnd < 0) return;
          const head = buf.toString('latin1', 0, headEnd);
          const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
          if (buf.length < headEnd + 4 + length) return;
          const req = { head, body: buf.toString('utf8', headEnd + 4, headEnd + 4 + length) };
          buf = buf.subarray(headEnd + 4 + length);
          received.push(req);
          answer(socket, req);
        }
      });
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    rawPort = (raw.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => raw.close(() => r())));
  afterEach(async () => {
    // Let the server see the client's sockets close before the next test counts them.
    for (let i = 0; i < 100 && open > 0; i++) await sleep(5);
    received.length = 0;
    accepted = 0;
    maxOpen = 0;
    answer = () => {};
  });

  const client = (opts: { connections?: number; timeoutMs?: number } = {}): RestClient =>
    new RestClient({ host: '127.0.0.1', port: rawPort, connections: opts.connections ?? 1, creds, timeoutMs: opts.timeoutMs });

  /** Writes `text` in pieces cut at `cuts`, each in its own TCP segment. */
  const dribble = async (socket: net.Socket, text: string, cuts: number[]): Promise<void> => {
    let from = 0;
    for (const to of [...cuts, text.length]) {
      socket.write(text.slice(from, to));
      from = to;
      await sleep(5);
    }
  };

  it('writes one request with the documented head, and parses a response split across segments', async () => {
    const response = ok('{"a":1}');
    answer = (socket) => void dribble(socket, response, [3, 10, response.indexOf('\r\n\r\n') + 2, response.length - 3]);
    const rest = client();
    try {
      expect(await rest.trigger('c', 'e', 'd')).toBe('{"a":1}');
    } finally {
      rest.close();
    }
    const body = '{"name":"e","data":"d","channels":["c"]}';
    const [path, query] = received[0]!.head.split('\r\n')[0]!.split(' ')[1]!.split('?') as [string, string];
    expect(received[0]!.head.split('\r\n')).toEqual([
      `POST ${path}?${query} HTTP/1.1`,
      `Host: 127.0.0.1:${rawPort}`,
      'Content-Type: application/json',
      `Content-Length: ${body.length}`,
    ]);
    expect(received[0]!.body).toBe(body);
    expect(query).toBe(signedQuery(creds, 'POST', '/apps/bench/events', body, {}, Number(/auth_timestamp=(\d+)/.exec(query)![1])));
  });

  it('decodes a chunked body (extensions, trailers, split across segments)', async () => {
    const response =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{"a"\r\n3\r\n:12\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n';
    answer = (socket) => void dribble(socket, response, [50, 55, 70, response.length - 2]);
    const rest = client();
    try {
      expect(await rest.trigger('c', 'e', 'd')).toBe('{"a":12}');
      expect(await rest.trigger('c', 'e', 'd')).toBe('{"a":12}');
    } finally {
      rest.close();
    }
    expect(rest.socketsOpened).toBe(1);
  });

  it('skips an interim 100 Continue that arrives in one segment with the final response', async () => {
    answer = (socket) => socket.write(`HTTP/1.1 100 Continue\r\n\r\n${ok('{}')}`);
    const rest = client();
    try {
      expect(await rest.trigger('c', 'e', 'd')).toBe('{}');
      expect(await rest.trigger('c', 'e', 'd')).toBe('{}');
    } finally {
      rest.close();
    }
    expect(rest.socketsOpened).toBe(1);
  });

  it('opens a new socket after Connection: close, as Soketi answers every request', async () => {
    answer = (socket) => socket.end(ok('{}', 'Connection: close\r\n'));
    const rest = client({ connections: 2 });
    try {
      for (let i = 0; i < 3; i++) expect(await rest.trigger('c', 'e', String(i))).toBe('{}');
    } finally {
      rest.close();
    }
    expect(rest.requests).toBe(3);
    expect(rest.socketsOpened).toBe(3);
    expect(accepted).toBe(3);
  });

  it('opens a new socket after the server closed an idle one', async () => {
    answer = (socket) => {
      socket.write(ok('{}'));
      setTimeout(() => socket.end(), 5);
    };
    const rest = client();
    try {
      await rest.trigger('c', 'e', '1');
      await sleep(50);
      await rest.trigger('c', 'e', '2');
    } finally {
      rest.close();
    }
    expect(rest.socketsOpened).toBe(2);
  });

  it('rejects a non-2xx answer with RestError and keeps the socket', async () => {
    answer = (socket, req) =>
      socket.write(req.body.includes('"bad"') ? 'HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\n\r\ntoo big!' : ok('{}'));
    const rest = client();
    try {
      const e = await rest.trigger('c', 'e', 'bad').catch((err: unknown) => err);
      expect(e).toBeInstanceOf(RestError);
      expect((e as RestError).status).toBe(413);
      expect((e as RestError).body).toBe('too big!');
      expect(await rest.trigger('c', 'e', 'good')).toBe('{}');
    } finally {
      rest.close();
    }
    expect(rest.requests).toBe(1);
    expect(rest.socketsOpened).toBe(1);
  });

  it('rejects the request in flight when the server closes mid-response, then recovers', async () => {
    answer = (socket, req) => {
      if (req.body.includes('"cut"')) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{"a"');
      else socket.write(ok('{}'));
    };
    const rest = client();
    try {
      await expect(rest.trigger('c', 'e', 'cut')).rejects.toThrow(/connection closed before the response/);
      expect(await rest.trigger('c', 'e', 'next')).toBe('{}');
    } finally {
      rest.close();
    }
    expect(rest.socketsOpened).toBe(2);
  });

  it('rejects a malformed response', async () => {
    answer = (socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}');
    const rest = client();
    try {
      await expect(rest.trigger('c', 'e', 'd')).rejects.toThrow(/neither Content-Length nor chunked/);
    } finally {
      rest.close();
    }
  });

  it('times a request out, then carries on with a new socket', async () => {
    answer = (socket, req) => {
      if (!req.body.includes('"hang"')) socket.write(ok('{}'));
    };
    const rest = client({ timeoutMs: 100 });
    try {
      await expect(rest.trigger('c', 'e', 'hang')).rejects.toThrow(/timed out after 100 ms/);
      expect(await rest.trigger('c', 'e', 'next')).toBe('{}');
    } finally {
      rest.close();
    }
    expect(rest.socketsOpened).toBe(2);
  });

  it('queues requests beyond `connections` in order, one request per socket at a time', async () => {
    answer = (socket) => setTimeout(() => socket.write(ok('{}')), 10);
    const rest = client({ connections: 2 });
    try {
      const all = Array.from({ length: 8 }, (_, i) => rest.trigger('c', 'e', String(i)));
      expect(await Promise.all(all)).toEqual(Array(8).fill('{}'));
    } finally {
      rest.close();
    }
    expect(rest.socketsOpened).toBe(2);
    expect(maxOpen).toBe(2);
    const order = received.map((r) => Number(JSON.parse(r.body).data));
    // Each pair goes out when the previous pair is answered, so pairs arrive in issue order.
    for (let i = 0; i < 8; i += 2) expect(order.slice(i, i + 2).sort()).toEqual([i, i + 1]);
  });

  it('rejects what is queued or in flight on close()', async () => {
    const rest = client();
    const first = rest.trigger('c', 'e', '1');
    const second = rest.trigger('c', 'e', '2');
    await sleep(20);
    rest.close();
    await expect(first).rejects.toThrow(/client closed/);
    await expect(second).rejects.toThrow(/client closed/);
    await expect(rest.trigger('c', 'e', '3')).rejects.toThrow(/client closed/);
  });
});
