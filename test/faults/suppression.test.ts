import { connectTestBroker, eventually } from '@test/helpers/broker';
import { query } from '@test/helpers/database';
import { jsonOf } from '@test/helpers/http';
import {
  deadLetterRows,
  ledgerAttempts,
  ledgerRow,
  metricValue,
  recordedDeadLetters,
  subjectOf,
} from '@test/helpers/inspect';
import { postJson, sampleOrder } from '@test/helpers/orders';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { ADMIN_AUTH, startTestStack, type TestStack } from '@test/helpers/stack';

const GONE = 'gone@example.com';

interface SuppressionRow {
  address: string | null;
  domain: string;
  origin: string;
  reason: string;
  smtp_code: number | null;
  smtp_response: string | null;
  order_id: string | null;
  created_by: string;
}

interface RecipientRow {
  status: string;
  recipient: string | null;
  subject: string | null;
  template: string | null;
  locale: string | null;
}

describe('suppression of recipients the SMTP server refused for good (real RabbitMQ, SMTP server and PostgreSQL)', () => {
  let smtp: SmtpCatcher;
  let stack: TestStack;

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    stack = await startTestStack({
      smtpUrl: smtp.url,
      env: { LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' },
    });
  });

  afterAll(async () => {
    await stack?.dispose();
    await smtp?.close();
  });

  const suppressions = () => query<SuppressionRow>(`SELECT * FROM "${stack.names.schema}".suppressions ORDER BY id`);
  const recipientsOf = (address: string) => smtp.recipients.filter((r) => r === address).length;

  async function postOrder(orderId: string, email: string, locale = 'en'): Promise<void> {
    const res = await postJson(
      stack.apiUrl,
      '/orders',
      sampleOrder({ orderId, customer: { email, name: 'Ada', locale } }),
    );
    expect(res.status).toBe(202);
  }

  async function finalStatus(orderId: string, status: string): Promise<void> {
    await eventually(async () => (await ledgerRow(stack.names.schema, orderId))?.status === status);
  }

  it('when the server answers 550 5.1.1 at RCPT TO, then the order is dead-lettered and the address is suppressed with the reply, the order and the time', async () => {
    // Arrange
    smtp.behaviour = { rejectRecipients: { [GONE]: { code: 550, message: '5.1.1 <gone@example.com>: No such user' } } };

    // Act
    await postOrder('S1-550', GONE);
    const [dead] = await recordedDeadLetters(stack.names.schema, 1);

    // Assert
    expect(dead.properties.headers).toMatchObject({ 'x-dead-letter-reason': 'smtp_rejected', 'x-smtp-code': 550 });
    await eventually(async () => (await suppressions()).length === 1);
    const [row] = await suppressions();
    expect(row).toMatchObject({
      address: GONE,
      domain: 'example.com',
      origin: 'smtp_rejection',
      smtp_code: 550,
      order_id: 'S1-550',
      created_by: `mailer:${stack.mailerConfig.WORKER_ID}`,
    });
    expect(row.smtp_response).toContain('5.1.1');
    expect(recipientsOf(GONE)).toBe(1);
  });

  it('when a later order goes to the suppressed address (its domain in another case), then nobody is contacted, the delivery ends suppressed, the message is acked and nothing is dead-lettered', async () => {
    // Arrange
    const suppressedBefore = await metricValue(stack.mailerUrl, 'mailer_emails_total', { result: 'suppressed' });

    // Act
    await postOrder('S2-suppressed', 'gone@EXAMPLE.com', 'de-CH');
    await finalStatus('S2-suppressed', 'suppressed');
    await postOrder('S3-other', 'ada@example.com');
    await smtp.waitForMails(1);

    // Assert
    expect(recipientsOf(GONE)).toBe(1);
    expect(smtp.mails.map((m) => m.subject)).toEqual([subjectOf('S3-other')]);
    const [row] = await query<RecipientRow>(
      `SELECT status, recipient, subject, template, locale FROM "${stack.names.schema}".deliveries WHERE order_id = $1`,
      ['S2-suppressed'],
    );
    expect(row).toMatchObject({
      status: 'suppressed',
      recipient: GONE,
      template: 'order-confirmation',
      locale: 'de-CH',
    });
    expect(row.subject).toContain('S2-suppressed');
    expect(await metricValue(stack.mailerUrl, 'mailer_emails_total', { result: 'suppressed' })).toBe(
      suppressedBefore + 1,
    );
    expect(await deadLetterRows(stack.names.schema)).toHaveLength(1);
    await eventually(async () => (await queueDepth(stack.names.queue)) === 0);
  });

  it('when the address is removed from the list (reactivated), then the next order to it is sent', async () => {
    // Arrange
    smtp.behaviour = {};
    await query(`DELETE FROM "${stack.names.schema}".suppressions WHERE address = $1`, [GONE]);

    // Act
    await postOrder('S4-reactivated', GONE);
    await smtp.waitForMails(2);

    // Assert
    await finalStatus('S4-reactivated', 'sent');
    expect(recipientsOf(GONE)).toBe(2);
    expect(smtp.mails.map((m) => m.subject)).toContain(subjectOf('S4-reactivated'));
  });

  it.each([
    ['550 5.7.1 relaying denied (about the sender)', 550, '5.7.1 Relaying denied', 'relay@example.net'],
    ['452 4.2.2 mailbox full (temporary)', 452, '4.2.2 Mailbox full', 'full@example.net'],
    ['552 5.2.2 mailbox full', 552, '5.2.2 Mailbox full', 'fuller@example.net'],
  ])(
    'when the server answers %s at RCPT TO, then the address is not suppressed',
    async (_name, code, message, address) => {
      // Arrange
      smtp.behaviour = { rejectRecipients: { [address]: { code, message } } };
      const orderId = `S5-${code}`;

      // Act
      await postOrder(orderId, address);
      await eventually(async () => recipientsOf(address) >= 1);
      // The failure and any suppression are written in one transaction: once the attempt has its
      // outcome, a suppression would be there too.
      await eventually(async () =>
        (await ledgerAttempts(stack.names.schema, orderId)).some(
          (a) => a.outcome === 'permanent' || a.outcome === 'transient',
        ),
      );

      // Assert
      expect((await suppressions()).map((s) => s.address)).not.toContain(address);
    },
  );

  it('when the admin API is asked for the deliveries to an address, then it lists them with recipient, subject, template and locale', async () => {
    // Act
    const res = await fetch(`${stack.mailerUrl}/deliveries?recipient=${encodeURIComponent('gone@Example.COM')}`, {
      headers: ADMIN_AUTH,
    });

    // Assert
    expect(res.status).toBe(200);
    const body = await jsonOf(res);
    const deliveries = body.deliveries as { orderId: string; status: string; recipient: string; locale: string }[];
    expect(deliveries.map((d) => [d.orderId, d.status]).sort()).toEqual([
      ['S1-550', 'dead'],
      ['S2-suppressed', 'suppressed'],
      ['S4-reactivated', 'sent'],
    ]);
    expect(deliveries.every((d) => d.recipient === GONE)).toBe(true);
  });

  it('when a person asks to be erased (DELETE /recipients/:address), then their ledger rows, suppression entry and dead letters lose the address, and the address stays suppressed by its hash', async () => {
    // Arrange
    const admin = { ...ADMIN_AUTH, 'content-type': 'application/json' };
    const added = await fetch(`${stack.mailerUrl}/suppressions`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ address: GONE, reason: 'Customer asked for no more email' }),
    });
    expect(added.status).toBe(201);

    // Act
    const res = await fetch(`${stack.mailerUrl}/recipients/${encodeURIComponent('gone@EXAMPLE.com')}`, {
      method: 'DELETE',
      headers: ADMIN_AUTH,
    });

    // Assert
    expect(res.status).toBe(200);
    expect(await jsonOf(res)).toEqual({
      address: 'g***@example.com',
      erased: { deliveries: 3, suppressions: 1, outboxEvents: 0, webhookDeliveries: 0, deadLetters: 1 },
    });
    const rows = await query<RecipientRow & { order_id: string }>(
      `SELECT order_id, status, recipient, subject FROM "${stack.names.schema}".deliveries
       WHERE order_id IN ('S1-550', 'S2-suppressed', 'S4-reactivated') ORDER BY order_id`,
    );
    expect(rows.map((r) => [r.order_id, r.status, r.recipient, r.subject])).toEqual([
      ['S1-550', 'dead', null, null],
      ['S2-suppressed', 'suppressed', null, null],
      ['S4-reactivated', 'sent', null, null],
    ]);
    expect(await suppressions()).toEqual([
      expect.objectContaining({ address: null, origin: 'manual', reason: 'erased', domain: 'example.com' }),
    ]);
    const [letter] = await deadLetterRows(stack.names.schema);
    expect(letter.content.length).toBe(0);
    const search = await jsonOf(
      fetch(`${stack.mailerUrl}/deliveries?recipient=${encodeURIComponent(GONE)}`, { headers: ADMIN_AUTH }),
    );
    expect(search.deliveries).toEqual([]);

    // And the address is still suppressed: a new order to it contacts nobody.
    const seenBefore = recipientsOf(GONE);
    await postOrder('S6-after-erasure', GONE);
    await finalStatus('S6-after-erasure', 'suppressed');
    expect(recipientsOf(GONE)).toBe(seenBefore);
  });

  it('when the recipient filter is not an address, then the admin API answers 400 naming the field', async () => {
    // Act
    const res = await fetch(`${stack.mailerUrl}/deliveries?recipient=not-an-address`, { headers: ADMIN_AUTH });

    // Assert
    expect(res.status).toBe(400);
    expect(await jsonOf(res)).toMatchObject({
      error: 'validation_failed',
      details: [{ path: 'recipient', message: expect.stringMatching(/^Invalid email address/) }],
    });
  });
});

async function queueDepth(queue: string): Promise<number> {
  const { connection, channel } = await connectTestBroker();
  try {
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}
