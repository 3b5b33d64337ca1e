import { randomUUID } from 'node:crypto';
import { loadMailerConfig } from '../../services/mailer/src/config';
import { startMailer } from '../../services/mailer/src/service';
import { connectTestBroker, eventually } from '@test/helpers/broker';
import {
  deadLetterRows,
  duplicatesSkipped,
  ledgerAttempts,
  ledgerRow,
  metricValue,
  subjectOf,
} from '@test/helpers/inspect';
import { sampleEvent, sampleOrder } from '@test/helpers/orders';
import { spawnService } from '@test/helpers/processes';
import { startSmtpCatcher } from '@test/helpers/smtp-catcher';
import { deleteStackTopology, mailerEnv, mailerQueueNamesFor, uniqueStackNames } from '@test/helpers/stack';

function orderEvent(orderId: string): Buffer {
  return Buffer.from(
    JSON.stringify(sampleEvent({ correlationId: `crash-${orderId}`, order: sampleOrder({ orderId }) })),
  );
}

/**
 * A mailer child process with a test-only pause at one point of a send, SIGKILLed there; then a
 * healthy mailer in-process takes the redelivered message.
 */
async function crashThenRecover(
  pauseKey: 'FAULT_PAUSE_BEFORE_ACK_MS' | 'FAULT_PAUSE_BEFORE_RECORD_MS',
  orderId: string,
) {
  const smtp = await startSmtpCatcher();
  const names = uniqueStackNames();
  const env = mailerEnv(names, smtp.url);
  const { connection, channel } = await connectTestBroker();
  const child = spawnService('mailer', { ...env, LOG_LEVEL: 'info', [pauseKey]: '60000' });
  try {
    await eventually(() => child.stdout().includes('broker connected'), 20000, 'crashing mailer connected');
    channel.publish(names.exchange, 'order.confirmed', orderEvent(orderId), {
      persistent: true,
      messageId: randomUUID(),
    });
    await eventually(
      () => child.stdout().includes('fault injection: pausing'),
      20000,
      'the worker to reach the fault point',
    );
    expect(smtp.mails.map((m) => m.subject)).toEqual([subjectOf(orderId)]);

    // Act: kill it where it stands, then start a healthy worker on the same queue and ledger
    child.child.kill('SIGKILL');
    expect(await child.exited).toBe('SIGKILL');
    const mailer = await startMailer(loadMailerConfig(env));
    return { smtp, names, mailer };
  } catch (err) {
    child.child.kill('SIGKILL');
    throw err;
  } finally {
    // The queue is inspected through the recovered mailer's effects; this connection only published.
    await connection.close();
  }
}

describe('worker crashes', () => {
  it('when a worker is killed after SMTP accepted and the ledger recorded it, but before the ack, then the redelivery sends no second email', async () => {
    const { smtp, names, mailer } = await crashThenRecover('FAULT_PAUSE_BEFORE_ACK_MS', 'F5-before-ack');
    try {
      // Assert: the redelivered message is acked as a duplicate
      const mailerUrl = `http://127.0.0.1:${mailer.port}`;
      await eventually(async () => (await duplicatesSkipped(mailerUrl)) === 1, 20000, 'duplicate skipped');
      expect(smtp.mails.map((m) => m.subject)).toEqual([subjectOf('F5-before-ack')]);
      expect(await ledgerRow(names.schema, 'F5-before-ack')).toMatchObject({ status: 'sent', attempts: 1 });
      await mailer.stop();
      const { connection, channel } = await connectTestBroker();
      expect((await channel.checkQueue(names.queue)).messageCount).toBe(0);
      expect((await channel.checkQueue(names.deadLetterQueue)).messageCount).toBe(0);
      expect(await deadLetterRows(names.schema)).toHaveLength(0);
      await connection.close();
    } finally {
      await mailer.stop();
      await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
      await smtp.close();
    }
  });

  it('when a worker is killed after SMTP accepted but before the ledger recorded it, then the email is resent once, after the grace period, with the same Message-ID (the documented duplicate window)', async () => {
    const { smtp, names, mailer } = await crashThenRecover('FAULT_PAUSE_BEFORE_RECORD_MS', 'F5-before-record');
    try {
      await smtp.waitForMails(2, 20000);
      const [first, second] = smtp.mails;
      expect(second.messageId).toBe(first.messageId);
      expect(second.subject).toBe(subjectOf('F5-before-record'));
      await eventually(async () => (await ledgerRow(names.schema, 'F5-before-record'))?.status === 'sent');
      expect(await ledgerRow(names.schema, 'F5-before-record')).toMatchObject({
        attempts: 2,
        unknown_outcome_resends: 1,
      });
      expect((await ledgerAttempts(names.schema, 'F5-before-record')).map((a) => a.outcome)).toEqual([
        'unknown_outcome',
        'sent',
      ]);
      expect(await metricValue(`http://127.0.0.1:${mailer.port}`, 'mailer_outcome_unknown_total')).toBe(1);
    } finally {
      await mailer.stop();
      await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
      await smtp.close();
    }
  });
});
