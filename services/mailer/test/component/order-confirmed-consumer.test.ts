import type * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import { EVENT_SCHEMA_VERSION } from '@order-mail/shared';
import { connectTestBroker, eventually } from '../../../../test/helpers/broker';
import { sampleOrder } from '../../../../test/helpers/orders';
import { startSmtpCatcher, type SmtpCatcher } from '../../../../test/helpers/smtp-catcher';
import { deleteStackTopology, startTestStack, type TestStack } from '../../../../test/helpers/stack';
import { loadMailerConfig } from '../../src/config';
import { startMailer } from '../../src/service';

function orderEvent(orderId: string) {
  return {
    schemaVersion: EVENT_SCHEMA_VERSION,
    type: 'order.confirmed',
    eventId: randomUUID(),
    acceptedAt: new Date().toISOString(),
    correlationId: `corr-${orderId}`,
    order: { ...sampleOrder({ orderId }), customer: { email: 'ada@example.com', name: 'Ada', locale: 'en' } },
  };
}

describe('mailer consumer with a real RabbitMQ and SMTP server', () => {
  let smtp: SmtpCatcher;
  let stack: TestStack;
  let broker: { connection: amqp.ChannelModel; channel: amqp.Channel };

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    stack = await startTestStack({ smtpUrl: smtp.url, env: { RETRY_DELAY_MS: '200' } });
    broker = await connectTestBroker();
  });

  afterAll(async () => {
    await stack.stop();
    await deleteStackTopology(stack.names);
    await broker.connection.close();
    await smtp.close();
  });

  beforeEach(() => {
    smtp.behaviour = {};
    smtp.mails.length = 0;
  });

  function publishRaw(content: Buffer | string, messageId: string = randomUUID()) {
    broker.channel.publish(stack.names.exchange, 'order.confirmed', Buffer.from(content), {
      persistent: true,
      contentType: 'application/json',
      messageId,
    });
  }

  async function nextDeadLetter(): Promise<amqp.GetMessage> {
    let msg: amqp.GetMessage | false = false;
    await eventually(
      async () => {
        msg = await broker.channel.get(stack.names.deadLetterQueue, { noAck: true });
        return msg !== false;
      },
      10000,
      'a dead letter',
    );
    return msg as unknown as amqp.GetMessage;
  }

  it('when a message is not JSON, then it is dead-lettered with its reason and the next valid message is still sent', async () => {
    // Act
    publishRaw('this is not json', 'poison-1');
    publishRaw(JSON.stringify(orderEvent('AFTER-POISON')));

    // Assert
    const dead = await nextDeadLetter();
    expect(dead.content.toString()).toBe('this is not json');
    expect(dead.properties.messageId).toBe('poison-1');
    expect(dead.properties.headers).toMatchObject({ 'x-dead-letter-reason': 'invalid_event' });
    expect(String(dead.properties.headers?.['x-dead-letter-detail'])).toMatch(/not JSON/);
    expect(dead.properties.headers?.['x-worker-id']).toEqual(expect.any(String));
    const [mail] = await smtp.waitForMails(1);
    expect(mail.subject).toBe('Your order AFTER-POISON is confirmed');
  });

  it('when a message fails the event schema, then it is dead-lettered naming the bad field', async () => {
    const event = orderEvent('BAD-SCHEMA');
    event.order.items[0].quantity = -3;

    publishRaw(JSON.stringify(event));

    const dead = await nextDeadLetter();
    expect(dead.properties.headers).toMatchObject({ 'x-dead-letter-reason': 'invalid_event' });
    expect(String(dead.properties.headers?.['x-dead-letter-detail'])).toContain('order.items.0.quantity');
    expect(smtp.mails).toHaveLength(0);
  });

  it('when the SMTP server answers 550, then the message is dead-lettered at once with the code and text', async () => {
    smtp.behaviour = { rejectWith: { code: 550, message: 'Mailbox unavailable' } };

    publishRaw(JSON.stringify(orderEvent('REJECTED-550')));

    const dead = await nextDeadLetter();
    expect(dead.properties.headers).toMatchObject({ 'x-dead-letter-reason': 'smtp_rejected', 'x-smtp-code': 550 });
    expect(String(dead.properties.headers?.['x-smtp-response'])).toContain('Mailbox unavailable');
    expect(smtp.rejected).toBe(1);
    expect(smtp.mails).toHaveLength(0);
  });

  it('when the SMTP server answers 451, then the message is retried until it is accepted, once', async () => {
    const rejectedBefore = smtp.rejected;
    smtp.behaviour = { rejectWith: { code: 451, message: 'Try again later' } };

    publishRaw(JSON.stringify(orderEvent('RETRIED-451')));
    await eventually(() => smtp.rejected - rejectedBefore >= 2, 10000, 'two 451 answers');
    smtp.behaviour = {};

    const [mail] = await smtp.waitForMails(1);
    expect(mail.subject).toBe('Your order RETRIED-451 is confirmed');
    await new Promise((r) => setTimeout(r, 500));
    expect(smtp.mails).toHaveLength(1);
    expect(await broker.channel.get(stack.names.deadLetterQueue)).toBe(false);
  });

  it('when the mailer is ready, then /readyz reports broker and SMTP ready', async () => {
    const res = await fetch(`${stack.mailerUrl}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', checks: { broker: 'ready', smtp: 'ready' } });
  });
});

describe('mailer without a reachable SMTP server', () => {
  it('when SMTP cannot be reached, then /readyz answers 503 naming smtp, and /healthz 200', async () => {
    const mailer = await startMailer(
      loadMailerConfig({
        PORT: '0',
        SMTP_URL: 'smtp://127.0.0.1:1',
        AMQP_URL: 'amqp://guest:guest@127.0.0.1:1',
        LOG_LEVEL: 'silent',
      }),
    );
    try {
      const res = await fetch(`http://127.0.0.1:${mailer.port}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'not_ready', checks: { broker: 'not_ready', smtp: 'not_ready' } });
      expect((await fetch(`http://127.0.0.1:${mailer.port}/healthz`)).status).toBe(200);
    } finally {
      await mailer.stop();
    }
  });
});
