/**
 * Socket.IO's server on Herald's own uWS app: same port, its own path. Only this module hands the
 * uWS app to socket.io, so src/socketio stays free of uWS.
 */
import { createRequire } from 'node:module';
import type { Server } from 'socket.io';
import type { Transport } from './uws.js';

const require = createRequire(import.meta.url);

/**
 * True when uWS loaded its JavaScript fallback (no native build for this Node): socket.io's uWS
 * mode needs the native app (topics, `publish`), so Socket.IO is then refused.
 */
export function uwsFellBack(): boolean {
  return require.cache[require.resolve('@trufflesuite/uws-js-unofficial/dist/index')] !== undefined;
}

export function attachSocketIo(transport: Transport, io: Server): void {
  io.attachApp(transport.app);
}
