import { randomUUID } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import type { Logger } from '@order-mail/shared/logger';
import { refuseDeclaredBodyOver, requireJson, verifyUtf8JsonBody } from '@order-mail/shared/http';
import type { ComposeOrderEmailDeps } from '../../domain/compose-order-email';
import { parsePreviewRequest, previewOrderEmail } from '../../domain/order-preview';

/**
 * Largest `POST /preview` body: an order as large as `POST /orders` takes (64 KiB), plus room for
 * `{ "order": …, "locale": "…" }` around it.
 */
export const PREVIEW_MAX_BODY_BYTES = 64 * 1024 + 1024;

export interface PreviewRouteDeps {
  /** The admin API's guard (`ADMIN_TOKEN`): a preview shows what an order would look like to anyone. */
  authenticate: RequestHandler;
  /** The worker's templates and email settings (`service.ts` gives both the same). */
  compose: ComposeOrderEmailDeps;
  logger: Logger;
  now?: () => Date;
}

/**
 * `POST /preview` (README, "Preview"): `{ order, locale? }` → `200 { subject, html, text }`, the
 * confirmation email the worker would send for that order, in `locale` if given. The order is
 * validated as `POST /orders` validates it (same 400 body); nothing is published, recorded or
 * sent, so it answers with RabbitMQ, PostgreSQL and SMTP all down. Mounted before the app's 16 KiB
 * body limit (an order may be up to 64 KiB); the body is refused by its declared size, then the
 * token is checked, before anything reads it.
 */
export function createPreviewRouter(deps: PreviewRouteDeps): express.Router {
  const now = deps.now ?? (() => new Date());
  const router = express.Router();
  router.post(
    '/preview',
    refuseDeclaredBodyOver(PREVIEW_MAX_BODY_BYTES),
    deps.authenticate,
    requireJson,
    express.json({ limit: PREVIEW_MAX_BODY_BYTES, strict: true, verify: verifyUtf8JsonBody }),
    (req, res) => {
      const request = parsePreviewRequest(req.body);
      const meta = { eventId: randomUUID(), correlationId: req.requestId, acceptedAt: now() };
      const preview = previewOrderEmail(request, meta, deps.compose);
      deps.logger.info(
        { orderId: request.order.orderId, locale: request.locale, correlationId: req.requestId },
        'email previewed',
      );
      res.json(preview);
    },
  );
  return router;
}
