import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { WEBHOOK_OUTCOMES, type WebhookOutcome, type WebhookStats } from '../../domain/webhooks';
import { sharedRead } from './shared-read';

export interface WebhookMetrics {
  /** One POST to WEBHOOK_URL made, and what its decision did to the delivery; `seconds` from request to answer or error. */
  attempted(outcome: WebhookOutcome, seconds: number): void;
}

/**
 * Registers the webhook metrics on `registry` (infra/METRICS.md):
 * - `mailer_webhook_attempts_total{outcome}` (counter; `delivered`, `retrying`, `failed` at 0
 *   from start-up): POSTs this mailer made, by what their decision did to the delivery;
 * - `mailer_webhook_attempt_duration_seconds` (histogram): from sending the request to its
 *   answer, timeout or error;
 * - `mailer_webhook_pending` and `mailer_webhook_oldest_pending_age_seconds` (gauges): deliveries
 *   waiting for an attempt, and the age of the oldest since its event was relayed (0 when none);
 * - `mailer_webhook_failed` (gauge): deliveries given up, kept until retention deletes them.
 * The gauges call `options.stats()` once per scrape (shared); every mailer reads the same table,
 * so aggregate with `max`. When `stats()` rejects the gauges keep their last values. Never throws.
 */
export function createWebhookMetrics(
  registry: Registry,
  options: { stats: () => Promise<WebhookStats> },
): WebhookMetrics {
  const registers = [registry];
  let last: WebhookStats = { pending: 0, oldestPendingAgeSeconds: 0, failed: 0 };
  const refresh = sharedRead(options.stats, (stats) => {
    last = stats;
  });
  const gauge = (name: string, help: string, value: (s: WebhookStats) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        await refresh();
        this.set(value(last));
      },
    });
  gauge(
    'mailer_webhook_pending',
    'Webhook deliveries waiting for their first or next attempt; every mailer reports the same table, so aggregate with max.',
    (s) => s.pending,
  );
  gauge(
    'mailer_webhook_oldest_pending_age_seconds',
    'Seconds since the oldest webhook delivery still waiting was created (its event relayed); 0 when none waits.',
    (s) => s.oldestPendingAgeSeconds,
  );
  gauge(
    'mailer_webhook_failed',
    'Webhook deliveries given up (410 Gone or every retry used) and not yet deleted by retention; redeliver them with POST /webhook-deliveries/redeliver.',
    (s) => s.failed,
  );
  const attempts = new Counter({
    name: 'mailer_webhook_attempts_total',
    help: 'POSTs to WEBHOOK_URL this mailer made, by outcome: delivered (2xx), retrying (another attempt is scheduled), failed (given up).',
    labelNames: ['outcome'] as const,
    registers,
  });
  for (const outcome of WEBHOOK_OUTCOMES) attempts.inc({ outcome }, 0);
  const duration = new Histogram({
    name: 'mailer_webhook_attempt_duration_seconds',
    help: 'Seconds from sending a webhook POST to its answer, timeout or error.',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  return {
    attempted(outcome, seconds) {
      attempts.inc({ outcome });
      duration.observe(seconds);
    },
  };
}
