import { Pool } from 'pg';
import { ErrorCodes, isAppError } from '@order-mail/shared/contract';
import { DATABASE_URL } from '@test/helpers/database';
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

  it.each([
    ['the database does not exist', 'postgres://postgres@127.0.0.1:5432/no_such_db_om', 'the database does not exist'],
    [
      'the role does not exist',
      'postgres://no_such_role_om@127.0.0.1:5432/test',
      'the server refused the user or password',
    ],
  ])(
    'when %s, then the error becomes DATABASE_UNAVAILABLE naming the problem (a 503, not a 500)',
    async (_case, url, problem) => {
      const err = await errorOf(new Pool({ connectionString: url }), 'SELECT 1');

      const mapped = asDatabaseError(err);

      expect(isAppError(mapped, ErrorCodes.DATABASE_UNAVAILABLE)).toBe(true);
      expect((mapped as Error).message).toBe(`The ledger database is not usable: ${problem}`);
    },
  );

  it('when a query itself is wrong, then the error is left as it is (a bug, a 500)', async () => {
    const err = await errorOf(new Pool({ connectionString: DATABASE_URL }), 'SELEC 1');

    expect(asDatabaseError(err)).toBe(err);
  });
});
