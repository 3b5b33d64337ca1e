import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import { loadMailerConfig } from '../../services/mailer/src/config';
import { startMailer, type RunningMailer } from '../../services/mailer/src/service';
import { loadOrderApiConfig } from '../../services/order-api/src/config';
import { startOrderApi, type RunningOrderApi } from '../../services/order-api/src/service';
import { eventually } from '@test/helpers/broker';
import { dropSchema, query } from '@test/helpers/database';
import { postJson, sampleOrder, TEST_API_KEY_ENV } from '@test/helpers/orders';
import { startPrivateBroker, type PrivateBroker } from '@test/helpers/private-broker';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { mailerEnv, mailerQueueNamesFor, uniqueStackNames } from '@test/helpers/stack';

const LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'silent';
/** Orders posted at least, and accepted after the restart at least, before the stream stops. */
const MIN_ORDERS = 60;
const MIN_ACCEPTED_EACH_SIDE = 15;
const BATCH_SIZE = 3;
const BATCH_PAUSE_MS = 100;
const DOWNTIME_MS = 1500;
const SMTP_DELAY_MS = 200;
/** A stream that never sees the API recover stops after this long (and the assertions say why). */
const STREAM_LIMIT_MS = 40_000;

type Phase = 'before' | 'during' | 'after';

