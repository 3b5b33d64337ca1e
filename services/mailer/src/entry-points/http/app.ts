import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { AppError, ErrorCodes, ORDER_CONFIRMED_EVENT_TYPE, problemOf } from '@order-mail/shared/contract';
import type { Logger } from '@order-mail/shared/logger';
import {
  assignRequestId,
  createHttpErrorHandler,
  createOpsRouter,
  notFoundHandler,
  refuseDeclaredBodyOver,
  sendProblem,
  type ReadinessCheck,
} from '@order-mail/shared/http';
import { createHttpMetrics } from '@order-mail/shared/metrics';
import type { PgDeliveryLedger } from '../../adapters/db/delivery-ledger-pg';
import type { DeadLetterRecords, DeadLetterReplays } from '../../domain/dead-letters';
import { DELIVERY_STATUSES } from '../../domain/delivery-ledger';
import { suppressionKeyOf } from '../../domain/suppression';
import type { ComposeOrderEmailDeps } from '../../domain/compose-order-email';
import type { SuppressionList } from '../../domain/suppression';
import { adminTokenId, noQuery, orderIdSchema, parse, parseQuery, queryIntOr } from './admin-request';
import { createDeadLetterRouter } from './dead-letter-routes';
import { createPreviewRouter } from './preview-route';
import { createSuppressionRouter } from './suppression-routes';
import { createRecipientRouter } from './recipient-routes';
import { createWebhookRouter } from './webhook-routes';
import type { WebhookLog } from '../../domain/webhooks';
import type { RecipientErasure } from '../../domain/erasure';

export { replayRequestSchema } from './dead-letter-routes';

export interface MailerAppDeps {
  registry: Registry;
  checks: ReadinessCheck[];
  ledger: PgDeliveryLedger;
  /** The recorded dead letters (table `dead_letters`): listed, shown and purged by the admin API. */
  deadLetters: DeadLetterRecords;
  /** Replay jobs: dry runs, starting one (at most one at a time across mailers), progress. */
  replays: DeadLetterReplays;
  /** The suppression list (table `suppressions`): listed, added to and removed from by the admin API; absent: no such routes. */
  suppressions?: SuppressionList;
  /** Erasure of a person's data (`DELETE /recipients/:address`); absent: no such route. */
  erasure?: RecipientErasure;
  /**
   * The webhook delivery log (tables `webhook_deliveries`, `webhook_attempts`): listed, shown and
   * redelivered by the admin API (`/webhook-deliveries…`); absent: no such routes.
   */
  webhookLog?: WebhookLog;
  logger: Logger;
  adminToken?: string;
  retryAfterSeconds: number;
  /** The worker's templates and email settings, for `POST /preview`; absent: no such route. */
  preview?: ComposeOrderEmailDeps;
}

/** The admin API's routes live under these paths (`/deliveries…`, `/dead-letters…`, `/suppressions…`, …). */
const ADMIN_PATHS = ['/deliveries', '/dead-letters', '/suppressions', '/recipients', '/webhook-deliveries'];

/** Who the admin routes act as in records and logs: `admin:<token id>`. */
function adminActor(deps: Pick<MailerAppDeps, 'adminToken'>): string {
  // Without a token the routes are off (requireToken), so no request is ever made as "admin:".
  return deps.adminToken ? `admin:${adminTokenId(deps.adminToken)}` : 'admin:';
}

/** The suppression-list, erasure and webhook delivery-log routes, when their ports are given. */
function mountRecipientRouters(admin: express.Router, deps: MailerAppDeps): void {
  const actor = adminActor(deps);
  const { logger } = deps;
  if (deps.suppressions) {
    admin.use(
      createSuppressionRouter({ suppressions: deps.suppressions, logger, actor, maxBodyBytes: ADMIN_MAX_BODY_BYTES }),
    );
  }
  if (deps.erasure) admin.use(createRecipientRouter({ erasure: deps.erasure, logger, actor }));
  if (deps.webhookLog) {
    admin.use(createWebhookRouter({ log: deps.webhookLog, logger, actor, maxBodyBytes: ADMIN_MAX_BODY_BYTES }));
  }
}

