import type { Pool } from 'pg';
import type { MailEventType } from '@order-mail/shared/contract';
import { tryAdvisoryLock } from './advisory-lock';
import { REMOVE_RELAYED_INTO_WEBHOOKS } from './webhook-deliveries-pg';
import { type Outbox, type OutboxEntry, type OutboxLease, type OutboxStats } from '../../domain/mail-events';

/** A `mail_events_outbox` row as pg returns it. */
interface OutboxRow {
  id: string;
  event_id: string;
  type: MailEventType;
  order_id: string;
  order_event_id: string;
  message_id: string | null;
  recipient: string | null;
  status: OutboxEntry['status'];
  attempt: number;
  smtp_code: number | null;
  smtp_response: string | null;
  reason: string | null;
  occurred_at: Date;
}

function toEntry(row: OutboxRow): OutboxEntry {
  return {
    id: row.id,
    eventId: row.event_id,
    type: row.type,
    orderId: row.order_id,
    orderEventId: row.order_event_id,
    messageId: row.message_id,
    recipient: row.recipient,
    status: row.status,
    attempt: row.attempt,
    smtpCode: row.smtp_code,
    smtpResponse: row.smtp_response,
    reason: row.reason,
    occurredAt: row.occurred_at,
  };
}

/**
 * The outbox of delivery events in PostgreSQL (table `mail_events_outbox`, written by the ledger
 * adapter). The relay's lease is the advisory lock `order-mail:outbox:<schema>`, one per ledger
 * schema, so the mailers of one ledger have one relay between them. With `webhooks` (WEBHOOK_URL
 * is set) the entries a relay removes become webhook deliveries in the same statement
 * (`REMOVE_RELAYED_INTO_WEBHOOKS`). Methods reject with pg's errors.
 */
export function createPgOutbox(pool: Pool, schema: string, options: { webhooks?: boolean } = {}): Outbox {
  return {
    async tryLead(): Promise<OutboxLease | null> {
      const lock = await tryAdvisoryLock(pool, `order-mail:outbox:${schema}`);
      if (!lock) return null;
      return {
        async next(limit) {
          const { rows } = await pool.query<OutboxRow>('SELECT * FROM mail_events_outbox ORDER BY id LIMIT $1', [
            limit,
          ]);
          return rows.map(toEntry);
        },
        async remove(entries, events) {
          const ids = entries.map((e) => e.id);
          if (!options.webhooks) {
            await pool.query('DELETE FROM mail_events_outbox WHERE id = ANY($1::bigint[])', [ids]);
            return;
          }
          await pool.query(REMOVE_RELAYED_INTO_WEBHOOKS, [ids, JSON.stringify(events)]);
        },
        holds: () => !lock.lost(),
        release: () => lock.release(),
      };
    },
    async stats(): Promise<OutboxStats> {
      const { rows } = await pool.query<{ pending: string; oldest: number | null }>(
        `SELECT count(*) AS pending, EXTRACT(EPOCH FROM now() - min(occurred_at))::float8 AS oldest
         FROM mail_events_outbox`,
      );
      return { pending: Number(rows[0].pending), oldestAgeSeconds: Math.max(0, rows[0].oldest ?? 0) };
    },
  };
}
