import express, { type Router } from 'express';
import { z } from 'zod';
import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import type { Logger } from '@order-mail/shared/logger';
import { requireJson, verifyUtf8JsonBody } from '@order-mail/shared/http';
import { WEBHOOK_STATES, type WebhookLog } from '../../domain/webhooks';
import { UUID } from '../../domain/replay-job';
import { dateTimeSchema, noQuery, orderIdSchema, parse, parseQuery, queryIntOr } from './admin-request';

/**
 * The most event ids one `POST /webhook-deliveries/redeliver` takes: 400 of them (39 bytes each
 * in compact JSON) fit in the admin API's 16 KiB body limit (ADMIN_MAX_BODY_BYTES), so a list
 * the schema accepts is never a 413.
 */
export const MAX_REDELIVER_EVENT_IDS = 400;

/** What a redelivery with neither selector is told. */
export const NO_SELECTION_MESSAGE =
  'give "eventIds" (a list of event ids) or "failedSince" (an ISO 8601 date-time): which deliveries to send again';
/** What a redelivery with both selectors is told (on `failedSince`). */
export const BOTH_SELECTIONS_MESSAGE = '"failedSince" cannot be combined with "eventIds": give one of them';

/** An event id: a UUID, out in lower case, so PostgreSQL never sees a string its `uuid` refuses. */
const eventIdSchema = z
  .string()
  .regex(UUID, { message: 'must be an event id, a UUID as GET /webhook-deliveries lists it' })
  .transform((id) => id.toLowerCase());

/** A page cursor: a `nextCursor` of `GET /webhook-deliveries` (a row id, a bigint: 0 to 2^63-1). */
const cursorSchema = z
  .string()
  .refine((value) => /^(0|[1-9][0-9]{0,18})$/.test(value) && BigInt(value) <= 9_223_372_036_854_775_807n, {
    message: 'must be a nextCursor as GET /webhook-deliveries gave it (a whole number)',
  });

const listQuery = z.strictObject({
  state: z.enum(WEBHOOK_STATES).optional(),
  orderId: orderIdSchema.optional(),
  before: cursorSchema.optional(),
  limit: queryIntOr(1, 500, 50),
});

const deliveryParams = z.strictObject({ eventId: eventIdSchema });

/** Which deliveries a redelivery makes pending again (`WebhookLog.redeliver`'s argument). */
type RedeliverySelection = { eventIds: string[] } | { failedSince: Date };

/**
 * `POST /webhook-deliveries/redeliver`'s body: exactly one of `eventIds` (1 to
 * MAX_REDELIVER_EVENT_IDS UUIDs, out in lower case without repeats) and `failedSince` (out as a
 * Date), as a `RedeliverySelection`. Neither is refused at `""`, both at `failedSince`: an empty
 * request must not mean "every delivery".
 */
export const redeliverRequestSchema = z
  .strictObject({
    eventIds: z
      .array(eventIdSchema)
      .min(1, { message: 'must list at least one event id' })
      .max(MAX_REDELIVER_EVENT_IDS, { message: `must list at most ${MAX_REDELIVER_EVENT_IDS} event ids` })
      .transform((ids) => [...new Set(ids)])
      .optional(),
    failedSince: dateTimeSchema.optional(),
  })
  .transform(({ eventIds, failedSince }, ctx): RedeliverySelection => {
    if (eventIds !== undefined && failedSince !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['failedSince'], message: BOTH_SELECTIONS_MESSAGE });
      return z.NEVER;
    }
    if (eventIds !== undefined) return { eventIds };
    if (failedSince !== undefined) return { failedSince };
    ctx.addIssue({ code: 'custom', path: [], message: NO_SELECTION_MESSAGE });
    return z.NEVER;
  });

export interface WebhookRouteDeps {
  log: WebhookLog;
  logger: Logger;
  /** Who the requests come from in logs: `admin:<token id>` (`adminTokenId`), never the token. */
  actor: string;
  /** Largest JSON body `POST /webhook-deliveries/redeliver` reads, in bytes. */
  maxBodyBytes: number;
}

/**
 * The webhook delivery-log admin routes, to mount behind the admin token (README, "Admin API"):
 * - `GET /webhook-deliveries?state=&orderId=&before=&limit=`: one page, newest first, as
 *   `200 { items, nextCursor }` (`WebhookDeliveryView`s, each with its attempt log oldest first;
 *   `state` `pending`, `delivered` or `failed`; `limit` 1-500, default 50; `before` a previous
 *   `nextCursor`, which is null on the last page);
 * - `GET /webhook-deliveries/:eventId`: `200` with one `WebhookDeliveryView`, `404 not_found` when
 *   no delivery has that event id, `400` naming `eventId` when it is not a UUID;
 * - `POST /webhook-deliveries/redeliver` with `{ "eventIds": [uuid, …] }` (1-400) or
 *   `{ "failedSince": "<ISO 8601 date-time>" }`, never both: those deliveries (whatever their
 *   state), or every `failed` one created at or after that instant, become pending, due now, their
 *   attempt count back at 0 (the log keeps the earlier attempts): `200 { redelivered: n }`, n the
 *   number made pending (unknown event ids count for nothing). Logged at info with the actor and
 *   the count.
 * Bad input is a 400 validation_failed naming the field (`""` for an unknown key, which its
 * message names, and for a request with neither selector); an unusable database a 503.
 */
export function createWebhookRouter(deps: WebhookRouteDeps): Router {
  const { log, logger, actor } = deps;
  const router = express.Router();

  router.get('/webhook-deliveries', async (req, res) => {
    const query = parseQuery(listQuery, req.query);
    res.json(await log.list(query));
  });

  router.get('/webhook-deliveries/:eventId', async (req, res) => {
    parseQuery(noQuery, req.query);
    const { eventId } = parse(deliveryParams, req.params);
    const found = await log.get(eventId);
    if (!found) throw new AppError(ErrorCodes.NOT_FOUND, `No webhook delivery of event "${eventId}"`);
    res.json(found);
  });

  router.post(
    '/webhook-deliveries/redeliver',
    requireJson,
    express.json({ limit: deps.maxBodyBytes, verify: verifyUtf8JsonBody }),
    async (req, res) => {
      parseQuery(noQuery, req.query);
      const selection = parse(redeliverRequestSchema, req.body ?? {});
      const redelivered = await log.redeliver(selection);
      // The count of ids, not the ids: enough to tell one request from another in the log.
      const asked =
        'eventIds' in selection
          ? { eventIds: selection.eventIds.length }
          : { failedSince: selection.failedSince.toISOString() };
      logger.info({ requestedBy: actor, ...asked, redelivered }, 'webhook deliveries set to be sent again');
      res.json({ redelivered });
    },
  );

  return router;
}
