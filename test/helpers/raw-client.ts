import WebSocket from 'ws';

export interface Frame {
  event: string;
  channel?: string;
  data?: unknown;
  user_id?: string;
}

/**
 * A bare WebSocket speaking the Pusher protocol by hand, for frames pusher-js would never send.
 * Every received frame is kept; `next` waits for the first unread one that matches.
 */
export class RawClient {
  readonly frames: Frame[] = [];
  private read = 0;
  private waiters: (() => void)[] = [];
  closeCode: number | undefined;
  closeReason = '';
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      this.frames.push(JSON.parse(String(data)) as Frame);
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = String(reason);
        this.wake();
        resolve(code);
      }),
    );
  }

  static async connect(
    port: number,
    path = '/app/app-key?protocol=7&client=js&version=8.6.0&flash=false',
    headers?: Record<string, string>,
    options: WebSocket.ClientOptions = {},
  ): Promise<RawClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { ...options, headers });
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  /** Connects and waits for `pusher:connection_established`; returns the client and its socket id. */
  static async established(port: number, path?: string): Promise<{ client: RawClient; socketId: string }> {
    const client = await RawClient.connect(port, path);
    const frame = await client.next('pusher:connection_established');
    const socketId = (JSON.parse(frame.data as string) as { socket_id: string }).socket_id;
    return { client, socketId };
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next unread frame (optionally with this event name, skipping others), or throws after a timeout. */
  async next(event?: string, timeoutMs = 3000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.read < this.frames.length) {
        const frame = this.frames[this.read++]!;
        if (!event || frame.event === event) return frame;
      }
      if (this.closeCode !== undefined) throw new Error(`closed (${this.closeCode}) while waiting for ${event ?? 'a frame'}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${event ?? 'a frame'}; got ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Asserts nothing (matching) arrives within `ms`. */
  async nothing(ms = 200, event?: string): Promise<void> {
    const start = this.read;
    await new Promise((resolve) => setTimeout(resolve, ms));
    const extra = this.frames.slice(start).filter((f) => !event || f.event === event);
    if (extra.length) throw new Error(`expected no frame, got ${JSON.stringify(extra)}`);
  }

  subscribe(channel: string, auth?: string, channelData?: string): void {
    this.send({ event: 'pusher:subscribe', data: { channel, ...(auth !== undefined ? { auth } : {}), ...(channelData !== undefined ? { channel_data: channelData } : {}) } });
  }

  close(): void {
    this.ws.close();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** `data` of a frame parsed when it is a JSON string, as pusher-js does. */
export function dataOf<T = unknown>(frame: Frame): T {
  return (typeof frame.data === 'string' ? JSON.parse(frame.data) : frame.data) as T;
}
