import { Counter, type Registry } from 'prom-client';
import type { MailerMetrics } from '../../domain/ports';

/** The worker's counters in Prometheus (the full set of mailer metrics grows from here). */
export function createMailerMetrics(registry: Registry): MailerMetrics {
  const outcomeUnknown = new Counter({
    name: 'mailer_outcome_unknown_total',
    help: 'Sends whose outcome was unknown (connection lost after the whole message went out, or a worker died mid-send); each is resent once after the grace period.',
    registers: [registry],
  });
  const duplicateSkipped = new Counter({
    name: 'mailer_duplicate_skipped_total',
    help: 'Events acked without sending because the ledger already had the order as sent.',
    registers: [registry],
  });
  return {
    outcomeUnknown: () => outcomeUnknown.inc(),
    duplicateSkipped: () => duplicateSkipped.inc(),
  };
}
