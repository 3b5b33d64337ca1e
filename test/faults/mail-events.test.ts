import { randomUUID } from 'node:crypto';
import { loadMailerConfig } from '../../services/mailer/src/config';
import { startMailer } from '../../services/mailer/src/service';
import { connectTestBroker, eventually } from '@test/helpers/broker';
import { query } from '@test/helpers/database';
import { ledgerRow, metricValue } from '@test/helpers/inspect';
import { listenToMailEvents, type MailEventListener } from '@test/helpers/mail-events';
import { sampleEvent, sampleOrder } from '@test/helpers/orders';
import { spawnService } from '@test/helpers/processes';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import {
  deleteStackTopology,
  mailerEnv,
  mailerQueueNamesFor,
  startTestStack,
  uniqueStackNames,
  type TestStack,
} from '@test/helpers/stack';

const outboxCount = (schema: string) =>
  query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".mail_events_outbox`).then((rows) => Number(rows[0].n));

describe('delivery events on the events exchange (real RabbitMQ, SMTP server and PostgreSQL)', () => {
  let smtp: SmtpCatcher;
  let stack: TestStack;
  let listener: MailEventListener;

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    stack = await startTestStack({
      smtpUrl: smtp.url,
      env: { LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', RETRY_DELAYS: '300ms,300ms' },
    });
    listener = await listenToMailEvents(stack.names.mailEventsExchange);
  });

  afterAll(async () => {
    await listener?.close();
    await stack?.dispose();
    await smtp?.close();
  });

  async function postOrder(orderId: string, email = 'ada@example.com'): Promise<void> {
    const res = await stack.postOrder(sampleOrder({ orderId, customer: { email, name: 'Ada', locale: 'en' } }));
    expect(res.status).toBe(202);
  }

  it('when an email is sent, then one email.sent event is published, persistent JSON, with the documented fields', async () => {
    // Act
    await postOrder('E1-sent');
    const [received] = await listener.waitFor(1, 'E1-sent');

    // Assert
    const [mail] = await smtp.waitForMails(1);
    const row = await ledgerRow(stack.names.schema, 'E1-sent');
    expect(received.routingKey).toBe('email.sent');
    expect(received.event).toEqual({
      schemaVersion: 1,
      type: 'email.sent',
      eventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      occurredAt: expect.stringMatching(/Z$/),
      orderId: 'E1-sent',
      orderEventId: (row as unknown as { event_id: string }).event_id,
      messageId: mail.messageId,
      recipient: 'ada@example.com',
      status: 'sent',
      attempt: 1,
      smtpCode: 250,
      smtpResponse: expect.stringMatching(/^250 /),
    });
    expect(received.properties).toMatchObject({
      messageId: received.event.eventId,
      type: 'email.sent',
      contentType: 'application/json',
      deliveryMode: 2,
    });
    await eventually(async () => (await outboxCount(stack.names.schema)) === 0, 10_000, 'the outbox to empty');
  });

  it('when a send fails transiently once, then email.retrying (the reply and the failure class) comes before email.sent', async () => {
    // Arrange
    smtp.behaviour = { rejectWith: { code: 451, message: '4.7.1 Greylisted, try again' }, rejectCount: 1 };

    // Act
    await postOrder('E2-retry');
    const events = await listener.waitFor(2, 'E2-retry');

    // Assert
    expect(
      events.map((e) => [e.event.type, e.event.status, e.event.attempt, e.event.smtpCode, e.event.reason]),
    ).toEqual([
      ['email.retrying', 'retrying', 1, 451, 'transient'],
      ['email.sent', 'sent', 2, 250, undefined],
    ]);
    expect(events[0].event.smtpResponse).toContain('Greylisted');
    expect(new Set(events.map((e) => e.event.eventId)).size).toBe(2);
  });

  it('when the recipient is refused for good, then email.dead_lettered says smtp_rejected, and the next order to it gives email.suppressed', async () => {
    // Arrange
    smtp.behaviour = { rejectRecipients: { 'gone@example.com': { code: 550, message: '5.1.1 No such user' } } };

    // Act
    await postOrder('E3-rejected', 'gone@example.com');
    const [dead] = await listener.waitFor(1, 'E3-rejected');
    await postOrder('E4-suppressed', 'gone@example.com');
    const [suppressed] = await listener.waitFor(1, 'E4-suppressed');

    // Assert
    expect(dead.event).toMatchObject({
      type: 'email.dead_lettered',
      status: 'dead',
      attempt: 1,
      smtpCode: 550,
      reason: 'smtp_rejected',
      recipient: 'gone@example.com',
    });
    expect(suppressed.routingKey).toBe('email.suppressed');
    expect(suppressed.event).toMatchObject({
      type: 'email.suppressed',
      status: 'suppressed',
      attempt: 0,
      reason: 'suppressed',
      recipient: 'gone@example.com',
    });
    expect(suppressed.event.smtpCode).toBeUndefined();
  });

  it('when the outcomes are over, then each order has exactly the events documented, none twice, and the publish metric counts them as routed', async () => {
    // Arrange: let any late copy arrive
    await new Promise((r) => setTimeout(r, 1000));

    // Act
    const byOrder = new Map<string, string[]>();
    for (const { event } of listener.events)
      byOrder.set(event.orderId, [...(byOrder.get(event.orderId) ?? []), event.type]);

    // Assert
    expect(Object.fromEntries(byOrder)).toEqual({
      'E1-sent': ['email.sent'],
      'E2-retry': ['email.retrying', 'email.sent'],
      'E3-rejected': ['email.dead_lettered'],
      'E4-suppressed': ['email.suppressed'],
    });
    expect(
      await metricValue(stack.mailerUrl, 'mailer_mail_events_published_total', { type: 'email.sent', routed: 'true' }),
    ).toBe(2);
    expect(await metricValue(stack.mailerUrl, 'mailer_outbox_pending')).toBe(0);
  });
});

