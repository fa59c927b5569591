/**
 * Socket.IO's server on Herald's own uWS app: same port, its own path. Only this module hands uWS
 * to socket.io, so src/socketio stays free of it.
 *
 * socket.io's own `attachApp` patches the room adapter of every socket.io server in the process
 * with the last app attached (and `close` unpatches them all); instead, Engine.IO's uWS server is
 * bound here and each namespace gets `UwsRooms`, bound to this app only.
 */
import { randomInt } from 'node:crypto';
import { uServer, type ServerOptions as EngineOptions } from 'engine.io';
import type { Server, Socket as IoSocket } from 'socket.io';
import { Adapter, type BroadcastOptions, type Room, type SocketId } from 'socket.io-adapter';
import type * as UWS from 'uws-pack';
import type { Transport } from './uws.js';


export interface EngineLimits {
  path: string;
  allowEIO3: boolean;
  /** Largest packet, and largest polling request body: beyond it the connection is dropped. */
  maxHttpBufferSize: number;
  /** Bytes queued for a client, on uWS (WebSocket) or in Engine.IO's write buffer (long-polling); beyond it the client is closed. */
  maxBackpressure: number;
  /** A client closed for having more than `maxBackpressure` bytes waiting in the write buffer. */
  onOverflow(): void;
}

export function attachSocketIo(transport: Transport, io: Server, limits: EngineLimits): void {
  const options: EngineOptions = {
    allowEIO3: limits.allowEIO3,
    maxHttpBufferSize: limits.maxHttpBufferSize,
    // Origins are checked per app (allowedOrigins) once the namespace says which app it is.
    cors: { origin: true, credentials: true },
  };
  const engine = new uServer(options);
  const standardId = engine.generateId.bind(engine);
  engine.generateId = (req) => ((req as unknown as { _query?: { EIO?: string } })._query?.EIO === '3' ? eio3SessionId() : standardId(req));
  engine.attach(slowClientsClosed(transport.app), { path: limits.path, maxBackpressure: limits.maxBackpressure } as Parameters<uServer['attach']>[1]);
  engine.on('connection', (socket: EngineSocket) => boundWriteBuffer(socket, limits));
  io.bind(engine as unknown as Parameters<Server['bind']>[0]);
  io.adapter(uwsRooms(transport.app));
}

/**
 * engine.io's uWS behaviour sets `maxBackpressure` but not `closeOnBackpressureLimit`, so uWS
 * would silently drop what a slow Socket.IO client cannot take; a slow Pusher client is closed,
 * and so is this one.
 */
function slowClientsClosed(app: UWS.TemplatedApp): UWS.TemplatedApp {
  const attach = {
    any: (path: string, handler: Parameters<UWS.TemplatedApp['any']>[1]) => (app.any(path, handler), attach),
    ws: (path: string, behavior: UWS.WebSocketBehavior<unknown>) => (app.ws(path, { ...behavior, closeOnBackpressureLimit: true }), attach),
  };
  return attach as unknown as UWS.TemplatedApp;
}

interface EngineSocket {
  on(event: 'packetCreate', fn: (packet: { data?: string | Buffer }) => void): void;
  on(event: 'flush', fn: () => void): void;
  close(discard: boolean): void;
}

/**
 * Engine.IO queues every packet for a long-polling client until its next poll (and for any client
 * during the upgrade), without a bound: more than `maxBackpressure` bytes waiting (string lengths,
 * as the frame counters measure) and the client is closed, its queue discarded, as uWS closes a
 * slow WebSocket.
 */
function boundWriteBuffer(socket: EngineSocket, limits: EngineLimits): void {
  let queued = 0;
  let closed = false;
  socket.on('flush', () => {
    queued = 0;
  });
  socket.on('packetCreate', (packet) => {
    const { data } = packet;
    queued += data === undefined ? 1 : typeof data === 'string' ? data.length : data.byteLength;
    if (queued <= limits.maxBackpressure || closed) return;
    closed = true;
    limits.onOverflow();
    socket.close(true);
  });
}

/**
 * socket.io-client 2.x takes its `socket.id` from the Engine.IO session id, so Echo sends that as
 * `X-Socket-ID` and Laravel's pusher driver hands it to pusher-http-php, which throws on anything but
 * `digits.digits`. The id is Herald's socket id for that client (src/socketio/server.ts): its second
 * part is beyond any connection slot, so it cannot name another connection.
 */
function eio3SessionId(): string {
  return `${randomInt(1, 1_000_000_000)}.${randomInt(1_000_000_000, 2 ** 47)}`;
}

