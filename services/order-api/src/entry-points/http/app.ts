import { randomUUID } from 'node:crypto';
import express from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from '@order-mail/shared/logger';
import {
  assignRequestId,
  createHttpErrorHandler,
  createOpsRouter,
  notFoundHandler,
  brokerNodeCheck,
  readinessCheck,
  refuseDeclaredBodyOver,
  requireJson,
  verifyUtf8JsonBody,
} from '@order-mail/shared/http';
import { createHttpMetrics } from '@order-mail/shared/metrics';
import { buildOrderConfirmedEvent, parseOrder } from '@order-mail/shared/contract';
import type { OrderEventPublisher } from '../../adapters/broker/order-event-publisher';
import type { OrderApiMetrics } from '../../adapters/metrics/order-api-metrics';
import type { ApiKey } from '../../domain/api-keys';
import { limitPerKey, requireApiKey, withoutApiKey } from './authentication';

export const MAX_BODY_BYTES = 64 * 1024;

export interface OrderApiAppDeps {
  publisher: OrderEventPublisher;
  metrics: OrderApiMetrics;
  registry: Registry;
  logger: Logger;
  retryAfterSeconds: number;
  /** The keys that may post orders; `null`: authentication off (ORDER_API_AUTH=off). */
  apiKeys: readonly ApiKey[] | null;
  /** Requests to POST /orders per minute and key id, in this process. */
  rateLimitPerMinute: number;
}

export function createOrderApiApp(deps: OrderApiAppDeps): express.Express {
  const { publisher, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.use(createHttpMetrics(deps.registry));
  app.use(assignRequestId);
  // No route reads more; refused before anything reads the body.
  app.use(refuseDeclaredBodyOver(MAX_BODY_BYTES));

  app.post(
    '/orders',
    // The key, then its rate limit, before anything reads the body: a client without a key (or
    // over its limit) cannot make us parse anything. Only the 413 above comes first.
    deps.apiKeys === null ? withoutApiKey : requireApiKey({ keys: deps.apiKeys, logger }),
    limitPerKey({ perMinute: deps.rateLimitPerMinute, logger }),
    requireJson,
    express.json({ limit: MAX_BODY_BYTES, strict: true, verify: verifyUtf8JsonBody }),
    async (req, res) => {
      const order = parseOrder(req.body);
      const event = buildOrderConfirmedEvent(order, {
        eventId: randomUUID(),
        correlationId: req.requestId,
        acceptedAt: new Date(),
      });
      await publisher.publish(event);
      deps.metrics.orderAccepted(req.apiKeyId);
      logger.info(
        { orderId: order.orderId, eventId: event.eventId, correlationId: req.requestId, keyId: req.apiKeyId },
        'order accepted',
      );
      res.status(202).json({ orderId: order.orderId, eventId: event.eventId, status: 'accepted' });
    },
  );

  const checks = [readinessCheck('broker', publisher.isReady), brokerNodeCheck(publisher.node)];
  // Said, never a reason to be unready: switching authentication off is a deliberate choice.
  if (deps.apiKeys === null) checks.push({ name: 'auth', status: () => 'off', informational: true });
  // After POST /orders, whose paths it does not share: every order would otherwise pass through
  // this router's matching of /healthz, /readyz and /metrics first.
  app.use(createOpsRouter({ registry: deps.registry, checks }));

  app.use(notFoundHandler);
  app.use(createHttpErrorHandler({ logger, retryAfterSeconds: deps.retryAfterSeconds }));
  return app;
}
