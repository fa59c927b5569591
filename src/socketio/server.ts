import { Server, type Namespace, type Socket as IoSocket } from 'socket.io';
import { ErrorCode, ErrorMessage } from '../../protocol/codes.js';
import { topicOf } from '../channels/topics.js';
import type { AppConfig } from '../config/schema.js';
import { attachSocketIo } from '../transport/socketio.js';
import type { Transport } from '../transport/uws.js';
import { admitConnection } from '../rules/admission.js';
import { monotonicMs } from '../rules/clock.js';
import { closed, leftOnClose } from '../rules/closing.js';
import { Connection } from '../rules/connection.js';
import type { ServerContext } from '../rules/context.js';
import { clientEventPacket, signInWithToken, subscribePacket, unsubscribePacket } from './channels.js';
import { SocketIoRooms } from './rooms.js';
import type { Session } from './session.js';
import { SocketIoSocket } from './socket.js';
import { TokenUsers, type TokenUser } from './token.js';

export interface SocketIo {
  close(): Promise<void>;
}

/**
 * Socket.IO clients on Herald's port, path `{pathPrefix}/socket.io/`: each app with `socketIo` on
 * gets the namespace `/{key}`, and the first app also the default namespace `/` (what
 * laravel-echo-server clients connect to). A client is a Herald `Connection` like any Pusher
 * client: Pusher-format socket id, same channels, limits, counts, presence and lifecycle events,
 * through the same rules (src/rules).
 */
