import { jsonOf } from '@test/helpers/http';
import type * as amqp from 'amqplib';
import { connectTestBroker, eventually } from '@test/helpers/broker';
import { ledgerRow, subjectOf } from '@test/helpers/inspect';
import { postJson, sampleEvent, sampleOrder } from '@test/helpers/orders';
import { runDlqCli } from '@test/helpers/processes';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { ADMIN_AUTH, DLQ_CLI_ENV, startTestStack, type TestStack } from '@test/helpers/stack';

describe('replaying dead letters', () => {
  let smtp: SmtpCatcher;
  let stack: TestStack;
  let broker: { connection: amqp.ChannelModel; channel: amqp.Channel };
  const orderIds = [1, 2, 3, 4, 5].map((i) => `F8-${i}`);

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    stack = await startTestStack({ smtpUrl: smtp.url, env: { REPLAY_RATE_PER_SECOND: '20' } });
    broker = await connectTestBroker();
  });

  afterAll(async () => {
    await stack.dispose();
    await broker.connection.close();
    await smtp.close();
  });

  const dlqDepth = async () => (await broker.channel.checkQueue(stack.names.deadLetterQueue)).messageCount;

  it('when 5 orders were dead-lettered with 550 and SMTP now accepts, then a dry run moves nothing and a real replay sends 5 emails and takes exactly those 5 off the DLQ', async () => {
    // Arrange: five 550s, and one dead letter of another kind that a smtpCode filter must leave alone
    smtp.behaviour = { rejectWith: { code: 550, message: 'Mailbox unavailable' } };
    for (const orderId of orderIds) {
      expect((await postJson(stack.apiUrl, '/orders', sampleOrder({ orderId }))).status).toBe(202);
    }
    broker.channel.publish(stack.names.exchange, 'order.confirmed', Buffer.from('not json'), { messageId: 'poison' });
    await eventually(async () => (await dlqDepth()) === 6, 15000, 'six dead letters');
    smtp.behaviour = {};

    // Act 1: look, then dry run from the CLI
    const listed = await runDlqCli(['list', '--url', stack.mailerUrl], DLQ_CLI_ENV);
    const dryRun = await runDlqCli(
      ['replay', '--smtp-code', '550', '--dry-run', '--url', stack.mailerUrl],
      DLQ_CLI_ENV,
    );

    // Assert 1: listing and the dry run consumed nothing
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('6 dead letter(s)');
    for (const orderId of orderIds) expect(listed.stdout).toContain(`${orderId}  smtp_rejected  550`);
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toContain('dry run: 5 of 6 dead letter(s) match; nothing moved');
    expect(await dlqDepth()).toBe(6);
    expect(smtp.mails).toHaveLength(0);

    // Act 2: replay for real through the admin API
    const res = await fetch(`${stack.mailerUrl}/dead-letters/replay`, {
      method: 'POST',
      headers: { ...ADMIN_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ smtpCode: 550 }),
    });

    // Assert 2: five moved, five emails, the poison message still waits, the ledger says sent
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ dryRun: false, scanned: 6, matched: 5, moved: 5 });
    const mails = await smtp.waitForMails(5, 15000);
    expect(mails.map((m) => m.subject).sort()).toEqual(orderIds.map(subjectOf).sort());
    for (const orderId of orderIds) {
      await eventually(async () => (await ledgerRow(stack.names.schema, orderId))?.status === 'sent');
      expect(await ledgerRow(stack.names.schema, orderId)).toMatchObject({ status: 'sent', attempts: 2 });
    }
    expect(await dlqDepth()).toBe(1);
    const [left] = (await jsonOf(fetch(`${stack.mailerUrl}/dead-letters`, { headers: ADMIN_AUTH }))).messages;
    expect(left).toMatchObject({ messageId: 'poison', reason: 'invalid_event' });
  });

  it('when the remaining dead letter is replayed with --all and fails again, then it is back in the DLQ (not lost) with a fresh attempt count', async () => {
    const replay = await runDlqCli(['replay', '--all', '--url', stack.mailerUrl], DLQ_CLI_ENV);

    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain('moved 1 of 1 matching dead letter(s)');
    await eventually(async () => (await dlqDepth()) === 1, 10000, 'the poison message back in the DLQ');
    const body = await jsonOf(fetch(`${stack.mailerUrl}/dead-letters`, { headers: ADMIN_AUTH }));
    expect(body.messages[0]).toMatchObject({ messageId: 'poison', reason: 'invalid_event', attempts: 0 });
  });

  it('when a dead letter the broker dead-lettered itself (delivery limit) is replayed and then needs a retry, then it is not dropped as a dead-letter cycle', async () => {
    // Arrange: a message as RabbitMQ leaves it after exceeding the work queue's delivery limit
    await broker.channel.purgeQueue(stack.names.deadLetterQueue);
    smtp.mails.length = 0;
    const event = sampleEvent({
      eventId: '0b9c3c0e-7d2f-4a8e-9c47-1f1a3e5b7d21',
      correlationId: 'limit-1',
      order: sampleOrder({ orderId: 'F8-limit' }),
    });
    broker.channel.sendToQueue(stack.names.deadLetterQueue, Buffer.from(JSON.stringify(event)), {
      persistent: true,
      messageId: event.eventId,
      headers: {
        'x-first-death-reason': 'delivery_limit',
        'x-first-death-queue': stack.names.queue,
        'x-death': [
          {
            count: 1,
            reason: 'delivery_limit',
            queue: stack.names.queue,
            exchange: '',
            'routing-keys': [stack.names.queue],
          },
        ],
      },
    });
    await eventually(async () => (await dlqDepth()) === 1);
    smtp.behaviour = { rejectWith: { code: 451, message: 'Try later' }, rejectCount: 1 };

    // Act
    const listed = await jsonOf(fetch(`${stack.mailerUrl}/dead-letters`, { headers: ADMIN_AUTH }));
    const replay = await runDlqCli(['replay', '--reason', 'delivery_limit', '--url', stack.mailerUrl], DLQ_CLI_ENV);

    // Assert: it went through a retry queue and back, and was delivered
    expect(listed.messages[0]).toMatchObject({ orderId: 'F8-limit', reason: 'delivery_limit' });
    expect(replay.stdout).toContain('moved 1 of 1');
    const [mail] = await smtp.waitForMails(1, 15000);
    expect(mail.subject).toBe(subjectOf('F8-limit'));
    expect(await ledgerRow(stack.names.schema, 'F8-limit')).toMatchObject({ attempts: 2 });
  });

  it('when the replay request has no filter, then the API answers 400 and the CLI exits non-zero naming the problem', async () => {
    const res = await fetch(`${stack.mailerUrl}/dead-letters/replay`, {
      method: 'POST',
      headers: { ...ADMIN_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ dryRun: true }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'validation_failed' });

    const cli = await runDlqCli(['replay', '--url', stack.mailerUrl], DLQ_CLI_ENV);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('HTTP 400');
    expect(cli.stderr).toContain('give a filter');
  });
});
