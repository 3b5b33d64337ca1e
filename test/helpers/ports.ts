import { createServer } from 'node:net';

/** A port on 127.0.0.1 that nothing listens on (taken from the OS, then released): "a server that is not there". */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A port that was free on 127.0.0.1 a moment ago, for a process the caller starts on it (the same
 * as `closedPort`; another process could take it first, so callers retry or fail clearly).
 */
export const freePort = closedPort;
