import type { Pool } from 'pg';
import type { MailEvent } from '@order-mail/shared/contract';
import type { ClaimedWebhook, WebhookAttemptRecord, WebhookQueue, WebhookStats } from '../../domain/webhooks';

/**
 * The statement that removes relayed events from the outbox and, in the same statement, makes a
 * webhook delivery of each (`webhook_deliveries`, due now): `$1` the outbox ids (bigint[]),
 * `$2` the events as published (a JSON array of `MailEvent`). Only events the DELETE removed
 * become deliveries, and an event already delivered once (a batch relayed twice) is skipped by
 * its `event_id`, so each event gets one delivery however often the relay retries. Recipient and
 * SMTP reply are taken from the row as it is deleted, not from the relay's copy: an erasure made
 * while the batch was being published (`DELETE /recipients/:address`) holds for the webhook.
 */
export const REMOVE_RELAYED_INTO_WEBHOOKS = `
  WITH gone AS (
    DELETE FROM mail_events_outbox WHERE id = ANY($1::bigint[])
    RETURNING event_id, recipient, smtp_response)
  INSERT INTO webhook_deliveries (event_id, type, order_id, event)
  SELECT g.event_id, e->>'type', e->>'orderId',
         CASE WHEN g.smtp_response IS NULL THEN e - 'smtpResponse' ELSE e END
           || jsonb_build_object('recipient', g.recipient)
  FROM jsonb_array_elements($2::jsonb) AS e
  JOIN gone AS g ON g.event_id = (e->>'eventId')::uuid
  ON CONFLICT (event_id) DO NOTHING`;

/** The delivery's state after an attempt with this outcome. */
const STATE_AFTER = { delivered: 'delivered', retrying: 'pending', failed: 'failed' } as const;

/**
 * The webhook deliveries in PostgreSQL (tables `webhook_deliveries`, `webhook_attempts`), as the
 * dispatcher uses them (`WebhookQueue`). Every mailer claims from the same table: the claim locks
 * with SKIP LOCKED and pushes `next_attempt_at` a lease ahead, so two mailers never POST the same
 * delivery at once and one that dies mid-POST leaves it due again when the lease ends. Methods
 * reject with pg's errors.
 */
export function createPgWebhookQueue(pool: Pool): WebhookQueue {
  return {
    async claim(limit, leaseMs): Promise<ClaimedWebhook[]> {
      const { rows } = await pool.query<{ id: string; event: MailEvent; attempts: number }>(
        `UPDATE webhook_deliveries AS w
         SET attempts = w.attempts + 1, next_attempt_at = now() + make_interval(secs => $2::float8 / 1000),
             updated_at = now()
         WHERE w.id IN (
           SELECT id FROM webhook_deliveries
           WHERE state = 'pending' AND next_attempt_at <= now()
           ORDER BY next_attempt_at, id
           LIMIT $1
           FOR UPDATE SKIP LOCKED)
         RETURNING w.id, w.event, w.attempts`,
        [limit, leaseMs],
      );
      return rows.map((r) => ({ id: r.id, event: r.event, attempt: r.attempts }));
    },

    record: (attempt) => recordAttempt(pool, attempt),

    async stats(): Promise<WebhookStats> {
      // Two index-only reads (the partial indexes on pending and failed rows), never a scan of
      // the delivered ones, which are most of the table.
      const { rows } = await pool.query<{ pending: string; oldest: number | null; failed: string }>(
        `SELECT p.pending, p.oldest, f.failed FROM
           (SELECT count(*) AS pending, EXTRACT(EPOCH FROM now() - min(created_at))::float8 AS oldest
            FROM webhook_deliveries WHERE state = 'pending') AS p,
           (SELECT count(*) AS failed FROM webhook_deliveries WHERE state = 'failed') AS f`,
      );
      const [row] = rows;
      return {
        pending: Number(row.pending),
        oldestPendingAgeSeconds: Math.max(0, row.oldest ?? 0),
        failed: Number(row.failed),
      };
    },
  };
}

/** Logs one attempt and applies its decision (`WebhookQueue.record`). */
async function recordAttempt(pool: Pool, a: WebhookAttemptRecord): Promise<void> {
  const { decision } = a;
  const delayMs = decision.outcome === 'retrying' ? decision.delayMs : null;
  const reason = decision.outcome === 'failed' ? decision.reason : null;
  // The attempt is logged whatever happened meanwhile; the delivery changes only if it is
  // still this attempt's (a redelivery in between restarted it).
  await pool.query(
    `WITH applied AS (
       UPDATE webhook_deliveries
       SET state = $9,
           next_attempt_at = CASE WHEN $10::float8 IS NULL THEN next_attempt_at
                                  ELSE now() + make_interval(secs => $10::float8 / 1000) END,
           failure_reason = $11,
           delivered_at = CASE WHEN $9 = 'delivered' THEN now() END,
           updated_at = now()
       WHERE id = $1 AND attempts = $2 AND state = 'pending'
     )
     INSERT INTO webhook_attempts
       (delivery_id, attempt, url, status_code, error, duration_ms, response_excerpt, outcome)
     SELECT id, $2, $3, $4, $5, $6, $7, $8 FROM webhook_deliveries WHERE id = $1`,
    [
      a.deliveryId,
      a.attempt,
      a.url,
      a.statusCode,
      a.error,
      Math.round(a.durationMs),
      a.responseExcerpt,
      decision.outcome,
      STATE_AFTER[decision.outcome],
      delayMs,
      reason,
    ],
  );
}

/** Rows deleted per statement by `removeExpiredWebhookDeliveries`, so no statement locks many at once. */
const RETENTION_CHUNK = 1000;

/**
 * Deletes delivered and failed webhook deliveries (with their attempt log) last changed more
 * than `days` whole days ago, in chunks of 1,000; pending ones stay whatever their age. Resolves
 * with how many were deleted; rejects with pg's errors.
 */
export async function removeExpiredWebhookDeliveries(pool: Pool, days: number): Promise<number> {
  let removed = 0;
  for (;;) {
    const { rowCount } = await pool.query(
      `DELETE FROM webhook_deliveries WHERE id IN (
         SELECT id FROM webhook_deliveries
         WHERE state <> 'pending' AND updated_at < now() - make_interval(days => $1)
         LIMIT $2)`,
      [days, RETENTION_CHUNK],
    );
    removed += rowCount ?? 0;
    if ((rowCount ?? 0) < RETENTION_CHUNK) return removed;
  }
}
