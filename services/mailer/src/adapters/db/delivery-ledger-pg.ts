import type { Pool, PoolClient } from 'pg';
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
import type { MailEventType } from '@order-mail/shared/contract';
import { classifyDatabaseError } from '../../domain/database-problems';
import { recipientKeyOf, type RecipientRejection } from '../../domain/suppression';
import { isOneOf } from '../../domain/vocabulary';

export interface DeliveryQuery {
  orderId?: string;
  status?: DeliveryStatus;
  /**
   * Only deliveries to this recipient, by `suppressionKeyOf(address).key` (domain in lower-case
   * ASCII, local part as given): matched on the row's `recipient_hash`, which the retention job keeps.
   */
  recipientKey?: string;
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
    // The delivery event (if the new status has one) goes to the outbox in the same statement.
    const updated = await client.query(
      `WITH updated AS (
         UPDATE deliveries SET status = $3, updated_at = now(), last_error = $4, last_error_class = $5,
           smtp_code = $6, smtp_response = $7
         WHERE id = $1 AND status = 'sending' AND attempts = $2
         RETURNING *
       ), events AS (
         INSERT INTO mail_events_outbox (type, order_id, order_event_id, message_id, recipient, status, attempt,
           smtp_code, smtp_response, reason)
         SELECT $8, order_id, event_id::text, message_id, recipient, status, $2, $6, $7, $9
         FROM updated WHERE $8::text IS NOT NULL
       )
       SELECT id FROM updated`,
      [
        deliveryId,
        attempt,
        failure.status,
        failure.error,
        failure.outcome,
        smtpCode,
        smtpResponse,
        failure.quiet ? null : FAILURE_EVENT_TYPES[failure.status],
        failure.reason,
      ],
    );
    await client.query(
      `UPDATE delivery_attempts SET outcome = $3, finished_at = now(), error = $4, smtp_code = $5, smtp_response = $6
       WHERE delivery_id = $1 AND attempt = $2`,
      [deliveryId, attempt, failure.outcome, failure.error, smtpCode, smtpResponse],
    );
    if (failure.rejection) await suppressRejected(client, failure.rejection);
    return { claimLost: updated.rowCount === 0 };
  });
}

/**
 * Puts a recipient the SMTP server refused for good on the suppression list; an address already
 * there keeps its first entry (its reason, reply and order).
 */
async function suppressRejected(client: PoolClient, rejection: RecipientRejection): Promise<void> {
  const { key: addressKey, domain } = recipientKeyOf(rejection.address);
  const code = rejection.smtpCode === undefined ? '' : ` (${rejection.smtpCode})`;
  await client.query(
    `INSERT INTO suppressions (address_hash, address, domain, origin, reason, smtp_code, smtp_response, order_id, created_by)
     VALUES (address_hash($1), $2, $3, 'smtp_rejection', $4, $5, $6, $7, $8)
     ON CONFLICT (address_hash) DO NOTHING`,
    [
      addressKey,
      rejection.address,
      domain,
      `the SMTP server refused the recipient for good${code}`,
      rejection.smtpCode ?? null,
      rejection.smtpResponse ?? null,
      rejection.orderId,
      rejection.createdBy,
    ],
  );
}

/** The delivery event a failure's new status is reported as; `sending` (held: the outcome is unknown) has none. */
const FAILURE_EVENT_TYPES: Record<FailureRecord['status'], MailEventType | null> = {
  retrying: 'email.retrying',
  dead: 'email.dead_lettered',
  sending: null,
};

function markDead(pool: Pool, deliveryId: number, error: string): Promise<void> {
  return inTransaction(pool, async (client) => {
    await client.query(
      `WITH updated AS (
         UPDATE deliveries SET status = 'dead', updated_at = now(), last_error = $2, last_error_class = 'unknown_outcome'
         WHERE id = $1 AND status = 'sending'
         RETURNING *
       )
       INSERT INTO mail_events_outbox (type, order_id, order_event_id, message_id, recipient, status, attempt, reason)
       SELECT 'email.dead_lettered', order_id, event_id::text, message_id, recipient, 'dead', attempts, 'outcome_unknown'
       FROM updated`,
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
  if (query.recipientKey !== undefined) {
    params.push(query.recipientKey);
    conditions.push(`recipient_hash = address_hash($${params.length})`);
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

/** Callbacks of the ledger. */
export interface LedgerHooks {
  /** Called after a write that may have put delivery events in the outbox (the relay's `wake`). */
  onEventsWritten?: () => void;
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
 * Every change a delivery event reports (`sent`, `retrying`, `dead`, `suppressed`) writes the
 * event to the outbox (`mail_events_outbox`) in the same transaction; the relay publishes it.
 *
 * The worker's operations reject with pg's errors; `find` and `list` (the admin API's) reject
 * with `asDatabaseError`'s, so a database that is away answers 503.
 */
export function createPgDeliveryLedger(
  pool: Pool,
  batching: LedgerBatching = {},
  hooks: LedgerHooks = {},
): PgDeliveryLedger {
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
  // Tells the outbox relay after each write that may have added a delivery event.
  const written = <T>(result: T): T => {
    hooks.onEventsWritten?.();
    return result;
  };
  return {
    claim: (request) => claim(request).then(written),
    recordSent: (deliveryId, attempt, receipt) => recordSent({ deliveryId, attempt, receipt }).then(written),
    recordFailure: (deliveryId, attempt, failure) => recordFailure(pool, deliveryId, attempt, failure).then(written),
    markDead: (deliveryId, error) => markDead(pool, deliveryId, error).then(written),
    find: (eventKind, orderId) =>
      findDelivery(pool, eventKind, orderId).catch((err: unknown) => Promise.reject(asDatabaseError(err))),
    list: (query) => listDeliveries(pool, query).catch((err: unknown) => Promise.reject(asDatabaseError(err))),
  };
}
