import { Pool } from 'pg';
import pino from 'pino';
import { DATABASE_URL, dropSchema, query } from '@test/helpers/database';
import { uniqueStackNames } from '@test/helpers/stack';
import { claimRequest as request } from './fixtures/claim-request';
import { migrate } from '../../src/adapters/db/database';
import { createPgDeliveryLedger, type PgDeliveryLedger } from '../../src/adapters/db/delivery-ledger-pg';

describe('delivery ledger on PostgreSQL', () => {
  const { schema } = uniqueStackNames();
  let pool: Pool;
  let ledger: PgDeliveryLedger;

  beforeAll(async () => {
    pool = new Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
    await migrate(pool, schema, pino({ level: 'silent' }));
    ledger = createPgDeliveryLedger(pool);
  });

  afterAll(async () => {
    await pool.end();
    await dropSchema(schema);
  });

  /** Makes the order's current claim look older than the grace period. */
  const ageClaim = (orderId: string) =>
    query(`UPDATE "${schema}".deliveries SET sending_started_at = now() - interval '2 minutes' WHERE order_id = $1`, [
      orderId,
    ]);

  const status = async (orderId: string) =>
    (await query<{ status: string }>(`SELECT status FROM "${schema}".deliveries WHERE order_id = $1`, [orderId]))[0]
      ?.status;

  it('when a slow send succeeds after a resend overtook it, then the order stays sent whatever the resend reports', async () => {
    // Arrange: A claims, its send outlives the grace period, B resends
    const a = await ledger.claim(request('L-stale'));
    await ageClaim('L-stale');
    const b = await ledger.claim(request('L-stale', { workerId: 'worker-b' }));
    expect(a.decision.kind).toBe('send');
    expect(b.decision.kind).toBe('resend-unknown');
    if (!('attempt' in a) || !('attempt' in b)) throw new Error('both must hold an attempt');

    // Act: A's email is accepted; then B's send fails with a 451
    const sentByA = await ledger.recordSent(a.record.id, a.attempt, {
      smtpResponse: '250 OK',
      smtpCode: 250,
      messageId: '<m@x>',
    });
    const failedB = await ledger.recordFailure(b.record.id, b.attempt, {
      status: 'retrying',
      outcome: 'transient',
      error: '451 try later',
      smtpCode: 451,
    });

    // Assert: sent is final, B learns it lost the claim, and the next event is skipped
    expect(sentByA).toEqual({ alreadySent: false });
    expect(failedB).toEqual({ claimLost: true });
    expect(await status('L-stale')).toBe('sent');
    expect((await ledger.claim(request('L-stale'))).decision).toEqual({ kind: 'skip-sent' });
    const found = await ledger.find('order.confirmed', 'L-stale');
    expect(found?.attempts.map((x) => x.outcome)).toEqual(['sent', 'transient']);
  });

  it('when two attempts both get their email accepted, then the second learns it was a duplicate', async () => {
    const a = await ledger.claim(request('L-twice'));
    await ageClaim('L-twice');
    const b = await ledger.claim(request('L-twice'));
    if (!('attempt' in a) || !('attempt' in b)) throw new Error('both must hold an attempt');

    expect(
      await ledger.recordSent(b.record.id, b.attempt, { smtpResponse: '250 OK', smtpCode: 250, messageId: '<m@x>' }),
    ).toEqual({
      alreadySent: false,
    });
    expect(
      await ledger.recordSent(a.record.id, a.attempt, { smtpResponse: '250 OK', smtpCode: 250, messageId: '<m@x>' }),
    ).toEqual({
      alreadySent: true,
    });
  });

  it('when an order is dead, then a stray event skips it and only a replayed dead letter claims it again', async () => {
    // Arrange
    const first = await ledger.claim(request('L-dead'));
    if (!('attempt' in first)) throw new Error('must hold an attempt');
    await ledger.recordFailure(first.record.id, first.attempt, { status: 'dead', outcome: 'permanent', error: '550' });

    // Act
    const stray = await ledger.claim(request('L-dead'));
    const replayed = await ledger.claim(request('L-dead', { replayed: true }));

    // Assert
    expect(stray.decision).toEqual({ kind: 'skip-dead' });
    expect(replayed.decision).toEqual({ kind: 'send' });
    expect(await status('L-dead')).toBe('sending');
  });

  it('when a resend after an unknown outcome is claimed, then it keeps the first Message-ID', async () => {
    const first = await ledger.claim(request('L-msgid', { messageId: '<first@shop.example>' }));
    await ageClaim('L-msgid');
    const resend = await ledger.claim(request('L-msgid', { messageId: '<second@shop.example>' }));

    expect(first.record.messageId).toBe('<first@shop.example>');
    expect(resend.decision.kind).toBe('resend-unknown');
    expect(resend.record.messageId).toBe('<first@shop.example>');
  });

  it('when an unknown outcome stays unknown after its resend, then markDead closes the open attempt', async () => {
    const first = await ledger.claim(request('L-give-up'));
    await ageClaim('L-give-up');
    await ledger.claim(request('L-give-up'));
    await ageClaim('L-give-up');
    const third = await ledger.claim(request('L-give-up'));
    expect(third.decision).toEqual({ kind: 'give-up-unknown' });

    await ledger.markDead(first.record.id, 'unknown twice');

    expect(await status('L-give-up')).toBe('dead');
    const found = await ledger.find('order.confirmed', 'L-give-up');
    expect(found?.attempts.map((x) => x.outcome)).toEqual(['unknown_outcome', 'unknown_outcome']);
  });
});
