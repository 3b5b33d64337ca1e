import { randomUUID } from 'node:crypto';
import type * as amqp from 'amqplib';
import { connectTestBroker, eventually } from '@test/helpers/broker';
import {
  duplicatesSkipped,
  ledgerAttempts,
  ledgerRow,
  metricValue,
  subjectOf,
  recordedDeadLetters,
  deadLetterRows,
} from '@test/helpers/inspect';
import { postJson, sampleOrder } from '@test/helpers/orders';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { startTestStack, type TestStack } from '@test/helpers/stack';

/** One stack per scenario: each gets its own exchange, queues, ledger schema and SMTP server. */
async function withStack(
  env: Record<string, string>,
  run: (ctx: { stack: TestStack; smtp: SmtpCatcher; broker: amqp.Channel }) => Promise<void>,
): Promise<void> {
  const smtp = await startSmtpCatcher();
  const stack = await startTestStack({
    smtpUrl: smtp.url,
    env: { LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', ...env },
  });
  const { connection, channel } = await connectTestBroker();
  try {
    await run({ stack, smtp, broker: channel });
  } finally {
    await stack.dispose();
    await connection.close();
    await smtp.close();
  }
}

async function postOrder(stack: TestStack, orderId: string, email = 'ada@example.com') {
  const res = await postJson(stack.apiUrl, '/orders', sampleOrder({ orderId, customer: { email, name: 'Ada' } }));
  expect(res.status).toBe(202);
}

describe('delivery guarantees under faults (real RabbitMQ, SMTP server and PostgreSQL)', () => {
  it('when SMTP answers 451 twice and then accepts, then exactly one email arrives after two retry delays and the ledger shows 3 attempts', async () => {
    await withStack({ RETRY_DELAYS: '400ms,400ms,400ms' }, async ({ stack, smtp }) => {
      // Arrange
      smtp.behaviour = { rejectWith: { code: 451, message: 'Greylisted, try again later' }, rejectCount: 2 };

      // Act
      const started = Date.now();
      await postOrder(stack, 'F1-451');
      const [mail] = await smtp.waitForMails(1);
      const elapsed = Date.now() - started;

      // Assert
      expect(mail.subject).toBe(subjectOf('F1-451'));
      expect(smtp.rejected).toBe(2);
      await eventually(async () => (await ledgerRow(stack.names.schema, 'F1-451'))?.status === 'sent');
      expect(await ledgerRow(stack.names.schema, 'F1-451')).toMatchObject({ status: 'sent', attempts: 3 });
      expect((await ledgerAttempts(stack.names.schema, 'F1-451')).map((a) => [a.outcome, a.smtp_code])).toEqual([
        ['transient', 451],
        ['transient', 451],
        ['sent', 250],
      ]);
      console.log(`451 twice then accepted: delivered after ${elapsed} ms (two retry delays of 400 ms)`);
      await new Promise((r) => setTimeout(r, 500));
      expect(smtp.mails).toHaveLength(1);
    });
  });

  it('when SMTP answers 550, then the message is dead-lettered after 1 attempt with code, text, counts, times and worker in headers, and the ledger says dead', async () => {
    await withStack({}, async ({ stack, smtp }) => {
      smtp.behaviour = { rejectWith: { code: 550, message: 'No such user here' } };

      await postOrder(stack, 'F2-550', 'nobody@example.com');
      const [dead] = await recordedDeadLetters(stack.names.schema, 1);

      const headers = dead.properties.headers ?? {};
      expect(headers).toMatchObject({
        'x-dead-letter-reason': 'smtp_rejected',
        'x-last-error-class': 'permanent',
        'x-smtp-code': 550,
        'x-attempts': 1,
        'x-worker-id': stack.mailerConfig.WORKER_ID,
      });
      expect(String(headers['x-smtp-response'])).toContain('No such user here');
      expect(Date.parse(String(headers['x-first-failure-at']))).not.toBeNaN();
      expect(Date.parse(String(headers['x-last-failure-at']))).not.toBeNaN();
      expect(JSON.parse(dead.content.toString()).order.orderId).toBe('F2-550');
      expect(await ledgerRow(stack.names.schema, 'F2-550')).toMatchObject({
        status: 'dead',
        attempts: 1,
        smtp_code: 550,
      });
      expect(smtp.rejected).toBe(1);
      expect(smtp.mails).toHaveLength(0);
    });
  });

  it('when poison messages arrive (not JSON, JSON failing the schema), then each is dead-lettered at once and the next valid message is still sent', async () => {
    await withStack({}, async ({ stack, smtp, broker }) => {
      // Act
      broker.publish(stack.names.exchange, 'order.confirmed', Buffer.from('{not json'), { messageId: 'poison-1' });
      broker.publish(stack.names.exchange, 'order.confirmed', Buffer.from(JSON.stringify({ schemaVersion: 1 })), {
        messageId: 'poison-2',
      });
      await postOrder(stack, 'F3-after-poison');

      // Assert
      const deads = await recordedDeadLetters(stack.names.schema, 2);
      expect(deads.map((d) => d.properties.messageId).sort()).toEqual(['poison-1', 'poison-2']);
      for (const dead of deads) {
        expect(dead.properties.headers).toMatchObject({ 'x-dead-letter-reason': 'invalid_event', 'x-attempts': 0 });
      }
      const [mail] = await smtp.waitForMails(1);
      expect(mail.subject).toBe(subjectOf('F3-after-poison'));
    });
  });

  it('when events carry bytes that are not UTF-8 or values PostgreSQL cannot store (NUL), then each is dead-lettered as invalid_event at once, nothing is recorded, and the next order is still sent', async () => {
    await withStack({}, async ({ stack, smtp, broker }) => {
      // Arrange: events the API would never publish, as a faulty or hostile publisher might
      const event = (orderId: string, correlationId: string, name = 'Ada') =>
        JSON.stringify({
          schemaVersion: 1,
          type: 'order.confirmed',
          eventId: randomUUID(),
          acceptedAt: new Date().toISOString(),
          correlationId,
          order: sampleOrder({ orderId, customer: { email: 'ada@example.com', name, locale: 'en' } }),
        });
      const poison: [string, string, Buffer][] = [
        ['latin1', 'F3b-latin1', Buffer.from(event('F3b-latin1', 'corr-latin1', 'Zoë'), 'latin1')],
        [
          'cesu8',
          'F3b-cesu8',
          Buffer.concat([Buffer.from(event('F3b-cesu8', 'c').slice(0, -2)), Buffer.from([0xed, 0xa0, 0x80, 0x7d])]),
        ],
        ['nul-correlation', 'F3b-nul', Buffer.from(event('F3b-nul', 'corr\u0000x'))],
        ['nul-name', 'F3b-nul-name', Buffer.from(event('F3b-nul-name', 'corr-nul-name', 'A\u0000'))],
      ];

      // Act
      for (const [messageId, , content] of poison) {
        broker.publish(stack.names.exchange, 'order.confirmed', content, {
          messageId,
          correlationId: 'corr\u0000header',
          headers: { 'x-correlation-id': 'corr\u0000header' },
        });
      }
      await postOrder(stack, 'F3b-after-poison');

      // Assert: dead-lettered on the first try, not retried as internal errors
      const deads = await recordedDeadLetters(stack.names.schema, poison.length);
      expect(deads.map((d) => d.properties.messageId).sort()).toEqual(poison.map(([id]) => id).sort());
      for (const dead of deads) {
        expect(dead.properties.headers).toMatchObject({
          'x-dead-letter-reason': 'invalid_event',
          'x-last-error-class': 'invalid',
          'x-attempts': 0,
        });
        expect(dead.properties.headers?.['x-internal-errors']).toBeUndefined();
        const original = poison.find(([id]) => id === dead.properties.messageId)?.[2];
        expect(dead.content.equals(original as Buffer)).toBe(true);
      }
      const [mail] = await smtp.waitForMails(1);
      expect(mail.subject).toBe(subjectOf('F3b-after-poison'));
      for (const [, orderId] of poison) expect(await ledgerRow(stack.names.schema, orderId)).toBeUndefined();
      expect(smtp.mails).toHaveLength(1);
    });
  });

  it('when the SMTP server is down for a while and comes back, then the backlog drains and nothing is dead-lettered', async () => {
    await withStack({ RETRY_DELAYS: '200ms,400ms,800ms,1600ms,3200ms' }, async ({ stack, smtp }) => {
      // Arrange: the SMTP server goes away (connections refused)
      const { port } = smtp;
      await smtp.close();
      const orderIds = Array.from({ length: 10 }, (_, i) => `F6-${i}`);

      // Act
      for (const id of orderIds) await postOrder(stack, id);
      await new Promise((r) => setTimeout(r, 1500));
      const back = await startSmtpCatcher({ port });
      const downFor = Date.now();
      try {
        const mails = await back.waitForMails(orderIds.length, 20000);
        console.log(
          `SMTP down for ~1.5 s: backlog of ${orderIds.length} drained ${Date.now() - downFor} ms after it came back`,
        );

        // Assert
        expect(mails.map((m) => m.subject).sort()).toEqual(orderIds.map(subjectOf).sort());
        for (const id of orderIds) {
          await eventually(async () => (await ledgerRow(stack.names.schema, id))?.status === 'sent');
        }
        expect(await deadLetterRows(stack.names.schema)).toHaveLength(0);
        await new Promise((r) => setTimeout(r, 500));
        expect(back.mails).toHaveLength(orderIds.length);
      } finally {
        await back.close();
      }
    });
  });

  it('when the same orderId is posted twice, then one email is sent and the second event is acked as a duplicate', async () => {
    await withStack({}, async ({ stack, smtp }) => {
      // Act
      await Promise.all([postOrder(stack, 'F7-twice'), postOrder(stack, 'F7-twice')]);

      // Assert: the second event is either skipped at once or held until the first send is recorded
      await eventually(async () => (await duplicatesSkipped(stack.mailerUrl)) === 1, 20000, 'duplicate skipped');
      expect(smtp.mails.map((m) => m.subject)).toEqual([subjectOf('F7-twice')]);
      expect(await ledgerRow(stack.names.schema, 'F7-twice')).toMatchObject({ status: 'sent', attempts: 1 });
    });
  });

  it('when the connection drops after the whole message went out, then it is resent once after the grace period with the same Message-ID, and recorded as outcome unknown', async () => {
    await withStack({}, async ({ stack, smtp }) => {
      // Arrange: the server takes the message, then hangs up without answering
      smtp.behaviour = { dropAfterData: true };

      // Act
      await postOrder(stack, 'F-unknown');
      await eventually(() => smtp.dropped.length === 1, 10000, 'the dropped message');
      smtp.behaviour = {};
      const [resent] = await smtp.waitForMails(1, 20000);

      // Assert
      expect(resent.messageId).toBe(smtp.dropped[0].messageId);
      expect(resent.subject).toBe(subjectOf('F-unknown'));
      await eventually(async () => (await ledgerRow(stack.names.schema, 'F-unknown'))?.status === 'sent');
      expect(await ledgerRow(stack.names.schema, 'F-unknown')).toMatchObject({
        attempts: 2,
        unknown_outcome_resends: 1,
      });
      expect((await ledgerAttempts(stack.names.schema, 'F-unknown')).map((a) => a.outcome)).toEqual([
        'unknown_outcome',
        'sent',
      ]);
      expect(await metricValue(stack.mailerUrl, 'mailer_outcome_unknown_total')).toBe(1);
    });
  });
});
