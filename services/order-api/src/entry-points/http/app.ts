import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import { AppError, createOpsRouter, ErrorCodes, isAppError, type Logger } from '@order-mail/shared';
import { buildOrderConfirmedEvent, parseOrder } from '../../domain/order-confirmed-event';
import type { OrderEventPublisher } from '../../adapters/broker/order-event-publisher';

export const MAX_BODY_BYTES = 64 * 1024;
const REQUEST_ID_HEADER = 'x-request-id';
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:@/+=-]{1,200}$/;

export interface OrderApiAppDeps {
  publisher: OrderEventPublisher;
  registry: Registry;
  logger: Logger;
  retryAfterSeconds: number;
}

declare module 'express-serve-static-core' {
  interface Request {
    requestId: string;
  }
}

/** Takes the caller's X-Request-Id when it is sane, otherwise makes one; echoes it back. */
const assignRequestId: RequestHandler = (req, res, next) => {
  const given = req.get(REQUEST_ID_HEADER);
  req.requestId = given && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
  res.set('X-Request-Id', req.requestId);
  next();
};

const requireJson: RequestHandler = (req, _res, next) => {
  if (!req.is('application/json')) {
    next(new AppError(ErrorCodes.UNSUPPORTED_MEDIA_TYPE, 'Content-Type must be application/json'));
    return;
  }
  next();
};

export function createOrderApiApp(deps: OrderApiAppDeps): express.Express {
  const { publisher, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.use(assignRequestId);
  app.use(createOpsRouter({ registry: deps.registry, checks: [{ name: 'broker', isReady: publisher.isReady }] }));

  app.post('/orders', requireJson, express.json({ limit: MAX_BODY_BYTES, strict: true }), async (req, res) => {
    const order = parseOrder(req.body);
    const event = buildOrderConfirmedEvent(order, {
      eventId: randomUUID(),
      correlationId: req.requestId,
      acceptedAt: new Date(),
    });
    await publisher.publish(event);
    logger.info({ orderId: order.orderId, eventId: event.eventId, correlationId: req.requestId }, 'order accepted');
    res.status(202).json({ orderId: order.orderId, eventId: event.eventId, status: 'accepted' });
  });

  app.use((req, _res, next) => {
    next(new AppError(ErrorCodes.NOT_FOUND, `No route for ${req.method} ${req.path}`));
  });
  app.use(createErrorHandler(deps));
  return app;
}

interface HttpErrorBody {
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

/** The one place that turns errors into HTTP answers: bad input is always a 4xx, never a 500. */
function createErrorHandler(deps: OrderApiAppDeps): ErrorRequestHandler {
  const unavailable = new Set<string>([
    ErrorCodes.BROKER_UNAVAILABLE,
    ErrorCodes.PUBLISH_TIMEOUT,
    ErrorCodes.PUBLISH_NACKED,
    ErrorCodes.PUBLISH_UNROUTABLE,
    ErrorCodes.SHUTTING_DOWN,
  ]);
  return (err, req, res, _next) => {
    const send = (status: number, body: HttpErrorBody) => res.status(status).json(body);
    if (isBodyParserError(err)) {
      switch (err.type) {
        case 'entity.parse.failed':
          return send(400, {
            error: 'validation_failed',
            message: 'The body is not valid JSON',
            details: [{ path: '', message: err.message }],
          });
        case 'entity.too.large':
          return send(413, { error: 'payload_too_large', message: `The body exceeds ${MAX_BODY_BYTES} bytes` });
        case 'charset.unsupported':
        case 'encoding.unsupported':
          return send(415, { error: 'unsupported_media_type', message: err.message });
        default:
          if (err.status >= 400 && err.status < 500)
            return send(err.status, { error: 'bad_request', message: err.message });
      }
    }
    if (isAppError(err)) {
      if (err.code === ErrorCodes.VALIDATION_FAILED) {
        return send(400, { error: 'validation_failed', message: err.message, details: err.details });
      }
      if (err.code === ErrorCodes.UNSUPPORTED_MEDIA_TYPE) {
        return send(415, { error: 'unsupported_media_type', message: err.message });
      }
      if (err.code === ErrorCodes.NOT_FOUND) return send(404, { error: 'not_found', message: err.message });
      if (unavailable.has(err.code)) {
        deps.logger.warn({ err, correlationId: req.requestId }, 'order not accepted: broker unavailable');
        res.set('Retry-After', String(deps.retryAfterSeconds));
        return send(503, {
          error: 'service_unavailable',
          message: `${err.message}; the order was not accepted, retry later`,
        });
      }
    }
    deps.logger.error({ err, correlationId: req.requestId }, 'unexpected error handling request');
    return send(500, { error: 'internal_error', message: 'Internal server error' });
  };
}
