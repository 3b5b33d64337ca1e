import type { Pool } from 'pg';
import {
  encodeCursor,
  listingScope,
  type DeadLetterDetail,
  type DeadLetterFilter,
  type DeadLetterPage,
  type DeadLetterRecords,
  type DeadLetterState,
  type DeadLetterSummary,
  type ListOrder,
} from '../../domain/dead-letters';
import type { NewDeadLetter } from '../broker/dead-letter-messages';
import { asDatabaseError } from './database';
import { deadLetterFilterSql } from './dead-letter-filter-sql';

/** The dead-letter table as the recorder also uses it: `DeadLetterRecords` and the batch insert. */
export interface PgDeadLetterRecords extends DeadLetterRecords {
  /**
   * Inserts `letters` in one statement (one transaction): all of them or none. A letter whose
   * fingerprint is recorded already (a redelivery after a crash between commit and ack, or twice
   * in `letters`) is left out. Resolves with how many rows were inserted; rejects with AppError
   * DATABASE_UNAVAILABLE when PostgreSQL is not usable.
   */
  record(letters: NewDeadLetter[]): Promise<number>;
}

/** The summary columns of a `dead_letters` row, as pg returns them. */
export interface SummaryRow {
  id: string;
  message_id: string | null;
  event_id: string | null;
  order_id: string | null;
  correlation_id: string | null;
  reason: string;
  error: string | null;
  smtp_code: number | null;
  smtp_response: string | null;
  attempts: number;
  first_failure_at: string | null;
  last_failure_at: string | null;
  worker_id: string | null;
  dead_lettered_at: Date;
  recorded_at: Date;
  state: DeadLetterState;
  replay_job_id: string | null;
  replayed_at: Date | null;
  purged_at: Date | null;
  purged_by: string | null;
}

interface DetailRow extends SummaryRow {
  body: Buffer;
  properties: Record<string, unknown>;
  headers: Record<string, unknown>;
}

/** The columns `SummaryRow` holds, for a SELECT list. */
export const SUMMARY_COLUMNS = `id, message_id, event_id, order_id, correlation_id, reason, error, smtp_code, smtp_response,
  attempts, first_failure_at, last_failure_at, worker_id, dead_lettered_at, recorded_at, state, replay_job_id,
  replayed_at, purged_at, purged_by`;

/** Ids are bigserials: anything else cannot name a record (and would make PostgreSQL reject the query). */
const MAX_ID = 2n ** 63n - 1n;
const isRecordId = (id: string) => /^[1-9][0-9]{0,18}$/.test(id) && BigInt(id) <= MAX_ID;

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

