import type { Pool, PoolClient } from 'pg';
import { asDatabaseError, inTransaction } from './database';
import {
  decideClaim,
  DELIVERY_STATUSES,
  type ClaimRequest,
  type ClaimResult,
  type DeliveryAttempt,
  type DeliveryLedger,
  type DeliveryRecord,
  type DeliveryStatus,
  type FailureRecord,
} from '../../domain/delivery-ledger';
import { isOneOf } from '../../domain/vocabulary';

interface DeliveryRow {
  id: string;
  event_kind: string;
  order_id: string;
  event_id: string;
  correlation_id: string;
  status: DeliveryStatus;
  attempts: number;
  last_error: string | null;
  last_error_class: string | null;
  smtp_code: number | null;
  smtp_response: string | null;
  message_id: string | null;
  worker_id: string | null;
  unknown_outcome_resends: number;
  created_at: Date;
  updated_at: Date;
  sending_started_at: Date | null;
  sent_at: Date | null;
}

function toRecord(row: DeliveryRow): DeliveryRecord {
  return {
    id: Number(row.id),
    eventKind: row.event_kind,
    orderId: row.order_id,
    eventId: row.event_id,
    correlationId: row.correlation_id,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    lastErrorClass: row.last_error_class,
    smtpCode: row.smtp_code,
    smtpResponse: row.smtp_response,
    messageId: row.message_id,
    workerId: row.worker_id,
    unknownOutcomeResends: row.unknown_outcome_resends,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    sendingStartedAt: row.sending_started_at,
    sentAt: row.sent_at,
  };
}

export interface DeliveryQuery {
  orderId?: string;
  status?: DeliveryStatus;
  /** At most this many rows, the most recently updated first. */
  limit: number;
}

export interface PgDeliveryLedger extends DeliveryLedger {
  /** The order's delivery and every attempt at it, oldest first; null if the ledger has none. */
  find(eventKind: string, orderId: string): Promise<{ delivery: DeliveryRecord; attempts: DeliveryAttempt[] } | null>;
  list(query: DeliveryQuery): Promise<DeliveryRecord[]>;
}

/** Marks the locked row `sending` for a new attempt and records the attempt; the caller decided to send. */
async function startAttempt(
  client: PoolClient,
  current: DeliveryRecord,
  request: ClaimRequest,
  resend: boolean,
): Promise<DeliveryRecord> {
  if (resend) {
    // The attempt whose worker never reported back: its outcome is unknown, not pending.
    await client.query(
      `UPDATE delivery_attempts SET outcome = 'unknown_outcome', finished_at = now()
       WHERE delivery_id = $1 AND outcome IS NULL`,
      [current.id],
    );
  }
  // last_error_class is left as it was: the worker reads it from the claim to tell whether this
  // unknown outcome was already counted.
  const updated = await client.query<DeliveryRow>(
    `UPDATE deliveries SET status = 'sending', attempts = attempts + 1, event_id = $2, correlation_id = $3,
       worker_id = $4, sending_started_at = now(), updated_at = now(),
       unknown_outcome_resends = unknown_outcome_resends + $5,
       message_id = CASE WHEN $5 = 1 THEN COALESCE(message_id, $6) ELSE $6 END
     WHERE id = $1 RETURNING *`,
    [current.id, request.eventId, request.correlationId, request.workerId, resend ? 1 : 0, request.messageId],
  );
  const record = toRecord(updated.rows[0]);
  await client.query(
    `INSERT INTO delivery_attempts (delivery_id, attempt, event_id, worker_id) VALUES ($1, $2, $3, $4)`,
    [record.id, record.attempts, request.eventId, request.workerId],
  );
  return record;
}