/** Largest body the admin API reads (`POST /dead-letters/replay`); a larger one is a 413. */
export const ADMIN_MAX_BODY_BYTES = 16 * 1024;

const deliveriesQuery = z.strictObject({
  orderId: orderIdSchema.optional(),
  status: z.enum(DELIVERY_STATUSES).optional(),
  /** An email address: the deliveries to it (`suppressionKeyOf`'s comparison rule). */
  recipient: z
    .string()
    .transform((address, ctx) => {
      const key = suppressionKeyOf(address);
      if (key.ok) return key.key;
      ctx.addIssue({ code: 'custom', message: key.message });
      return z.NEVER;
    })
    .optional(),
  limit: queryIntOr(1, 500, 50),
});

const deliveryParams = z.strictObject({ orderId: orderIdSchema });

/** What the admin routes answer while `ADMIN_TOKEN` is not set (README, "Admin API"), as `403 admin_api_disabled`. */
export const ADMIN_API_DISABLED = {
  error: 'admin_api_disabled',
  message:
    'The admin API is off: set ADMIN_TOKEN (at least 16 characters, e.g. from `openssl rand -hex 32`) ' +
    'in the mailer\'s environment to enable it, then send "Authorization: Bearer <ADMIN_TOKEN>"',
} as const;

/** A constant-time comparison of two strings, by their SHA-256 (equal lengths, whatever the input). */
function sameSecret(given: string, expected: Buffer): boolean {
  return timingSafeEqual(createHash('sha256').update(given, 'utf8').digest(), expected);
}

/**
 * Guards the admin routes: without a configured token they are off (`403 admin_api_disabled`,
 * whatever the request carries); with one, a request needs `Authorization: Bearer <token>` (the
 * scheme case-insensitive, RFC 9110 §11.1; the token compared in constant time), else
 * `401 unauthorized` with the challenge RFC 6750 §3 asks for, `WWW-Authenticate: Bearer
 * realm="mailer-admin"`, plus `error="invalid_token"` when a Bearer token was sent but is not the
 * admin token (§3.1: no error code when the request carried no Bearer credentials).
 */
function requireToken(token: string | undefined): RequestHandler {
  const expected = token ? createHash('sha256').update(token, 'utf8').digest() : null;
  const challenge = 'Bearer realm="mailer-admin"';
  return (req, res, next) => {
    if (!expected) {
      sendProblem(res, problemOf(ErrorCodes.ADMIN_API_DISABLED, ADMIN_API_DISABLED.message));
      return;
    }
    const header = req.get('authorization')?.trim() ?? '';
    const [, scheme = '', given = ''] = /^(\S*)\s*(.*)$/.exec(header) ?? [];
    const bearer = scheme.toLowerCase() === 'bearer' && given !== '';
    if (bearer && sameSecret(given, expected)) return next();
    res.set('WWW-Authenticate', bearer ? `${challenge}, error="invalid_token"` : challenge);
    next(new AppError(ErrorCodes.UNAUTHORIZED, 'A valid "Authorization: Bearer <ADMIN_TOKEN>" header is required'));
  };
}

/**
 * The mailer's HTTP side: health, readiness, metrics, the admin API for deliveries and dead
 * letters, and `POST /preview` (preview-route.ts) when given `preview`.
 */
export function createMailerApp(deps: MailerAppDeps): express.Express {
  const { ledger, logger } = deps;
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
      recipientKey: query.recipient,
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

  admin.use(
    createDeadLetterRouter({
      records: deps.deadLetters,
      replays: deps.replays,
      logger,
      actor: adminActor(deps),
      maxBodyBytes: ADMIN_MAX_BODY_BYTES,
    }),
  );
  mountRecipientRouters(admin, deps);

  app.use(admin);
  app.use(notFoundHandler);
  app.use(createHttpErrorHandler({ logger, retryAfterSeconds: deps.retryAfterSeconds }));
  return app;
}
