import type { Pool, PoolClient } from 'pg';
import { inTransaction } from './database';
import { toRecord, type DeliveryRow } from './delivery-rows';
import {
  decideClaim,
  type ClaimDecision,
  type ClaimRequest,
  type ClaimResult,
  type DeliveryLedger,
  type DeliveryRecord,
} from '../../domain/delivery-ledger';

/** One `recordSent` call: the attempt `attempt` of delivery `deliveryId` was accepted by the SMTP server. */
export interface SentReceipt {
  deliveryId: number;
  attempt: number;
  receipt: Parameters<DeliveryLedger['recordSent']>[2];
}

const keyOf = (r: Pick<ClaimRequest, 'eventKind' | 'orderId'>): string => `${r.eventKind}\u0000${r.orderId}`;

/**
 * Claims the deliveries of several events in one transaction, with the same decisions, row locks
 * and writes as one claim at a time (`decideClaim` per row, under `FOR UPDATE`, with the
 * database's clock). Results are in the order of `requests`. The requests must name distinct
 * orders (the group commit's `keyOf` sees to it).
 *
 * Rows are created and locked in the order of their keys and ids, so two mailers claiming
 * overlapping batches wait for each other instead of deadlocking. Five round trips for the whole
 * batch: BEGIN, create missing rows, lock and read (with whether each recipient is suppressed),
 * start the attempts, COMMIT; one more when some recipients are suppressed (their rows end
 * `suppressed`). Rows record the recipient, subject, template and locale of the latest claim.
 * Rejects with pg's error; nothing is written then.
 */
