import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '@test/helpers/broker';
import { dropSchema, query } from '@test/helpers/database';
import { createDatabase, migrateWhenReachable } from '../../src/adapters/db/database';
import { capturingLogger, type LogLine } from '@test/helpers/logs';
import { closedPort } from '@test/helpers/ports';

const PASSWORD = 's3cret-never-logged';
const suffix = () => randomBytes(4).toString('hex');

/** Runs migrateWhenReachable against `url` with fast retries; `stop()` aborts it. */
function startMigrating(url: string, options: { dir?: string } = {}) {
  const schema = `test_${suffix()}`;
  const lines: LogLine[] = [];
  const logger = capturingLogger(lines);
  const database = createDatabase({ url, schema, logger });
  const abort = new AbortController();
  let retries = 0;
  const result = migrateWhenReachable({
    pool: database.pool,
    schema,
    url,
    logger,
    signal: abort.signal,
    maxDelayMs: 20,
    onRetry: () => (retries += 1),
    dir: options.dir,
  });
  result.catch(() => undefined);
  return {
    schema,
    lines,
    result,
    retries: () => retries,
    async stop() {
      abort.abort();
      await result.catch(() => undefined);
      await database.close();
      await dropSchema(schema);
    },
  };
}

describe('migrating the ledger at start-up', () => {
  const retryCases: { name: string; url: () => Promise<string>; problem: string; level: number }[] = [
    {
      name: 'nothing listens at the address',
      url: async () => `postgres://postgres:${PASSWORD}@127.0.0.1:${await closedPort()}/test`,
      problem: 'unreachable',
      level: 40,
    },
    {
      name: 'the database does not exist',
      url: async () => `postgres://postgres:${PASSWORD}@127.0.0.1:5432/om_missing_${suffix()}`,
      problem: 'database_missing',
      level: 50,
    },
    {
      name: 'the role does not exist',
      url: async () => `postgres://nobody_${suffix()}:${PASSWORD}@127.0.0.1:5432/test`,
      problem: 'auth_refused',
      level: 50,
    },
  ];

  it.each(retryCases)(
    'when $name, then it keeps retrying, logging one line naming DATABASE_URL (password masked), and applies nothing',
    async ({ url, problem, level }) => {
      const migrating = startMigrating(await url());
      try {
        await eventually(() => migrating.retries() >= 5, 10000, 'five retries');

        const lines = migrating.lines.filter((l) => l.problem !== undefined);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatchObject({ level, setting: 'DATABASE_URL', problem });
        expect(lines[0].msg).toMatch(/^ledger database not usable at DATABASE_URL postgres:\/\/[^ ]+:\*\*\*@/);
        expect(lines[0]).not.toHaveProperty('err');
        expect(JSON.stringify(migrating.lines)).not.toContain(PASSWORD);
        const [{ exists }] = await query<{ exists: boolean }>(
          'SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS exists',
          [migrating.schema],
        );
        expect(exists).toBe(false);
      } finally {
        await migrating.stop();
      }
      expect(await migrating.result).toBe(false);
    },
  );

  it('when the database is created while it waits, then it migrates it and resolves true', async () => {
    const dbName = `om_late_${suffix()}`;
    const migrating = startMigrating(`postgres://postgres@127.0.0.1:5432/${dbName}`);
    try {
      await eventually(() => migrating.retries() >= 1, 10000, 'a failed attempt');

      await query(`CREATE DATABASE "${dbName}"`);

      expect(await migrating.result).toBe(true);
      expect(migrating.lines.map((l) => l.msg)).toContain(
        `ledger database reachable at DATABASE_URL postgres://postgres@127.0.0.1:5432/${dbName}`,
      );
    } finally {
      await migrating.stop();
      await query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    }
  });

  describe('when retrying cannot help, then it rejects with one line naming the setting, without retrying', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'om-migrations-'));
      await writeFile(path.join(dir, '001_broken.sql'), 'CREATE TABLE broken (;');
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it.each([
      {
        name: 'a migration whose SQL fails',
        url: `postgres://postgres:${PASSWORD}@127.0.0.1:5432/test`,
        useBrokenDir: true,
        message:
          /^DATABASE_URL postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/test, schema test_\w+: Migration 001_broken\.sql failed: syntax error/,
      },
      {
        name: 'DATABASE_URL is not a valid URL',
        url: `postgres://postgres:${PASSWORD}@127.0.0.1:notaport/test`,
        useBrokenDir: false,
        message:
          /^DATABASE_URL postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:notaport\/test: it is not a valid postgres:\/\/ URL/,
      },
    ])('$name', async ({ url, useBrokenDir, message }) => {
      const migrating = startMigrating(url, { dir: useBrokenDir ? dir : undefined });
      try {
        const err = (await migrating.result.then(
          () => new Error('expected a rejection'),
          (e: unknown) => e,
        )) as Error;

        expect(err.message).toMatch(message);
        expect(err.message).not.toContain('\n');
        expect(err.message).not.toContain(PASSWORD);
        expect(migrating.retries()).toBe(0);
      } finally {
        await migrating.stop();
      }
    });
  });
});
