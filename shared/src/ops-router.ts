import { Router } from 'express';
import type { Registry } from 'prom-client';

export interface ReadinessCheck {
  name: string;
  /** `ready`, or what is wrong (`not_ready`, `auth_failed`, …). */
  status(): string;
  /** Reported in `/readyz` but never makes the service unready (e.g. the order API's `auth: off`). */
  informational?: boolean;
}

/**
 * `/readyz`'s `brokerNode`: `host:port` of the RabbitMQ node (one of AMQP_URL's) the service is
 * connected to, `none` while it is not; informational, it never makes the service unready.
 */
export function brokerNodeCheck(node: () => string | null): ReadinessCheck {
  return { name: 'brokerNode', status: () => node() ?? 'none', informational: true };
}

/** A check that is either `ready` or `not_ready`. */
export function readinessCheck(name: string, isReady: () => boolean): ReadinessCheck {
  return { name, status: () => (isReady() ? 'ready' : 'not_ready') };
}

/**
 * `/healthz` (the process answers), `/readyz` (every dependency is ready) and `/metrics`,
 * the same on every service.
 */
export function createOpsRouter(options: { registry: Registry; checks: ReadinessCheck[] }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (_req, res) => {
    const statuses = options.checks.map((c) => [c, c.status()] as const);
    const checks = Object.fromEntries(statuses.map(([c, status]) => [c.name, status]));
    const ready = statuses.every(([c, status]) => c.informational === true || status === 'ready');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  router.get('/metrics', async (_req, res, next) => {
    try {
      const body = await options.registry.metrics();
      res.type(options.registry.contentType).send(body);
    } catch (err) {
      next(err);
    }
  });
  return router;
}
