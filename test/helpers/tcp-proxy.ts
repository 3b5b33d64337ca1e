import net, { type AddressInfo } from 'node:net';

export interface TcpProxy {
  /** The loopback port clients connect to (127.0.0.1). */
  port: number;
  /**
   * The server goes away as far as clients can tell: every current connection is destroyed (both
   * sides, so the server sees its client gone too) and new ones are closed as soon as they arrive,
   * until `restore()`.
   */
  cut(): void;
  /** Passes new connections through again. */
  restore(): void;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy to `targetHost:targetPort` that a test can cut and restore, to take a
 * server (PostgreSQL, RabbitMQ, …) away from one client without stopping it for everyone else.
 */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let cut = false;
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A reset while cut, or the other side going away: the pair is destroyed either way.
    socket.on('error', () => undefined);
  };
  const server = net.createServer((client) => {
    track(client);
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const destroyAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      cut = true;
      destroyAll();
    },
    restore() {
      cut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        destroyAll();
        server.close(() => resolve());
      }),
  };
}
