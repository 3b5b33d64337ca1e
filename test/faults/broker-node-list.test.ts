import { AMQP_URL, connectTestBroker } from '@test/helpers/broker';
import { ledgerRow } from '@test/helpers/inspect';
import { capturingLogger, type LogLine } from '@test/helpers/logs';
import { uniqueName } from '@test/helpers/names';
import { sampleOrder } from '@test/helpers/orders';
import { freePort } from '@test/helpers/ports';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { startTestStack, type TestStack } from '@test/helpers/stack';

// AMQP_URL as a list of nodes, on the real broker: the first node listed refuses connections (a
// port nobody listens on), the second is the broker. And a queue that exists from before
// QUORUM_INITIAL_GROUP_SIZE was set is kept as it is.

describe('AMQP_URL with several nodes, and QUORUM_INITIAL_GROUP_SIZE over existing queues', () => {
  const logs: LogLine[] = [];
  const deadLetterQueue = uniqueName('mailer.order.confirmed.dead');
  let smtp: SmtpCatcher;
  let stack: TestStack;
  let deadNode: string;

  beforeAll(async () => {
    // Arrange: a dead-letter queue as a mailer without the setting declared it (no group size)
    const { connection, channel } = await connectTestBroker();
    await channel.assertQueue(deadLetterQueue, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 1_000_000 },
    });
    await connection.close();
    deadNode = `127.0.0.1:${await freePort()}`;
    smtp = await startSmtpCatcher();
    stack = await startTestStack({
      smtpUrl: smtp.url,
      mailerLogger: capturingLogger(logs, { service: 'mailer' }),
      env: {
        AMQP_URL: `amqp://guest:guest@${deadNode},${AMQP_URL}`,
        QUORUM_INITIAL_GROUP_SIZE: '1',
        DEAD_LETTER_QUEUE: deadLetterQueue,
      },
    });
  });

  afterAll(async () => {
    await stack?.dispose();
    await smtp?.close();
  });

  it('when the first node refuses connections, then both services connect to the next, /readyz names it, and an order is sent', async () => {
    // Act
    const res = await stack.postOrder(sampleOrder({ orderId: 'NL-1' }));
    await smtp.waitForMails(1);
    const mailerReady = (await (await fetch(`${stack.mailerUrl}/readyz`)).json()) as { checks: Record<string, string> };
    const apiReady = (await (await fetch(`${stack.apiUrl}/readyz`)).json()) as { checks: Record<string, string> };

    // Assert
    const live = new URL(AMQP_URL);
    const liveNode = `${live.hostname}:${live.port || '5672'}`;
    expect(res.status).toBe(202);
    expect((await ledgerRow(stack.names.schema, 'NL-1'))?.status).toBe('sent');
    expect(mailerReady.checks).toMatchObject({ broker: 'ready', brokerNode: liveNode });
    expect(apiReady.checks).toMatchObject({ broker: 'ready', brokerNode: liveNode });
    const refused = logs.find((l) => l.msg.startsWith('broker not reachable'));
    expect(refused).toMatchObject({ node: deadNode, level: 40 });
    expect(refused?.msg).toContain(`node 1 of 2 in AMQP_URL`);
    expect(refused?.msg).not.toContain('guest:guest');
    expect(logs.find((l) => l.msg === 'broker connected')).toMatchObject({ node: liveNode });
  });

  it('when a queue exists without x-quorum-initial-group-size, then the mailer keeps it as it is, says so, and creates the others with the size', async () => {
    // Act
    const kept = logs.filter((l) => l.msg.startsWith('queue exists with another x-quorum-initial-group-size'));
    const { connection, channel } = await connectTestBroker();
    const work = await channel.checkQueue(stack.names.queue);
    await connection.close();

    // Assert: the dead-letter queue kept, said once (both connections declare it), the work queue declared
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ queue: deadLetterQueue, current: 'none', wanted: 1, level: 30 });
    expect(work.queue).toBe(stack.names.queue);
  });
});