/** A `dead_letters` row as the admin API lists it (times as ISO 8601, the id as a decimal string). */
export function toSummary(row: SummaryRow): DeadLetterSummary {
  return {
    id: String(row.id),
    messageId: row.message_id,
    eventId: row.event_id,
    orderId: row.order_id,
    correlationId: row.correlation_id,
    reason: row.reason,
    error: row.error,
    smtpCode: row.smtp_code,
    smtpResponse: row.smtp_response,
    attempts: row.attempts,
    firstFailureAt: row.first_failure_at,
    lastFailureAt: row.last_failure_at,
    workerId: row.worker_id,
    deadLetteredAt: row.dead_lettered_at.toISOString(),
    recordedAt: row.recorded_at.toISOString(),
    state: row.state,
    replayJobId: row.replay_job_id,
    replayedAt: iso(row.replayed_at),
    purgedAt: iso(row.purged_at),
    purgedBy: row.purged_by,
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as UTF-8 text when it is valid UTF-8, else base64. */
function bodyOf(body: Buffer): DeadLetterDetail['body'] {
  try {
    return { encoding: 'utf8', data: utf8.decode(body) };
  } catch {
    return { encoding: 'base64', data: body.toString('base64') };
  }
}

/** The columns `record` fills, in the order of its unnest arrays, with each array's type. */
const INSERT_COLUMNS: readonly [string, string, (l: NewDeadLetter) => unknown][] = [
  ['fingerprint', 'text', (l) => l.fingerprint],
  ['message_id', 'text', (l) => l.messageId],
  ['event_id', 'text', (l) => l.eventId],
  ['order_id', 'text', (l) => l.orderId],
  ['correlation_id', 'text', (l) => l.correlationId],
  ['reason', 'text', (l) => l.reason],
  ['error', 'text', (l) => l.error],
  ['smtp_code', 'integer', (l) => l.smtpCode],
  ['smtp_response', 'text', (l) => l.smtpResponse],
  ['attempts', 'integer', (l) => l.attempts],
  ['first_failure_at', 'text', (l) => l.firstFailureAt],
  ['last_failure_at', 'text', (l) => l.lastFailureAt],
  ['worker_id', 'text', (l) => l.workerId],
  ['body', 'bytea', (l) => l.body],
  // As JSON text: pg would turn a nested array inside an array parameter into a PostgreSQL array.
  ['properties', 'jsonb', (l) => JSON.stringify(l.properties)],
  ['headers', 'jsonb', (l) => JSON.stringify(l.headers)],
  ['dead_lettered_at', 'timestamptz', (l) => l.deadLetteredAt.toISOString()],
];

const INSERT_SQL = `INSERT INTO dead_letters (${INSERT_COLUMNS.map(([column]) => column).join(', ')})
  SELECT ${INSERT_COLUMNS.map(([column]) => column).join(', ')}
  FROM unnest(${INSERT_COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})
    WITH ORDINALITY AS r(${INSERT_COLUMNS.map(([column]) => column).join(', ')}, n)
  ORDER BY n
  ON CONFLICT (fingerprint) DO NOTHING`;

async function record(pool: Pool, letters: NewDeadLetter[]): Promise<number> {
  if (letters.length === 0) return 0;
  // One array per column: one statement for the whole batch, its ids in the batch's order.
  const params = INSERT_COLUMNS.map(([, , value]) => letters.map(value));
  return (await pool.query(INSERT_SQL, params)).rowCount ?? 0;
}

async function listPage(
  pool: Pool,
  filter: DeadLetterFilter,
  page: { order: ListOrder; afterId?: string; limit: number },
): Promise<DeadLetterPage> {
  const condition = deadLetterFilterSql(filter);
  const params = [...condition.params];
  let where = condition.where;
  const newest = page.order === 'newest';
  if (page.afterId !== undefined) {
    params.push(page.afterId);
    where += ` AND id ${newest ? '<' : '>'} $${params.length}`;
  }
  params.push(page.limit + 1);
  // One more than the page: whether there is a next page, without counting.
  const [rows, counts] = await Promise.all([
    pool.query<SummaryRow>(
      `SELECT ${SUMMARY_COLUMNS} FROM dead_letters WHERE ${where}
       ORDER BY id ${newest ? 'DESC' : 'ASC'} LIMIT $${params.length}`,
      params,
    ),
    countByReason(pool, condition.where, condition.params),
  ]);
  const deadLetters = rows.rows.slice(0, Math.max(0, page.limit)).map(toSummary);
  const more = rows.rows.length > deadLetters.length && deadLetters.length > 0;
  return {
    deadLetters,
    nextCursor: more ? encodeCursor(deadLetters[deadLetters.length - 1].id, listingScope(filter, page.order)) : null,
    counts,
  };
}

async function countByReason(pool: Pool, where: string, params: unknown[]): Promise<DeadLetterPage['counts']> {
  const { rows } = await pool.query<{ reason: string; count: string }>(
    `SELECT reason, count(*) AS count FROM dead_letters WHERE ${where} GROUP BY reason ORDER BY reason`,
    params,
  );
  const byReason = Object.fromEntries(rows.map((r) => [r.reason, Number(r.count)]));
  return { total: rows.reduce((sum, r) => sum + Number(r.count), 0), byReason };
}

async function find(pool: Pool, id: string): Promise<DeadLetterDetail | null> {
  if (!isRecordId(id)) return null;
  const { rows } = await pool.query<DetailRow>(
    `SELECT ${SUMMARY_COLUMNS}, body, properties, headers FROM dead_letters WHERE id = $1`,
    [id],
  );
  if (rows.length === 0) return null;
  const row = rows[0];
  return { ...toSummary(row), body: bodyOf(row.body), properties: row.properties, headers: row.headers };
}

const byNumericId = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

async function purge(
  pool: Pool,
  filter: DeadLetterFilter,
  options: { dryRun: boolean; limit: number; purgedBy: string },
): Promise<{ dryRun: boolean; purged: number; ids: string[] }> {
  // Purging is for dead letters waiting for an operator, whatever state the filter names.
  const condition = deadLetterFilterSql({ ...filter, state: 'dead' }, [options.limit]);
  const oldest = `SELECT id FROM dead_letters WHERE ${condition.where} ORDER BY id LIMIT $1`;
  const sql = options.dryRun
    ? oldest
    : // The outer check again: a replay may have taken one on between the subquery and the update.
      `UPDATE dead_letters SET state = 'purged', purged_at = now(), purged_by = $${condition.params.length + 1}
       WHERE id IN (${oldest}) AND state = 'dead' RETURNING id`;
  const params = options.dryRun ? condition.params : [...condition.params, options.purgedBy];
  const { rows } = await pool.query<{ id: string }>(sql, params);
  const ids = rows.map((r) => String(r.id)).sort(byNumericId);
  return { dryRun: options.dryRun, purged: ids.length, ids };
}

async function removeExpired(pool: Pool, retentionDays: number): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM dead_letters WHERE state IN ('replayed', 'purged')
       AND coalesce(replayed_at, purged_at) < now() - $1::double precision * interval '1 day'`,
    [retentionDays],
  );
  // Finished jobs go the same way once no record names them any more (the records outlive them otherwise).
  await pool.query(
    `DELETE FROM replay_jobs j WHERE j.state <> 'running'
       AND j.finished_at < now() - $1::double precision * interval '1 day'
       AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.replay_job_id = j.id)`,
    [retentionDays],
  );
  return rowCount ?? 0;
}

async function stats(pool: Pool): Promise<{ waitingByReason: Record<string, number>; oldestWaitingAt: Date | null }> {
  const { rows } = await pool.query<{ reason: string; count: string; oldest: Date }>(
    `SELECT reason, count(*) AS count, min(dead_lettered_at) AS oldest FROM dead_letters
     WHERE state = 'dead' GROUP BY reason`,
  );
  const oldest = rows.reduce<Date | null>((min, r) => (min === null || r.oldest < min ? r.oldest : min), null);
  return { waitingByReason: Object.fromEntries(rows.map((r) => [r.reason, Number(r.count)])), oldestWaitingAt: oldest };
}

/** Passes a query's error on as `asDatabaseError` makes it: a database that is away answers 503. */
const mapped = <T>(work: Promise<T>): Promise<T> => work.catch((err: unknown) => Promise.reject(asDatabaseError(err)));

/**
 * The `dead_letters` table (migration 002) through `pool`, whose connections work in the mailer's
 * schema. Ids are decimal strings, times ISO 8601. Every method rejects with AppError
 * DATABASE_UNAVAILABLE when PostgreSQL is not usable (`asDatabaseError`); other errors pass as they are.
 */
export function createPgDeadLetterRecords(pool: Pool): PgDeadLetterRecords {
  return {
    record: (letters) => mapped(record(pool, letters)),
    list: (filter, page) => mapped(listPage(pool, filter, page)),
    find: (id) => mapped(find(pool, id)),
    purge: (filter, options) => mapped(purge(pool, filter, options)),
    removeExpired: (retentionDays) => mapped(removeExpired(pool, retentionDays)),
    stats: () => mapped(stats(pool)),
  };
}