const SEPARATOR = '\x1f';
type WebSocket = UWS.WebSocket<unknown>;

/**
 * Rooms as uWS topics (`{namespace}\x1f{room}`), so that a room broadcast is encoded once and
 * published once by uWS to its WebSocket members, skipping an excluded WebSocket member natively;
 * only long-polling members are written one by one. A closed uWS socket throws on any call, and a
 * Socket.IO client may close between any two: every call into one is guarded.
 */
function uwsRooms(app: UWS.TemplatedApp): typeof Adapter {
  return class UwsRooms extends Adapter {
    /** Members still on long-polling, which uWS topics do not reach. */
    private readonly polling = new Set<SocketId>();

    override addAll(id: SocketId, rooms: Set<Room>): void {
      const isNew = !this.sids.has(id);
      super.addAll(id, rooms);
      const socket = this.socket(id);
      if (!socket) return;
      const ws = websocketOf(socket);
      if (ws) {
        for (const room of rooms) guard(() => ws.subscribe(this.topic(room)));
        return;
      }
      if (!isNew) return;
      this.polling.add(id);
      socket.conn.once('upgrade', () => {
        this.polling.delete(id);
        const upgraded = websocketOf(socket);
        for (const room of this.sids.get(id) ?? []) if (upgraded) guard(() => upgraded.subscribe(this.topic(room)));
      });
    }

    override del(id: SocketId, room: Room): void {
      super.del(id, room);
      const socket = this.socket(id);
      const ws = socket && websocketOf(socket);
      if (ws) guard(() => ws.unsubscribe(this.topic(room)));
    }

    /** A socket leaving the namespace; its Engine.IO connection may stay for other namespaces. */
    override delAll(id: SocketId): void {
      const socket = this.socket(id);
      const ws = socket && websocketOf(socket);
      if (ws) for (const room of this.sids.get(id) ?? []) guard(() => ws.unsubscribe(this.topic(room)));
      super.delAll(id);
      this.polling.delete(id);
    }

    override broadcast(packet: Parameters<Adapter['broadcast']>[0], opts: BroadcastOptions): void {
      const room = only(opts.rooms);
      const except = opts.except ?? new Set<Room>();
      // Excluding one socket (its own room, as `.except(id)` does) is the only exclusion uWS can do.
      const excluded = except.size === 0 ? undefined : except.size === 1 ? this.socket(only(except)!) : undefined;
      if (room === undefined || (except.size > 0 && !excluded) || opts.flags?.volatile) return super.broadcast(packet, opts);
      packet.nsp = this.nsp.name;
      const encoded = (this as unknown as { encoder: { encode(packet: unknown): unknown[] } }).encoder.encode(packet);
      if (encoded.length !== 1 || typeof encoded[0] !== 'string') return super.broadcast(packet, opts);
      const topic = this.topic(room);
      // "4" is Engine.IO's message packet type.
      const message = '4' + encoded[0];
      const from = excluded && websocketOf(excluded);
      // uWS skips the socket a publish comes from (its `false` only says nobody else was there).
      if (!from || !attempt(() => from.publish(topic, message))) app.publish(topic, message);
      if (this.polling.size === 0) return;
      const members = this.rooms.get(room);
      for (const id of this.polling) {
        if (id === excluded?.id || !members?.has(id)) continue;
        const client = this.socket(id)?.client as unknown as { writeToEngine(packets: unknown[], opts: { preEncoded: boolean }): void } | undefined;
        client?.writeToEngine(encoded, { preEncoded: true });
      }
    }

    private topic(room: Room): string {
      return `${this.nsp.name}${SEPARATOR}${String(room)}`;
    }

    private socket(id: SocketId): IoSocket | undefined {
      const nsp = this.nsp as unknown as { sockets: Map<SocketId, IoSocket>; _preConnectSockets: Map<SocketId, IoSocket> };
      return nsp.sockets.get(id) ?? nsp._preConnectSockets.get(id);
    }
  };
}

function websocketOf(socket: IoSocket): WebSocket | undefined {
  const transport = socket.conn.transport as unknown as { name: string; socket?: WebSocket };
  return transport.name === 'websocket' && socket.conn.readyState === 'open' ? transport.socket : undefined;
}

function only<T>(set: Set<T>): T | undefined {
  return set.size === 1 ? set.values().next().value : undefined;
}

function guard(call: () => unknown): void {
  attempt(call);
}

/** False when the socket closed under us; the engine's close event cleans up. */
function attempt(call: () => unknown): boolean {
  try {
    call();
    return true;
  } catch {
    return false;
  }
}
