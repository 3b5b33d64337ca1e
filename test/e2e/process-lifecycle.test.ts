import { deadLetterRows } from '@test/helpers/inspect';
import { AMQP_URL, connectTestBroker, eventually } from '@test/helpers/broker';
import { uniqueName } from '@test/helpers/names';
import { sampleEvent, sampleOrder, TEST_API_KEY_ENV } from '@test/helpers/orders';
import { spawnService } from '@test/helpers/processes';
import { startSmtpCatcher } from '@test/helpers/smtp-catcher';
import { query } from '@test/helpers/database';
import { deleteStackTopology, mailerEnv, mailerQueueNamesFor, uniqueStackNames } from '@test/helpers/stack';

describe('service processes', () => {
  it.each([
    ['mailer', { PREFETCH: '0', SMTP_URL: 'http://nope' }, ['PREFETCH', 'SMTP_URL']],
    ['order-api', { PORT: 'abc', AMQP_URL: 'localhost' }, ['PORT', 'AMQP_URL']],
  ] as const)('when %s gets bad config, then it exits 1 naming each bad key', async (service, env, keys) => {
    const proc = spawnService(service, env);

    expect(await proc.exited).toBe(1);
    for (const key of keys) expect(proc.stderr()).toContain(key);
  });

  it('when the order API gets SIGTERM, then it stops and exits 0', async () => {
    const exchange = uniqueName('orders');
    const proc = spawnService('order-api', { PORT: '0', AMQP_URL, ORDERS_EXCHANGE: exchange, ...TEST_API_KEY_ENV });
    await eventually(() => proc.stdout().includes('broker connected'), 15000, 'order API connected');

    proc.child.kill('SIGTERM');

    expect(await proc.exited).toBe(0);
    expect(proc.stdout()).toContain('"msg":"stopped"');
    const { connection, channel } = await connectTestBroker();
    await channel.deleteExchange(exchange);
    await connection.close();
  });

  it('when the mailer gets SIGTERM with sends in flight, then they all finish and are acked, none lost or doubled', async () => {
    // Arrange: a slow SMTP server, a mailer process and five events waiting for it
    const smtp = await startSmtpCatcher();
    smtp.behaviour = { delayMs: 1500 };
    const names = uniqueStackNames();
    const proc = spawnService('mailer', {
      ...mailerEnv(names, smtp.url),
      LOG_LEVEL: 'info',
      PREFETCH: '10',
      SMTP_POOL_SIZE: '5',
    });
    const { connection, channel } = await connectTestBroker();
    try {
      await eventually(() => proc.stdout().includes('broker connected'), 15000, 'mailer connected');
      for (let i = 0; i < 5; i++) {
        const event = sampleEvent({ correlationId: `drain-${i}`, order: sampleOrder({ orderId: `DRAIN-${i}` }) });
        channel.publish(names.exchange, 'order.confirmed', Buffer.from(JSON.stringify(event)), { persistent: true });
      }
      await eventually(() => smtp.receiving >= 5, 15000, 'five sends in flight');
      expect(smtp.mails).toHaveLength(0);

      // Act
      proc.child.kill('SIGTERM');

      // Assert
      expect(await proc.exited).toBe(0);
      expect(smtp.mails.map((m) => m.subject).sort()).toEqual(
        [0, 1, 2, 3, 4].map((i) => `Your order DRAIN-${i} is confirmed`),
      );
      expect((await channel.checkQueue(names.queue)).messageCount).toBe(0);
      expect((await channel.checkQueue(names.deadLetterQueue)).messageCount).toBe(0);
      expect(await deadLetterRows(names.schema)).toHaveLength(0);
      const rows = await query<{ status: string }>(`SELECT status FROM "${names.schema}".deliveries`);
      expect(rows.map((r) => r.status)).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);
    } finally {
      proc.child.kill('SIGKILL');
      await connection.close();
      await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
      await smtp.close();
    }
  });
});
