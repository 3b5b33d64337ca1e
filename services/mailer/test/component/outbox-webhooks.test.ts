import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import pino from 'pino';
import { DATABASE_URL, dropSchema } from '@test/helpers/database';
import { uniqueStackNames } from '@test/helpers/stack';
import { migrate } from '../../src/adapters/db/database';
import { createPgOutbox } from '../../src/adapters/db/outbox-pg';
import { toMailEvent, type OutboxLease } from '../../src/domain/mail-events';

// The relay's removal of published events and the webhook deliveries made in the same
// statement, on a real PostgreSQL schema of the test's own.

describe('outbox removal into webhook deliveries (PostgreSQL)', () => {
  let schema: string;
  let pool: Pool;
  let lease: OutboxLease;

  beforeEach(async () => {
    ({ schema } = uniqueStackNames());
    pool = new Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
    await migrate(pool, schema, pino({ level: 'silent' }));
    const taken = await createPgOutbox(pool, schema, { webhooks: true }).tryLead();
    if (!taken) throw new Error('the outbox lease of a fresh schema is free');
    lease = taken;
  });

  afterEach(async () => {
    await lease.release();
    await pool.end();
    await dropSchema(schema);
  });

  async function writeEvent(orderId: string): Promise<void> {
    await pool.query(
      `INSERT INTO mail_events_outbox (type, order_id, order_event_id, message_id, recipient, status, attempt, smtp_code, smtp_response)
       VALUES ('email.sent', $1, $2, '<m@shop.example>', 'ada@example.com', 'sent', 1, 250, '250 2.0.0 Ok: queued for ada@example.com')`,
      [orderId, randomUUID()],
    );
  }
  const webhookEvents = async () =>
    (
      await pool.query<{ order_id: string; event: Record<string, unknown> }>(
        'SELECT order_id, event FROM webhook_deliveries ORDER BY id',
      )
    ).rows;

  it('when published events are removed, then each becomes one pending webhook delivery carrying the event as published', async () => {
    // Arrange
    await writeEvent('O-1');
    await writeEvent('O-2');
    const entries = await lease.next(10);

    // Act: removed twice, as when a batch is relayed again after a failure
    await lease.remove(entries, entries.map(toMailEvent));
    await lease.remove(entries, entries.map(toMailEvent));

    // Assert
    const rows = await webhookEvents();
    expect(rows.map((r) => r.order_id)).toEqual(['O-1', 'O-2']);
    expect(rows[0].event).toMatchObject({
      type: 'email.sent',
      eventId: entries[0].eventId,
      recipient: 'ada@example.com',
      smtpCode: 250,
      smtpResponse: '250 2.0.0 Ok: queued for ada@example.com',
    });
    expect((await pool.query('SELECT count(*)::int AS n FROM mail_events_outbox')).rows[0].n).toBe(0);
  });

  it('when the person is erased after the relay read the events but before it removed them, then the webhook delivery has no recipient or SMTP reply', async () => {
    // Arrange: the relay has its copy; then the erasure clears the outbox row
    await writeEvent('O-3');
    const entries = await lease.next(10);
    await pool.query(`UPDATE mail_events_outbox SET recipient = NULL, smtp_response = NULL WHERE order_id = 'O-3'`);

    // Act: the relay publishes (and so passes on) its copy, which still names the person
    await lease.remove(entries, entries.map(toMailEvent));

    // Assert
    const [row] = await webhookEvents();
    expect(entries[0].recipient).toBe('ada@example.com');
    expect(row.event.recipient).toBeNull();
    expect(row.event).not.toHaveProperty('smtpResponse');
    expect(row.event).toMatchObject({ eventId: entries[0].eventId, smtpCode: 250 });
  });

  it('when webhooks are off, then removed events leave no webhook delivery', async () => {
    // Arrange
    await lease.release();
    lease = (await createPgOutbox(pool, schema).tryLead()) as OutboxLease;
    await writeEvent('O-4');

    // Act
    const entries = await lease.next(10);
    await lease.remove(entries, entries.map(toMailEvent));

    // Assert
    expect(await webhookEvents()).toEqual([]);
  });
});
