/**
 * A deliberately cheap Pusher client for load generation: raw TCP (node:net with a shared `onread`
 * buffer, so no per-chunk allocation or stream machinery), a hand-written WebSocket handshake and
 * frame parser, zero mask keys on client frames, and JSON parsing only for control frames. Bench
 * payloads carry a marker `~T<µs>:<seq>~` that is located and decoded without JSON.parse.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { APP, assertLoopback, channelAuth } from '../common.js';

export type ChannelKind = 'public' | 'private' | 'presence';

export interface ClientHandlers {
  /** A frame carrying a bench marker: `t` = sender's timestamp (µs), `seq` = sender's sequence number. */
  onBench(conn: PusherConn, t: number, seq: number): void;
  onMember?(conn: PusherConn, channel: string, added: boolean, userId: string): void;
  onClose?(conn: PusherConn, expected: boolean): void;
}

interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
}

const CRLF2 = Buffer.from('\r\n\r\n');
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const TILDE = 0x7e;
const T = 0x54;
const COLON = 0x3a;
const SHARED = Buffer.allocUnsafe(256 * 1024);

/** Encode a masked (zero key) text frame. */
export function encodeFrame(text: string, opcode = 0x1): Buffer {
  const len = Buffer.byteLength(text);
  const head = len < 126 ? 6 : len < 65536 ? 8 : 14;
  const buf = Buffer.allocUnsafe(head + len);
  buf[0] = 0x80 | opcode;
  if (len < 126) {
    buf[1] = 0x80 | len;
  } else if (len < 65536) {
    buf[1] = 0x80 | 126;
    buf.writeUInt16BE(len, 2);
  } else {
    buf[1] = 0x80 | 127;
    buf.writeUInt32BE(0, 2);
    buf.writeUInt32BE(len, 6);
  }
  buf.writeUInt32BE(0, head - 4); // mask key 0: payload stays as is
  buf.write(text, head);
  return buf;
}

/** Find `~T<digits>:<digits>~` in buf[start, end); returns false if absent. Writes into out[0..1]. */
function findMarker(buf: Buffer, start: number, end: number, out: Float64Array): boolean {
  for (let i = start; i < end - 1; i++) {
    if (buf[i] === TILDE && buf[i + 1] === T) {
      let j = i + 2;
      let t = 0;
      let c = buf[j]!;
      while (c >= 48 && c <= 57) {
        t = t * 10 + (c - 48);
        c = buf[++j]!;
      }
      if (c !== COLON) return false;
      let seq = 0;
      c = buf[++j]!;
      while (c >= 48 && c <= 57) {
        seq = seq * 10 + (c - 48);
        c = buf[++j]!;
      }
      out[0] = t;
      out[1] = seq;
      return true;
    }
  }
  return false;
}

/** The data string of a bench event: marker plus padding up to `size` bytes. */
export function benchData(t: number, seq: number, size = 0): string {
  const m = `~T${t}:${seq}~`;
  return size > m.length ? m + 'x'.repeat(size - m.length) : m;
}

const marker = new Float64Array(2);

export class PusherConn {
  socket: net.Socket;
  socketId = '';
  /** Free slot for scenario bookkeeping (e.g. received count, pair partner). */
  received = 0;
  tag = 0;
  private state: 0 | 1 | 2 = 0; // 0 handshake, 1 ws open, 2 closed
  private pending: Buffer | null = null;
  private readonly wsKey = randomBytes(16).toString('base64');
  private established: Pending | null = null;
  private subs: Map<string, Pending> | null = null;
  private closingOnPurpose = false;
  lastError = '';

  constructor(
    readonly index: number,
    host: string,
    port: number,
    localAddress: string,
    private readonly handlers: ClientHandlers,
    path = `/app/${APP.key}?protocol=7&client=js&version=8.6.0&flash=false`,
  ) {
    assertLoopback(host);
    assertLoopback(localAddress);
    this.socket = net.connect({
      host,
      port,
      localAddress,
      noDelay: true,
      onread: {
        buffer: SHARED,
        callback: (n: number, buf: Uint8Array): boolean => {
          this.onRead(buf as Buffer, n);
          return true;
        },
      },
    });
    this.socket.on('connect', () => {
      this.socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${this.wsKey}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.socket.on('error', (e) => {
      this.lastError = e.message;
    });
    this.socket.on('close', () => {
      const was = this.state;
      this.state = 2;
      const phase = was === 0 ? ' during the upgrade' : this.socketId ? '' : ' before connection_established';
      const err = new Error(`connection ${index} closed${phase}${this.lastError ? `: ${this.lastError}` : ''}`);
      this.established?.reject(err);
      this.established = null;
      if (this.subs) for (const p of this.subs.values()) p.reject(err);
      this.subs = null;
      if (was !== 2) this.handlers.onClose?.(this, this.closingOnPurpose);
    });
  }

  get open(): boolean {
    return this.state === 1;
  }

  /** Resolves on `pusher:connection_established`. */
  ready(): Promise<void> {
    if (this.socketId) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.established = { resolve, reject };
    });
  }

  subscribe(channel: string, kind: ChannelKind, userId?: string): Promise<void> {
    let data: string;
    if (kind === 'public') data = JSON.stringify({ auth: '', channel });
    else if (kind === 'private') data = JSON.stringify({ auth: channelAuth(this.socketId, channel), channel });
    else {
      const channelData = JSON.stringify({ user_id: userId ?? String(this.index), user_info: { name: `u${userId ?? this.index}` } });
      data = JSON.stringify({ auth: channelAuth(this.socketId, channel, channelData), channel_data: channelData, channel });
    }
    return new Promise((resolve, reject) => {
      (this.subs ??= new Map()).set(channel, { resolve, reject });
      this.sendRaw(`{"event":"pusher:subscribe","data":${data}}`);
    });
  }

