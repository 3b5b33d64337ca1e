import type { ErrorRequestHandler, RequestHandler } from 'express';
import { describeErrorCause } from './diagnostics';
import { AppError, ErrorCodes, isAppError } from './errors';
import type { Logger } from './logger';
import { INVALID_UTF8_BODY_ERROR_TYPE } from './utf8-body';

export interface HttpErrorBody {
  error: string;
  message: string;
  details?: { path: string; message: string }[];
}

/** Raised by express's body parser; `type` tells what went wrong with the body. */
interface BodyParserError extends Error {
  type: string;
  status: number;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return err instanceof Error && typeof (err as Partial<BodyParserError>).type === 'string' && 'status' in err;
}

const CLIENT_ERRORS: Partial<Record<string, [number, string]>> = {
  [ErrorCodes.VALIDATION_FAILED]: [400, 'validation_failed'],
  [ErrorCodes.UNAUTHORIZED]: [401, 'unauthorized'],
  [ErrorCodes.NOT_FOUND]: [404, 'not_found'],
  [ErrorCodes.CONFLICT]: [409, 'conflict'],
  [ErrorCodes.PAYLOAD_TOO_LARGE]: [413, 'payload_too_large'],
  [ErrorCodes.UNSUPPORTED_MEDIA_TYPE]: [415, 'unsupported_media_type'],
};

const UNAVAILABLE = new Set<string>([
  ErrorCodes.BROKER_UNAVAILABLE,
  ErrorCodes.DATABASE_UNAVAILABLE,
  ErrorCodes.PUBLISH_TIMEOUT,
  ErrorCodes.PUBLISH_NACKED,
  ErrorCodes.PUBLISH_UNROUTABLE,
  ErrorCodes.PUBLISH_UNCONFIRMED,
  ErrorCodes.SHUTTING_DOWN,
]);

/** Whether an error is a dependency's unavailability, answered `503` with `Retry-After`. */
export function isUnavailableError(err: unknown): err is AppError {
  return isAppError(err) && UNAVAILABLE.has(err.code);
}

/**
 * Refuses, with `413 payload_too_large` (RFC 9110 §15.5.14), a request whose `Content-Length`
 * declares more than `maxBytes` bytes, before anything reads its body (so before authentication,
 * content-type checks and the body parser, which would first read off the whole body). The answer
 * carries `Connection: close`: the unread body is never read, so the connection cannot serve
 * another request. A body without `Content-Length` (chunked) is left to the body parser's `limit`.
 */
export function refuseDeclaredBodyOver(maxBytes: number): RequestHandler {
  return (req, res, next) => {
    const declared = Number(req.get('content-length') ?? 0);
    if (declared > maxBytes) {
      res.set('Connection', 'close');
      next(
        new AppError(
          ErrorCodes.PAYLOAD_TOO_LARGE,
          `The body declares ${declared} bytes, over the limit of ${maxBytes} bytes`,
        ),
      );
      return;
    }
    next();
  };
}

/** Refuses a body that is not JSON with 415 before the body parser leaves it unparsed. */
export const requireJson: RequestHandler = (req, _res, next) => {
  if (!req.is('application/json')) {
    next(new AppError(ErrorCodes.UNSUPPORTED_MEDIA_TYPE, 'Content-Type must be application/json'));
    return;
  }
  next();
};

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError(ErrorCodes.NOT_FOUND, `No route for ${req.method} ${req.path}`));
};

/**
 * The one place per service that turns errors into HTTP answers: bad input is always a 4xx with a
 * JSON body, a missing dependency a 503 with Retry-After and the raiser's message (which must say
 * what became of the request), anything else a 500 logged at error level.
 */
export function createHttpErrorHandler(options: { logger: Logger; retryAfterSeconds: number }): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const send = (status: number, body: HttpErrorBody) => res.status(status).json(body);
    const correlationId = (req as { requestId?: string }).requestId;
    if (isBodyParserError(err)) {
      switch (err.type) {
        case 'entity.parse.failed':
          return send(400, {
            error: 'validation_failed',
            message: 'The body is not valid JSON',
            details: [{ path: '', message: err.message }],
          });
        case INVALID_UTF8_BODY_ERROR_TYPE:
          return send(400, {
            error: 'validation_failed',
            message: 'The body is not valid UTF-8',
            details: [{ path: '', message: err.message }],
          });
        case 'entity.too.large':
          return send(413, {
            error: 'payload_too_large',
            message: `The body exceeds the limit of ${String((err as { limit?: number }).limit)} bytes`,
          });
        case 'charset.unsupported':
        case 'encoding.unsupported':
          return send(415, { error: 'unsupported_media_type', message: err.message });
        default:
          if (err.status >= 400 && err.status < 500)
            return send(err.status, { error: 'bad_request', message: err.message });
      }
    }
    if (isAppError(err)) {
      const known = CLIENT_ERRORS[err.code];
      if (known) {
        const [status, error] = known;
        return send(status, { error, message: err.message, ...(err.details.length > 0 && { details: err.details }) });
      }
      if (UNAVAILABLE.has(err.code)) {
        // Expected while a dependency is away (and already logged where it went away): the code,
        // message and cause, without a stack.
        const cause = (err as { cause?: unknown }).cause;
        options.logger.warn(
          {
            code: err.code,
            error: err.message,
            ...(cause !== undefined && { cause: describeErrorCause(cause) || (cause as Error)?.message }),
            correlationId,
          },
          'request refused: a dependency is unavailable',
        );
        res.set('Retry-After', String(options.retryAfterSeconds));
        // Sent as raised: only the raiser knows what was done (a publish may be stored despite a
        // missing confirm), so each cause's message must say it; see README, "POST /orders".
        return send(503, { error: 'service_unavailable', message: err.message });
      }
    }
    // express's own client errors (e.g. a malformed percent-encoding in the path) carry their status.
    const status =
      (err as { status?: unknown; statusCode?: unknown })?.status ?? (err as { statusCode?: unknown })?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500 && (err as { expose?: boolean }).expose !== false) {
      return send(status, { error: 'bad_request', message: (err as Error).message });
    }
    options.logger.error({ err, correlationId }, 'unexpected error handling request');
    return send(500, { error: 'internal_error', message: 'Internal server error' });
  };
}
