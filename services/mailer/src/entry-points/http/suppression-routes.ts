import express, { type Router } from 'express';
import { z } from 'zod';
import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import { maskEmail } from '@order-mail/shared/diagnostics';
import type { Logger } from '@order-mail/shared/logger';
import { requireJson, verifyUtf8JsonBody } from '@order-mail/shared/http';
import {
  suppressionDomainOf,
  suppressionKeyOf,
  suppressionReasonProblem,
  type SuppressionList,
} from '../../domain/suppression';
import { noQuery, parse, parseQuery, queryIntOr } from './admin-request';

/**
 * An address as `suppressionKeyOf` takes it, out as its key (local part as given, domain in
 * lower-case ASCII); one that does not parse is refused with `suppressionKeyOf`'s message.
 */
const addressSchema = z.string().transform((value, ctx) => {
  const key = suppressionKeyOf(value);
  if (key.ok) return key.key;
  ctx.addIssue({ code: 'custom', message: key.message });
  return z.NEVER;
});

/** A domain as `suppressionDomainOf` takes it, out in lower-case ASCII (a Unicode domain converted). */
const domainSchema = z.string().transform((value, ctx) => {
  const domain = suppressionDomainOf(value);
  if (domain.ok) return domain.domain;
  ctx.addIssue({ code: 'custom', message: domain.message });
  return z.NEVER;
});

/** A page cursor: a `nextCursor` of `GET /suppressions` (an entry id, a safe integer). */
const cursorSchema = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,15})$/, { message: 'must be a nextCursor as GET /suppressions gave it (a whole number)' })
  .transform(Number)
  .refine(Number.isSafeInteger, { message: 'must be a nextCursor as GET /suppressions gave it (a whole number)' });

/** Why the entry was made: `suppressionReasonProblem`'s rule (1-500 characters, one line, not blank). */
const reasonSchema = z
  .string({
    error: (issue) => (issue.input === undefined ? 'required: why the address is suppressed' : 'must be a string'),
  })
  .superRefine((value, ctx) => {
    const problem = suppressionReasonProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const listQuery = z.strictObject({
  address: addressSchema.optional(),
  domain: domainSchema.optional(),
  after: cursorSchema.optional(),
  limit: queryIntOr(1, 500, 50),
});

const addBody = z.strictObject({ address: addressSchema, reason: reasonSchema });

const removeParams = z.strictObject({ address: addressSchema });

export interface SuppressionRouteDeps {
  suppressions: SuppressionList;
  logger: Logger;
  /** Who the requests come from in entries and logs: `admin:<token id>` (`adminTokenId`), never the token. */
  actor: string;
  /** Largest JSON body `POST /suppressions` reads, in bytes. */
  maxBodyBytes: number;
}

/**
 * The suppression-list admin routes, to mount behind the admin token (README, "Admin API"):
 * - `GET /suppressions?address=&domain=&after=&limit=`: one page, oldest first
 *   (`{ suppressions, nextCursor }`; `limit` 1-500, default 50; `after` a previous `nextCursor`);
 * - `POST /suppressions` `{ address, reason }`: a manual entry, `201 { suppression }`, or
 *   `200 { suppression, created: false }` with the entry already there (kept as it was);
 * - `DELETE /suppressions/:address` (URL-encoded): `200 { removed: true, address }` (the address as
 *   the list spells it), or `404 not_found` when it is not on the list.
 * Addresses are compared by `suppressionKeyOf`'s rule. Bad input is a 400 validation_failed naming
 * the field (an address that does not parse with `suppressionKeyOf`'s message); an unusable
 * database a 503. Changes are logged at info with the address masked (`maskEmail`) and the actor.
 */
export function createSuppressionRouter(deps: SuppressionRouteDeps): Router {
  const { suppressions, logger, actor } = deps;
  const router = express.Router();

  router.get('/suppressions', async (req, res) => {
    const query = parseQuery(listQuery, req.query);
    res.json(await suppressions.list(query));
  });

  router.post(
    '/suppressions',
    requireJson,
    express.json({ limit: deps.maxBodyBytes, verify: verifyUtf8JsonBody }),
    async (req, res) => {
      parseQuery(noQuery, req.query);
      const { address, reason } = parse(addBody, req.body ?? {});
      const { suppression, created } = await suppressions.add({ address, reason, createdBy: actor });
      logger.info(
        { address: maskEmail(address), suppressionId: suppression.id, created, createdBy: actor },
        created ? 'address suppressed by hand' : 'address already suppressed: entry kept as it was',
      );
      if (created) res.status(201).json({ suppression });
      else res.json({ suppression, created: false });
    },
  );

  router.delete('/suppressions/:address', async (req, res) => {
    parseQuery(noQuery, req.query);
    const { address } = parse(removeParams, req.params);
    const removed = await suppressions.remove(address);
    if (!removed) throw new AppError(ErrorCodes.NOT_FOUND, `${maskEmail(address)} is not on the suppression list`);
    logger.info({ address: maskEmail(address), removedBy: actor }, 'address removed from the suppression list');
    res.json({ removed: true, address });
  });

  return router;
}
