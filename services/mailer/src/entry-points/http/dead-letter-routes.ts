import express, { type Router } from 'express';
import { z } from 'zod';
import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import type { Logger } from '@order-mail/shared/logger';
import { requireJson, verifyUtf8JsonBody } from '@order-mail/shared/http';
import { DEAD_LETTER_REASON_DESCRIPTIONS, isDeadLetterReason } from '../../domain/dead-letter-reasons';
import {
  DEAD_LETTER_STATES,
  decodeCursor,
  listingScope,
  type DeadLetterFilter,
  type DeadLetterRecords,
  type DeadLetterReplays,
  type ListOrder,
} from '../../domain/dead-letters';
import { UUID } from '../../domain/replay-job';
import { dateTimeSchema, noQuery, orderIdSchema, parse, parseQuery, queryInt, queryIntOr } from './admin-request';

/** The filter keys a listing, a replay and a purge share (`DeadLetterFilter` without `state`). */
const FILTER_KEYS = ['reason', 'smtpCode', 'orderId', 'from', 'to'] as const;

/** What a replay without a filter is told (`all: true` is the explicit "every one"). */
export const NO_FILTER_MESSAGE = 'give a filter: "reason", "smtpCode", "orderId", "from", "to", or "all": true';
/** What a purge (a query string) without a filter is told. */
export const NO_FILTER_QUERY_MESSAGE = 'give a filter: "reason", "smtpCode", "orderId", "from", "to", or "all=true"';
/** What a replay or purge with both `all` and a filter is told (on `all`). */
export const ALL_WITH_FILTER_MESSAGE = '"all" cannot be combined with "reason", "smtpCode", "orderId", "from" or "to"';

const reasonSchema = z.string().refine(isDeadLetterReason, {
  error: (issue) =>
    `unknown reason ${JSON.stringify(issue.input)}: expected one of ${Object.keys(DEAD_LETTER_REASON_DESCRIPTIONS).join(', ')}`,
});

/** The filter fields as a query string carries them (strings). */
const queryFilterFields = {
  reason: reasonSchema.optional(),
  smtpCode: queryInt(100, 599).optional(),
  orderId: orderIdSchema.optional(),
  from: dateTimeSchema.optional(),
  to: dateTimeSchema.optional(),
};

/** The filter fields as a JSON body carries them (`smtpCode` a number). */
const bodyFilterFields = {
  reason: reasonSchema.optional(),
  smtpCode: z.number().int().min(100).max(599).optional(),
  orderId: orderIdSchema.optional(),
  from: dateTimeSchema.optional(),
  to: dateTimeSchema.optional(),
};

type FilterFields = Omit<DeadLetterFilter, 'state'>;

const hasFilter = (request: FilterFields): boolean => FILTER_KEYS.some((key) => request[key] !== undefined);

/** `from` must come before `to` (from inclusive, to exclusive): an empty range is a typo, not a question. */
function checkTimeRange(request: FilterFields, ctx: z.RefinementCtx): void {
  if (request.from && request.to && request.from.getTime() >= request.to.getTime()) {
    ctx.addIssue({ code: 'custom', path: ['to'], message: '"to" must be later than "from"' });
  }
}

/**
 * A replay or purge acts on a filter or, said explicitly, on every dead letter (`all`), never on
 * both: an empty request must not mean "everything" by accident. `noFilter` is the message for
 * a request without either, in the form the request gives `all` in (JSON or query).
 */
const checkSelection =
  (noFilter: string) =>
  (request: FilterFields & { all?: true }, ctx: z.RefinementCtx): void => {
    if (request.all !== true && !hasFilter(request)) {
      ctx.addIssue({ code: 'custom', path: [], message: noFilter });
    } else if (request.all === true && hasFilter(request)) {
      ctx.addIssue({ code: 'custom', path: ['all'], message: ALL_WITH_FILTER_MESSAGE });
    }
    checkTimeRange(request, ctx);
  };

/**
 * `POST /dead-letters/replay`'s body: a filter (`reason`, `smtpCode`, `orderId`, `from`, `to`;
 * all given must match) or `all: true`; `dryRun` (default false); `force` (default false: dead
 * letters whose recipient is suppressed are skipped; true: they are sent, issue #14); `limit`
 * 1-100000 (default 10000). `from`/`to` come out as Dates.
 */
