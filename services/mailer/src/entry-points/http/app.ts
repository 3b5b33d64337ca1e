import { timingSafeEqual } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import {
  AppError,
  createHttpErrorHandler,
  createHttpMetrics,
  createOpsRouter,
  ErrorCodes,
  notFoundHandler,
  requireJson,
  ORDER_CONFIRMED_EVENT_TYPE,
  parseOrThrow,
  type Logger,
  type ReadinessCheck,
} from '@order-mail/shared';
import type { PgDeliveryLedger } from '../../adapters/db/delivery-ledger-pg';
import type { DeadLetterStore } from '../../adapters/broker/dead-letter-store';
import { DELIVERY_STATUSES } from '../../domain/delivery-ledger';

export interface MailerAppDeps {
  registry: Registry;
  checks: ReadinessCheck[];
  ledger: PgDeliveryLedger;
  deadLetters: DeadLetterStore;
  logger: Logger;
  adminToken?: string;
  retryAfterSeconds: number;
}

const parse = <S extends z.ZodType>(schema: S, input: unknown): z.output<S> =>
  parseOrThrow(schema, input, 'The request is not valid');

const limitSchema = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);

const deliveriesQuery = z.strictObject({
  orderId: z.string().min(1).max(64).optional(),
  status: z.enum(DELIVERY_STATUSES as [string, ...string[]]).optional(),
  limit: limitSchema(500, 50),
});

const deadLettersQuery = z.strictObject({
  limit: limitSchema(500, 50),
  offset: z.coerce.number().int().min(0).max(10_000).default(0),
});

export const replayRequestSchema = z
  .strictObject({
    reason: z.string().min(1).max(100).optional(),
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

function requireToken(token: string | undefined): RequestHandler {
  const expected = token ? Buffer.from(`Bearer ${token}`) : null;
  return (req, _res, next) => {
    if (!expected) return next();
    const given = Buffer.from(req.get('authorization') ?? '');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return next();
    next(new AppError(ErrorCodes.UNAUTHORIZED, 'A valid "Authorization: Bearer <ADMIN_TOKEN>" header is required'));
  };
}

/** The mailer's HTTP side: health, readiness, metrics, and the admin API for deliveries and dead letters. */
export function createMailerApp(deps: MailerAppDeps): express.Express {
  const { ledger, deadLetters, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.use(createHttpMetrics(deps.registry));
  app.use(createOpsRouter({ registry: deps.registry, checks: deps.checks }));

  const admin = express.Router();
  admin.use(requireToken(deps.adminToken));

  admin.get('/deliveries', async (req, res) => {
    const query = parse(deliveriesQuery, req.query);
    const deliveries = await ledger.list({
      orderId: query.orderId,
      status: query.status as (typeof DELIVERY_STATUSES)[number] | undefined,
      limit: query.limit,
    });
    res.json({ deliveries });
  });

  admin.get('/deliveries/:orderId', async (req, res) => {
    const found = await ledger.find(ORDER_CONFIRMED_EVENT_TYPE, req.params.orderId as string);
    if (!found) throw new AppError(ErrorCodes.NOT_FOUND, `No delivery for order "${req.params.orderId}"`);
    res.json(found);
  });

  admin.get('/dead-letters', async (req, res) => {
    const page = parse(deadLettersQuery, req.query);
    res.json({ ...(await deadLetters.list(page)), offset: page.offset, limit: page.limit });
  });

  admin.post('/dead-letters/replay', requireJson, express.json({ limit: '16kb' }), async (req, res) => {
    const request = parse(replayRequestSchema, req.body ?? {});
    logger.info({ request }, 'dead-letter replay requested');
    const result = await deadLetters.replay(
      { reason: request.reason, smtpCode: request.smtpCode, all: request.all },
      { dryRun: request.dryRun, limit: request.limit },
    );
    res.json(result);
  });

  app.use(admin);
  app.use(notFoundHandler);
  app.use(createHttpErrorHandler({ logger, retryAfterSeconds: deps.retryAfterSeconds }));
  return app;
}