describe('delivery events across a mailer crash (outbox)', () => {
  it('when the mailer is SIGKILLed after the ledger recorded the send but before the event was published, then the event is published once after restart', async () => {
    // Arrange
    const smtp = await startSmtpCatcher();
    const names = uniqueStackNames();
    const env = mailerEnv(names, smtp.url);
    const listener = await listenToMailEvents(names.mailEventsExchange);
    const { connection, channel } = await connectTestBroker();
    const child = spawnService('mailer', { ...env, LOG_LEVEL: 'info', FAULT_PAUSE_BEFORE_RELAY_MS: '60000' });
    let mailer: Awaited<ReturnType<typeof startMailer>> | undefined;
    try {
      await eventually(() => child.stdout().includes('broker connected'), 20_000, 'crashing mailer connected');
      const event = sampleEvent({ correlationId: 'crash-E5', order: sampleOrder({ orderId: 'E5-crash' }) });
      channel.publish(names.exchange, 'order.confirmed', Buffer.from(JSON.stringify(event)), {
        persistent: true,
        messageId: randomUUID(),
      });
      await eventually(
        () => child.stdout().includes('fault injection: pausing before relaying events'),
        20_000,
        'the relay to reach the fault point',
      );
      expect((await ledgerRow(names.schema, 'E5-crash'))?.status).toBe('sent');
      expect(await outboxCount(names.schema)).toBe(1);

      // Act
      child.child.kill('SIGKILL');
      expect(await child.exited).toBe('SIGKILL');
      expect(listener.events).toHaveLength(0);
      mailer = await startMailer(loadMailerConfig(env));

      // Assert
      const [published] = await listener.waitFor(1, 'E5-crash');
      expect(published.event).toMatchObject({ type: 'email.sent', orderId: 'E5-crash', attempt: 1 });
      await eventually(async () => (await outboxCount(names.schema)) === 0, 10_000, 'the outbox to empty');
      await new Promise((r) => setTimeout(r, 500));
      expect(listener.events).toHaveLength(1);
      expect(smtp.mails).toHaveLength(1);
    } finally {
      child.child.kill('SIGKILL');
      await mailer?.stop();
      await listener.close();
      await connection.close();
      await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
      await smtp.close();
    }
  });
});
