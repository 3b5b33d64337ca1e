import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { isAppError } from './errors';
import { createLogger, type Logger } from './logger';

export interface HttpServerHandle {
  server: Server;
  port: number;
  /** Where it listens, e.g. `http://127.0.0.1:3000` or `http://[::]:3001`. */
  url: string;
  /** Stops accepting connections, lets in-flight requests finish, closes idle keep-alive sockets. */
  close(timeoutMs: number): Promise<void>;
}

export interface HttpLimits {
  /**
   * Milliseconds a client has to send a request's headers (Node's `server.headersTimeout`);
   * then it gets a JSON `408` and the connection is closed. At most `requestTimeoutMs`.
   */
  headersTimeoutMs: number;
  /**
   * Milliseconds a client has to send a whole request, headers and body (Node's
   * `server.requestTimeout`); then it gets a JSON `408` and the connection is closed. Time spent
   * answering a fully received request is not limited by it.
   */
  requestTimeoutMs: number;
}

/** Node's defaults (60 s for headers, 300 s for a request) leave a slow client a socket for minutes. */
export const DEFAULT_HTTP_LIMITS: HttpLimits = { headersTimeoutMs: 5000, requestTimeoutMs: 15000 };

/** The refinement both services' configs apply: Node refuses a headers timeout over the request timeout. */
export const HEADERS_WITHIN_REQUEST_TIMEOUT = {
  message: 'must not exceed HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)',
  path: ['HTTP_HEADERS_TIMEOUT_MS'],
  // Compared only once both are valid, so a bad value is named once, by its own key.
  when: (payload: { issues: readonly { path?: readonly PropertyKey[] }[] }) =>
    !payload.issues.some((i) => /^HTTP_(HEADERS|REQUEST)_TIMEOUT_MS$/.test(String(i.path?.[0]))),
};

/** Node checks for timed-out requests on an interval (30 s by default); this keeps it near the timeouts. */
const MAX_CHECK_INTERVAL_MS = 1000;

/** What a `clientError` (a request Node refused before the app saw it) is answered with. */
const CLIENT_ERROR_ANSWERS: Record<string, [number, string, string]> = {
  // RFC 9110 §15.5.9
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request_timeout', 'The request did not arrive in time; the connection is closed'],
  // RFC 6585 §5
  HPE_HEADER_OVERFLOW: [431, 'headers_too_large', 'The request headers are too large'],
  // RFC 9110 §15.5.14
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'payload_too_large', 'The chunk extensions are too large'],
};
const MALFORMED_REQUEST: [number, string, string] = [400, 'bad_request', 'The request is not valid HTTP/1.1'];

