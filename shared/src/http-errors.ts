import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { describeErrorCause } from './diagnostics';
import {
  AppError,
  ErrorCodes,
  errorDefinitionOf,
  isAppError,
  isHttpErrorCode,
  PROBLEM_CONTENT_TYPE,
  problemOf,
  type ProblemDetails,
} from './errors';
import type { Logger } from './logger';
import { INVALID_UTF8_BODY_ERROR_TYPE } from './utf8-body';

/** Raised by express's body parser; `type` tells what went wrong with the body. */
interface BodyParserError extends Error {
  type: string;
  status: number;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return err instanceof Error && typeof (err as Partial<BodyParserError>).type === 'string' && 'status' in err;
}

/** Whether an error is a dependency's unavailability (a `503` code), answered with `Retry-After`. */
export function isUnavailableError(err: unknown): err is AppError {
  return isAppError(err) && errorDefinitionOf(err.code).status === 503;
}

/**
 * Writes `problem` as the answer: its status, `Content-Type: application/problem+json;
 * charset=utf-8` (RFC 9457 §3; express adds the charset as it does for JSON) and the body.
 */
export function sendProblem(res: Response, problem: ProblemDetails): void {
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).json(problem);
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

/** The app's last route: whatever reached it has no route, `404 not_found`. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError(ErrorCodes.NOT_FOUND, `No route for ${req.method} ${req.path}`));
};

/**
 * The answer to an error body-parser raised (or our `verifyUtf8JsonBody`, shaped like one), or
 * `undefined` for any other error and for body-parser's own 5xx (a bug of ours, answered 500).
 */
function bodyParserProblem(err: unknown): ProblemDetails | undefined {
  if (!isBodyParserError(err)) return undefined;
  switch (err.type) {
    case 'entity.parse.failed':
      return problemOf(ErrorCodes.VALIDATION_FAILED, 'The body is not valid JSON', {
        details: [{ path: '', message: err.message }],
      });
    case INVALID_UTF8_BODY_ERROR_TYPE:
      return problemOf(ErrorCodes.VALIDATION_FAILED, 'The body is not valid UTF-8', {
        details: [{ path: '', message: err.message }],
      });
    case 'entity.too.large':
      return problemOf(
        ErrorCodes.PAYLOAD_TOO_LARGE,
        `The body exceeds the limit of ${String((err as { limit?: number }).limit)} bytes`,
      );
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return problemOf(ErrorCodes.UNSUPPORTED_MEDIA_TYPE, err.message);
    default:
      return err.status >= 400 && err.status < 500
        ? problemOf(ErrorCodes.BAD_REQUEST, err.message, { status: err.status })
        : undefined;
  }
}

/**
 * The answer to an AppError whose code has a client status (4xx) or is an unavailability (503),
 * from the catalogue; `undefined` for other errors and for codes that are not meant for a client.
 */
function appErrorProblem(err: unknown): ProblemDetails | undefined {
  if (!isAppError(err) || !isHttpErrorCode(err.code)) return undefined;
  const { status } = errorDefinitionOf(err.code);
  if (status >= 500 && status !== 503) return undefined;
  // A 503 is sent as raised: only the raiser knows what was done (a publish may be stored despite
  // a missing confirm), so each cause's message must say it; see README, "POST /orders".
  return problemOf(err.code, err.message, { details: err.details, extensions: err.extensions });
}

/** express's own client errors (e.g. a malformed percent-encoding in the path) carry their status. */
function libraryClientErrorProblem(err: unknown): ProblemDetails | undefined {
  const e = err as { status?: unknown; statusCode?: unknown; expose?: boolean } | null;
  const status = e?.status ?? e?.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500 || e?.expose === false) return undefined;
  return problemOf(ErrorCodes.BAD_REQUEST, (err as Error).message, { status });
}

/**
 * Logs a refusal for an unavailable dependency: expected while it is away (and already logged
 * where it went away), so the code, message and cause, without a stack.
 */
function logUnavailable(logger: Logger, err: AppError, correlationId: string | undefined): void {
  const cause = (err as { cause?: unknown }).cause;
  logger.warn(
    {
      code: err.code,
      error: err.message,
      ...(cause !== undefined && { cause: describeErrorCause(cause) || (cause as Error)?.message }),
      correlationId,
    },
    'request refused: a dependency is unavailable',
  );
}

/**
 * The one place per service that turns errors into HTTP answers, each an RFC 9457 problem
 * (`sendProblem`) whose status, wire name and title come from the error catalogue:
 * - bad input (body-parser's errors, a client-status AppError, express's own 4xx): that 4xx,
 *   not logged;
 * - an unavailable dependency (a 503 code): `503` with `Retry-After: retryAfterSeconds` and the
 *   raiser's message (which must say what became of the request), logged at warn;
 * - anything else (a bug): `500 internal_error` saying only "Internal server error", logged at
 *   error with the stack.
 * Log lines carry the request's `correlationId` (`req.requestId`, see `assignRequestId`).
 */
export function createHttpErrorHandler(options: { logger: Logger; retryAfterSeconds: number }): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const correlationId = (req as { requestId?: string }).requestId;
    const problem = bodyParserProblem(err) ?? appErrorProblem(err) ?? libraryClientErrorProblem(err);
    if (problem === undefined) {
      options.logger.error({ err, correlationId }, 'unexpected error handling request');
      return sendProblem(res, problemOf(ErrorCodes.INTERNAL_ERROR, 'Internal server error'));
    }
    if (problem.status === 503 && isAppError(err)) {
      logUnavailable(options.logger, err, correlationId);
      res.set('Retry-After', String(options.retryAfterSeconds));
    }
    return sendProblem(res, problem);
  };
}
