import { Pool } from 'pg';
import pino from 'pino';
import { capturingLogger, type LogLine } from '@test/helpers/logs';
import { DATABASE_URL, dropSchema, query } from '@test/helpers/database';
import { uniqueStackNames } from '@test/helpers/stack';
import { migrate } from '../../src/adapters/db/database';
import { createPgSendRateLimiter, rateWindow, SEND_RATE_TABLE } from '../../src/adapters/db/send-rate-limiter-pg';

/** The most of `times` (ms, ascending) that fall within any `windowMs` starting at one of them. */
function maxInWindow(times: number[], windowMs: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (j < times.length && times[j] < times[i] + windowMs) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

describe('rateWindow', () => {
  it.each([
    [1, { points: 1, durationMs: 1000 }],
    [3, { points: 1, durationMs: 334 }],
    [10, { points: 1, durationMs: 100 }],
    [14, { points: 2, durationMs: 143 }],
    [50, { points: 5, durationMs: 100 }],
    [9999, { points: 1000, durationMs: 101 }],
    [10_000, { points: 1000, durationMs: 100 }],
  ])('when the cap is %i per second, then it is counted as %j', (rate, expected) => {
    expect(rateWindow(rate)).toEqual(expected);
  });

  it.each([1, 2, 3, 7, 10, 14, 33, 99, 101, 1234, 9999, 10_000])(
    'when the cap is %i per second, then a window never lets more through than the cap, nor less than 99 %% of it',
    (rate) => {
      // Act
      const { points, durationMs } = rateWindow(rate);
      const perSecond = (points * 1000) / durationMs;

      // Assert
      expect(perSecond).toBeLessThanOrEqual(rate);
      expect(perSecond).toBeGreaterThanOrEqual(rate * 0.99 - 0.01);
      expect(durationMs).toBeLessThanOrEqual(1000);
    },
  );

  it.each([0, -1, 2.5, Number.NaN])('when the cap is %p, then it is refused', (rate) => {
    expect(() => rateWindow(rate)).toThrow(RangeError);
  });
});

describe('shared send rate on PostgreSQL (rate-limiter-flexible)', () => {
  const { schema } = uniqueStackNames();
  const silent = pino({ level: 'silent' });
  const pools: Pool[] = [];

  /** A pool as a mailer's (search_path on the schema): one per mailer. */
  function mailerPool(): Pool {
    const pool = new Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
    pools.push(pool);
    return pool;
  }

  beforeAll(async () => {
    await migrate(mailerPool(), schema, silent);
  });

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await dropSchema(schema);
  });

  it('when migrated, then the table is there in the shape the library writes (key, points, expire)', async () => {
    const columns = await query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
      [schema, SEND_RATE_TABLE],
    );

    expect(columns).toEqual([
      { column_name: 'key', data_type: 'character varying' },
      { column_name: 'points', data_type: 'integer' },
      { column_name: 'expire', data_type: 'bigint' },
    ]);
  });

  it('when three mailers take tokens as fast as they can, then together they stay within the cap', async () => {
    // Arrange: three limiters on pools of their own, as three mailers; a cap of 40 per second
    const RATE = 40;
    const PER_MAILER = 30;
    const limiters = [1, 2, 3].map(() =>
      createPgSendRateLimiter(mailerPool(), { ratePerSecond: RATE, schema, logger: silent }),
    );

    // Act
    const started = Date.now();
    const times = (
      await Promise.all(
        limiters.map((limiter) =>
          Promise.all(
            Array.from({ length: PER_MAILER }, async () => {
              await limiter.acquire();
              return Date.now();
            }),
          ),
        ),
      )
    )
      .flat()
      .sort((a, b) => a - b);

    // Assert: 90 tokens at 40/s need at least ~2.2 s (the first window's 4 at once); no second above 40 + 4
    const seconds = (times[times.length - 1] - started) / 1000;
    expect(times).toHaveLength(3 * PER_MAILER);
    expect(seconds).toBeGreaterThanOrEqual((3 * PER_MAILER - rateWindow(RATE).points) / RATE - 0.05);
    expect(maxInWindow(times, 1000)).toBeLessThanOrEqual(RATE + rateWindow(RATE).points);
    const [row] = await query<{ key: string }>(`SELECT key FROM "${schema}".${SEND_RATE_TABLE}`);
    expect(row).toEqual({ key: 'mailer:smtp' });
  });

  it('when PostgreSQL cannot be reached, then acquire waits a while, logs once and rejects naming SMTP_MAX_RATE', async () => {
    // Arrange: a pool whose every query fails as pg's does with the server away. Not a real pool to
    // a closed port: jest runs tests in a vm context whose `Error` is not Node core's, and the
    // library's queue tells a store error from a refusal by `instanceof Error`, so a core
    // ECONNREFUSED would pass for a refusal here (only under jest: a process has one `Error`).
    const logs: LogLine[] = [];
    let queries = 0;
    const unreachable = {
      query: async () => {
        queries += 1;
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      },
    } as unknown as Pool;
    const limiter = createPgSendRateLimiter(unreachable, {
      ratePerSecond: 10,
      schema,
      logger: capturingLogger(logs),
      patienceMs: 600,
    });

    // Act
    const started = Date.now();
    const result = limiter.acquire();

    // Assert
    await expect(result).rejects.toThrow(/^SMTP_MAX_RATE: the shared send count cannot be read from PostgreSQL/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    // Asked again with backoff (250 ms, 500 ms …) within the patience, not in a hot loop.
    expect(queries).toBeGreaterThanOrEqual(2);
    expect(queries).toBeLessThanOrEqual(4);
    expect(logs.filter((line) => line.level === 40)).toEqual([
      expect.objectContaining({ msg: expect.stringContaining('sends wait (never above the cap)'), patienceMs: 600 }),
    ]);
  });
});
