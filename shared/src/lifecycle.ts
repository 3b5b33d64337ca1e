import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  ErrorCodes,
  isAppError,
  PROBLEM_CONTENT_TYPE,
  problemOf,
  type HttpErrorCode,
  type ProblemDetails,
} from './errors';
import { DEFAULT_HTTP_LIMITS } from './config';
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
   * then it gets a problem+json `408` and the connection is closed. At most `requestTimeoutMs`.
   */
  headersTimeoutMs: number;
  /**
   * Milliseconds a client has to send a whole request, headers and body (Node's
   * `server.requestTimeout`); then it gets a problem+json `408` and the connection is closed. Time spent
   * answering a fully received request is not limited by it.
   */
  requestTimeoutMs: number;
}

/** Node checks for timed-out requests on an interval (30 s by default); this keeps it near the timeouts. */
const MAX_CHECK_INTERVAL_MS = 1000;

/** What a `clientError` (a request Node refused before the app saw it) is answered with, by Node's code. */
const CLIENT_ERROR_ANSWERS: Record<string, [HttpErrorCode, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [
    ErrorCodes.REQUEST_TIMEOUT,
    'The request did not arrive in time; the connection is closed',
  ],
  HPE_HEADER_OVERFLOW: [ErrorCodes.HEADERS_TOO_LARGE, 'The request headers are too large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [ErrorCodes.PAYLOAD_TOO_LARGE, 'The chunk extensions are too large'],
};
const MALFORMED_REQUEST: [HttpErrorCode, string] = [ErrorCodes.BAD_REQUEST, 'The request is not valid HTTP/1.1'];

/**
 * The bytes of a complete problem+json answer (RFC 9457, the same body as the error handler's)
 * that closes the connection: written to the socket, as Node's own `clientError` answers are.
 */
function rawProblemAnswer(problem: ProblemDetails): string {
  const body = JSON.stringify(problem);
  return (
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n` +
    `Content-Type: ${PROBLEM_CONTENT_TYPE}; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/**
 * Makes an answer sent before the request's body was read close the connection: says so in its
 * headers (RFC 9112 §9.6) rather than promise a keep-alive the server will not keep, then closes
 * the socket once the answer is out. Node would otherwise keep reading (and discarding) the rest
 * of the body to reuse the connection, for as long as the client cares to send it.
 */
function closeWhenAnsweredBeforeBody(req: IncomingMessage, res: ServerResponse): void {
  const declaresBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
    if (declaresBody && !req.complete && !this.headersSent) this.setHeader('Connection', 'close');
    return writeHead.apply(this, args);
  } as ServerResponse['writeHead'];
  res.once('finish', () => {
    if (!req.complete) req.socket.destroySoon();
  });
}

/**
 * Node's `clientError` listener: answers a request Node refused before routing with a problem
 * (`CLIENT_ERROR_ANSWERS`, else 400 bad_request) and closes the connection. Writes only where no
 * byte of another answer went out on the socket, as Node's own handler does; a reset connection
 * gets nothing and is not logged.
 */
function answerClientError(logger: Logger | undefined): (err: NodeJS.ErrnoException, socket: Socket) => void {
  return (err, socket) => {
    const code = err.code ?? '';
    const [errorCode, detail] = CLIENT_ERROR_ANSWERS[code] ?? MALFORMED_REQUEST;
    const problem = problemOf(errorCode, detail);
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
      socket.end(rawProblemAnswer(problem));
    }
    socket.destroySoon();
    if (code !== 'ECONNRESET') logger?.info({ code, status: problem.status }, 'HTTP request refused before routing');
  };
}

/** The handle of a listening `server`: where it listens, and a graceful close within a deadline. */
function handleOf(server: Server): HttpServerHandle {
  const bound = server.address() as AddressInfo;
  return {
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
  };
}

/**
 * Starts an HTTP server for `app` on `port` (`0`: any free port) and `host` (an IP address;
 * Node's default, every interface, if absent) and resolves once it listens.
 *
 * - Requests that are too slow are cut off after `limits` (see `HttpLimits`); requests Node
 *   refuses before the app sees them (timeouts, malformed HTTP, headers over 16 KiB) get a
 *   problem+json answer (RFC 9457, with the `error` and `message` members too) with
 *   `Connection: close` (408, 400, 431) where nothing of another answer was sent on the
 *   connection yet, and the connection is closed either way.
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
  server.on('request', closeWhenAnsweredBeforeBody);
  server.on('request', app);
  server.on('clientError', answerClientError(options.logger));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: options.host }, () => {
      server.off('error', reject);
      resolve(handleOf(server));
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
  const e = (err ?? {}) as ListenError;
  return describeHostError(e, config) ?? describePortError(e, config) ?? String((err as Error)?.stack ?? err);
}

/** The members of Node's listen errors that `describeStartupError` reads. */
interface ListenError {
  code?: unknown;
  port?: unknown;
  address?: unknown;
}

/**
 * An address that is not this host's is the HOST setting's doing, whatever the port: its line
 * when `err` is EADDRNOTAVAIL and `config` has a HOST; `undefined` otherwise.
 */
function describeHostError(e: ListenError, config: Record<string, unknown> | undefined): string | undefined {
  if (e.code !== 'EADDRNOTAVAIL' || typeof config?.HOST !== 'string') return undefined;
  const where = `${formatAddress(config.HOST)}${typeof e.port === 'number' ? `:${e.port}` : ''}`;
  return `HOST ${config.HOST} is not an address of this host (EADDRNOTAVAIL ${where})`;
}

/** The line for a listen error on a port, naming the setting that holds the port; `undefined` for any other error. */
function describePortError(e: ListenError, config: Record<string, unknown> | undefined): string | undefined {
  const { code, port } = e;
  if (typeof code !== 'string' || !LISTEN_ERRORS[code] || typeof port !== 'number') return undefined;
  const setting =
    Object.entries(config ?? {}).find(([key, value]) => /PORT$/.test(key) && Number(value) === port)?.[0] ?? 'PORT';
  const address = typeof e.address === 'string' ? formatAddress(e.address) : '';
  return `${setting} ${port} ${LISTEN_ERRORS[code]} (${code} ${address ? `${address}:` : ''}${port})`;
}

/**
 * Process-level wiring shared by every `main.ts`: stop gracefully on SIGTERM/SIGINT and exit 0,
 * exit 1 after an error nobody handled (the process state is unknown then).
 */
function runUntilSignal(service: StoppableService, logger: Logger): void {
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
