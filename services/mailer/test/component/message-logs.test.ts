import { randomUUID } from 'node:crypto';
import { connectTestBroker, eventually } from '@test/helpers/broker';
import { sampleEvent, sampleOrder } from '@test/helpers/orders';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { deleteStackTopology, mailerEnv, mailerQueueNamesFor, uniqueStackNames } from '@test/helpers/stack';
import { loadMailerConfig } from '../../src/config';
import { startMailer, type RunningMailer } from '../../src/service';
import { capturingLogger, type LogLine } from '@test/helpers/logs';

const validEvent = (orderId: string, eventId: string) =>
  JSON.stringify(sampleEvent({ eventId, order: sampleOrder({ orderId }) }));

describe('log lines about a message that is dead-lettered, retried or held', () => {
  const names = uniqueStackNames();
  const lines: LogLine[] = [];
  let smtp: SmtpCatcher;
  let mailer: RunningMailer;

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    smtp.behaviour = { rejectWith: { code: 451, message: 'try later' }, rejectCount: 1 };
    mailer = await startMailer(
      loadMailerConfig(mailerEnv(names, smtp.url, { LOG_LEVEL: 'info' })),
      capturingLogger(lines, { level: 'info' }),
    );
    await eventually(() => mailer.isReady(), 15000, 'mailer ready');
  });

  afterAll(async () => {
    await mailer.stop();
    await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
    await smtp.close();
  });

  const retriedEventId = randomUUID();
  it.each([
    {
      name: 'a body that is not JSON',
      messageId: `log-notjson-${randomUUID()}`,
      body: '{"eventId": "e-1", oops',
      line: 'message dead-lettered',
      ids: {},
    },
    {
      name: 'JSON that fails the schema but has ids',
      messageId: `log-invalid-${randomUUID()}`,
      body: JSON.stringify({ eventId: 'e-invalid', order: { orderId: 'LOG-INVALID' }, currency: 'euro' }),
      line: 'message dead-lettered',
      ids: { orderId: 'LOG-INVALID', eventId: 'e-invalid' },
    },
    {
      name: 'a valid event the SMTP server answers 451',
      messageId: retriedEventId,
      body: validEvent('LOG-RETRIED', retriedEventId),
      line: 'scheduled for retry',
      ids: { orderId: 'LOG-RETRIED', eventId: retriedEventId },
    },
  ])('when $name arrives, then its "$line" line carries messageId and the ids its body has', async (c) => {
    const { connection, channel } = await connectTestBroker();
    try {
      channel.publish(names.exchange, 'order.confirmed', Buffer.from(c.body), {
        persistent: true,
        messageId: c.messageId,
      });
      await eventually(() => lines.some((l) => l.messageId === c.messageId && l.msg === c.line), 15000, c.line);
    } finally {
      await connection.close();
    }

    const about = lines.filter((l) => l.messageId === c.messageId);
    const line = about.find((l) => l.msg === c.line)!;
    expect(line).toMatchObject({ messageId: c.messageId, ...c.ids });
    if (!('orderId' in c.ids)) expect(line).not.toHaveProperty('orderId');
    // Every other line about it (e.g. the worker's "send failed") joins the same way.
    for (const other of about) expect(other).toMatchObject(c.ids);
  });
});
