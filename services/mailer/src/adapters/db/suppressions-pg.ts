import type { Pool } from 'pg';
import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import { asDatabaseError } from './database';
import {
  suppressionDomainOf,
  suppressionKeyOf,
  type Suppression,
  type SuppressionList,
  type SuppressionOrigin,
  type SuppressionQuery,
} from '../../domain/suppression';

/** A `suppressions` row as pg returns it (the bigserial id as a string). */
interface SuppressionRow {
  id: string;
  address: string | null;
  domain: string;
  origin: SuppressionOrigin;
  reason: string;
  smtp_code: number | null;
  smtp_response: string | null;
  order_id: string | null;
  created_by: string;
  created_at: Date;
}

/** Every column but `address_hash`, which no caller sees. */
const COLUMNS = 'id, address, domain, origin, reason, smtp_code, smtp_response, order_id, created_by, created_at';

/** How many times `add` looks again when the entry it collided with was removed before it could read it. */
const ADD_ATTEMPTS = 3;

function toSuppression(row: SuppressionRow): Suppression {
  return {
    id: Number(row.id),
    address: row.address,
    domain: row.domain,
    origin: row.origin,
    reason: row.reason,
    smtpCode: row.smtp_code,
    smtpResponse: row.smtp_response,
    orderId: row.order_id,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

/**
 * The WHERE clause and parameters of a listing, or null when the filter cannot match anything (an
 * address or domain that does not parse is on no list).
 */
function listCondition(query: SuppressionQuery): { where: string; params: unknown[] } | null {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (query.address !== undefined) {
    const key = suppressionKeyOf(query.address);
    if (!key.ok) return null;
    params.push(key.key);
    conditions.push(`address_hash = address_hash($${params.length})`);
  }
  if (query.domain !== undefined) {
    const domain = suppressionDomainOf(query.domain);
    if (!domain.ok) return null;
    params.push(domain.domain);
    conditions.push(`domain = $${params.length}`);
  }
  if (query.after !== undefined) {
    params.push(query.after);
    conditions.push(`id > $${params.length}`);
  }
  return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

async function list(pool: Pool, query: SuppressionQuery): ReturnType<SuppressionList['list']> {
  const condition = listCondition(query);
  if (!condition) return { suppressions: [], nextCursor: null };
  const params = [...condition.params, query.limit + 1];
  // One more than the page: whether there is a next page, without counting.
  const { rows } = await pool.query<SuppressionRow>(
    `SELECT ${COLUMNS} FROM suppressions ${condition.where} ORDER BY id LIMIT $${params.length}`,
    params,
  );
  const suppressions = rows.slice(0, Math.max(0, query.limit)).map(toSuppression);
  const more = rows.length > suppressions.length && suppressions.length > 0;
  return { suppressions, nextCursor: more ? suppressions[suppressions.length - 1].id : null };
}

async function add(pool: Pool, entry: Parameters<SuppressionList['add']>[0]): ReturnType<SuppressionList['add']> {
  const key = suppressionKeyOf(entry.address);
  if (!key.ok) {
    throw new AppError(ErrorCodes.VALIDATION_FAILED, 'The request is not valid', {
      details: [{ path: 'address', message: key.message }],
    });
  }
  // The insert and the read of an existing entry are two statements: a concurrent remove can take
  // the entry away between them, and then the insert is simply tried again.
  for (let attempt = 1; attempt <= ADD_ATTEMPTS; attempt++) {
    const inserted = await pool.query<SuppressionRow>(
      `INSERT INTO suppressions (address_hash, address, domain, origin, reason, created_by)
       VALUES (address_hash($1), $1, $2, 'manual', $3, $4)
       ON CONFLICT (address_hash) DO NOTHING
       RETURNING ${COLUMNS}`,
      [key.key, key.domain, entry.reason, entry.createdBy],
    );
    if (inserted.rows.length > 0) return { suppression: toSuppression(inserted.rows[0]), created: true };
    const existing = await pool.query<SuppressionRow>(
      `SELECT ${COLUMNS} FROM suppressions WHERE address_hash = address_hash($1)`,
      [key.key],
    );
    if (existing.rows.length > 0) return { suppression: toSuppression(existing.rows[0]), created: false };
  }
  throw new Error(`suppression of ${key.domain} address neither inserted nor found after ${ADD_ATTEMPTS} attempts`);
}

async function remove(pool: Pool, address: string): Promise<boolean> {
  const key = suppressionKeyOf(address);
  if (!key.ok) return false;
  const { rowCount } = await pool.query('DELETE FROM suppressions WHERE address_hash = address_hash($1)', [key.key]);
  return (rowCount ?? 0) > 0;
}

async function suppressedAmong(pool: Pool, addresses: readonly string[]): Promise<Set<string>> {
  // The addresses of each key: two spellings of one address (`Ada@EXAMPLE.com`, `Ada@example.com`) share it.
  const byKey = new Map<string, string[]>();
  for (const address of addresses) {
    const key = suppressionKeyOf(address);
    if (key.ok) byKey.set(key.key, [...(byKey.get(key.key) ?? []), address]);
  }
  if (byKey.size === 0) return new Set();
  const { rows } = await pool.query<{ key: string }>(
    `SELECT k.key FROM unnest($1::text[]) AS k(key)
     WHERE EXISTS (SELECT 1 FROM suppressions s WHERE s.address_hash = address_hash(k.key))`,
    [[...byKey.keys()]],
  );
  return new Set(rows.flatMap((row) => byKey.get(row.key) ?? []));
}

/** Passes a query's error on as `asDatabaseError` makes it: a database that is away answers 503. */
const mapped = <T>(work: Promise<T>): Promise<T> => work.catch((err: unknown) => Promise.reject(asDatabaseError(err)));

/**
 * The suppression list in PostgreSQL: table `suppressions` and function `address_hash` of
 * migration 003, through `pool`, whose connections work in the mailer's schema. Entries are found
 * by `address_hash(key)`, `key` being `suppressionKeyOf`'s (domain in lower-case ASCII, local part
 * as given), so the comparison rule is the one place it is written down.
 *
 * - `list`: keyset pages by `id`, oldest first; `after` is the previous page's `nextCursor`. An
 *   `address` or `domain` filter that does not parse matches nothing (the admin API refuses it first).
 * - `add`: `origin` `manual`, `address` stored as its key; one already on the list keeps its entry
 *   (an SMTP rejection's reason and reply included). Rejects with AppError VALIDATION_FAILED
 *   (`details[0].path` `address`) when the address does not parse.
 * - `remove`: false when the address was not on the list (or does not parse).
 * - `suppressedAmong`: one query for all addresses; one that does not parse is not suppressed.
 *
 * Every method rejects with AppError DATABASE_UNAVAILABLE when PostgreSQL is not usable
 * (`asDatabaseError`, a 503 for HTTP callers); other errors pass as they are.
 */
export function createPgSuppressionList(pool: Pool): SuppressionList {
  return {
    list: (query) => mapped(list(pool, query)),
    add: (entry) => mapped(add(pool, entry)),
    remove: (address) => mapped(remove(pool, address)),
    suppressedAmong: (addresses) => mapped(suppressedAmong(pool, addresses)),
  };
}
