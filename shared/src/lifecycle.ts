import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import { isAppError } from './errors';
import { createLogger, type Logger } from './logger';

export interface HttpServerHandle {
  server: Server;
  port: number;
  /** Stops accepting connections, lets in-flight requests finish, closes idle keep-alive sockets. */
  close(timeoutMs: number): Promise<void>;
}

export function listenHttp(app: RequestListener, port: number): Promise<HttpServerHandle> {
  const server = createServer(app);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        close: (timeoutMs) =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => {
              server.closeAllConnections();
            }, timeoutMs);
            server.close(() => {
              clearTimeout(timer);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });
}

export interface StoppableService {
  stop(): Promise<void>;
}

/**
 * Process-level wiring shared by every `main.ts`: stop gracefully on SIGTERM/SIGINT and exit 0,
 * exit 1 after an error nobody handled (the process state is unknown then).
 */
export function runUntilSignal(service: StoppableService, logger: Logger): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    service.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.fatal({ err }, 'failed to stop cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled rejection');
    process.exit(1);
  });
}

/**
 * The whole of a service's `main.ts`: load config (a bad one exits 1 with the message naming
 * each bad key), start the service, then run until a signal.
 */
export function runMain<C extends { LOG_LEVEL: string }>(
  service: string,
  loadConfig: () => C,
  start: (config: C, logger: Logger) => Promise<StoppableService>,
): void {
  const boot = async () => {
    const config = loadConfig();
    const logger = createLogger({ service, level: config.LOG_LEVEL });
    runUntilSignal(await start(config, logger), logger);
  };
  boot().catch((err: unknown) => {
    // The logger may not exist yet (bad config), so this one line goes to stderr directly.
    const reason = isAppError(err) ? err.message : String((err as Error)?.stack ?? err);
    process.stderr.write(`${service} failed to start: ${reason}\n`);
    process.exit(1);
  });
}
