import type { Pool } from 'pg';
import type { MailEvent } from '@order-mail/shared/contract';
import { asDatabaseError } from './database';
import type {
  WebhookAttemptView,
  WebhookDeliveryView,
  WebhookFailureReason,
  WebhookLog,
  WebhookLogQuery,
  WebhookOutcome,
  WebhookState,
} from '../../domain/webhooks';

/** A `webhook_deliveries` row as pg returns it (the bigserial id as a string, timestamps as Dates). */
interface DeliveryRow {
  id: string;
  event_id: string;
  type: MailEvent['type'];
  order_id: string;
  state: WebhookState;
  attempts: number;
  next_attempt_at: Date;
  failure_reason: WebhookFailureReason | null;
  created_at: Date;
  delivered_at: Date | null;
}

/** A `webhook_attempts` row as pg returns it. */
interface AttemptRow {
  delivery_id: string;
  attempt: number;
  attempted_at: Date;
  url: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  response_excerpt: string | null;
  outcome: WebhookOutcome;
}

/** The delivery columns a view shows (not `event`: the admin API shows the delivery, not the payload). */
const DELIVERY_COLUMNS =
  'id, event_id, type, order_id, state, attempts, next_attempt_at, failure_reason, created_at, delivered_at';

/** What a redelivery sets: pending, due now, its attempt count back at 0; the attempt log is not touched. */
const REDELIVER_SET = `state = 'pending', attempts = 0, next_attempt_at = now(), failure_reason = NULL,
  delivered_at = NULL, updated_at = now()`;

function toAttemptView(row: AttemptRow): WebhookAttemptView {
  return {
    attempt: row.attempt,
    attemptedAt: row.attempted_at.toISOString(),
    url: row.url,
    statusCode: row.status_code,
    error: row.error,
    durationMs: row.duration_ms,
    responseExcerpt: row.response_excerpt,
    outcome: row.outcome,
  };
}

function toDeliveryView(row: DeliveryRow, log: WebhookAttemptView[]): WebhookDeliveryView {
  return {
    eventId: row.event_id,
    type: row.type,
    orderId: row.order_id,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.state === 'pending' ? row.next_attempt_at.toISOString() : null,
    failureReason: row.failure_reason,
    createdAt: row.created_at.toISOString(),
    deliveredAt: row.delivered_at?.toISOString() ?? null,
    log,
    cursor: row.id,
  };
}

/** `rows` as views, each with its attempts: one query for all of them, oldest attempt first. */
async function withLogs(pool: Pool, rows: DeliveryRow[]): Promise<WebhookDeliveryView[]> {
  if (rows.length === 0) return [];
  const attempts = await pool.query<AttemptRow>(
    `SELECT delivery_id, attempt, attempted_at, url, status_code, error, duration_ms, response_excerpt, outcome
     FROM webhook_attempts WHERE delivery_id = ANY($1::bigint[])
     ORDER BY attempted_at, id`,
    [rows.map((row) => row.id)],
  );
  const logs = new Map<string, WebhookAttemptView[]>(rows.map((row) => [row.id, []]));
  for (const attempt of attempts.rows) logs.get(attempt.delivery_id)?.push(toAttemptView(attempt));
  return rows.map((row) => toDeliveryView(row, logs.get(row.id) ?? []));
}

async function list(pool: Pool, query: WebhookLogQuery): ReturnType<WebhookLog['list']> {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (query.state !== undefined) {
    params.push(query.state);
    conditions.push(`state = $${params.length}`);
  }
  if (query.orderId !== undefined) {
    params.push(query.orderId);
    conditions.push(`order_id = $${params.length}`);
  }
  if (query.before !== undefined) {
    params.push(query.before);
    conditions.push(`id < $${params.length}::bigint`);
  }
  const limit = Math.max(0, query.limit);
  // One more than the page: whether there is a next page, without counting.
  params.push(limit + 1);
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const { rows } = await pool.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries ${where} ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  const page = rows.slice(0, limit);
  const more = rows.length > page.length && page.length > 0;
  return { items: await withLogs(pool, page), nextCursor: more ? page[page.length - 1].id : null };
}

async function get(pool: Pool, eventId: string): Promise<WebhookDeliveryView | null> {
  const { rows } = await pool.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE event_id = $1::uuid`,
    [eventId],
  );
  if (rows.length === 0) return null;
  const [view] = await withLogs(pool, rows);
  return view;
}

async function redeliver(pool: Pool, selection: Parameters<WebhookLog['redeliver']>[0]): Promise<number> {
  const { rowCount } =
    'eventIds' in selection
      ? await pool.query(`UPDATE webhook_deliveries SET ${REDELIVER_SET} WHERE event_id = ANY($1::uuid[])`, [
          [...selection.eventIds],
        ])
      : await pool.query(`UPDATE webhook_deliveries SET ${REDELIVER_SET} WHERE state = 'failed' AND updated_at >= $1`, [
          selection.failedSince,
        ]);
  return rowCount ?? 0;
}

/** Passes a query's error on as `asDatabaseError` makes it: a database that is away answers 503. */
const mapped = <T>(work: Promise<T>): Promise<T> => work.catch((err: unknown) => Promise.reject(asDatabaseError(err)));

/**
 * The webhook delivery log in PostgreSQL for the admin API: tables `webhook_deliveries` and
 * `webhook_attempts` of migration 005, through `pool`, whose connections work in the mailer's
 * schema. Each `WebhookDeliveryView` carries its attempt log, oldest first; the attempts of a page
 * (or of `get`'s one delivery) come in one query after the deliveries, so a delivery attempted in
 * between may show one attempt more in its log than in `attempts`. Timestamps are ISO 8601
 * strings in UTC; `nextAttemptAt` is null unless the delivery is `pending`.
 *
 * - `list`: keyset pages by row id, newest first; `cursor` is the row id (a bigint as a decimal
 *   string), `before` the previous page's `nextCursor` (exclusive; the caller checks it is a
 *   whole number within bigint); `state` and `orderId`, when given, must both match;
 *   `nextCursor` is null on the last page.
 * - `get`: by the event's `eventId`, null when there is none. `eventId` must be a UUID (the admin
 *   API refuses anything else first): PostgreSQL rejects another string with an error, a 500.
 * - `redeliver`: `{ eventIds }` (UUIDs) sets those deliveries, whatever their state, pending and
 *   due now with `attempts` 0, `failure_reason` and `delivered_at` cleared (their attempt rows
 *   stay); `{ failedSince }` does so to every `failed` one that failed at or after that instant.
 *   Resolves with how many rows changed (unknown event ids count for nothing).
 *
 * Every method rejects with AppError DATABASE_UNAVAILABLE when PostgreSQL is not usable
 * (`asDatabaseError`, a 503 for HTTP callers); other errors pass as they are.
 */
export function createPgWebhookLog(pool: Pool): WebhookLog {
  return {
    list: (query) => mapped(list(pool, query)),
    get: (eventId) => mapped(get(pool, eventId)),
    redeliver: (selection) => mapped(redeliver(pool, selection)),
  };
}
