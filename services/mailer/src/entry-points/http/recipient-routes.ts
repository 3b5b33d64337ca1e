import express, { type Router } from 'express';
import { z } from 'zod';
import { maskEmail } from '@order-mail/shared/diagnostics';
import type { Logger } from '@order-mail/shared/logger';
import type { RecipientErasure } from '../../domain/erasure';
import { suppressionKeyOf } from '../../domain/suppression';
import { noQuery, parse, parseQuery } from './admin-request';

const erasureParams = z.strictObject({
  address: z.string().transform((value, ctx) => {
    const key = suppressionKeyOf(value);
    if (key.ok) return key.key;
    ctx.addIssue({ code: 'custom', message: key.message });
    return z.NEVER;
  }),
});

/**
 * `DELETE /recipients/:address` (admin API, behind ADMIN_TOKEN): erases the person's data at once
 * (`RecipientErasure.erase`; the address is compared as the suppression list compares it) and
 * answers `200 { address, erased: { deliveries, suppressions, outboxEvents, webhookDeliveries, deadLetters } }`,
 * also when nothing was found (all 0). An invalid address is a `400` naming `address`; a database
 * that is away a `503`. Logged at info with the address masked and who asked (`actor`).
 */
export function createRecipientRouter(deps: { erasure: RecipientErasure; logger: Logger; actor: string }): Router {
  const router = express.Router();
  router.delete('/recipients/:address', async (req, res) => {
    parseQuery(noQuery, req.query);
    const { address } = parse(erasureParams, req.params);
    const erased = await deps.erasure.erase(address, deps.actor);
    deps.logger.info({ recipient: maskEmail(address), erasedBy: deps.actor, ...erased }, 'recipient data erased');
    res.json({ address: maskEmail(address), erased });
  });
  return router;
}
