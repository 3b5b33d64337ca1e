import type * as amqp from 'amqplib';
import { connectTestBroker, eventually } from '@test/helpers/broker';
import { query } from '@test/helpers/database';
import { jsonOf, type Loose } from '@test/helpers/http';
import { deadLetterRows, ledgerRow, subjectOf } from '@test/helpers/inspect';
import { sampleEvent, sampleOrder } from '@test/helpers/orders';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { ADMIN_AUTH, startTestStack, type TestStack } from '@test/helpers/stack';
import { startTcpProxy } from '@test/helpers/tcp-proxy';
import { DATABASE_URL } from '@test/helpers/database';
import { loadMailerConfig } from '../../services/mailer/src/config';
import { startMailer, type RunningMailer } from '../../services/mailer/src/service';

const adminGet = (baseUrl: string, path: string) => jsonOf(fetch(`${baseUrl}${path}`, { headers: ADMIN_AUTH }));

const adminPost = (baseUrl: string, path: string, body: unknown) =>
  fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { ...ADMIN_AUTH, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

const recordedCount = async (schema: string) =>
  Number((await query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".dead_letters`))[0].n);

/** Every id of a listing, page by page through the cursor, and the counts each page reported. */
async function listAll(baseUrl: string, pageSize: number): Promise<{ ids: string[]; totals: number[] }> {
  const ids: string[] = [];
  const totals: number[] = [];
  let cursor: string | null = null;
  do {
    const page: Loose = await adminGet(
      baseUrl,
      `/dead-letters?limit=${pageSize}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    ids.push(...page.deadLetters.map((d: { id: string }) => d.id));
    totals.push(page.counts.total);
    cursor = page.nextCursor;
  } while (cursor);
  return { ids, totals };
}

/** Publishes `count` dead letters straight into the dead-letter queue, as the mailer leaves them, with confirms. */
async function publishDeadLetters(queue: string, count: number): Promise<void> {
  const { connection } = await connectTestBroker();
  const ch = await connection.createConfirmChannel();
  try {
    for (let i = 0; i < count; i++) {
      const rejected = i % 2 === 0;
      const event = sampleEvent({ order: sampleOrder({ orderId: `DL-${i}` }) });
      ch.sendToQueue(queue, Buffer.from(JSON.stringify(event)), {
        persistent: true,
        messageId: event.eventId,
        headers: {
          'x-dead-letter-reason': rejected ? 'smtp_rejected' : 'retries_exhausted',
          ...(rejected ? { 'x-smtp-code': 550, 'x-smtp-response': '550 No such user here' } : { 'x-smtp-code': 451 }),
          'x-attempts': rejected ? 1 : 6,
          'x-last-failure-at': new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
        },
      });
      if (i % 1000 === 999) await ch.waitForConfirms();
    }
    await ch.waitForConfirms();
  } finally {
    await connection.close();
  }
}

describe('dead letters recorded in PostgreSQL', () => {
  let smtp: SmtpCatcher;
  let broker: { connection: amqp.ChannelModel; channel: amqp.Channel };

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    broker = await connectTestBroker();
  });

  afterAll(async () => {
    await broker.connection.close();
    await smtp.close();
  });

  beforeEach(() => {
    smtp.behaviour = {};
    smtp.mails.length = 0;
  });

  const dlqDepth = async (stack: TestStack) =>
    (await broker.channel.checkQueue(stack.names.deadLetterQueue)).messageCount;

  it('when 20,000 dead letters arrive, then the queue is emptied into the table, and three concurrent listings page through all 20,000 in one stable order while a dry run matches all 20,000', async () => {
    const stack = await startTestStack({ smtpUrl: smtp.url });
    try {
      // Arrange: 20,000 dead letters, half of each reason
      const total = 20_000;
      const arriving = Date.now();
      await publishDeadLetters(stack.names.deadLetterQueue, total);
      await eventually(async () => (await recordedCount(stack.names.schema)) === total, 180_000, 'all recorded');
      console.log(`recorded ${total} dead letters from the queue in ${Date.now() - arriving} ms (publishing included)`);
      expect(await dlqDepth(stack)).toBe(0);

      // Act: three clients page through (newest first, 500 a page) while a dry run matches every one
      const started = Date.now();
      const [a, b, c, dryRun] = await Promise.all([
        listAll(stack.mailerUrl, 500),
        listAll(stack.mailerUrl, 500),
        listAll(stack.mailerUrl, 500),
        adminPost(stack.mailerUrl, '/dead-letters/replay', { all: true, dryRun: true, limit: 100_000 }),
      ]);
      console.log(`three listings of ${total} (40 pages each) and a dry run, concurrently: ${Date.now() - started} ms`);

      // Assert: the same 20,000, once each, in one order, newest first; the dry run saw them all; nothing moved
      for (const listing of [a, b, c]) {
        expect(listing.ids).toHaveLength(total);
        expect(new Set(listing.ids).size).toBe(total);
        expect(listing.totals.every((t) => t === total)).toBe(true);
      }
      expect(b.ids).toEqual(a.ids);
      expect(c.ids).toEqual(a.ids);
      expect(a.ids.map(Number)).toEqual([...a.ids.map(Number)].sort((x, y) => y - x));
      expect(dryRun.status).toBe(200);
      const preview: Loose = await dryRun.json();
      expect(preview).toMatchObject({ dryRun: true, matched: total });
      expect(new Set(preview.deadLetters.map((d: { id: string }) => d.id))).toEqual(new Set(a.ids));
      const first: Loose = await adminGet(stack.mailerUrl, '/dead-letters?limit=1');
      expect(first.counts.byReason).toEqual({ smtp_rejected: total / 2, retries_exhausted: total / 2 });
      expect(await dlqDepth(stack)).toBe(0);
      expect((await deadLetterRows(stack.names.schema)).every((r) => r.state === 'dead')).toBe(true);
    } finally {
      await stack.dispose();
    }
  }, 300_000);

  it('when a replay job is interrupted by a mailer restart, then it resumes and moves every matching dead letter exactly once, and a replay asked of another mailer meanwhile gets 409 naming the job', async () => {
    const stack = await startTestStack({ smtpUrl: smtp.url, env: { REPLAY_RATE_PER_SECOND: '40' } });
    const mailers: RunningMailer[] = [];
    const startAnother = async (workerId: string) => {
      const mailer = await startMailer(loadMailerConfig({ ...mailerEnvOf(stack), WORKER_ID: workerId }));
      mailers.push(mailer);
      await mailer.started;
      await eventually(() => mailer.isReady(), 15_000, `${workerId} ready`);
      return mailer;
    };
    try {
      // Arrange: 120 orders rejected with 550, recorded; a second mailer on the same queues and ledger
      const orderIds = Array.from({ length: 120 }, (_, i) => `RJ-${i}`);
      smtp.behaviour = { rejectWith: { code: 550, message: 'No such user here' } };
      for (const orderId of orderIds) expect((await stack.postOrder(sampleOrder({ orderId }))).status).toBe(202);
      await eventually(async () => (await recordedCount(stack.names.schema)) === orderIds.length, 60_000, 'recorded');
      smtp.behaviour = {};
      const other = await startAnother('mailer-b');
      const otherUrl = `http://127.0.0.1:${other.port}`;

      // Act 1: a replay on the first mailer, then one on the second
      const accepted = await adminPost(stack.mailerUrl, '/dead-letters/replay', { reason: 'smtp_rejected' });
      const refused = await adminPost(otherUrl, '/dead-letters/replay', { smtpCode: 550 });

      // Assert 1: 202 with the job at once; 409 naming it
      expect(accepted.status).toBe(202);
      const job: Loose = await accepted.json();
      expect(job).toMatchObject({ state: 'running', matched: orderIds.length });
      expect(accepted.headers.get('location')).toBe(`/dead-letters/replays/${job.id}`);
      expect(refused.status).toBe(409);
      expect(JSON.stringify(await refused.json())).toContain(job.id);

      // Act 2: the first mailer stops mid-job and starts again
      await eventually(
        async () => (await adminGet(otherUrl, `/dead-letters/replays/${job.id}`)).moved >= 20,
        20_000,
        'the job under way',
      );
      await stack.mailer.stop();
      const stoppedAt: Loose = await adminGet(otherUrl, `/dead-letters/replays/${job.id}`);
      const restarted = await startAnother(stack.mailerConfig.WORKER_ID);
      const restartedUrl = `http://127.0.0.1:${restarted.port}`;
      let done: Loose;
      await eventually(
        async () => (done = await adminGet(restartedUrl, `/dead-letters/replays/${job.id}`)).state !== 'running',
        60_000,
        'the job finished',
      );
      console.log(
        `replay job: ${stoppedAt.moved} moved before the restart, finished after ${done.resumes} resume(s) on ${done.finishedAt}`,
      );

      // Assert 2: every one moved once, one email per order, nothing dead any more
      expect(stoppedAt.moved).toBeLessThan(orderIds.length);
      expect(done).toMatchObject({ state: 'succeeded', matched: 120, moved: 120, failed: 0, pending: 0 });
      expect(done.resumes).toBeGreaterThanOrEqual(1);
      expect((await adminGet(restartedUrl, '/dead-letters/replays')).jobs).toMatchObject([
        { id: job.id, state: 'succeeded' },
      ]);
      const mails = await smtp.waitForMails(orderIds.length, 30_000);
      await new Promise((r) => setTimeout(r, 1000));
      expect(smtp.mails).toHaveLength(orderIds.length);
      expect(mails.map((m) => m.subject).sort()).toEqual(orderIds.map(subjectOf).sort());
      const rows = await query<{ state: string; replay_job_id: string }>(
        `SELECT state, replay_job_id FROM "${stack.names.schema}".dead_letters`,
      );
      expect(rows).toHaveLength(orderIds.length);
      expect(rows.every((r) => r.state === 'replayed' && r.replay_job_id === job.id)).toBe(true);
      for (const orderId of orderIds.slice(0, 5)) {
        expect(await ledgerRow(stack.names.schema, orderId)).toMatchObject({ status: 'sent', attempts: 2 });
      }
    } finally {
      for (const mailer of mailers) await mailer.stop();
      await stack.dispose();
    }
  }, 180_000);

  it('when PostgreSQL is unreachable while dead letters arrive, then they wait in the queue (also across a mailer restart) and are recorded exactly once when it is back', async () => {
    const proxy = await startTcpProxy(Number(new URL(DATABASE_URL).port || 5432));
    const viaProxy = new URL(DATABASE_URL);
    viaProxy.port = String(proxy.port);
    const stack = await startTestStack({ smtpUrl: smtp.url, env: { DATABASE_URL: viaProxy.toString() } });
    let restarted: RunningMailer | undefined;
    const poison = (i: number) =>
      broker.channel.publish(stack.names.exchange, 'order.confirmed', Buffer.from(`not json ${i}`), {
        messageId: `poison-${i}`,
        persistent: true,
      });
    try {
      // Act 1: the database goes away; invalid events are dead-lettered (no ledger needed) meanwhile
      proxy.cut();
      for (let i = 0; i < 10; i++) poison(i);
      await new Promise((r) => setTimeout(r, 2000));
      proxy.restore();

      // Assert 1: recorded once the database is back, and the queue is empty
      await eventually(async () => (await recordedCount(stack.names.schema)) === 10, 30_000, 'first 10 recorded');

      // Act 2: down again; more dead letters; the mailer stops while it cannot record them
      proxy.cut();
      for (let i = 10; i < 20; i++) poison(i);
      await new Promise((r) => setTimeout(r, 2000));
      await stack.mailer.stop();

      // Assert 2: every one of them is back in the dead-letter queue, none lost
      await eventually(async () => (await dlqDepth(stack)) === 10, 10_000, 'ten dead letters waiting in the queue');

      // Act 3: the database is back, the mailer starts again
      proxy.restore();
      restarted = await startMailer(loadMailerConfig(mailerEnvOf(stack, { DATABASE_URL: viaProxy.toString() })));
      await restarted.started;

      // Assert 3: all 20 recorded exactly once, queue empty
      await eventually(async () => (await recordedCount(stack.names.schema)) >= 20, 30_000, 'all 20 recorded');
      await eventually(async () => (await dlqDepth(stack)) === 0, 10_000, 'dead-letter queue empty');
      const rows = await deadLetterRows(stack.names.schema);
      expect(rows.map((r) => r.properties.messageId).sort()).toEqual(
        Array.from({ length: 20 }, (_, i) => `poison-${i}`).sort(),
      );
      expect(rows.every((r) => r.reason === 'invalid_event')).toBe(true);
    } finally {
      proxy.restore();
      await restarted?.stop();
      await stack.dispose();
      await proxy.close();
    }
  }, 120_000);
});

/** The environment the stack's mailer was started with, and `overrides`: another mailer on the same queues and ledger. */
function mailerEnvOf(stack: TestStack, overrides: Record<string, string> = {}): Record<string, string> {
  return { ...stack.mailerEnv, ...overrides };
}
