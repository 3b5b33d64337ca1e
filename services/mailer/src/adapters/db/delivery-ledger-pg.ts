import type { Pool } from 'pg';
import { asDatabaseError, inTransaction } from './database';
import { claimBatch, claimKey, recordSentBatch, sentKey, type SentReceipt } from './delivery-batches-pg';
import { toRecord, type DeliveryRow } from './delivery-rows';
import { createGroupCommit } from './group-commit';
import {
  DELIVERY_STATUSES,
  type ClaimRequest,
  type ClaimResult,
  type DeliveryAttempt,
  type DeliveryLedger,
  type DeliveryRecord,
  type DeliveryStatus,
  type FailureRecord,
} from '../../domain/delivery-ledger';
import { classifyDatabaseError } from '../../domain/database-problems';
import { isOneOf } from '../../domain/vocabulary';

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

/** How the ledger batches the worker's claims and sent records (group commit). */
export interface LedgerBatching {
  /** Most claims (or sent records) in one transaction; default 100. */
  maxBatch?: number;
  /** Most batches of each kind under way at once; default 2. */
  maxConcurrent?: number;
}

/**
 * The ledger in PostgreSQL, in the tables of `migrations/` (reached through the pool's
 * `search_path`); every decision is taken under a row lock, so two workers never both send.
 *
 * `claim` and `recordSent` are group-committed (`createGroupCommit`): concurrent calls share one
 * transaction, and each resolves only after its batch committed, so a `sent` is durable before
 * the caller acks, exactly as with one transaction per call. A batch that fails on an error the
 * server answered (a deadlock, one bad row) is retried call by call, so each caller gets its own
 * outcome; when the server is unreachable, every call of the batch rejects with that error.
 *
 * The worker's operations reject with pg's errors; `find` and `list` (the admin API's) reject
 * with `asDatabaseError`'s, so a database that is away answers 503.
 */
export function createPgDeliveryLedger(pool: Pool, batching: LedgerBatching = {}): PgDeliveryLedger {
  const shape = {
    maxBatch: batching.maxBatch ?? 100,
    maxConcurrent: batching.maxConcurrent ?? 2,
    // Retrying one by one only helps when the server answered; unreachable fails every call alike.
    isolateAfter: (err: unknown) => classifyDatabaseError(err).action === 'exit',
  };
  const claim = createGroupCommit<ClaimRequest, ClaimResult>({
    ...shape,
    keyOf: claimKey,
    flush: (requests) => claimBatch(pool, requests),
  });
  const recordSent = createGroupCommit<SentReceipt, { alreadySent: boolean }>({
    ...shape,
    keyOf: sentKey,
    flush: (receipts) => recordSentBatch(pool, receipts),
  });
  return {
    claim,
    recordSent: (deliveryId, attempt, receipt) => recordSent({ deliveryId, attempt, receipt }),
    recordFailure: (deliveryId, attempt, failure) => recordFailure(pool, deliveryId, attempt, failure),
    markDead: (deliveryId, error) => markDead(pool, deliveryId, error),
    find: (eventKind, orderId) =>
      findDelivery(pool, eventKind, orderId).catch((err: unknown) => Promise.reject(asDatabaseError(err))),
    list: (query) => listDeliveries(pool, query).catch((err: unknown) => Promise.reject(asDatabaseError(err))),
  };
}
