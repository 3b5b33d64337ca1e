import { Pool } from 'pg';
import { ErrorCodes, isAppError } from '@order-mail/shared';
import { DATABASE_URL } from '../../../../test/helpers/database';
import { asDatabaseError } from '../../src/adapters/db/database';

async function errorOf(pool: Pool, sql: string): Promise<unknown> {
  try {
    await pool.query(sql);
  } catch (err) {
    return err;
  } finally {
    await pool.end();
  }
  throw new Error('expected the query to fail');
}

describe('database errors', () => {
  it('when PostgreSQL cannot be reached, then the error becomes DATABASE_UNAVAILABLE (a 503 for HTTP callers)', async () => {
    const err = await errorOf(new Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/test' }), 'SELECT 1');

    const mapped = asDatabaseError(err);

    expect(isAppError(mapped, ErrorCodes.DATABASE_UNAVAILABLE)).toBe(true);
  });

  it('when a query itself is wrong, then the error is left as it is (a bug, a 500)', async () => {
    const err = await errorOf(new Pool({ connectionString: DATABASE_URL }), 'SELEC 1');

    expect(asDatabaseError(err)).toBe(err);
  });
});