  unsubscribe(channel: string): void {
    this.sendRaw(`{"event":"pusher:unsubscribe","data":{"channel":${JSON.stringify(channel)}}}`);
  }

  /** Client event; `data` is sent as a JSON string. */
  clientEvent(channel: string, event: string, data: string): void {
    this.sendRaw(`{"event":"${event}","channel":"${channel}","data":"${data}"}`);
  }

  sendRaw(text: string): void {
    if (this.state !== 1) throw new Error(`connection ${this.index} is not open`);
    this.socket.write(encodeFrame(text));
  }

  close(): void {
    this.closingOnPurpose = true;
    if (this.state === 2) return;
    this.socket.destroy();
  }

  private onRead(buf: Buffer, n: number): void {
    let data = buf;
    let end = n;
    if (this.pending) {
      data = Buffer.concat([this.pending, buf.subarray(0, n)]);
      end = data.length;
      this.pending = null;
    }
    let pos = 0;
    if (this.state === 0) {
      const hdrEnd = data.indexOf(CRLF2, 0);
      if (hdrEnd < 0 || hdrEnd + 4 > end) {
        this.pending = Buffer.from(data.subarray(0, end));
        return;
      }
      const head = data.toString('latin1', 0, hdrEnd);
      const accept = createHash('sha1').update(this.wsKey + GUID).digest('base64');
      if (!head.startsWith('HTTP/1.1 101') || !head.toLowerCase().includes(accept.toLowerCase())) {
        this.lastError = `bad handshake: ${head.split('\r\n')[0]}`;
        this.socket.destroy();
        return;
      }
      this.state = 1;
      pos = hdrEnd + 4;
    }
    while (pos < end) {
      if (end - pos < 2) break;
      const b0 = data[pos]!;
      const b1 = data[pos + 1]!;
      let len = b1 & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (end - pos < 4) break;
        len = data.readUInt16BE(pos + 2);
        hdr = 4;
      } else if (len === 127) {
        if (end - pos < 10) break;
        len = data.readUInt32BE(pos + 2) * 2 ** 32 + data.readUInt32BE(pos + 6);
        hdr = 10;
      }
      if (b1 & 0x80) hdr += 4; // servers never mask, but be exact
      if (end - pos < hdr + len) break;
      const start = pos + hdr;
      pos = start + len;
      const opcode = b0 & 0x0f;
      if (opcode === 0x1 || opcode === 0x0 || opcode === 0x2) this.onText(data, start, pos);
      else if (opcode === 0x9) this.socket.write(encodeFrame(data.toString('utf8', start, pos), 0xa));
      else if (opcode === 0x8) {
        const code = len >= 2 ? data.readUInt16BE(start) : 0;
        this.lastError = `server closed with ${code} ${data.toString('utf8', start + 2, pos)}`;
        this.socket.destroy();
        return;
      }
    }
    if (pos < end) this.pending = Buffer.from(data.subarray(pos, end));
  }

  private onText(buf: Buffer, start: number, end: number): void {
    if (findMarker(buf, start, end, marker)) {
      this.handlers.onBench(this, marker[0]!, marker[1]!);
      return;
    }
    let msg: { event?: string; channel?: string; data?: unknown };
    try {
      msg = JSON.parse(buf.toString('utf8', start, end)) as typeof msg;
    } catch {
      this.lastError = `unparsable frame: ${buf.toString('utf8', start, Math.min(end, start + 200))}`;
      return;
    }
    const ev = msg.event;
    let data = msg.data;
    if (typeof data === 'string' && ev !== undefined && (ev.startsWith('pusher') || ev.startsWith('pusher_internal'))) {
      try {
        data = JSON.parse(data);
      } catch {
        /* keep string */
      }
    }
    switch (ev) {
      case 'pusher:connection_established': {
        this.socketId = String((data as { socket_id?: unknown }).socket_id);
        this.established?.resolve();
        this.established = null;
        break;
      }
      case 'pusher_internal:subscription_succeeded': {
        const p = msg.channel !== undefined ? this.subs?.get(msg.channel) : undefined;
        if (p && msg.channel !== undefined) {
          this.subs!.delete(msg.channel);
          p.resolve();
        }
        break;
      }
      case 'pusher_internal:member_added':
      case 'pusher_internal:member_removed': {
        const userId = String((data as { user_id?: unknown }).user_id);
        this.handlers.onMember?.(this, msg.channel ?? '', ev === 'pusher_internal:member_added', userId);
        break;
      }
      case 'pusher:ping':
        this.sendRaw('{"event":"pusher:pong","data":{}}');
        break;
      case 'pusher:error':
      case 'pusher:subscription_error': {
        const text = JSON.stringify(msg);
        this.lastError = text;
        const p = msg.channel !== undefined ? this.subs?.get(msg.channel) : undefined;
        if (p && msg.channel !== undefined) {
          this.subs!.delete(msg.channel);
          p.reject(new Error(`subscribe ${msg.channel} failed: ${text}`));
        } else if (this.subs && this.subs.size > 0 && ev === 'pusher:error') {
          // pusher:error carries no channel: fail every pending subscription on this connection.
          for (const [ch, q] of this.subs) q.reject(new Error(`subscribe ${ch} failed: ${text}`));
          this.subs.clear();
        }
        break;
      }
      default:
        break;
    }
  }
}
