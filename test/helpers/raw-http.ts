import net from 'node:net';

export interface RawResponse {
  status: number;
  /** Lowercase names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: string;
}

/**
 * One TCP connection that sends exact bytes and parses the HTTP/1.1 responses that come back
 * (Content-Length bodies, which is all Herald sends). Records a reset or close instead of
 * throwing, so a test can assert that neither happened.
 */
export class RawHttp {
  readonly socket: net.Socket;
  private buffer = Buffer.alloc(0);
  private readonly responses: RawResponse[] = [];
  private waiters: (() => void)[] = [];
  /** Set once the server closed the connection (FIN or reset). */
  closed = false;
  /** The socket error, e.g. ECONNRESET or EPIPE, if any. */
  error: NodeJS.ErrnoException | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    socket.on('error', (error) => {
      this.error = error;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static connect(port: number): Promise<RawHttp> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawHttp(socket)));
      socket.once('error', reject);
    });
  }

  /** Writes and resolves once the kernel took the bytes (or the socket failed). */
  write(bytes: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.write(bytes, () => resolve());
    });
  }

  /** Writes `total` bytes of `fill` in chunks, stopping early if the socket fails. */
  async stream(total: number, chunk = 64 * 1024, fill = 0x61): Promise<void> {
    const block = Buffer.alloc(chunk, fill);
    for (let sent = 0; sent < total && !this.error && !this.closed; sent += chunk) {
      await this.write(sent + chunk <= total ? block : block.subarray(0, total - sent));
    }
  }

  /** The next response, or undefined if the connection ended first. */
  async response(timeoutMs = 10_000): Promise<RawResponse | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.responses.length === 0) {
      if (this.closed || this.error) return undefined;
      if (Date.now() > deadline) throw new Error(`no response within ${timeoutMs} ms; got ${JSON.stringify(this.buffer.toString('latin1').slice(0, 200))}`);
      await this.event(deadline - Date.now());
    }
    return this.responses.shift();
  }

  /** Resolves true once the server closed the connection, false after `timeoutMs`. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await this.event(deadline - Date.now());
    return this.closed;
  }

  /** Bytes received that are not part of a complete response. */
  get pending(): string {
    return this.buffer.toString('latin1');
  }

  end(): void {
    this.socket.destroy();
  }

  private event(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(1, timeoutMs));
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private parse(): void {
    for (;;) {
      const headEnd = this.buffer.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const lines = this.buffer.subarray(0, headEnd).toString('latin1').split('\r\n');
      const status = Number(lines[0]!.split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (this.buffer.length < headEnd + 4 + length) return;
      const body = this.buffer.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(headEnd + 4 + length);
      this.responses.push({ status, headers, body });
      this.wake();
    }
  }
}