function claim(pool: Pool, request: ClaimRequest): Promise<ClaimResult> {
  return inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO deliveries (event_kind, order_id, event_id, correlation_id)
       VALUES ($1, $2, $3, $4) ON CONFLICT (event_kind, order_id) DO NOTHING`,
      [request.eventKind, request.orderId, request.eventId, request.correlationId],
    );
    const { rows } = await client.query<DeliveryRow & { now: Date }>(
      `SELECT *, now() AS now FROM deliveries WHERE event_kind = $1 AND order_id = $2 FOR UPDATE`,
      [request.eventKind, request.orderId],
    );
    const current = toRecord(rows[0]);
    // The database's clock, so that workers on different hosts agree on the grace period.
    const decision = decideClaim(current, rows[0].now, request.graceMs, request.replayed);
    if (decision.kind !== 'send' && decision.kind !== 'resend-unknown') return { decision, record: current };
    const record = await startAttempt(client, current, request, decision.kind === 'resend-unknown');
    return { decision, record, attempt: record.attempts };
  });
}

function recordSent(
  pool: Pool,
  deliveryId: number,
  attempt: number,
  receipt: Parameters<DeliveryLedger['recordSent']>[2],
): Promise<{ alreadySent: boolean }> {
  const code = receipt.smtpCode ?? null;
  return inTransaction(pool, async (client) => {
    // The email went out, whoever holds the claim now: `sent` is recorded from any state, and
    // nothing moves a row away from it.
    const updated = await client.query(
      `UPDATE deliveries SET status = 'sent', sent_at = now(), updated_at = now(), smtp_response = $2,
         message_id = $3, smtp_code = $4, last_error = NULL, last_error_class = NULL
       WHERE id = $1 AND status <> 'sent'`,
      [deliveryId, receipt.smtpResponse, receipt.messageId, code],
    );
    await client.query(
      `UPDATE delivery_attempts SET outcome = 'sent', finished_at = now(), smtp_response = $3, smtp_code = $4
       WHERE delivery_id = $1 AND attempt = $2`,
      [deliveryId, attempt, receipt.smtpResponse, code],
    );
    return { alreadySent: updated.rowCount === 0 };
  });
}

function recordFailure(
  pool: Pool,
  deliveryId: number,
  attempt: number,
  failure: FailureRecord,
): Promise<{ claimLost: boolean }> {
  const smtpCode = failure.smtpCode ?? null;
  const smtpResponse = failure.smtpResponse ?? null;
  return inTransaction(pool, async (client) => {
    // Only the attempt that still holds the claim may change the delivery's status; a stale
    // one (another worker resent after the grace period) records its attempt and nothing more.
    const updated = await client.query(
      `UPDATE deliveries SET status = $3, updated_at = now(), last_error = $4, last_error_class = $5,
         smtp_code = $6, smtp_response = $7
       WHERE id = $1 AND status = 'sending' AND attempts = $2`,
      [deliveryId, attempt, failure.status, failure.error, failure.outcome, smtpCode, smtpResponse],
    );
    await client.query(
      `UPDATE delivery_attempts SET outcome = $3, finished_at = now(), error = $4, smtp_code = $5, smtp_response = $6
       WHERE delivery_id = $1 AND attempt = $2`,
      [deliveryId, attempt, failure.outcome, failure.error, smtpCode, smtpResponse],
    );
    return { claimLost: updated.rowCount === 0 };
  });
}

function markDead(pool: Pool, deliveryId: number, error: string): Promise<void> {
  return inTransaction(pool, async (client) => {
    await client.query(
      `UPDATE deliveries SET status = 'dead', updated_at = now(), last_error = $2, last_error_class = 'unknown_outcome'
       WHERE id = $1 AND status = 'sending'`,
      [deliveryId, error],
    );
    await client.query(
      `UPDATE delivery_attempts SET outcome = 'unknown_outcome', finished_at = now()
       WHERE delivery_id = $1 AND outcome IS NULL`,
      [deliveryId],
    );
  });
}

interface AttemptRow {
  attempt: number;
  event_id: string;
  worker_id: string;
  started_at: Date;
  finished_at: Date | null;
  outcome: DeliveryAttempt['outcome'];
  smtp_code: number | null;
  smtp_response: string | null;
  error: string | null;
}

function toAttempt(row: AttemptRow): DeliveryAttempt {
  return {
    attempt: row.attempt,
    eventId: row.event_id,
    workerId: row.worker_id,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    outcome: row.outcome,
    smtpCode: row.smtp_code,
    smtpResponse: row.smtp_response,
    error: row.error,
  };
}

async function findDelivery(pool: Pool, eventKind: string, orderId: string) {
  const { rows } = await pool.query<DeliveryRow>('SELECT * FROM deliveries WHERE event_kind = $1 AND order_id = $2', [
    eventKind,
    orderId,
  ]);
  if (rows.length === 0) return null;
  const delivery = toRecord(rows[0]);
  const attempts = await pool.query<AttemptRow>(
    'SELECT * FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt',
    [delivery.id],
  );
  return { delivery, attempts: attempts.rows.map(toAttempt) };
}

async function listDeliveries(pool: Pool, query: DeliveryQuery) {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (query.orderId) {
    params.push(query.orderId);
    conditions.push(`order_id = $${params.length}`);
  }
  if (query.status) {
    // The admin API validates it too; a caller that slipped past the type gets an error, not an empty list.
    if (!isOneOf(DELIVERY_STATUSES, query.status)) throw new Error(`unknown status ${query.status}`);
    params.push(query.status);
    conditions.push(`status = $${params.length}`);
  }
  params.push(query.limit);
  const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
  const { rows } = await pool.query<DeliveryRow>(
    `SELECT * FROM deliveries ${where} ORDER BY updated_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map(toRecord);
}

/**
 * The ledger in PostgreSQL, in the tables of `migrations/` (reached through the pool's
 * `search_path`); every decision is taken under a row lock, so two workers never both send.
 * The worker's operations reject with pg's errors; `find` and `list` (the admin API's) reject
 * with `asDatabaseError`'s, so a database that is away answers 503.
 */
export function createPgDeliveryLedger(pool: Pool): PgDeliveryLedger {
  return {
    claim: (request) => claim(pool, request),
    recordSent: (deliveryId, attempt, receipt) => recordSent(pool, deliveryId, attempt, receipt),
    recordFailure: (deliveryId, attempt, failure) => recordFailure(pool, deliveryId, attempt, failure),
    markDead: (deliveryId, error) => markDead(pool, deliveryId, error),
    find: (eventKind, orderId) =>
      findDelivery(pool, eventKind, orderId).catch((err: unknown) => Promise.reject(asDatabaseError(err))),
    list: (query) => listDeliveries(pool, query).catch((err: unknown) => Promise.reject(asDatabaseError(err))),
  };
}
