/**
 * A small round-robin TCP load balancer (node:net) in front of Herald nodes: each new client
 * connection goes to the next backend in turn; a backend that refuses the connection is skipped,
 * and `remove` takes one out of the rotation as a health check would. Bytes are piped untouched,
 * so WebSocket upgrades and close frames pass through as they would behind HAProxy in TCP mode.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Backend port each accepted client was sent to, in accept order. */
  readonly routed: number[];
  remove(port: number): void;
  close(): Promise<void>;
}

export async function startProxy(backends: number[]): Promise<TcpProxy> {
  const pool = [...backends];
  const routed: number[] = [];
  const sockets = new Set<Socket>();
  let turn = 0;

  const open = (client: Socket, tries: number): void => {
    if (pool.length === 0 || tries >= pool.length) {
      client.destroy();
      return;
    }
    const port = pool[turn++ % pool.length]!;
    const upstream = connect({ host: '127.0.0.1', port });
    sockets.add(upstream);
    upstream.once('error', () => {
      sockets.delete(upstream);
      // Refused before anything was sent: try the next backend. Mid-stream errors end the client too.
      if (!upstream.bytesRead && !upstream.bytesWritten) open(client, tries + 1);
      else client.destroy();
    });
    upstream.once('connect', () => {
      routed.push(port);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.once('close', () => {
      sockets.delete(upstream);
      if (upstream.bytesRead || upstream.bytesWritten) client.end();
    });
    client.once('close', () => upstream.destroy());
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    sockets.add(client);
    client.on('error', () => undefined);
    client.once('close', () => sockets.delete(client));
    open(client, 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    routed,
    remove: (port) => {
      const at = pool.indexOf(port);
      if (at >= 0) pool.splice(at, 1);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