export function claimBatch(pool: Pool, requests: readonly ClaimRequest[]): Promise<ClaimResult[]> {
  return inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO deliveries (event_kind, order_id, event_id, correlation_id, recipient, recipient_hash,
         subject, template, locale)
       SELECT event_kind, order_id, event_id, correlation_id, recipient, address_hash(recipient_key),
         subject, template, locale
       FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
         $8::text[], $9::text[])
         AS v(event_kind, order_id, event_id, correlation_id, recipient, recipient_key, subject, template, locale)
       ORDER BY 1, 2
       ON CONFLICT (event_kind, order_id) DO NOTHING`,
      [
        requests.map((r) => r.eventKind),
        requests.map((r) => r.orderId),
        requests.map((r) => r.eventId),
        requests.map((r) => r.correlationId),
        requests.map((r) => r.recipient),
        requests.map((r) => r.recipientKey),
        requests.map((r) => r.subject),
        requests.map((r) => r.template),
        requests.map((r) => r.locale),
      ],
    );
    // Whether each request's recipient is suppressed is read in the same statement that locks
    // the rows; the list itself is not locked (an address suppressed a moment later is caught
    // by the next order).
    const { rows } = await client.query<DeliveryRow & { now: Date; suppressed: boolean }>(
      `SELECT d.*, now() AS now,
         EXISTS (SELECT 1 FROM suppressions s WHERE s.address_hash = address_hash(v.recipient_key)) AS suppressed
       FROM deliveries d
       JOIN unnest($1::text[], $2::text[], $3::text[]) AS v(event_kind, order_id, recipient_key)
         ON d.event_kind = v.event_kind AND d.order_id = v.order_id
       ORDER BY d.id FOR UPDATE OF d`,
      [requests.map((r) => r.eventKind), requests.map((r) => r.orderId), requests.map((r) => r.recipientKey)],
    );
    const byKey = new Map(rows.map((row) => [keyOf({ eventKind: row.event_kind, orderId: row.order_id }), row]));
    const decided = requests.map((request) => {
      const row = byKey.get(keyOf(request));
      if (!row) throw new Error(`claim: no ledger row for order ${request.orderId} after creating it`);
      const current = toRecord(row);
      const suppressed = row.suppressed && !request.ignoreSuppression;
      // The database's clock, so that workers on different hosts agree on the grace period.
      const decision = decideClaim(current, row.now, request.graceMs, request.replayed, suppressed);
      return { request, current, decision };
    });
    const started = await startAttempts(
      client,
      decided.filter((d) => isSend(d.decision)),
    );
    const ended = await endSuppressed(
      client,
      decided.filter((d) => d.decision.kind === 'suppress'),
    );
    return decided.map(({ current, decision }): ClaimResult => {
      const record = started.get(current.id);
      if (!isSend(decision)) return { decision, record: ended.get(current.id) ?? current };
      if (!record) throw new Error(`claim: attempt for delivery ${current.id} was not started`);
      return { decision, record, attempt: record.attempts };
    });
  });
}

function isSend(decision: ClaimDecision): decision is { kind: 'send' } | { kind: 'resend-unknown' } {
  return decision.kind === 'send' || decision.kind === 'resend-unknown';
}

/**
 * Marks the locked rows `sending` for a new attempt and records the attempts, in one statement;
 * for a resend after an unknown outcome, the attempt whose worker never reported back is closed
 * as `unknown_outcome` first. Resolves with the updated records by delivery id.
 */
async function startAttempts(
  client: PoolClient,
  sends: readonly { request: ClaimRequest; current: DeliveryRecord; decision: ClaimDecision }[],
): Promise<Map<number, DeliveryRecord>> {
  if (sends.length === 0) return new Map();
  // last_error_class is left as it was: the worker reads it from the claim to tell whether this
  // unknown outcome was already counted. A resend keeps the first Message-ID.
  const { rows } = await client.query<DeliveryRow>(
    `WITH v AS (
       SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[],
         $8::text[], $9::text[], $10::text[], $11::text[])
         AS v(id, event_id, correlation_id, worker_id, resend, message_id, recipient, recipient_key, subject,
           template, locale)
     ), unknown AS (
       UPDATE delivery_attempts a SET outcome = 'unknown_outcome', finished_at = now()
       FROM v WHERE v.resend = 1 AND a.delivery_id = v.id AND a.outcome IS NULL
     ), updated AS (
       UPDATE deliveries d SET status = 'sending', attempts = d.attempts + 1, event_id = v.event_id,
         correlation_id = v.correlation_id, worker_id = v.worker_id, sending_started_at = now(),
         updated_at = now(), unknown_outcome_resends = d.unknown_outcome_resends + v.resend,
         message_id = CASE WHEN v.resend = 1 THEN COALESCE(d.message_id, v.message_id) ELSE v.message_id END,
         recipient = v.recipient, recipient_hash = address_hash(v.recipient_key), subject = v.subject,
         template = v.template, locale = v.locale
       FROM v WHERE d.id = v.id
       RETURNING d.*
     ), attempts AS (
       INSERT INTO delivery_attempts (delivery_id, attempt, event_id, worker_id)
       SELECT id, attempts, event_id, worker_id FROM updated
     )
     SELECT * FROM updated`,
    [
      sends.map((s) => s.current.id),
      sends.map((s) => s.request.eventId),
      sends.map((s) => s.request.correlationId),
      sends.map((s) => s.request.workerId),
      sends.map((s) => (s.decision.kind === 'resend-unknown' ? 1 : 0)),
      sends.map((s) => s.request.messageId),
      ...recipientColumns(sends.map((s) => s.request)),
    ],
  );
  return new Map(rows.map((row) => [Number(row.id), toRecord(row)]));
}

/** The recipient's columns of each request, as arrays for `unnest`: address, key, subject, template, locale. */
function recipientColumns(requests: readonly ClaimRequest[]): string[][] {
  return [
    requests.map((r) => r.recipient),
    requests.map((r) => r.recipientKey),
    requests.map((r) => r.subject),
    requests.map((r) => r.template),
    requests.map((r) => r.locale),
  ];
}

/**
 * Ends the locked rows whose recipient is suppressed as `suppressed` (final; nothing is sent),
 * recording who it was for, with an `email.suppressed` event in the outbox; an attempt left open
 * by a worker that died mid-send is closed as `unknown_outcome`. One statement; resolves with the updated records by delivery id.
 */
async function endSuppressed(
  client: PoolClient,
  suppressed: readonly { request: ClaimRequest; current: DeliveryRecord }[],
): Promise<Map<number, DeliveryRecord>> {
  if (suppressed.length === 0) return new Map();
  const { rows } = await client.query<DeliveryRow>(
    `WITH v AS (
       SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
         $8::text[]) AS v(id, event_id, correlation_id, recipient, recipient_key, subject, template, locale)
     ), unknown AS (
       UPDATE delivery_attempts a SET outcome = 'unknown_outcome', finished_at = now()
       FROM v WHERE a.delivery_id = v.id AND a.outcome IS NULL
     ), updated AS (
       UPDATE deliveries d SET status = 'suppressed', updated_at = now(), event_id = v.event_id,
         correlation_id = v.correlation_id, recipient = v.recipient, recipient_hash = address_hash(v.recipient_key),
         subject = v.subject, template = v.template, locale = v.locale,
         last_error = 'the recipient is on the suppression list', last_error_class = NULL
       FROM v WHERE d.id = v.id
       RETURNING d.*
     ), events AS (
       INSERT INTO mail_events_outbox (type, order_id, order_event_id, message_id, recipient, status, attempt, reason)
       SELECT 'email.suppressed', order_id, event_id::text, message_id, recipient, 'suppressed', attempts, 'suppressed'
       FROM updated ORDER BY id
     )
     SELECT * FROM updated`,
    [
      suppressed.map((s) => s.current.id),
      suppressed.map((s) => s.request.eventId),
      suppressed.map((s) => s.request.correlationId),
      ...recipientColumns(suppressed.map((s) => s.request)),
    ],
  );
  return new Map(rows.map((row) => [Number(row.id), toRecord(row)]));
}

/**
 * Records several accepted sends in one statement (one round trip, committed on its own): each
 * delivery becomes `sent` (from any state but `sent`: the email went out, whoever holds the claim
 * now), each attempt `sent`, and each newly sent delivery gets its `email.sent` event in the
 * outbox (`mail_events_outbox`), in the same statement. Resolves with `alreadySent` per receipt, in order: true when
 * another attempt had recorded `sent` first (a duplicate went out). The receipts must name
 * distinct deliveries. Rejects with pg's error; nothing is written then.
 */
export async function recordSentBatch(
  pool: Pool,
  receipts: readonly SentReceipt[],
): Promise<{ alreadySent: boolean }[]> {
  const { rows } = await pool.query<{ id: string }>(
    `WITH v AS (
       SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::int[])
         AS v(id, attempt, smtp_response, message_id, smtp_code)
     ), updated AS (
       UPDATE deliveries d SET status = 'sent', sent_at = now(), updated_at = now(),
         smtp_response = v.smtp_response, message_id = v.message_id, smtp_code = v.smtp_code,
         last_error = NULL, last_error_class = NULL
       FROM v WHERE d.id = v.id AND d.status <> 'sent'
       RETURNING d.*
     ), events AS (
       INSERT INTO mail_events_outbox (type, order_id, order_event_id, message_id, recipient, status, attempt,
         smtp_code, smtp_response)
       SELECT 'email.sent', u.order_id, u.event_id::text, u.message_id, u.recipient, 'sent', v.attempt, v.smtp_code,
         v.smtp_response
       FROM updated u JOIN v ON v.id = u.id
       ORDER BY u.id
     ), attempts AS (
       UPDATE delivery_attempts a SET outcome = 'sent', finished_at = now(),
         smtp_response = v.smtp_response, smtp_code = v.smtp_code
       FROM v WHERE a.delivery_id = v.id AND a.attempt = v.attempt
     )
     SELECT id FROM updated`,
    [
      receipts.map((r) => r.deliveryId),
      receipts.map((r) => r.attempt),
      receipts.map((r) => r.receipt.smtpResponse),
      receipts.map((r) => r.receipt.messageId),
      receipts.map((r) => r.receipt.smtpCode ?? null),
    ],
  );
  const updated = new Set(rows.map((row) => Number(row.id)));
  return receipts.map((r) => ({ alreadySent: !updated.has(r.deliveryId) }));
}

/** The group commit's key for a claim: one per order. */
export const claimKey = keyOf;

/** The group commit's key for a sent receipt: one per delivery row. */
export const sentKey = (r: SentReceipt): string => String(r.deliveryId);
