import type { Pool, PoolClient } from 'pg';
import { asDatabaseError } from './database';
import {
  decideClaim,
  DELIVERY_STATUSES,
  type ClaimRequest,
  type ClaimResult,
  type DeliveryAttempt,
  type DeliveryLedger,
  type DeliveryRecord,
  type DeliveryStatus,
} from '../../domain/delivery-ledger';

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

async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export interface DeliveryQuery {
  orderId?: string;
  status?: DeliveryStatus;
  limit: number;
}

export interface PgDeliveryLedger extends DeliveryLedger {
  find(eventKind: string, orderId: string): Promise<{ delivery: DeliveryRecord; attempts: DeliveryAttempt[] } | null>;
  list(query: DeliveryQuery): Promise<DeliveryRecord[]>;
}

/** The ledger in PostgreSQL; every decision is taken under a row lock, so two workers never both send. */
export function createPgDeliveryLedger(pool: Pool): PgDeliveryLedger {
  return {
    claim(request: ClaimRequest): Promise<ClaimResult> {
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

        const resend = decision.kind === 'resend-unknown';
        if (resend) {
          // The attempt whose worker never reported back: its outcome is unknown, not pending.
          await client.query(
            `UPDATE delivery_attempts SET outcome = 'unknown_outcome', finished_at = now()
             WHERE delivery_id = $1 AND outcome IS NULL`,
            [current.id],
          );
        }
        const updated = await client.query<DeliveryRow>(
          `UPDATE deliveries SET status = 'sending', attempts = attempts + 1, event_id = $2, correlation_id = $3,
             worker_id = $4, sending_started_at = now(), updated_at = now(),
             unknown_outcome_resends = unknown_outcome_resends + $5,
             message_id = CASE WHEN $5 = 1 THEN COALESCE(message_id, $6) ELSE $6 END
           WHERE id = $1 RETURNING *`,
          [current.id, request.eventId, request.correlationId, request.workerId, resend ? 1 : 0, request.messageId],
        );
        const record = { ...toRecord(updated.rows[0]), lastErrorClass: current.lastErrorClass };
        await client.query(
          `INSERT INTO delivery_attempts (delivery_id, attempt, event_id, worker_id) VALUES ($1, $2, $3, $4)`,
          [record.id, record.attempts, request.eventId, request.workerId],
        );
        return { decision, record, attempt: record.attempts };
      });
    },

    async recordSent(deliveryId, attempt, receipt) {
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
    },

    async recordFailure(deliveryId, attempt, failure) {
      return inTransaction(pool, async (client) => {
        // Only the attempt that still holds the claim may change the delivery's status; a stale
        // one (another worker resent after the grace period) records its attempt and nothing more.
        const updated = await client.query(
          `UPDATE deliveries SET status = $3, updated_at = now(), last_error = $4, last_error_class = $5,
             smtp_code = $6, smtp_response = $7
           WHERE id = $1 AND status = 'sending' AND attempts = $2`,
          [
            deliveryId,
            attempt,
            failure.status,
            failure.error,
            failure.outcome,
            failure.smtpCode ?? null,
            failure.smtpResponse ?? null,
          ],
        );
        await client.query(
          `UPDATE delivery_attempts SET outcome = $3, finished_at = now(), error = $4, smtp_code = $5, smtp_response = $6
           WHERE delivery_id = $1 AND attempt = $2`,
          [deliveryId, attempt, failure.outcome, failure.error, failure.smtpCode ?? null, failure.smtpResponse ?? null],
        );
        return { claimLost: updated.rowCount === 0 };
      });
    },

    async markDead(deliveryId, error) {
      await inTransaction(pool, async (client) => {
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
    },

    find(eventKind, orderId) {
      return findDelivery(eventKind, orderId).catch((err: unknown) => Promise.reject(asDatabaseError(err)));
    },

    list(query) {
      return listDeliveries(query).catch((err: unknown) => Promise.reject(asDatabaseError(err)));
    },
  };

  async function findDelivery(eventKind: string, orderId: string) {
    const { rows } = await pool.query<DeliveryRow>('SELECT * FROM deliveries WHERE event_kind = $1 AND order_id = $2', [
      eventKind,
      orderId,
    ]);
    if (rows.length === 0) return null;
    const delivery = toRecord(rows[0]);
    const attempts = await pool.query<{
      attempt: number;
      event_id: string;
      worker_id: string;
      started_at: Date;
      finished_at: Date | null;
      outcome: DeliveryAttempt['outcome'];
      smtp_code: number | null;
      smtp_response: string | null;
      error: string | null;
    }>('SELECT * FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt', [delivery.id]);
    return {
      delivery,
      attempts: attempts.rows.map((a) => ({
        attempt: a.attempt,
        eventId: a.event_id,
        workerId: a.worker_id,
        startedAt: a.started_at,
        finishedAt: a.finished_at,
        outcome: a.outcome,
        smtpCode: a.smtp_code,
        smtpResponse: a.smtp_response,
        error: a.error,
      })),
    };
  }

  async function listDeliveries(query: DeliveryQuery) {
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (query.orderId) {
      params.push(query.orderId);
      conditions.push(`order_id = $${params.length}`);
    }
    if (query.status) {
      if (!DELIVERY_STATUSES.includes(query.status)) throw new Error(`unknown status ${query.status}`);
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
}
