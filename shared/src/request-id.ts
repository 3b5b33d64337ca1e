import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';

declare module 'express-serve-static-core' {
  interface Request {
    /**
     * This request's id, set by `assignRequestId`: the caller's `X-Request-Id` or a UUID. Logged as
     * `correlationId`, and the order API sends it on as the event's correlation id.
     */
    requestId: string;
  }
}

/** The header a request id arrives in and is echoed back in. */
const REQUEST_ID_HEADER = 'X-Request-Id';

/**
 * What a caller's request id may be: 1-200 characters of `A-Za-z0-9._:@/+=-`. Enough for UUIDs,
 * ULIDs, trace ids and `host/seq` forms; nothing that could break a log line, an AMQP
 * `correlation_id` (a short string, at most 255 bytes) or a response header.
 */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:@/+=-]{1,200}$/;

/**
 * Sets `req.requestId` to the caller's `X-Request-Id` when it matches `REQUEST_ID_PATTERN`,
 * otherwise to a new UUID (v4), and echoes it in the answer's `X-Request-Id`. Mounted early (after
 * the metrics) so that every answer of the app carries it, the early 413 included, and every log
 * line about the request (the error handler's too) can name it.
 */
export const assignRequestId: RequestHandler = (req, res, next) => {
  const given = req.get(REQUEST_ID_HEADER);
  req.requestId = given && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
  res.set(REQUEST_ID_HEADER, req.requestId);
  next();
};
