import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, ErrorCodes, isAppError } from './errors';
import type { Logger } from './logger';

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
  [ErrorCodes.UNSUPPORTED_MEDIA_TYPE]: [415, 'unsupported_media_type'],
};

const UNAVAILABLE = new Set<string>([
  ErrorCodes.BROKER_UNAVAILABLE,
  ErrorCodes.DATABASE_UNAVAILABLE,
  ErrorCodes.PUBLISH_TIMEOUT,
  ErrorCodes.PUBLISH_NACKED,
  ErrorCodes.PUBLISH_UNROUTABLE,
  ErrorCodes.SHUTTING_DOWN,
]);

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
 * JSON body, a missing dependency a 503 with Retry-After, anything else a logged 500.
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
        options.logger.warn({ err, correlationId }, 'request refused: a dependency is unavailable');
        res.set('Retry-After', String(options.retryAfterSeconds));
        return send(503, { error: 'service_unavailable', message: `${err.message}; nothing was done, retry later` });
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
