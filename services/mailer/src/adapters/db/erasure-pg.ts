import type { Pool } from 'pg';
import { asDatabaseError, inTransaction } from './database';
import { CLEAR_ATTEMPT_PII, CLEAR_DELIVERY_PII } from './pii-retention-pg';
import type { ErasureResult, RecipientErasure } from '../../domain/erasure';

/**
 * Erases one recipient's personal data in one transaction:
 * - `deliveries` found by `recipient_hash`: recipient, hash, subject, SMTP reply and last error
 *   go (the order id, status and Message-ID stay, so the order is still never sent twice), and
 *   their attempts' reply and error texts;
 * - `suppressions`: the address and SMTP reply go, a manual entry's reason becomes `erased`; the
 *   hash stays, so the address stays suppressed;
 * - `mail_events_outbox` (events not yet published): recipient and SMTP reply go;
 * - `webhook_deliveries` (sent, waiting or failed): the event's recipient becomes null, its SMTP
 *   reply goes; a webhook still to be sent goes out without them;
 * - `dead_letters` of the erased deliveries' orders: purged (`purged_by` = `erasedBy`), body,
 *   properties, headers and texts emptied, since the event they hold names the person.
 * Rows whose personal data the retention job already removed are not found (nothing is left).
 */
export function createPgErasure(pool: Pool): RecipientErasure {
  return {
    erase: (key, erasedBy) =>
      eraseRecipient(pool, key, erasedBy).catch((err: unknown) => Promise.reject(asDatabaseError(err))),
  };
}

async function eraseRecipient(pool: Pool, key: string, erasedBy: string): Promise<ErasureResult> {
  return inTransaction(pool, async (client) => {
    const deliveries = await client.query<{ id: string; order_id: string }>(
      `UPDATE deliveries SET ${CLEAR_DELIVERY_PII}, updated_at = now()
       WHERE recipient_hash = address_hash($1)
       RETURNING id, order_id`,
      [key],
    );
    const ids = deliveries.rows.map((r) => r.id);
    const orders = deliveries.rows.map((r) => r.order_id);
    await client.query(`UPDATE delivery_attempts SET ${CLEAR_ATTEMPT_PII} WHERE delivery_id = ANY($1::bigint[])`, [
      ids,
    ]);
    const suppressions = await client.query(
      `UPDATE suppressions SET address = NULL, smtp_response = NULL,
         reason = CASE WHEN origin = 'manual' THEN 'erased' ELSE reason END
       WHERE address_hash = address_hash($1)`,
      [key],
    );
    // By order too: the outbox holds the address as the order gave it, not as the key spells it.
    const outbox = await client.query(
      `UPDATE mail_events_outbox SET recipient = NULL, smtp_response = NULL
       WHERE (recipient = $1 OR order_id = ANY($2::text[])) AND recipient IS NOT NULL`,
      [key, orders],
    );
    const webhooks = await client.query(
      // updated_at stays: it is when a failed delivery failed (POST /webhook-deliveries/redeliver's failedSince).
      `UPDATE webhook_deliveries SET event = (event - 'smtpResponse') || '{"recipient": null}'::jsonb
       WHERE (event->>'recipient' = $1 OR order_id = ANY($2::text[])) AND event->>'recipient' IS NOT NULL`,
      [key, orders],
    );
    const deadLetters = await client.query(
      `UPDATE dead_letters SET state = 'purged', purged_at = now(), purged_by = $2, body = ''::bytea,
         properties = '{}'::jsonb, headers = '{}'::jsonb, error = NULL, smtp_response = NULL
       WHERE order_id = ANY($1::text[]) AND body <> ''::bytea`,
      [orders, erasedBy],
    );
    return {
      deliveries: deliveries.rowCount ?? 0,
      suppressions: suppressions.rowCount ?? 0,
      outboxEvents: outbox.rowCount ?? 0,
      webhookDeliveries: webhooks.rowCount ?? 0,
      deadLetters: deadLetters.rowCount ?? 0,
    };
  });
}
