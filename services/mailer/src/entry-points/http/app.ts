import { timingSafeEqual } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import {
  AppError,
  ErrorCodes,
  orderSchema,
  ORDER_CONFIRMED_EVENT_TYPE,
  parseOrThrow,
  problemOf,
} from '@order-mail/shared/contract';
import type { Logger } from '@order-mail/shared/logger';
import {
  assignRequestId,
  createHttpErrorHandler,
  createOpsRouter,
  isUnavailableError,
  notFoundHandler,
  refuseDeclaredBodyOver,
  requireJson,
  sendProblem,
  verifyUtf8JsonBody,
  type ReadinessCheck,
} from '@order-mail/shared/http';
import { createHttpMetrics } from '@order-mail/shared/metrics';
import type { PgDeliveryLedger } from '../../adapters/db/delivery-ledger-pg';
import type { DeadLetterStore } from '../../adapters/broker/dead-letter-store';
import { DEAD_LETTER_REASON_DESCRIPTIONS, isDeadLetterReason } from '../../domain/dead-letter-reasons';
import { DELIVERY_STATUSES } from '../../domain/delivery-ledger';
import type { ComposeOrderEmailDeps } from '../../domain/compose-order-email';
import { createPreviewRouter } from './preview-route';

export interface MailerAppDeps {
  registry: Registry;
  checks: ReadinessCheck[];
  ledger: PgDeliveryLedger;
  deadLetters: DeadLetterStore;
  logger: Logger;
  adminToken?: string;
  retryAfterSeconds: number;
  /** The worker's templates and email settings, for `POST /preview`; absent: no such route. */
  preview?: ComposeOrderEmailDeps;
}

const parse = <S extends z.ZodType>(schema: S, input: unknown): z.output<S> =>
  parseOrThrow(schema, input, 'The request is not valid');

/**
 * Parses a query string (`req.query`). No admin query value is a list, so a key given twice
 * (`?limit=1&limit=2`, which express reads as an array) is refused by name first: 400
 * validation_failed with `{ path: key, message: '"key" is given more than once' }`.
 */
function parseQuery<S extends z.ZodType>(schema: S, query: Record<string, unknown>): z.output<S> {
  const repeated = Object.keys(query).filter((key) => Array.isArray(query[key]));
  if (repeated.length > 0) {
    throw new AppError(ErrorCodes.VALIDATION_FAILED, 'The request is not valid', {
      details: repeated.map((key) => ({ path: key, message: `"${key}" is given more than once` })),
    });
  }
  return parse(schema, query);
}

/** The admin API's routes live under these paths (`/deliveries…`, `/dead-letters…`). */
const ADMIN_PATHS = ['/deliveries', '/dead-letters'];

/** Largest body the admin API reads (`POST /dead-letters/replay`); a larger one is a 413. */
export const ADMIN_MAX_BODY_BYTES = 16 * 1024;

/**
 * An order id in a path or query: the order schema's own rule (1-64 of `A-Za-z0-9_-`), so
 * nothing the API could not have accepted (a NUL byte, say) ever reaches PostgreSQL.
 */
const orderIdSchema = orderSchema.shape.orderId;

/**
 * A whole number in a query string, `min`-`max`, `fallback` if absent. Decimal digits only:
 * `z.coerce.number` would take `''` as 0, `1e2` as 100 and `0x10` as 16, and a repeated key
 * (an array) is not a number either.
 */
const queryInt = (min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^[0-9]{1,9}$/, { message: 'must be a whole number' })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .default(fallback);

const deliveriesQuery = z.strictObject({
  orderId: orderIdSchema.optional(),
  status: z.enum(DELIVERY_STATUSES).optional(),
  limit: queryInt(1, 500, 50),
});

const deliveryParams = z.strictObject({ orderId: orderIdSchema });

const deadLettersQuery = z.strictObject({
  limit: queryInt(1, 500, 50),
  offset: queryInt(0, 10_000, 0),
});

/** Routes that take no query: an unknown key is refused rather than silently ignored. */
const noQuery = z.strictObject({});

/**
 * A replay that stopped for an unavailable dependency, as the `503` says it: the same code, with
 * what became of the dead letters (README, "Admin API").
 */
function explainReplayFailure(err: unknown): unknown {
  if (!isUnavailableError(err)) return err;
  const uncertain = err.code === ErrorCodes.PUBLISH_TIMEOUT || err.code === ErrorCodes.PUBLISH_UNCONFIRMED;
  return new AppError(
    err.code,
    `The replay stopped: ${err.message}. Dead letters it moved before stopping stay moved (each is logged); ` +
      'the others stay in the dead-letter queue' +
      (uncertain
        ? ', the one being moved included, although the broker may also have stored its copy in the work queue'
        : '') +
      '. Replaying again is safe: an order gets at most one confirmation email.',
    { cause: err },
  );
}

