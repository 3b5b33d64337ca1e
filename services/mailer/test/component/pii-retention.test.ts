import { Pool } from 'pg';
import pino from 'pino';
import { DATABASE_URL, dropSchema, query } from '@test/helpers/database';
import { uniqueStackNames } from '@test/helpers/stack';
import { claimRequest as request } from './fixtures/claim-request';
import { migrate } from '../../src/adapters/db/database';
import { createPgDeliveryLedger, type PgDeliveryLedger } from '../../src/adapters/db/delivery-ledger-pg';
import { removeExpiredPersonalData } from '../../src/adapters/db/pii-retention-pg';
import { isSendClaim } from '../../src/domain/delivery-ledger';

interface Row {
  order_id: string;
  status: string;
  attempts: number;
  message_id: string | null;
  recipient: string | null;
  recipient_hash: string | null;
  subject: string | null;
  smtp_response: string | null;
  last_error: string | null;
}

describe('LEDGER_PII_RETENTION_DAYS on PostgreSQL (removeExpiredPersonalData)', () => {
  const { schema } = uniqueStackNames();
  let pool: Pool;
  let ledger: PgDeliveryLedger;

  beforeAll(async () => {
    pool = new Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}`, max: 4 });
    await migrate(pool, schema, pino({ level: 'silent' }));
    ledger = createPgDeliveryLedger(pool);
  });

  afterAll(async () => {
    await pool.end();
    await dropSchema(schema);
  });

  /** An order sent to ada@example.com, its row and attempt then dated `daysAgo` days back. */
  async function sentOrder(orderId: string, daysAgo: number): Promise<void> {
    const claim = await ledger.claim(request(orderId));
    if (!isSendClaim(claim)) throw new Error('expected a send claim');
    await ledger.recordSent(claim.record.id, claim.attempt, {
      smtpResponse: '250 2.0.0 Ok: queued for <ada@example.com>',
      smtpCode: 250,
      messageId: `<${orderId}@shop.example>`,
    });
    await query(
      `UPDATE "${schema}".deliveries SET updated_at = now() - make_interval(days => $2) WHERE order_id = $1`,
      [orderId, daysAgo],
    );
    await query(
      `UPDATE "${schema}".delivery_attempts SET started_at = now() - make_interval(days => $2)
       WHERE delivery_id = $1`,
      [claim.record.id, daysAgo],
    );
  }

  const rowOf = async (orderId: string) =>
    (await query<Row>(`SELECT * FROM "${schema}".deliveries WHERE order_id = $1`, [orderId]))[0];
  const attemptsOf = (orderId: string) =>
    query<{ smtp_response: string | null; outcome: string | null }>(
      `SELECT a.smtp_response, a.outcome FROM "${schema}".delivery_attempts a
       JOIN "${schema}".deliveries d ON d.id = a.delivery_id WHERE d.order_id = $1`,
      [orderId],
    );

  it('when a delivery is older than the retention, then its recipient, hash, subject and replies are removed and its status, counts and Message-ID kept', async () => {
    // Arrange
    await sentOrder('R-old', 91);
    await sentOrder('R-new', 89);

    // Act
    const cleaned = await removeExpiredPersonalData(pool, 90);

    // Assert
    expect(cleaned).toBe(1);
    expect(await rowOf('R-old')).toMatchObject({
      status: 'sent',
      attempts: 1,
      message_id: '<R-old@shop.example>',
      recipient: null,
      recipient_hash: null,
      subject: null,
      smtp_response: null,
      last_error: null,
    });
    expect(await attemptsOf('R-old')).toEqual([{ smtp_response: null, outcome: 'sent' }]);
    expect(await rowOf('R-new')).toMatchObject({
      recipient: 'ada@example.com',
      subject: 'Your order',
      smtp_response: expect.stringContaining('ada@example.com'),
    });
    expect((await rowOf('R-new')).recipient_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('when an old order is claimed again after the retention ran, then it is still skipped as sent', async () => {
    // Act
    const claim = await ledger.claim(request('R-old'));

    // Assert
    expect(claim.decision).toEqual({ kind: 'skip-sent' });
  });

  it('when the retention runs again, then nothing more is changed', async () => {
    // Act
    const cleaned = await removeExpiredPersonalData(pool, 90);

    // Assert
    expect(cleaned).toBe(0);
  });

  it('when more rows than one chunk are old, then every one is cleaned', async () => {
    // Arrange
    await query(
      `INSERT INTO "${schema}".deliveries (event_kind, order_id, event_id, correlation_id, status, recipient,
         recipient_hash, subject, updated_at)
       SELECT 'order.confirmed', 'R-bulk-' || n, gen_random_uuid(), 'corr', 'sent', 'ada@example.com', 'h', 'Your order',
         now() - interval '200 days'
       FROM generate_series(1, 1005) AS n`,
    );

    // Act
    const cleaned = await removeExpiredPersonalData(pool, 90);

    // Assert
    expect(cleaned).toBe(1005);
    const [left] = await query<{ n: string }>(
      `SELECT count(*) AS n FROM "${schema}".deliveries WHERE recipient IS NOT NULL AND order_id LIKE 'R-bulk-%'`,
    );
    expect(Number(left.n)).toBe(0);
  });
});
