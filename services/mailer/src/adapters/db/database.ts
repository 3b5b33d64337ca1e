import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, type PoolClient } from 'pg';
import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import { describeErrorCause, maskUrlPassword } from '@order-mail/shared/diagnostics';
import type { Logger } from '@order-mail/shared/logger';
import {
  classifyDatabaseError,
  databaseRetryDelayMs,
  shouldLogProblem,
  type LoggedProblem,
} from '../../domain/database-problems';

const MIGRATIONS_DIR = path.resolve(__dirname, '../../../migrations');

export interface Database {
  pool: Pool;
  isReady(): boolean;
  /** Runs a trivial query and updates readiness from its result. */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** A connection pool whose every connection works in `schema` (created by the migrations). */
export function createDatabase(options: {
  url: string;
  schema: string;
  logger: Logger;
  maxConnections?: number;
}): Database {
  const pool = new Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: 5000,
    // A primary that vanishes in a failover without resetting its connections would leave pooled
    // ones hanging until TCP gives up (minutes): keepalive probes find them dead within a minute.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    options: `-c search_path=${options.schema}`,
  });
  let ready = false;
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', (err) => {
    ready = false;
    options.logger.warn({ err }, 'database connection error');
  });
  pool.on('connect', () => {
    ready = true;
  });
  return {
    pool,
    isReady: () => ready,
    async check() {
      try {
        await pool.query('SELECT 1');
        ready = true;
      } catch (err) {
        if (ready) options.logger.warn({ err }, 'database not reachable');
        ready = false;
      }
    },
    close: () => pool.end(),
  };
}

/**
 * Applies `NNN_name.sql` files in order, each once, in its own transaction, under an advisory
 * lock so that workers starting together do not race. The applied versions are kept in
 * `schema_migrations`.
 */
export async function migrate(pool: Pool, schema: string, logger: Logger, dir: string = MIGRATIONS_DIR): Promise<void> {
  const files = (await readdir(dir)).filter((f) => /^\d+_[\w-]+\.sql$/.test(f)).sort();
  const client = await pool.connect();
  // A client whose connection failed under it must not go back to the pool.
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`order-mail:migrations:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const applied = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
    );
    for (const file of files) {
      const version = Number(file.split('_')[0]);
      if (applied.has(version)) continue;
      const sql = await readFile(path.join(dir, file), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [version, file]);
        await client.query('COMMIT');
        logger.info({ migration: file, schema }, 'migration applied');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`Migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
    }
  } catch (err) {
    broken = err as Error;
    throw err;
  } finally {
    await client
      .query('SELECT pg_advisory_unlock(hashtext($1))', [`order-mail:migrations:${schema}`])
      .catch(() => undefined);
    client.release(broken);
  }
}

export interface MigrateWhenReachableOptions {
  pool: Pool;
  schema: string;
  /** DATABASE_URL as configured; logged with its password masked. */
  url: string;
  logger: Logger;
  /** Aborting stops the waiting; the promise then resolves with `false`. */
  signal: AbortSignal;
  /** Longest wait between attempts, ms (default 5000). */
  maxDelayMs?: number;
  /** A problem that persists is logged again after this long, ms (default 60000). */
  reminderMs?: number;
  /** Called after each failed attempt that will be retried. */
  onRetry?: () => void;
  /** Where the migrations are (default MIGRATIONS_DIR). */
  dir?: string;
}

/**
 * Applies the migrations as soon as the database lets us: a database that is down, late, missing
 * or refusing our credentials is retried with backoff (250 ms doubling to 5 s), forever, until it
 * works or `signal` aborts; see `classifyDatabaseError` for which errors are retried. Each
 * problem is logged as one line naming DATABASE_URL (password masked), again only when it changes
 * or every `reminderMs`.
 *
 * Resolves `true` once migrated, `false` if aborted first. Rejects with an AppError whose message
 * is one line naming the setting when retrying cannot help (an invalid URL, a migration whose SQL
 * fails): the mailer cannot go on then.
 */
export async function migrateWhenReachable(options: MigrateWhenReachableOptions): Promise<boolean> {
  const { logger, signal } = options;
  const where = `DATABASE_URL ${maskUrlPassword(options.url)}`;
  let attempt = 0;
  let lastLogged: LoggedProblem | null = null;
  while (!signal.aborted) {
    try {
      await migrate(options.pool, options.schema, logger, options.dir);
      if (attempt > 0) logger.info({ attempts: attempt + 1 }, `ledger database reachable at ${where}`);
      return true;
    } catch (err) {
      if (signal.aborted) return false;
      const verdict = classifyDatabaseError(err);
      const cause = describeErrorCause(err) || describeErrorCause((err as { cause?: unknown }).cause);
      const detail = `${verdict.description}${cause ? ` (${cause})` : ''}`;
      if (verdict.action === 'exit') {
        const message =
          verdict.problem === 'other'
            ? `${where}, schema ${options.schema}: ${(err as Error).message}`
            : `${where}: ${detail}`;
        throw new AppError(ErrorCodes.CONFIG_INVALID, message, { cause: err });
      }
      options.onRetry?.();
      const now = Date.now();
      if (shouldLogProblem(lastLogged, verdict.problem, now, options.reminderMs)) {
        lastLogged = { problem: verdict.problem, at: now };
        const fields = { setting: 'DATABASE_URL', problem: verdict.problem, cause: cause || undefined, attempt };
        const text = `ledger database not usable at ${where}: ${detail}; retrying, consuming nothing until it is`;
        if (verdict.userMustFix) logger.error(fields, text);
        else logger.warn(fields, text);
      }
      // An abort ends the wait early; the loop's condition then returns false.
      await sleep(databaseRetryDelayMs(attempt, options.maxDelayMs), undefined, { signal }).catch(() => undefined);
      attempt += 1;
    }
  }
  return false;
}

/**
 * A ledger query's error as HTTP callers should see it: every problem that start-up would wait out
 * (`classifyDatabaseError` says `retry`: the server unreachable, busy or starting, the database
 * missing, the credentials refused, …) becomes DATABASE_UNAVAILABLE, which HTTP answers as a 503
 * naming the problem, e.g. "The ledger database is not usable: the database does not exist";
 * anything else (a bug in a query) stays as it is, a 500.
 */
export function asDatabaseError(err: unknown): unknown {
  const verdict = classifyDatabaseError(err);
  return verdict.action === 'retry'
    ? new AppError(ErrorCodes.DATABASE_UNAVAILABLE, `The ledger database is not usable: ${verdict.description}`, {
        cause: err,
      })
    : err;
}

/**
 * Runs `work` in a transaction on a client of `pool`: COMMIT when it resolves, ROLLBACK when it
 * rejects (then rethrows its error); the client goes back to the pool either way.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
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
