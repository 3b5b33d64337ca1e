import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import { RateLimiterPostgres, RateLimiterQueue } from 'rate-limiter-flexible';
import type { Logger } from '@order-mail/shared/logger';
import { databaseRetryDelayMs } from '../../domain/database-problems';
import type { SendRateLimiter } from '../../domain/ports';

/** The library's table (migration 006), in the ledger's schema. */
export const SEND_RATE_TABLE = 'send_rate_limits';
/** Its one row: `mailer:smtp`, the sends of every mailer of the schema together. */
const KEY_PREFIX = 'mailer';
const KEY = 'smtp';
/** Windows the cap is counted in per second, at most (see `rateWindow`). */
const WINDOWS_PER_SECOND = 10;
/** How long a send waits for an unreachable PostgreSQL before `acquire` rejects, by default. */
const DEFAULT_PATIENCE_MS = 10_000;
/** Longest pause before asking an unreachable PostgreSQL again (`databaseRetryDelayMs`: 250 ms, doubling to this). */
const LAST_RETRY_MS = 2000;

/** The fixed window the cap is counted in: at most `points` sends per `durationMs` (whole milliseconds). */
export interface RateWindow {
  points: number;
  durationMs: number;
}

/**
 * The window a cap of `ratePerSecond` sends is counted in: about a tenth of a second, with
 * `points / durationMs` never above the cap (`durationMs` is rounded up). Why not the whole cap
 * per second: in fixed windows, a second's sends may all go at the end of one window and the next
 * second's at the start of the next, twice the cap within one second; in windows of a tenth,
 * any second holds at most the cap and one window's share (`10/s`: one send per 100 ms, never
 * more than 11 in a second).
 */
export function rateWindow(ratePerSecond: number): RateWindow {
  if (!Number.isInteger(ratePerSecond) || ratePerSecond < 1) {
    throw new RangeError(`send rate: must be a whole number ≥ 1, got ${ratePerSecond}`);
  }
  const points = Math.ceil(ratePerSecond / WINDOWS_PER_SECOND);
  return { points, durationMs: Math.ceil((1000 * points) / ratePerSecond) };
}

export interface PgSendRateLimiterOptions {
  /** SMTP_MAX_RATE: sends per second, all mailers of the schema together. */
  ratePerSecond: number;
  /** DATABASE_SCHEMA, where migration 006 created the table. */
  schema: string;
  logger: Logger;
  /** How long a send waits for an unreachable PostgreSQL before `acquire` rejects (default 10 s). */
  patienceMs?: number;
}

/**
 * The shared cap on sends (SMTP_MAX_RATE) as rate-limiter-flexible keeps it in PostgreSQL
 * (`RateLimiterPostgres` over the ledger's pool and table `send_rate_limits`, one row for all
 * mailers), with its `RateLimiterQueue` in front: the sends of this process wait in arrival order,
 * and only the first of them asks PostgreSQL again when the window ends (`msBeforeNext`), not each.
 *
 * When PostgreSQL cannot be reached, a send never goes out uncounted: `acquire` asks again with
 * backoff and, after `patienceMs`, rejects (the worker's internal-error path: the message waits
 * its place in the retry schedule, nothing claimed). The ledger needs PostgreSQL to claim the
 * order anyway, so nothing could be sent meanwhile either way; and going over the cap costs the
 * throttling (or the account's standing) the cap is there to avoid.
 */
export function createPgSendRateLimiter(pool: Pool, options: PgSendRateLimiterOptions): SendRateLimiter {
  const { points, durationMs } = rateWindow(options.ratePerSecond);
  const store = new RateLimiterPostgres({
    storeClient: pool,
    storeType: 'pool',
    schemaName: options.schema,
    tableName: SEND_RATE_TABLE,
    // Migration 006 creates the table; the library would otherwise run CREATE TABLE itself.
    tableCreated: true,
    // One row, reused by every window: nothing to sweep (the library would set a 5-minute timer).
    clearExpiredByTimeout: false,
    keyPrefix: KEY_PREFIX,
    points,
    duration: durationMs / 1000,
  });
  const queue = new RateLimiterQueue(store);
  const patienceMs = options.patienceMs ?? DEFAULT_PATIENCE_MS;
  let unreachable = false;
  return {
    async acquire() {
      const giveUpAt = Date.now() + patienceMs;
      for (let attempt = 0; ; attempt++) {
        const retryMs = databaseRetryDelayMs(attempt, LAST_RETRY_MS);
        try {
          await queue.removeTokens(1, KEY);
          if (unreachable) options.logger.info('shared send rate (SMTP_MAX_RATE) readable again; sending');
          unreachable = false;
          return;
        } catch (err) {
          if (!unreachable) {
            options.logger.warn(
              { err, patienceMs },
              'shared send rate (SMTP_MAX_RATE) cannot be read from PostgreSQL; sends wait (never above the cap)',
            );
          }
          unreachable = true;
          if (Date.now() + retryMs > giveUpAt) {
            throw new Error(
              `SMTP_MAX_RATE: the shared send count cannot be read from PostgreSQL (${(err as Error).message}); not sending uncounted`,
              { cause: err },
            );
          }
          await sleep(retryMs);
        }
      }
    },
  };
}