export const replayRequestSchema = z
  .strictObject({
    ...bodyFilterFields,
    all: z.literal(true).optional(),
    dryRun: z.boolean().default(false),
    force: z.boolean().default(false),
    limit: z.number().int().min(1).max(100_000).default(10_000),
  })
  .superRefine(checkSelection(NO_FILTER_MESSAGE));

/** A page cursor as `GET /dead-letters` gave it out (checked against its listing once the query is parsed). */
const cursorSchema = z.string().regex(/^[A-Za-z0-9_-]{1,60}$/, {
  message: 'is not a cursor of this API: pass a nextCursor as it was given',
});

/**
 * The record id `cursor` names, if it was given out for this very listing (same filters, same
 * order); else 400 naming `cursor`: a cursor of another listing would page the wrong records.
 */
function afterIdOf(cursor: string, filter: DeadLetterFilter, order: ListOrder): string {
  const id = decodeCursor(cursor, listingScope(filter, order));
  if (id !== null) return id;
  throw new AppError(ErrorCodes.VALIDATION_FAILED, 'The request is not valid', {
    details: [
      {
        path: 'cursor',
        message: 'is not a cursor of this listing: pass a nextCursor as it was given, with the same filters and order',
      },
    ],
  });
}

const recentJobsQuery = z.strictObject({ limit: queryIntOr(1, 100, 20) });

const listQuery = z
  .strictObject({
    ...queryFilterFields,
    state: z.enum([...DEAD_LETTER_STATES, 'any']).default('dead'),
    order: z.enum(['newest', 'oldest']).default('newest'),
    cursor: cursorSchema.optional(),
    limit: queryIntOr(1, 500, 50),
  })
  .superRefine(checkTimeRange);

const purgeQuery = z
  .strictObject({
    ...queryFilterFields,
    all: z
      .literal('true', { error: 'must be "true" (or leave it out and give a filter)' })
      .transform(() => true as const)
      .optional(),
    dryRun: z
      .enum(['true', 'false'], { error: 'must be "true" or "false"' })
      .transform((value) => value === 'true')
      .default(false),
    limit: queryIntOr(1, 100_000, 10_000),
  })
  .superRefine(checkSelection(NO_FILTER_QUERY_MESSAGE));

/** A record id: the decimal bigserial of `dead_letters` (1 to 2^63-1), so PostgreSQL never sees one out of range. */
const isRecordId = (id: string): boolean => /^[1-9][0-9]{0,18}$/.test(id) && BigInt(id) <= 9_223_372_036_854_775_807n;

const recordParams = z.strictObject({
  id: z
    .string()
    .refine(isRecordId, { message: 'must be a dead letter id, a whole number as GET /dead-letters lists it' }),
});

const jobParams = z.strictObject({
  id: z.string().regex(UUID, { message: 'must be a replay job id, a UUID as POST /dead-letters/replay answered' }),
});

/** The `DeadLetterFilter` of a parsed request: only the filter keys given. */
function filterOf(request: FilterFields): DeadLetterFilter {
  const given = FILTER_KEYS.filter((key) => request[key] !== undefined);
  return Object.fromEntries(given.map((key) => [key, request[key]])) as DeadLetterFilter;
}

export interface DeadLetterRouteDeps {
  records: DeadLetterRecords;
  replays: DeadLetterReplays;
  logger: Logger;
  /** Who the requests come from in records and logs: `admin:<token id>` (`adminTokenId`), never the token. */
  actor: string;
  /** Largest JSON body `POST /dead-letters/replay` reads, in bytes. */
  maxBodyBytes: number;
}

/**
 * The dead-letter admin routes, to mount behind the admin token (README, "Admin API"):
 * - `GET /dead-letters`: one page of the recorded dead letters (filter, order, cursor, counts);
 * - `GET /dead-letters/:id`: one with body, properties and headers (404 if none; 400 naming `id`
 *   when it is not a record id);
 * - `POST /dead-letters/replay`: a dry run (200 with the list and the suppressed recipients among
 *   them) or a replay job (202, `Location`), with `force` sent even to suppressed recipients;
 *   409 `conflict` with `jobId` while a job runs;
 * - `GET /dead-letters/replays`: the latest jobs, newest first (`limit` 1-100, default 20);
 * - `GET /dead-letters/replays/:id`: a job's progress (404 if none; 400 naming `id` when it is
 *   not a UUID);
 * - `DELETE /dead-letters`: purges `dead` records (a filter or `all=true`; `dryRun=true` counts).
 * Bad input is a 400 validation_failed naming the field; an unusable database a 503.
 */
