import { jsonOf, type Loose } from '@test/helpers/http';
import type * as amqp from 'amqplib';
import { connectTestBroker, eventually } from '@test/helpers/broker';
import { ledgerRow, recordedDeadLetters, subjectOf } from '@test/helpers/inspect';
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
  const listDead = () => jsonOf(fetch(`${stack.mailerUrl}/dead-letters`, { headers: ADMIN_AUTH }));
  const jobOf = (id: string) => jsonOf(fetch(`${stack.mailerUrl}/dead-letters/replays/${id}`, { headers: ADMIN_AUTH }));

  it('when 5 orders were dead-lettered with 550 and SMTP now accepts, then a dry run moves nothing and a replay job sends 5 emails and leaves the other dead letter waiting', async () => {
    // Arrange: five 550s, and one dead letter of another kind that a smtpCode filter must leave alone
    smtp.behaviour = { rejectWith: { code: 550, message: 'Mailbox unavailable' } };
    for (const orderId of orderIds) {
      expect((await postJson(stack.apiUrl, '/orders', sampleOrder({ orderId }))).status).toBe(202);
    }
    broker.channel.publish(stack.names.exchange, 'order.confirmed', Buffer.from('not json'), { messageId: 'poison' });
    await recordedDeadLetters(stack.names.schema, 6);
    smtp.behaviour = {};

    // Act 1: look, then dry run from the CLI
    const listed = await runDlqCli(['list', '--url', stack.mailerUrl], DLQ_CLI_ENV);
    const dryRun = await runDlqCli(
      ['replay', '--smtp-code', '550', '--dry-run', '--url', stack.mailerUrl],
      DLQ_CLI_ENV,
    );

    // Assert 1: recorded (the queue is empty), listed from the table; the dry run changed nothing
    expect(await dlqDepth()).toBe(0);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('6 dead letter(s): smtp_rejected 5, invalid_event 1');
    for (const orderId of orderIds)
      expect(listed.stdout).toMatch(new RegExp(`^\\d+  ${orderId}  smtp_rejected  550  attempts=1`, 'm'));
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toContain('dry run: 5 dead letter(s) would be replayed');
    expect((await listDead()).counts.total).toBe(6);
    expect(smtp.mails).toHaveLength(0);

    // Act 2: replay for real through the admin API: a job, followed to its end
    const res = await fetch(`${stack.mailerUrl}/dead-letters/replay`, {
      method: 'POST',
      headers: { ...ADMIN_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ smtpCode: 550 }),
    });
    expect(res.status).toBe(202);
    const started: Loose = await res.json();
    let job = started;
    await eventually(async () => (job = await jobOf(started.id)).state !== 'running', 15000, 'the job finished');

    // Assert 2: five moved, five emails, the poison message still waits, the ledger says sent
    expect(job).toMatchObject({ state: 'succeeded', matched: 5, moved: 5, failed: 0, pending: 0, skipped: {} });
    const mails = await smtp.waitForMails(5, 15000);
    expect(mails.map((m) => m.subject).sort()).toEqual(orderIds.map(subjectOf).sort());
    for (const orderId of orderIds) {
      await eventually(async () => (await ledgerRow(stack.names.schema, orderId))?.status === 'sent');
      expect(await ledgerRow(stack.names.schema, orderId)).toMatchObject({ status: 'sent', attempts: 2 });
    }
    const waiting = await listDead();
    expect(waiting.deadLetters).toHaveLength(1);
    expect(waiting.deadLetters[0]).toMatchObject({ messageId: 'poison', reason: 'invalid_event', state: 'dead' });
    const replayed = await jsonOf(
      fetch(`${stack.mailerUrl}/dead-letters?state=replayed&smtpCode=550`, { headers: ADMIN_AUTH }),
    );
    expect(replayed.counts.total).toBe(5);
    for (const letter of replayed.deadLetters) expect(letter.replayJobId).toBe(started.id);
  });

  it('when the remaining dead letter is replayed with --all and fails again, then the CLI follows the job to its end and a new dead letter is recorded (not lost) with a fresh attempt count', async () => {
    const replay = await runDlqCli(['replay', '--all', '--url', stack.mailerUrl], DLQ_CLI_ENV);

    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/^replay job [0-9a-f-]{36} started: 1 dead letter\(s\)$/m);
    expect(replay.stdout).toMatch(/^replay job [0-9a-f-]{36} succeeded: moved 1, skipped 0, failed 0$/m);
    await eventually(async () => (await listDead()).counts.total === 1, 10000, 'the poison message dead again');
    const [again] = (await listDead()).deadLetters;
    expect(again).toMatchObject({ messageId: 'poison', reason: 'invalid_event', attempts: 0, state: 'dead' });
    const shown = await runDlqCli(['show', again.id, '--url', stack.mailerUrl], DLQ_CLI_ENV);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`dead letter ${again.id} (dead)`);
    expect(shown.stdout).toContain('x-replay-count');
    expect(shown.stdout).toContain('not json');
  });

  it('when the dead letter is purged, then a dry run first changes nothing, the purge records who did it, and a replay no longer matches it', async () => {
    const dry = await runDlqCli(
      ['purge', '--reason', 'invalid_event', '--dry-run', '--url', stack.mailerUrl],
      DLQ_CLI_ENV,
    );
    expect(dry.stdout).toContain('dry run: 1 dead letter(s) would be purged');
    expect((await listDead()).counts.total).toBe(1);

    const purge = await runDlqCli(['purge', '--reason', 'invalid_event', '--url', stack.mailerUrl], DLQ_CLI_ENV);
    const replay = await runDlqCli(['replay', '--all', '--dry-run', '--url', stack.mailerUrl], DLQ_CLI_ENV);

    expect(purge).toMatchObject({ code: 0, stderr: '' });
    expect(purge.stdout).toContain('purged 1 dead letter(s)');
    expect((await listDead()).counts.total).toBe(0);
    const purged = await jsonOf(fetch(`${stack.mailerUrl}/dead-letters?state=purged`, { headers: ADMIN_AUTH }));
    expect(purged.deadLetters).toHaveLength(1);
    expect(purged.deadLetters[0]).toMatchObject({
      messageId: 'poison',
      purgedBy: expect.stringMatching(/^admin:[0-9a-f]{8}$/),
    });
    expect(replay.stdout).toContain('dry run: 0 dead letter(s) would be replayed');
  });

  it('when a dead letter the broker dead-lettered itself (delivery limit) is replayed and then needs a retry, then it is not dropped as a dead-letter cycle', async () => {
    // Arrange: a message as RabbitMQ leaves it after exceeding the work queue's delivery limit
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
    await eventually(async () => (await listDead()).counts.total === 1, 10000, "the broker's dead letter recorded");
    smtp.behaviour = { rejectWith: { code: 451, message: 'Try later' }, rejectCount: 1 };

    // Act
    const listed = await listDead();
    const replay = await runDlqCli(['replay', '--reason', 'delivery_limit', '--url', stack.mailerUrl], DLQ_CLI_ENV);

    // Assert: it went through a retry queue and back, and was delivered
    expect(listed.deadLetters[0]).toMatchObject({ orderId: 'F8-limit', reason: 'delivery_limit' });
    expect(replay.stdout).toContain('succeeded: moved 1');
    const [mail] = await smtp.waitForMails(1, 15000);
    expect(mail.subject).toBe(subjectOf('F8-limit'));
    expect(await ledgerRow(stack.names.schema, 'F8-limit')).toMatchObject({ attempts: 2 });
  });

  it('when the replay request has no filter, then the API answers 400 and the CLI refuses it as a usage error naming its own flags', async () => {
    const res = await fetch(`${stack.mailerUrl}/dead-letters/replay`, {
      method: 'POST',
      headers: { ...ADMIN_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ dryRun: true }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'validation_failed' });

    const cli = await runDlqCli(['replay', '--url', stack.mailerUrl], DLQ_CLI_ENV);
    expect(cli.code).toBe(2);
    expect(cli.stdout).toBe('');
    expect(cli.stderr).toMatch(
      /^give a filter \(--reason, --smtp-code, --order-id, --from, --to\) or --all\n\nUsage: /,
    );
  });
});
