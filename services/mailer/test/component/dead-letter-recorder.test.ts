import type * as amqp from 'amqplib';
import { Pool } from 'pg';
import pino from 'pino';
import { AMQP_URL, connectTestBroker, eventually } from '@test/helpers/broker';
import { DATABASE_URL, query } from '@test/helpers/database';
import { capturingLogger, type LogLine } from '@test/helpers/logs';
import {
  deleteStackTopology,
  mailerQueueNamesFor,
  mailerTopologyFor,
  uniqueStackNames,
  type StackNames,
} from '@test/helpers/stack';
import { startTcpProxy, type TcpProxy } from '@test/helpers/tcp-proxy';
import type { NewDeadLetter } from '../../src/adapters/broker/dead-letter-messages';
import { declareMailerTopology, type MailerTopology } from '../../src/adapters/broker/mailer-topology';
import { migrate } from '../../src/adapters/db/database';
import { createPgDeadLetterRecords, type PgDeadLetterRecords } from '../../src/adapters/db/dead-letter-records-pg';
import {
  createDeadLetterRecorder,
  type DeadLetterRecorder,
  type DeadLetterRecorderOptions,
} from '../../src/entry-points/queue/dead-letter-recorder';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A URL like `url` whose port is `port` (a proxy's). */
function viaPort(url: string, port: number): string {
  const proxied = new URL(url);
  proxied.port = String(port);
  return proxied.toString();
}

describe('dead-letter recorder', () => {
  let names: StackNames;
  let topology: MailerTopology;
  let broker: { connection: amqp.ChannelModel; channel: amqp.ConfirmChannel };
  let pool: Pool;
  let records: PgDeadLetterRecords;
  let logs: LogLine[];
  const recorders: DeadLetterRecorder[] = [];
  const proxies: TcpProxy[] = [];
  const pools: Pool[] = [];

  beforeEach(async () => {
    const base = uniqueStackNames();
    names = { ...base, queues: mailerQueueNamesFor(base) };
    topology = mailerTopologyFor(base);
    const { connection } = await connectTestBroker();
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    broker = { connection, channel };
    await declareMailerTopology(channel, topology);
    pool = new Pool({ connectionString: DATABASE_URL, options: `-c search_path=${names.schema}` });
    await migrate(pool, names.schema, pino({ level: 'silent' }));
    records = createPgDeadLetterRecords(pool);
    logs = [];
  });

  afterEach(async () => {
    for (const proxy of proxies) proxy.restore();
    for (const recorder of recorders.splice(0)) await recorder.stop();
    for (const proxy of proxies.splice(0)) await proxy.close();
    for (const other of pools.splice(0)) await other.end();
    await pool.end();
    await broker.connection.close();
    await deleteStackTopology(names);
  });

  function startRecorder(overrides: Partial<DeadLetterRecorderOptions> = {}): DeadLetterRecorder {
    const recorder = createDeadLetterRecorder({
      amqpUrl: AMQP_URL,
      topology,
      records,
      logger: capturingLogger(logs),
      workerId: 'worker-test',
      ...overrides,
    });
    recorders.push(recorder);
    return recorder;
  }

  async function started(recorder: DeadLetterRecorder): Promise<DeadLetterRecorder> {
    await recorder.start();
    await eventually(() => recorder.isReady(), 10_000, 'recorder consuming');
    return recorder;
  }

  /** A pool whose connections go through a proxy the test can cut. */
  async function proxiedRecords(): Promise<{ proxy: TcpProxy; records: PgDeadLetterRecords }> {
    const proxy = await startTcpProxy(Number(new URL(DATABASE_URL).port || 5432));
    proxies.push(proxy);
    const proxied = new Pool({
      connectionString: viaPort(DATABASE_URL, proxy.port),
      options: `-c search_path=${names.schema}`,
    });
    // Idle connections die with every cut; the pool replaces them.
    proxied.on('error', () => undefined);
    pools.push(proxied);
    return { proxy, records: createPgDeadLetterRecords(proxied) };
  }

  /** Dead letters as they arrive in the queue: the mailer's, not JSON, and (every third) dead-lettered by the broker. */
  async function publishDeadLetters(from: number, count: number): Promise<void> {
    const { channel } = broker;
    for (let i = from; i < from + count; i++) {
      const messageId = `dl-${i}`;
      if (i % 3 === 0) {
        // Rejected from the work queue: the broker dead-letters it with its x-death history.
        channel.sendToQueue(topology.workQueue, Buffer.from(JSON.stringify({ order: { orderId: `ord-${i}` } })), {
          messageId,
          persistent: true,
        });
      } else if (i % 3 === 1) {
        channel.sendToQueue(topology.deadLetterQueue, Buffer.from(JSON.stringify({ order: { orderId: `ord-${i}` } })), {
          messageId,
          persistent: true,
          headers: { 'x-dead-letter-reason': 'smtp_rejected', 'x-smtp-code': 550, 'x-attempts': 1 },
        });
      } else {
        channel.sendToQueue(topology.deadLetterQueue, Buffer.from(`not json \u0000 ${i}`), {
          messageId,
          persistent: true,
          headers: { 'x-dead-letter-reason': 'invalid_event', 'x-raw': Buffer.from([0x41, 0x00, 0x42]) },
        });
      }
    }
    await channel.waitForConfirms();
    await rejectFromWorkQueue(Math.ceil((from + count) / 3) - Math.ceil(from / 3));
  }

  async function rejectFromWorkQueue(count: number): Promise<void> {
    for (let rejected = 0; rejected < count;) {
      const msg = await broker.channel.get(topology.workQueue, { noAck: false });
      if (!msg) {
        await pause(20);
        continue;
      }
      broker.channel.nack(msg, false, false);
      rejected += 1;
    }
  }

  const recordedMessageIds = async () =>
    (
      await query<{ message_id: string }>(`SELECT message_id FROM "${names.schema}".dead_letters ORDER BY message_id`)
    ).map((r) => r.message_id);

  const expectedIds = (from: number, count: number) => Array.from({ length: count }, (_, i) => `dl-${from + i}`).sort();

  const queueState = async () => {
    const { messageCount, consumerCount } = await broker.channel.checkQueue(topology.deadLetterQueue);
    return { messageCount, consumerCount };
  };

  /** After a stop, unacked messages come back to a quorum queue a moment later: wait that moment, then look. */
  const queueStateAfterStop = async () => {
    await pause(1000);
    return queueState();
  };

  it('when dead letters wait in the queue, then each is recorded once and the queue is left empty', async () => {
    // Arrange: 30 dead letters of every kind; batches of at most 7
    await publishDeadLetters(0, 30);
    await eventually(async () => (await queueState()).messageCount === 30, 10_000, '30 dead letters queued');
    const recorded: number[] = [];

    // Act
    const recorder = await started(startRecorder({ prefetch: 7, onRecorded: (count) => recorded.push(count) }));
    await eventually(async () => (await recordedMessageIds()).length === 30, 10_000, '30 recorded');
    await recorder.stop();

    // Assert
    expect(await recordedMessageIds()).toEqual(expectedIds(0, 30));
    expect(recorded.reduce((sum, n) => sum + n, 0)).toBe(30);
    expect(Math.max(...recorded)).toBeLessThanOrEqual(7);
    expect(await queueStateAfterStop()).toEqual({ messageCount: 0, consumerCount: 0 });
    const reasons = await query<{ reason: string; count: string }>(
      `SELECT reason, count(*) FROM "${names.schema}".dead_letters GROUP BY reason ORDER BY reason`,
    );
    expect(reasons).toEqual([
      { reason: 'invalid_event', count: '10' },
      { reason: 'rejected', count: '10' },
      { reason: 'smtp_rejected', count: '10' },
    ]);
  });

  it('when PostgreSQL is unreachable, then dead letters stay in the queue and are recorded exactly once when it is back', async () => {
    // Arrange
    const { proxy, records: proxied } = await proxiedRecords();
    const recorder = await started(startRecorder({ records: proxied }));
    const warnings = () => logs.filter((l) => l.level === 40 && /cannot record dead letters/.test(l.msg));

    // Act 1: PostgreSQL goes away while dead letters arrive; it stays away through several retries
    proxy.cut();
    await publishDeadLetters(0, 6);
    await eventually(() => warnings().length > 0, 10_000, 'a warning that recording fails');
    await pause(2000);

    // Assert 1: nothing recorded, nothing ready in the queue (held unacked), one warning for all retries
    expect(await recordedMessageIds()).toEqual([]);
    expect(await queueState()).toEqual({ messageCount: 0, consumerCount: 1 });
    expect(warnings()).toHaveLength(1);

    // Act 2: PostgreSQL is back
    proxy.restore();

    // Assert 2: the same recorder records them, once, and says it recovered
    await eventually(async () => (await recordedMessageIds()).length === 6, 15_000, 'first 6 recorded');
    expect(logs.filter((l) => l.msg === 'recording dead letters again')).toHaveLength(1);

    // Act 3: away again; more dead letters; the recorder stops while it cannot record them
    proxy.cut();
    await publishDeadLetters(6, 6);
    await eventually(() => warnings().length > 1, 10_000, 'a second warning');
    await recorder.stop();

    // Assert 3: every one of them is back in the queue, none lost
    await eventually(async () => (await queueState()).messageCount === 6, 10_000, '6 dead letters back in the queue');
    expect(await recordedMessageIds()).toEqual(expectedIds(0, 6));

    // Act 4: PostgreSQL is back, a recorder starts again
    proxy.restore();
    const again = await started(startRecorder({ records: proxied }));
    await eventually(async () => (await recordedMessageIds()).length >= 12, 15_000, 'all 12 recorded');
    await again.stop();

    // Assert 4: all recorded exactly once, queue empty
    expect(await recordedMessageIds()).toEqual(expectedIds(0, 12));
    expect(await queueStateAfterStop()).toEqual({ messageCount: 0, consumerCount: 0 });
  }, 60_000);

  it('when the broker connection is lost between commit and ack, then the redelivered dead letters are recorded once', async () => {
    // Arrange: the recorder's broker connection goes through a proxy; the first commit cuts it before the ack
    const amqpProxy = await startTcpProxy(Number(new URL(AMQP_URL).port || 5672));
    proxies.push(amqpProxy);
    const calls: { letters: number; inserted: number }[] = [];
    const crashing: Pick<PgDeadLetterRecords, 'record'> = {
      async record(letters: NewDeadLetter[]) {
        const inserted = await records.record(letters);
        calls.push({ letters: letters.length, inserted });
        if (calls.length === 1) {
          amqpProxy.cut();
          await eventually(() => !recorder.link()?.isConnected(), 5000, 'connection lost');
          setTimeout(() => amqpProxy.restore(), 300);
        }
        return inserted;
      },
    };
    await publishDeadLetters(0, 9);
    await eventually(async () => (await queueState()).messageCount === 9, 10_000, '9 dead letters queued');

    const recorder = startRecorder({ amqpUrl: viaPort(AMQP_URL, amqpProxy.port), records: crashing });

    // Act
    await started(recorder);
    await eventually(async () => (await queueState()).messageCount === 0 && recorder.isReady(), 20_000, 'reconsumed');
    await eventually(
      () => calls.length > 0 && calls.reduce((sum, c) => sum + c.letters, 0) >= calls[0].letters + 9,
      20_000,
      'redelivered batch recorded',
    );
    await recorder.stop();

    // Assert: the first batch committed, its redelivery inserted nothing new, every dead letter once
    expect(calls[0].inserted).toBeGreaterThan(0);
    expect(calls.reduce((sum, c) => sum + c.inserted, 0)).toBe(9);
    expect(await recordedMessageIds()).toEqual(expectedIds(0, 9));
    expect(await queueStateAfterStop()).toEqual({ messageCount: 0, consumerCount: 0 });
    expect(logs.some((l) => l.level === 40 && /channel closed before the ack/.test(l.msg))).toBe(true);
  }, 60_000);
});