export function createDeadLetterRouter(deps: DeadLetterRouteDeps): Router {
  const router = express.Router();
  addReadRoutes(router, deps);
  addReplayRoute(router, deps);
  addPurgeRoute(router, deps);
  return router;
}

function addReadRoutes(router: Router, { records, replays }: DeadLetterRouteDeps): void {
  router.get('/dead-letters', async (req, res) => {
    const query = parseQuery(listQuery, req.query);
    const filter: DeadLetterFilter = { ...filterOf(query), state: query.state };
    const page = await records.list(filter, {
      order: query.order,
      limit: query.limit,
      ...(query.cursor !== undefined && { afterId: afterIdOf(query.cursor, filter, query.order) }),
    });
    res.json({
      deadLetters: page.deadLetters,
      nextCursor: page.nextCursor,
      counts: page.counts,
      order: query.order,
      limit: query.limit,
    });
  });

  // Before `/dead-letters/:id`, which would otherwise take "replays" as a record id.
  router.get('/dead-letters/replays', async (req, res) => {
    const { limit } = parseQuery(recentJobsQuery, req.query);
    res.json({ jobs: await replays.recent(limit) });
  });

  router.get('/dead-letters/replays/:id', async (req, res) => {
    parseQuery(noQuery, req.query);
    const { id } = parse(jobParams, req.params);
    const job = await replays.get(id.toLowerCase());
    if (!job) throw new AppError(ErrorCodes.NOT_FOUND, `No replay job "${id}"`);
    res.json(job);
  });

  router.get('/dead-letters/:id', async (req, res) => {
    parseQuery(noQuery, req.query);
    const { id } = parse(recordParams, req.params);
    const found = await records.find(id);
    if (!found) throw new AppError(ErrorCodes.NOT_FOUND, `No dead letter ${id}`);
    res.json(found);
  });
}

function addReplayRoute(router: Router, { replays, logger, actor, maxBodyBytes }: DeadLetterRouteDeps): void {
  router.post(
    '/dead-letters/replay',
    requireJson,
    express.json({ limit: maxBodyBytes, verify: verifyUtf8JsonBody }),
    async (req, res) => {
      parseQuery(noQuery, req.query);
      const request = parse(replayRequestSchema, req.body ?? {});
      const filter = filterOf(request);
      const { dryRun, force, limit } = request;
      logger.info(
        { requestedBy: actor, filter, all: request.all === true, dryRun, force, limit },
        'dead-letter replay requested',
      );
      if (dryRun) {
        const preview = await replays.preview(filter, limit);
        res.json({
          dryRun: true,
          force,
          matched: preview.matched,
          // Without force a job skips these (they stay dead); with force it sends them anyway.
          suppressed: { ...preview.suppressed, skipped: !force },
          deadLetters: preview.deadLetters,
        });
        return;
      }
      // A CONFLICT names the running job as the problem's `jobId` member (the runner's AppError extension).
      const job = await replays.start(filter, { limit, requestedBy: actor, force });
      logger.info({ jobId: job.id, matched: job.matched, force, requestedBy: actor }, 'dead-letter replay job started');
      res.status(202).location(`/dead-letters/replays/${job.id}`).json(job);
    },
  );
}

function addPurgeRoute(router: Router, { records, logger, actor }: DeadLetterRouteDeps): void {
  router.delete('/dead-letters', async (req, res) => {
    const query = parseQuery(purgeQuery, req.query);
    const filter = filterOf(query);
    const { dryRun, limit } = query;
    const result = await records.purge(filter, { dryRun, limit, purgedBy: actor });
    // Who dropped what, for the record: the token's id, never the token.
    logger.info(
      { purgedBy: actor, filter, all: query.all === true, dryRun, limit, purged: result.purged },
      dryRun ? 'dead-letter purge dry run: nothing changed' : 'dead letters purged',
    );
    res.json({ dryRun: result.dryRun, purged: result.purged, ids: result.ids });
  });
}