export function startSocketIo(ctx: ServerContext, transport: Transport): SocketIo | undefined {
  const { config, logger } = ctx;
  const apps = config.apps.filter((app) => app.socketIo);
  if (apps.length === 0) return undefined;
  const io = new Server({ serveClient: false });
  attachSocketIo(transport, io, {
    path: `${config.pathPrefix}/socket.io/`,
    allowEIO3: config.socketIoEio3,
    // The node's hard cap, as for a Pusher frame; the app's own maxMessageSize answers below it (`sizeChecked`).
    maxHttpBufferSize: config.maxPayloadLength,
    maxBackpressure: config.maxBackpressure,
    onOverflow: () => ctx.stats.socketIoOverflows++,
  });

  const rooms = new SocketIoRooms(
    (topic, channel) => {
      const app = apps.find((candidate) => topic === topicOf(candidate.id, channel));
      return app && channel.startsWith('presence-') ? ctx.adapter.presence(app.id, channel) : undefined;
    },
    (err) => logger.error({ err }, 'socket.io fan-out failed'),
  );
  transport.setFanOut(rooms);
  const tokens = new TokenUsers(config.socketIoTokenCacheTtl, config.socketIoAuthTimeout * 1000);
  const publishToUws = (topic: string, message: string) => transport.app.publish(topic, message);

  const first = config.apps[0];
  for (const app of apps) serve(io.of(`/${app.key}`), app);
  if (first?.socketIo) serve(io.of('/'), first);
  else io.of('/').use((_socket, next) => next(refusal('Socket.IO is not enabled for the default namespace; connect to /{app key}', ErrorCode.AppNotFound)));

  function serve(nsp: Namespace, app: AppConfig): void {
    nsp.use((socket, next) => {
      admit(socket, nsp, app).then(
        () => next(),
        (err: Error) => next(err),
      );
    });
    nsp.on('connection', (socket) => {
      const session = socket.data.herald as Session | undefined;
      if (!session) return socket.disconnect(true);
      socket.use((packet, next) => sizeChecked(session.conn, packet) && next());
      const run = (name: string, handle: (packet: unknown) => unknown) =>
        socket.on(name, (packet: unknown) => {
          const failed = (err: unknown) => {
            // A bug must cost one packet, not the process and every other connection on it.
            logger.error({ err, app: app.id, socket_id: session.conn.socketId, packet: name }, 'socket.io packet handler failed');
            session.conn.error(null, 'Internal server error');
          };
          session.conn.lastSeen = monotonicMs();
          ctx.stats.wsMessagesIn++;
          session.conn.messages.received++;
          try {
            const pending = handle(packet);
            if (pending instanceof Promise) pending.catch(failed);
          } catch (err) {
            failed(err);
          }
        });
      run('subscribe', (packet) => subscribePacket(ctx, session, packet));
      run('unsubscribe', (packet) => unsubscribePacket(ctx, session, packet));
      run('client event', (packet) => clientEventPacket(ctx, session, packet));
      const user = socket.data.user as TokenUser | undefined;
      if (user) signInWithToken(ctx, session, user);
    });
  }

  /** Admission, then the token, then the Herald connection: the socket's id becomes its Herald socket id. */
  async function admit(socket: IoSocket, nsp: Namespace, app: AppConfig): Promise<void> {
    const origin = typeof socket.handshake.headers.origin === 'string' ? socket.handshake.headers.origin : '';
    if (app.requireTls && !transport.secure) throw refusal('Secure connections only', ErrorCode.SslOnly);
    const admitted = admitConnection(ctx, app, origin);
    if (!admitted.ok) throw refusal(admitted.message, admitted.code);
    const token = tokenOf(socket);
    if (token !== undefined && TokenUsers.checks(app)) {
      const checked = await tokens.check(app, token);
      if (!checked.ok) throw refusal(checked.message, ErrorCode.Unauthorized);
      socket.data.user = checked.user;
      // Others may have filled the app or the node (or a shutdown begun) while the token was checked.
      const still = admitConnection(ctx, app, origin);
      if (!still.ok) throw refusal(still.message, still.code);
    }
    // Gone while the token was checked: socket.io drops the socket, nothing to undo.
    if (socket.conn.readyState !== 'open') throw refusal('Client disconnected', null);
    open(socket, nsp, app);
  }

  function open(socket: IoSocket, nsp: Namespace, app: AppConfig): void {
    const conn = new Connection(app, monotonicMs(), ctx.stats);
    const session: Session = {
      conn,
      socket: new SocketIoSocket(socket, nsp, topicOf(app.id, ''), rooms, publishToUws, () => {
        conn.lastSeen = monotonicMs();
        conn.pingSentAt = 0;
      }),
      headers: socket.handshake.headers,
      pending: new Map(),
      gone: new AbortController(),
    };
    conn.socket = session.socket;
    conn.open = true;
    // A 2.x client on the default namespace reports its Engine.IO session id as its id (Echo's
    // X-Socket-ID), chosen in Herald's format at the handshake: Herald knows it by that id.
    if (socket.conn.protocol === 3 && nsp.name === '/') conn.socketId = (socket.conn as unknown as { id: string }).id;
    ctx.stats.connectionsOpened++;
    const admitted = ctx.adapter.addConnection(conn);
    if (admitted === false) {
      closed(ctx, conn, ErrorCode.OverQuota);
      throw refusal(ErrorMessage[ErrorCode.OverQuota]!, ErrorCode.OverQuota);
    }
    // Echo reads `socket.id` for X-Socket-ID; Laravel and pusher-http-php accept only `N.N` ids.
    // socket.io files a connecting socket under its id, so it is refiled under the new one.
    const preConnect = (nsp as unknown as { _preConnectSockets: Map<string, IoSocket> })._preConnectSockets;
    preConnect.delete(socket.id);
    (socket as { id: string }).id = conn.socketId;
    preConnect.set(socket.id, socket);
    socket.data.herald = session;

    let gone = false;
    const close = () => {
      if (gone) return;
      gone = true;
      socket.conn.off('close', close);
      session.gone.abort();
      for (const topic of session.socket.drop()) leftOnClose(ctx, conn, topic, transport.numSubscribers(topic));
      closed(ctx, conn, 1000);
    };
    // `disconnect` when the client leaves the namespace; the engine's `close` also when it goes before connecting.
    socket.on('disconnect', close);
    socket.conn.once('close', close);
    // The app's cluster-wide connection limit answers later; over it, the client is sent away as a Pusher client is.
    if (admitted instanceof Promise) {
      admitted.then(
        (ok) => ok || conn.terminate(ErrorCode.OverQuota, ErrorMessage[ErrorCode.OverQuota]!),
        (err: unknown) => logger.error({ err, app: app.id, socket_id: conn.socketId }, 'connection admission failed'),
      );
    }
    ctx.logger.debug({ app: app.id, socket_id: conn.socketId, transport: socket.conn.transport.name }, 'socket.io connection opened');
  }

  logger.info({ path: `${config.pathPrefix}/socket.io/`, apps: apps.map((app) => app.id), eio3: config.socketIoEio3 }, 'Socket.IO clients accepted');
  return {
    close: () => new Promise<void>((resolve) => io.close(() => resolve())),
  };
}

/**
 * The app's `maxMessageSize` applies to each packet as to a Pusher frame: over it, the packet is
 * dropped with an error and the socket stays. A packet's size is its JSON, as socket.io-client encodes it.
 */
function sizeChecked(conn: Connection, packet: unknown[]): boolean {
  const limit = conn.app.maxMessageSize;
  if (Buffer.byteLength(JSON.stringify(packet)) <= limit) return true;
  conn.error(null, `Message exceeds ${limit} bytes`);
  return false;
}

function tokenOf(socket: IoSocket): string | undefined {
  const auth = socket.handshake.auth as { token?: unknown } | undefined;
  if (typeof auth?.token === 'string' && auth.token !== '') return auth.token;
  const query = socket.handshake.query.token;
  return typeof query === 'string' && query !== '' ? query : undefined;
}

/**
 * A `connect_error` whose message says why; `data.code` is the Pusher code a Pusher client would
 * get. `data` repeats the message: socket.io-client 2.x receives only `data`.
 */
function refusal(message: string, code: number | null): Error {
  return Object.assign(new Error(message), { data: { code, message } });
}