interface PostResult {
  orderId: string;
  status: number;
  /** Where the broker stood when the request was sent. */
  phase: Phase;
  body: string;
  answeredAt: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const subjectOf = (orderId: string) => `Your order ${orderId} is confirmed`;

describe('broker restart', () => {
  const names = uniqueStackNames();
  const queues = mailerQueueNamesFor(names);
  let broker: PrivateBroker | undefined;
  let smtp: SmtpCatcher | undefined;
  let mailer: RunningMailer | undefined;
  let api: RunningOrderApi | undefined;

  beforeAll(async () => {
    broker = await startPrivateBroker();
    smtp = await startSmtpCatcher();
    // The mailer first: it declares and binds the queue the API's mandatory publishes must reach.
    mailer = await startMailer(loadMailerConfig(mailerEnv(names, smtp.url, { AMQP_URL: broker.url, LOG_LEVEL })));
    api = await startOrderApi(
      loadOrderApiConfig({
        PORT: '0',
        AMQP_URL: broker.url,
        ORDERS_EXCHANGE: names.exchange,
        LOG_LEVEL,
        PUBLISH_CONFIRM_TIMEOUT_MS: '2000',
        ...TEST_API_KEY_ENV,
      }),
    );
    await eventually(() => Boolean(mailer?.isReady() && api?.isReady()), 15000, 'both services ready');
  }, 60_000);

  afterAll(async () => {
    const failures: unknown[] = [];
    const attempt = async (work: () => Promise<void> | undefined) => {
      try {
        await work();
      } catch (err) {
        failures.push(err);
      }
    };
    await attempt(() => api?.stop());
    await attempt(() => mailer?.stop());
    await attempt(() => dropSchema(names.schema));
    await attempt(() => broker?.shutdown());
    await attempt(() => smtp?.close());
    if (failures.length > 0) throw new AggregateError(failures, 'cleanup failed');
  }, 60_000);

  /** Messages ready in any of the mailer's queues on the private broker (retry and hold queues included). */
  async function readyMessages(url: string): Promise<number> {
    const connection = await amqp.connect(url);
    connection.on('error', () => undefined);
    try {
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      let total = 0;
      for (const queue of queues) total += (await channel.checkQueue(queue)).messageCount;
      return total;
    } finally {
      await connection.close();
    }
  }

  it('when the broker restarts mid-stream, then every accepted order is emailed exactly once', async () => {
    if (!broker || !smtp || !mailer || !api) throw new Error('the stack did not start');
    const [privateBroker, catcher, runningMailer, runningApi] = [broker, smtp, mailer, api];
    const apiUrl = `http://127.0.0.1:${runningApi.port}`;
    const run = randomBytes(3).toString('hex');
    const results: PostResult[] = [];
    let phase: Phase = 'before';
    let posted = 0;
    const accepted = (p?: Phase) => results.filter((r) => r.status === 202 && (p === undefined || r.phase === p));

    // Arrange: a stream of orders, a few at a time, each with an orderId of its own
    const postOne = async (orderId: string) => {
      const sentIn = phase;
      const response = await postJson(
        apiUrl,
        '/orders',
        sampleOrder({
          orderId,
          customer: { email: `${orderId.toLowerCase()}@example.com`, name: orderId, locale: 'en' },
        }),
      );
      const body = await response.text();
      results.push({ orderId, status: response.status, phase: sentIn, body, answeredAt: Date.now() });
    };
    // Each send takes a while, so that the mailer has messages in flight (unacked) when the broker goes.
    catcher.behaviour = { delayMs: SMTP_DELAY_MS };
    const streamStarted = Date.now();
    const stream = (async () => {
      while (
        !(posted >= MIN_ORDERS && accepted('after').length >= MIN_ACCEPTED_EACH_SIDE) &&
        Date.now() - streamStarted < STREAM_LIMIT_MS
      ) {
        const batch = Array.from({ length: BATCH_SIZE }, () => `BR-${run}-${posted++}`);
        await Promise.all(batch.map(postOne));
        await sleep(BATCH_PAUSE_MS);
      }
    })();

    // Act: restart the broker's application while the orders flow
    await eventually(
      () => accepted('before').length >= MIN_ACCEPTED_EACH_SIDE,
      15000,
      `${MIN_ACCEPTED_EACH_SIDE} orders accepted before the restart`,
    );
    phase = 'during';
    const stopAppAt = Date.now();
    await privateBroker.stopApp();
    const stoppedAt = Date.now();
    await sleep(DOWNTIME_MS);
    await privateBroker.startApp();
    const restartedAt = Date.now();
    phase = 'after';
    const recovered = { api: -1, mailer: -1 };
    await eventually(
      () => {
        if (recovered.api < 0 && runningApi.isReady()) recovered.api = Date.now() - restartedAt;
        if (recovered.mailer < 0 && runningMailer.isReady()) recovered.mailer = Date.now() - restartedAt;
        return recovered.api >= 0 && recovered.mailer >= 0;
      },
      30000,
      'both services ready again after the restart',
    );
    await stream;
    const firstAcceptedAfter = accepted('after')[0]?.answeredAt ?? Number.NaN;
    const lastRefused = Math.max(...results.filter((r) => r.status === 503).map((r) => r.answeredAt));

    // Assert: every answer is an acceptance or a refusal
    const unexpected = results.filter((r) => r.status !== 202 && r.status !== 503);
    expect(unexpected).toEqual([]);
    const acceptedIds = accepted().map((r) => r.orderId);
    const refused = results.filter((r) => r.status === 503);

    // Wait until every accepted order has its email and nothing is left in any queue, twice in a row
    // a second apart, so that a late duplicate (a redelivery, a held resend) would show up.
    const mailCount = () => {
      const counts = new Map<string, number>();
      for (const mail of catcher.mails) counts.set(mail.subject ?? '', (counts.get(mail.subject ?? '') ?? 0) + 1);
      return counts;
    };
    const settled = async () => {
      const counts = mailCount();
      return acceptedIds.every((id) => counts.has(subjectOf(id))) && (await readyMessages(privateBroker.url)) === 0;
    };
    const waitStarted = Date.now();
    await eventually(
      async () => {
        if (!(await settled())) return false;
        await sleep(1000);
        return settled();
      },
      60_000,
      `an email for each of the ${acceptedIds.length} accepted orders and empty queues`,
    );
    const allEmailedAfterMs = Date.now() - waitStarted;

    console.log(
      [
        `broker restart: ${results.length} orders posted, ${acceptedIds.length} accepted ` +
          `(${accepted('before').length} before, ${accepted('during').length} during, ${accepted('after').length} after), ` +
          `${refused.length} refused (503)`,
        `  stop_app took ${stoppedAt - stopAppAt} ms; app down ${restartedAt - stoppedAt} ms (pause and start_app)`,
        `  after start_app returned: API ready in ${recovered.api} ms, mailer ready in ${recovered.mailer} ms, ` +
          `first order accepted after ${firstAcceptedAfter - restartedAt} ms, ` +
          `last refusal at ${lastRefused - restartedAt} ms`,
        `  ${catcher.mails.length} emails in all; every accepted order emailed and queues empty (stable for 1 s) ` +
          `${allEmailedAfterMs} ms after the stream ended`,
        // By problem type: each body names its own order, so the bodies themselves are all distinct.
        `  refusals by type: ${JSON.stringify(countBy(refused.map((r) => problemType(r.body))))}`,
      ].join('\n'),
    );

    // Assert: exactly one email per accepted order, never two for any order
    const counts = mailCount();
    const wrongCount = acceptedIds.filter((id) => counts.get(subjectOf(id)) !== 1);
    expect(wrongCount).toEqual([]);
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([subject]) => subject);
    expect(duplicated).toEqual([]);
    const postedSubjects = new Set(results.map((r) => subjectOf(r.orderId)));
    expect([...counts.keys()].filter((s) => !postedSubjects.has(s))).toEqual([]);

    // Assert: the stream really crossed the restart
    expect(accepted('before').length).toBeGreaterThanOrEqual(MIN_ACCEPTED_EACH_SIDE);
    expect(accepted('after').length).toBeGreaterThanOrEqual(MIN_ACCEPTED_EACH_SIDE);

    // Assert: the ledger says sent for every accepted order, and for every order it knows
    const rows = await query<{ order_id: string; status: string }>(
      `SELECT order_id, status FROM "${names.schema}".deliveries`,
    );
    const statusOf = new Map(rows.map((r) => [r.order_id, r.status]));
    expect(acceptedIds.filter((id) => statusOf.get(id) !== 'sent')).toEqual([]);
    expect(rows.filter((r) => r.status !== 'sent')).toEqual([]);
    expect(rows.filter((r) => counts.get(subjectOf(r.order_id)) !== 1)).toEqual([]);
  }, 150_000);
});

/** The `type` of a problem+json body, or the body itself (cut) when it is not one. */
function problemType(body: string): string {
  try {
    return String((JSON.parse(body) as { type?: unknown }).type);
  } catch {
    return body.slice(0, 200);
  }
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
