import express from 'express';
import type { Registry } from 'prom-client';
import { createOpsRouter, type ReadinessCheck } from '@order-mail/shared';

/** The mailer's HTTP side: health, readiness and metrics (the admin API joins it later). */
export function createMailerApp(deps: { registry: Registry; checks: ReadinessCheck[] }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(createOpsRouter(deps));
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found', message: 'No such route' });
  });
  return app;
}