/** The bytes of a complete JSON error answer that closes the connection. */
function rawJsonAnswer([status, error, message]: [number, string, string]): string {
  const body = JSON.stringify({ error, message });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/**
 * Starts an HTTP server for `app` on `port` (`0`: any free port) and `host` (an IP address;
 * Node's default, every interface, if absent) and resolves once it listens.
 *
 * - Requests that are too slow are cut off after `limits` (see `HttpLimits`); requests Node
 *   refuses before the app sees them (timeouts, malformed HTTP, headers over 16 KiB) get a JSON
 *   `{ "error", "message" }` answer with `Connection: close` (408, 400, 431) where nothing of
 *   another answer was sent on the connection yet, and the connection is closed either way.
 * - An answer sent before the request's body was read (e.g. 401, 413, 415) closes the
 *   connection once sent, so a body the client is still sending is never read.
 *
 * Rejects with Node's listen error (e.g. EADDRINUSE). Throws ERR_OUT_OF_RANGE if
 * `headersTimeoutMs > requestTimeoutMs`.
 */
export function listenHttp(
  app: RequestListener,
  port: number,
  options: { limits?: HttpLimits; logger?: Logger; host?: string } = {},
): Promise<HttpServerHandle> {
  const { headersTimeoutMs, requestTimeoutMs } = options.limits ?? DEFAULT_HTTP_LIMITS;
  const server = createServer({
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.max(
      10,
      Math.min(MAX_CHECK_INTERVAL_MS, Math.floor(Math.min(headersTimeoutMs, requestTimeoutMs) / 4)),
    ),
  });
  // Registered before the app, so that it sees every answer, a synchronous one included.
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const declaresBody =
      Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    const writeHead = res.writeHead;
    // An answer sent before the body was read closes the connection (below): say so in its
    // headers (RFC 9112 §9.6) rather than promise a keep-alive the server will not keep.
    res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
      if (declaresBody && !req.complete && !this.headersSent) this.setHeader('Connection', 'close');
      return writeHead.apply(this, args);
    } as ServerResponse['writeHead'];
    res.once('finish', () => {
      // Node would keep reading (and discarding) the rest of the body to reuse the connection,
      // for as long as the client cares to send it.
      if (!req.complete) req.socket.destroySoon();
    });
  });
  server.on('request', app);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code ?? '';
    const answer = CLIENT_ERROR_ANSWERS[code] ?? MALFORMED_REQUEST;
    // As Node's own handler: write only where no byte of another answer went out on this socket.
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
      socket.end(rawJsonAnswer(answer));
    }
    socket.destroySoon();
    if (code !== 'ECONNRESET') options.logger?.info({ code, status: answer[0] }, 'HTTP request refused before routing');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: options.host }, () => {
      server.off('error', reject);
      const bound = server.address() as AddressInfo;
      resolve({
        server,
        port: bound.port,
        url: `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`,
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
  /**
   * Start-up work that goes on after `start` resolved (e.g. waiting for a database). A rejection
   * means the service cannot go on: `runMain` prints one line, stops the service and exits 1.
   */
  started?: Promise<unknown>;
}

/** An IP address as it appears before `:port`: IPv6 in brackets. */
const formatAddress = (address: string) => (address.includes(':') ? `[${address}]` : address);

/** Node's listen errors that a setting can cause, and how to say so. */
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'is already in use',
  EACCES: 'needs privileges this process does not have',
  EADDRNOTAVAIL: 'is not available on this host',
};

/**
 * One line saying why a service could not start, without a stack trace for what a user can cause:
 * - an AppError (e.g. invalid config): its message;
 * - EADDRNOTAVAIL with a `HOST` in `config`: that HOST is not an address of this host;
 * - a listen error (EADDRINUSE, EACCES, EADDRNOTAVAIL) on a port: the setting that holds that
 *   port (the `config` key ending in `PORT` whose value it is; `PORT` if none), e.g.
 *   `PORT 3001 is already in use (EADDRINUSE [::]:3001)`;
 * - anything else (a bug): the stack, which is what it takes to fix it.
 */
export function describeStartupError(err: unknown, config?: Record<string, unknown>): string {
  if (isAppError(err)) return err.message;
  const e = err as { code?: unknown; port?: unknown; address?: unknown } | null;
  // An address that is not this host's is the HOST setting's doing, whatever the port.
  if (e?.code === 'EADDRNOTAVAIL' && typeof config?.HOST === 'string') {
    const where = `${formatAddress(config.HOST)}${typeof e.port === 'number' ? `:${e.port}` : ''}`;
    return `HOST ${config.HOST} is not an address of this host (EADDRNOTAVAIL ${where})`;
  }
  if (typeof e?.code === 'string' && LISTEN_ERRORS[e.code] && typeof e.port === 'number') {
    const setting =
      Object.entries(config ?? {}).find(([key, value]) => /PORT$/.test(key) && Number(value) === e.port)?.[0] ?? 'PORT';
    const address = typeof e.address === 'string' ? formatAddress(e.address) : '';
    return `${setting} ${e.port} ${LISTEN_ERRORS[e.code]} (${e.code} ${address ? `${address}:` : ''}${e.port})`;
  }
  return String((err as Error)?.stack ?? err);
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
 * each bad key), start the service, then run until a signal. A start-up failure (in `start`, or
 * later in the service's `started`) is one line on stderr, `<service> failed to start: <reason>`
 * (see `describeStartupError`), and exit code 1.
 */
export function runMain<C extends { LOG_LEVEL: string }>(
  service: string,
  loadConfig: () => C,
  start: (config: C, logger: Logger) => Promise<StoppableService>,
): void {
  let config: C | undefined;
  // The logger may not exist yet (bad config), so this one line goes to stderr directly.
  const reportFailure = (err: unknown) =>
    process.stderr.write(`${service} failed to start: ${describeStartupError(err, config)}\n`);
  const boot = async () => {
    config = loadConfig();
    const logger = createLogger({ service, level: config.LOG_LEVEL });
    const running = await start(config, logger);
    runUntilSignal(running, logger);
    running.started?.catch((err: unknown) => {
      reportFailure(err);
      void running
        .stop()
        .catch(() => undefined)
        .finally(() => process.exit(1));
    });
  };
  boot().catch((err: unknown) => {
    reportFailure(err);
    process.exit(1);
  });
}
