import { Pool } from 'pg';
import pino from 'pino';
import { DATABASE_URL, dropSchema, query } from '@test/helpers/database';
import { uniqueStackNames } from '@test/helpers/stack';
import { claimRequest as request } from './fixtures/claim-request';
import { migrate } from '../../src/adapters/db/database';
import { createPgDeliveryLedger, type PgDeliveryLedger } from '../../src/adapters/db/delivery-ledger-pg';
import { isSendClaim, type ClaimResult } from '../../src/domain/delivery-ledger';

/**
 * The ledger group-commits concurrent claims and sent records (one transaction for many calls).
 * These cases show that batching changes no decision: one send per order, duplicates inside one
 * batch or across two mailers' batches, a bad call failing alone, statements counted.
 */
describe('delivery ledger batching on PostgreSQL', () => {
  const { schema } = uniqueStackNames();
  let pool: Pool;
  let ledger: PgDeliveryLedger;

  beforeAll(async () => {
    pool = new Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}`, max: 10 });
    await migrate(pool, schema, pino({ level: 'silent' }));
    ledger = createPgDeliveryLedger(pool);
  });

  afterAll(async () => {
    await pool.end();
    await dropSchema(schema);
  });

  const kinds = (claims: ClaimResult[]) => claims.map((c) => c.decision.kind);

  /** Counts the transactions committed in this database while `work` runs (pg_stat_database). */
  async function commitsDuring(work: () => Promise<unknown>): Promise<number> {
    const read = async () => {
      await query('SELECT pg_stat_clear_snapshot()');
      const [row] = await query<{ n: string }>(
        'SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()',
      );
      return Number(row.n);
    };
    const before = await read();
    await work();
    // The statistics collector reports committed transactions with a delay.
    await new Promise((resolve) => setTimeout(resolve, 700));
    return (await read()) - before;
  }

  it('when 200 orders are claimed and recorded at once, then each is sent once, in far fewer transactions than calls', async () => {
    // Arrange
    const orders = Array.from({ length: 200 }, (_, i) => `B-many-${i}`);

    // Act
    let claims: ClaimResult[] = [];
    const commits = await commitsDuring(async () => {
      claims = await Promise.all(orders.map((id) => ledger.claim(request(id))));
      await Promise.all(
        claims
          .filter(isSendClaim)
          .map((c) =>
            ledger.recordSent(c.record.id, c.attempt, { smtpResponse: '250 OK', smtpCode: 250, messageId: '<m@x>' }),
          ),
      );
    });

    // Assert: 400 calls; one transaction per call would be at least 400 commits
    expect(new Set(kinds(claims))).toEqual(new Set(['send']));
    const rows = await query<{ status: string; attempts: number; n: string }>(
      `SELECT status, attempts, count(*) AS n FROM "${schema}".deliveries WHERE order_id LIKE 'B-many-%' GROUP BY 1, 2`,
    );
    expect(rows).toEqual([{ status: 'sent', attempts: 1, n: '200' }]);
    expect(commits).toBeLessThan(100);
  });

  it('when one order is claimed twice in the same turn, then the calls go in separate batches: one sends, the other waits', async () => {
    const [first, second] = await Promise.all([
      ledger.claim(request('B-dup')),
      ledger.claim(request('B-dup', { workerId: 'worker-b' })),
    ]);

    expect(kinds([first, second])).toEqual(['send', 'wait']);
    const attempts = await query(`SELECT 1 FROM "${schema}".delivery_attempts a JOIN "${schema}".deliveries d
      ON d.id = a.delivery_id WHERE d.order_id = 'B-dup'`);
    expect(attempts).toHaveLength(1);
  });

  it('when two mailers claim overlapping batches in opposite orders, then neither deadlocks and each order is claimed once', async () => {
    // Arrange: a second ledger on its own pool is a second mailer
    const otherPool = new Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
    const other = createPgDeliveryLedger(otherPool);
    const orders = Array.from({ length: 60 }, (_, i) => `B-overlap-${i}`);

    try {
      // Act: several rounds, so that batches interleave
      const [a, b] = await Promise.all([
        Promise.all(orders.map((id) => ledger.claim(request(id)))),
        Promise.all([...orders].reverse().map((id) => other.claim(request(id, { workerId: 'worker-b' })))),
      ]);

      // Assert: per order, exactly one claim sends and the other waits
      const byOrder = new Map<string, string[]>();
      [...a, ...b].forEach((c) =>
        byOrder.set(c.record.orderId, [...(byOrder.get(c.record.orderId) ?? []), c.decision.kind]),
      );
      for (const id of orders) expect(byOrder.get(id)?.sort()).toEqual(['send', 'wait']);
    } finally {
      await otherPool.end();
    }
  });

  it('when one claim in a batch is invalid, then only that call fails and its neighbours are claimed', async () => {
    const results = await Promise.allSettled([
      ledger.claim(request('B-bad-1')),
      ledger.claim(request('B-bad-2', { eventId: 'not-a-uuid' })),
      ledger.claim(request('B-bad-3')),
    ]);

    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/uuid/);
    const rows = await query<{ order_id: string }>(
      `SELECT order_id FROM "${schema}".deliveries WHERE order_id LIKE 'B-bad-%' ORDER BY order_id`,
    );
    expect(rows.map((r) => r.order_id)).toEqual(['B-bad-1', 'B-bad-3']);
  });

  it('when two attempts of one order record sent in the same turn, then exactly one learns it was a duplicate', async () => {
    // Arrange: attempt 1 is stale (past the grace period), attempt 2 resent
    const a = await ledger.claim(request('B-twice'));
    await query(
      `UPDATE "${schema}".deliveries SET sending_started_at = now() - interval '2 minutes' WHERE order_id = 'B-twice'`,
    );
    const b = await ledger.claim(request('B-twice', { workerId: 'worker-b' }));
    if (!isSendClaim(a) || !isSendClaim(b)) throw new Error('both must hold an attempt');

    // Act
    const receipt = { smtpResponse: '250 OK', smtpCode: 250, messageId: '<m@x>' };
    const results = await Promise.all([
      ledger.recordSent(a.record.id, a.attempt, receipt),
      ledger.recordSent(b.record.id, b.attempt, receipt),
    ]);

    // Assert
    expect(results).toEqual([{ alreadySent: false }, { alreadySent: true }]);
    const found = await ledger.find('order.confirmed', 'B-twice');
    expect(found?.attempts.map((x) => x.outcome)).toEqual(['sent', 'sent']);
  });

  it('when the database is unreachable, then every claim of the batch rejects with the connection error', async () => {
    const deadPool = new Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/test',
      connectionTimeoutMillis: 500,
    });
    const dead = createPgDeliveryLedger(deadPool);
    try {
      const results = await Promise.allSettled([dead.claim(request('B-down-1')), dead.claim(request('B-down-2'))]);

      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      await deadPool.end();
    }
  });
});
