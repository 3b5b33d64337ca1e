import type { Pool } from 'pg';

/**
 * The SET list that takes a ledger row's personal data away (retention and erasure alike): the
 * recipient, its hash, the subject, and the SMTP reply and last error, which often quote the address.
 */
export const CLEAR_DELIVERY_PII =
  'recipient = NULL, recipient_hash = NULL, subject = NULL, smtp_response = NULL, last_error = NULL';

/** The same for an attempt: its SMTP reply and error text. */
export const CLEAR_ATTEMPT_PII = 'smtp_response = NULL, error = NULL';

/** Rows changed in one statement, so that no lock is held long while old rows are cleaned. */
const CHUNK = 1000;

/**
 * Removes the personal data of ledger rows last changed more than `retentionDays` days ago (by
 * the database's clock): `deliveries.recipient`, `recipient_hash`, `subject`, `smtp_response` and
 * `last_error` (SMTP replies often quote the address), and `delivery_attempts.smtp_response` and
 * `error` of attempts started before then. The order id, event ids, statuses, counts, Message-ID
 * and times stay, so a redelivered event of an old order is still skipped. Only rows that still
 * hold any of these are touched; works in chunks of 1,000 rows, each its own statement.
 * Resolves with the number of deliveries cleaned; rejects with pg's error.
 */
export async function removeExpiredPersonalData(pool: Pool, retentionDays: number): Promise<number> {
  let cleaned = 0;
  for (;;) {
    const { rowCount } = await pool.query(
      `UPDATE deliveries SET ${CLEAR_DELIVERY_PII}
       WHERE id IN (
         SELECT id FROM deliveries
         WHERE updated_at < now() - make_interval(days => $1)
           AND (recipient IS NOT NULL OR recipient_hash IS NOT NULL OR subject IS NOT NULL
             OR smtp_response IS NOT NULL OR last_error IS NOT NULL)
         LIMIT $2
       )`,
      [retentionDays, CHUNK],
    );
    cleaned += rowCount ?? 0;
    if ((rowCount ?? 0) < CHUNK) break;
  }
  for (;;) {
    const { rowCount } = await pool.query(
      `UPDATE delivery_attempts SET ${CLEAR_ATTEMPT_PII}
       WHERE (delivery_id, attempt) IN (
         SELECT delivery_id, attempt FROM delivery_attempts
         WHERE started_at < now() - make_interval(days => $1) AND (smtp_response IS NOT NULL OR error IS NOT NULL)
         LIMIT $2
       )`,
      [retentionDays, CHUNK],
    );
    if ((rowCount ?? 0) < CHUNK) break;
  }
  return cleaned;
}
