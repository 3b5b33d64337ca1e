import { Counter, Gauge, type Registry } from 'prom-client';
import { MAIL_EVENT_TYPES, type MailEventType } from '@order-mail/shared/contract';
import type { OutboxStats } from '../../domain/mail-events';
import { sharedRead } from './shared-read';

export interface OutboxMetrics {
  /** One delivery event published and confirmed; `routed` false when no queue was bound to take it. */
  published(type: MailEventType, routed: boolean): void;
}

/**
 * Registers the delivery-event metrics on `registry` (infra/METRICS.md):
 * - `mailer_mail_events_published_total{type, routed}` (counter; every type × `true`/`false` at 0);
 * - `mailer_outbox_pending` (gauge): events written by the ledger and not yet published;
 * - `mailer_outbox_oldest_age_seconds` (gauge): age of the oldest of them, 0 when none waits:
 *   the relay's lag.
 * The gauges call `options.stats()` once per scrape (shared between them); every mailer reads the
 * same table, so aggregate with `max`. When `stats()` rejects (PostgreSQL away, not migrated yet)
 * the gauges keep their last values and the scrape still succeeds. Never throws.
 */
export function createOutboxMetrics(registry: Registry, options: { stats: () => Promise<OutboxStats> }): OutboxMetrics {
  const registers = [registry];
  let last: OutboxStats = { pending: 0, oldestAgeSeconds: 0 };
  const refresh = sharedRead(options.stats, (stats) => {
    last = stats;
  });

  new Gauge({
    name: 'mailer_outbox_pending',
    help: 'Delivery events in the outbox, not yet published to the events exchange; every mailer reports the same table, so aggregate with max.',
    registers,
    async collect() {
      await refresh();
      this.set(last.pending);
    },
  });
  new Gauge({
    name: 'mailer_outbox_oldest_age_seconds',
    help: 'Seconds since the oldest delivery event still in the outbox was written (the relay lag); 0 when none waits.',
    registers,
    async collect() {
      await refresh();
      this.set(last.oldestAgeSeconds);
    },
  });
  const published = new Counter({
    name: 'mailer_mail_events_published_total',
    help: 'Delivery events this mailer published with a confirm, by type; routed="false": no queue was bound to the events exchange to take it.',
    labelNames: ['type', 'routed'] as const,
    registers,
  });
  for (const type of MAIL_EVENT_TYPES) {
    for (const routed of ['true', 'false']) published.inc({ type, routed }, 0);
  }
  return {
    published: (type, routed) => published.inc({ type, routed: String(routed) }),
  };
}