export const replayRequestSchema = z
  .strictObject({
    reason: z
      .string()
      .refine(isDeadLetterReason, {
        error: (issue) =>
          `unknown reason ${JSON.stringify(issue.input)}: expected one of ${Object.keys(DEAD_LETTER_REASON_DESCRIPTIONS).join(', ')}`,
      })
      .optional(),
    smtpCode: z.number().int().min(100).max(599).optional(),
    all: z.literal(true).optional(),
    dryRun: z.boolean().default(false),
    limit: z.number().int().min(1).max(100_000).default(10_000),
  })
  .refine((r) => r.all === true || r.reason !== undefined || r.smtpCode !== undefined, {
    message: 'give a filter: "reason", "smtpCode", or "all": true',
    path: [],
  })
  .refine((r) => !(r.all === true && (r.reason !== undefined || r.smtpCode !== undefined)), {
    message: '"all" cannot be combined with "reason" or "smtpCode"',
    path: ['all'],
  });

/** What the admin routes answer while `ADMIN_TOKEN` is not set (README, "Admin API"), as `403 admin_api_disabled`. */
export const ADMIN_API_DISABLED = {
  error: 'admin_api_disabled',
  message:
    'The admin API is off: set ADMIN_TOKEN (at least 16 characters, e.g. from `openssl rand -hex 32`) ' +
    'in the mailer\'s environment to enable it, then send "Authorization: Bearer <ADMIN_TOKEN>"',
} as const;

/**
 * Guards the admin routes: without a configured token they are off (`403 admin_api_disabled`,
 * whatever the request carries); with one, a request needs `Authorization: Bearer <token>`
 * (compared in constant time), else `401 unauthorized` with the challenge RFC 6750 §3 asks for,
 * `WWW-Authenticate: Bearer realm="mailer-admin"`.
 */
function requireToken(token: string | undefined): RequestHandler {
  const expected = token ? Buffer.from(`Bearer ${token}`) : null;
  return (req, res, next) => {
    if (!expected) {
      sendProblem(res, problemOf(ErrorCodes.ADMIN_API_DISABLED, ADMIN_API_DISABLED.message));
      return;
    }
    const given = Buffer.from(req.get('authorization') ?? '');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return next();
    res.set('WWW-Authenticate', 'Bearer realm="mailer-admin"');
    next(new AppError(ErrorCodes.UNAUTHORIZED, 'A valid "Authorization: Bearer <ADMIN_TOKEN>" header is required'));
  };
}

/**
 * The mailer's HTTP side: health, readiness, metrics, the admin API for deliveries and dead
 * letters, and `POST /preview` (preview-route.ts) when given `preview`.
 */
export function createMailerApp(deps: MailerAppDeps): express.Express {
  const { ledger, deadLetters, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.use(createHttpMetrics(deps.registry));
  app.use(assignRequestId);
  // POST /preview takes an order (up to 64 KiB): its own body limit, then the admin token.
  if (deps.preview) {
    app.use(createPreviewRouter({ authenticate: requireToken(deps.adminToken), compose: deps.preview, logger }));
  }
  // No other route reads more; refused before authentication or anything else reads the body.
  app.use(refuseDeclaredBodyOver(ADMIN_MAX_BODY_BYTES));
  app.use(createOpsRouter({ registry: deps.registry, checks: deps.checks }));

  // Only the admin paths: any other path stays a 404, with or without a token.
  const admin = express.Router();
  admin.use(ADMIN_PATHS, requireToken(deps.adminToken));

  admin.get('/deliveries', async (req, res) => {
    const query = parseQuery(deliveriesQuery, req.query);
    const deliveries = await ledger.list({
      orderId: query.orderId,
      status: query.status,
      limit: query.limit,
    });
    res.json({ deliveries });
  });

  admin.get('/deliveries/:orderId', async (req, res) => {
    parseQuery(noQuery, req.query);
    const { orderId } = parse(deliveryParams, req.params);
    const found = await ledger.find(ORDER_CONFIRMED_EVENT_TYPE, orderId);
    if (!found) throw new AppError(ErrorCodes.NOT_FOUND, `No delivery for order "${orderId}"`);
    res.json(found);
  });

  admin.get('/dead-letters', async (req, res) => {
    const page = parseQuery(deadLettersQuery, req.query);
    res.json({ ...(await deadLetters.list(page)), offset: page.offset, limit: page.limit });
  });

  admin.post(
    '/dead-letters/replay',
    requireJson,
    express.json({ limit: ADMIN_MAX_BODY_BYTES, verify: verifyUtf8JsonBody }),
    async (req, res) => {
      parseQuery(noQuery, req.query);
      const request = parse(replayRequestSchema, req.body ?? {});
      logger.info({ request }, 'dead-letter replay requested');
      const result = await deadLetters
        .replay(
          { reason: request.reason, smtpCode: request.smtpCode, all: request.all },
          { dryRun: request.dryRun, limit: request.limit },
        )
        .catch((err: unknown) => {
          throw explainReplayFailure(err);
        });
      res.json(result);
    },
  );

  app.use(admin);
  app.use(notFoundHandler);
  app.use(createHttpErrorHandler({ logger, retryAfterSeconds: deps.retryAfterSeconds }));
  return app;
}
