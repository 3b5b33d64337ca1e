import { loadMailerConfig } from '../../services/mailer/src/config';
import { startMailer, type RunningMailer } from '../../services/mailer/src/service';
import { eventually } from '@test/helpers/broker';
import { query } from '@test/helpers/database';
import { deadLetterRows, ledgerAttempts, metricValue } from '@test/helpers/inspect';
import { listenToMailEvents } from '@test/helpers/mail-events';
import { postJson, sampleOrder } from '@test/helpers/orders';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { startTestStack, type TestStack } from '@test/helpers/stack';

jest.setTimeout(120_000);

/** Issue #15: several mailers on one queue share one cap on sends (SMTP_MAX_RATE), and a relay's rate-limit reply pauses a worker. */

/** The most of `times` (ms, ascending) within any `windowMs` that starts at one of them. */
function busiestWindow(times: number[], windowMs: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (j < times.length && times[j] < times[i] + windowMs) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

interface DeliveryRow {
  order_id: string;
  status: string;
  attempts: number;
  worker_id: string;
}

const deliveries = (schema: string) =>
  query<DeliveryRow>(`SELECT order_id, status, attempts, worker_id FROM "${schema}".deliveries ORDER BY order_id`);

/** How many mails the sink holds per X-Order-Id. */
function mailsPerOrder(smtp: SmtpCatcher): Map<string, number> {
  const counts = new Map<string, number>();
  for (const mail of smtp.mails) {
    const orderId = String(mail.headers.get('x-order-id'));
    counts.set(orderId, (counts.get(orderId) ?? 0) + 1);
  }
  return counts;
}

async function postOrder(stack: TestStack, orderId: string, email: string): Promise<void> {
  const res = await postJson(stack.apiUrl, '/orders', sampleOrder({ orderId, customer: { email, name: 'Ada' } }));
  expect(res.status).toBe(202);
}

/** The stack (order API and mailer-1) and `more` mailers on the same queues and ledger, each with its WORKER_ID. */
async function startMailers(smtp: SmtpCatcher, env: Record<string, string>, more: number) {
  const stack = await startTestStack({
    smtpUrl: smtp.url,
    env: { LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', WORKER_ID: 'mailer-1', ...env },
  });
  const others: RunningMailer[] = [];
  try {
    for (let n = 2; n <= more + 1; n++) {
      others.push(await startMailer(loadMailerConfig({ ...stack.mailerEnv, WORKER_ID: `mailer-${n}` })));
    }
    await eventually(() => others.every((mailer) => mailer.isReady()), 15_000, 'every mailer ready');
  } catch (err) {
    await Promise.all(others.map((mailer) => mailer.stop()));
    await stack.dispose();
    throw err;
  }
  return {
    stack,
    // The extra mailers first: the stack's disposal deletes the queues they consume.
    dispose: async () => {
      await Promise.all(others.map((mailer) => mailer.stop()));
      await stack.dispose();
    },
  };
}

describe('several mailers as one (SMTP_MAX_RATE, rate-limit replies)', () => {
  it('when three mailers share one queue with SMTP_MAX_RATE=10, then the sink’s rate stays within the cap, every order is sent once, and fresh orders flow while retries wait', async () => {
    // Arrange: 80 orders, the first 5 to addresses the sink refuses once (451, no sign of a rate limit)
    const CAP = 10;
    const TOLERANCE = 0.1;
    const ORDERS = 80;
    const BUSY = 5;
    const RETRY_DELAY_MS = 3000;
    const busy = Array.from({ length: BUSY }, (_, i) => ({
      orderId: `Q-busy-${i + 1}`,
      email: `busy${i + 1}@example.com`,
    }));
    const fresh = Array.from({ length: ORDERS - BUSY }, (_, i) => ({
      orderId: `Q-${String(i + 1).padStart(2, '0')}`,
      email: `customer${i + 1}@example.com`,
    }));
    const smtp = await startSmtpCatcher();
    smtp.behaviour = {
      rejectRecipients: Object.fromEntries(
        busy.map(({ email }) => [email, { code: 451, message: '4.2.0 Mailbox busy, try again later', count: 1 }]),
      ),
    };
    const { stack, dispose } = await startMailers(smtp, { SMTP_MAX_RATE: String(CAP), RETRY_DELAYS: '3s,3s,3s' }, 2);
    try {
      // Act: the busy orders first, then the rest as fast as the API takes them
      const postedAt = Date.now();
      for (const { orderId, email } of busy) await postOrder(stack, orderId, email);
      await Promise.all(fresh.map(({ orderId, email }) => postOrder(stack, orderId, email)));
      const postSeconds = (Date.now() - postedAt) / 1000;
      await smtp.waitForMails(ORDERS, 60_000);
      await eventually(
        async () => (await deliveries(stack.names.schema)).every((row) => row.status === 'sent'),
        10_000,
        'every delivery recorded sent',
      );

      // Assert: the rate at the sink, over the run and in its busiest second
      const times = [...smtp.acceptedAt].sort((a, b) => a - b);
      const seconds = (times[times.length - 1] - times[0]) / 1000;
      const average = (times.length - 1) / seconds;
      const busiest = busiestWindow(times, 1000);
      // The cap is counted in windows of 100 ms (1 send each at 10/s): a second holds at most 11
      // windows' sends; one more for the spread of the sink's clock readings.
      const busiestLimit = CAP + 2;
      // Every order once, in the sink and in the ledger, sent by all three mailers
      const rows = await deliveries(stack.names.schema);
      const perWorker = new Map<string, number>();
      for (const row of rows) perWorker.set(row.worker_id, (perWorker.get(row.worker_id) ?? 0) + 1);
      // Fresh orders while the retries waited: what the sink accepted between a busy order's refusal and its acceptance
      const refusedAt = new Map(smtp.refusals.map((r) => [r.recipient, r.at]));
      const busyAccepted = busy.map(({ orderId, email }) => {
        const at = smtp.acceptedAt[smtp.mails.findIndex((m) => m.headers.get('x-order-id') === orderId)];
        const refused = refusedAt.get(email) ?? Number.NaN;
        const meanwhile = smtp.mails.filter(
          (m, i) =>
            smtp.acceptedAt[i] > refused &&
            smtp.acceptedAt[i] < at &&
            !String(m.headers.get('x-order-id')).startsWith('Q-busy'),
        ).length;
        return { orderId, waitedMs: at - refused, meanwhile };
      });
      console.log(
        [
          `shared quota: SMTP_MAX_RATE=${CAP}/s, 3 mailers on one queue, ${ORDERS} orders posted in ${postSeconds.toFixed(1)} s ` +
            `(${BUSY} refused once with 451, retried after ${RETRY_DELAY_MS / 1000} s)`,
          `  sink accepted ${times.length} mails in ${seconds.toFixed(2)} s: average ${average.toFixed(2)}/s ` +
            `(limit ${(CAP * (1 + TOLERANCE)).toFixed(1)}/s: the cap + ${TOLERANCE * 100} %)`,
          `  busiest 1 s window: ${busiest} mails (limit ${busiestLimit})`,
          `  sent per mailer: ${[...perWorker].map(([worker, n]) => `${worker} ${n}`).join(', ')}`,
          `  while each refused order waited for its retry, other orders sent meanwhile: ` +
            busyAccepted.map((b) => `${b.orderId} ${b.meanwhile} (${(b.waitedMs / 1000).toFixed(1)} s)`).join(', '),
        ].join('\n'),
      );
      expect(average).toBeLessThanOrEqual(CAP * (1 + TOLERANCE));
      expect(busiest).toBeLessThanOrEqual(busiestLimit);
      // The cap is used, not merely respected: 80 mails need about 8 s at 10/s.
      expect(average).toBeGreaterThanOrEqual(CAP * 0.7);

      expect(smtp.mails).toHaveLength(ORDERS);
      const counts = mailsPerOrder(smtp);
      expect(counts.size).toBe(ORDERS);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      expect(rows).toHaveLength(ORDERS);
      expect(rows.filter((row) => row.status !== 'sent')).toEqual([]);
      expect([...perWorker.keys()].sort()).toEqual(['mailer-1', 'mailer-2', 'mailer-3']);
      for (const { orderId } of busy) {
        expect((await ledgerAttempts(stack.names.schema, orderId)).map((a) => [a.outcome, a.smtp_code])).toEqual([
          ['transient', 451],
          ['sent', 250],
        ]);
      }
      expect(smtp.refusals).toHaveLength(BUSY);
      for (const { waitedMs, meanwhile } of busyAccepted) {
        expect(waitedMs).toBeGreaterThanOrEqual(RETRY_DELAY_MS);
        // At 10/s, a 3 s wait leaves room for about 30 other sends; at least 20 went out.
        expect(meanwhile).toBeGreaterThanOrEqual(20);
      }
      expect(await deadLetterRows(stack.names.schema)).toEqual([]);
    } finally {
      await dispose();
      await smtp.close();
    }
  });

  it('when the relay answers 421 4.7.0 "rate limit exceeded", then the worker pauses its sends, and the orders are sent after the pause without a retry, an email.retrying or a dead letter', async () => {
    // Arrange: the sink refuses the first 4 messages for our rate; a pause of 1 s, retries far away
    const PAUSE_MS = 1000;
    const smtp = await startSmtpCatcher();
    smtp.behaviour = { rejectWith: { code: 421, message: '4.7.0 rate limit exceeded' }, rejectCount: 4 };
    const { stack, dispose } = await startMailers(smtp, { SMTP_RATE_LIMIT_PAUSE_MS: '1s', RETRY_DELAYS: '1m' }, 0);
    const events = await listenToMailEvents(stack.names.mailEventsExchange);
    try {
      // Act: four orders at once (the pool's five connections send them together), then one more during the pause
      await Promise.all(
        ['R-1', 'R-2', 'R-3', 'R-4'].map((id) => postOrder(stack, id, `${id.toLowerCase()}@example.com`)),
      );
      await eventually(() => smtp.refusals.length === 4, 10_000, 'four rate-limit refusals');
      await postOrder(stack, 'R-5', 'r-5@example.com');
      await smtp.waitForMails(5, 20_000);
      await events.waitFor(5);

      // Assert: nothing went out during the pause (it starts at the first refusal)
      const pausedFrom = smtp.refusals[0].at;
      const earliest = Math.min(...smtp.acceptedAt);
      console.log(
        `rate-limit pause: ${smtp.refusals.length} sends refused with 421 4.7.0 within ` +
          `${smtp.refusals[smtp.refusals.length - 1].at - pausedFrom} ms; the first mail accepted ` +
          `${earliest - pausedFrom} ms after the first refusal (pause ${PAUSE_MS} ms)`,
      );
      expect(earliest - pausedFrom).toBeGreaterThanOrEqual(PAUSE_MS - 5);
      // Every order once; the refused ones as one rate-limited attempt and one sent, nothing transient
      expect([...mailsPerOrder(smtp).entries()].sort()).toEqual(
        ['R-1', 'R-2', 'R-3', 'R-4', 'R-5'].map((id) => [id, 1]),
      );
      const outcomes = await Promise.all(
        ['R-1', 'R-2', 'R-3', 'R-4', 'R-5'].map(async (id) =>
          (await ledgerAttempts(stack.names.schema, id)).map((a) => a.outcome),
        ),
      );
      expect(outcomes.flat().filter((o) => o === 'rate_limited')).toHaveLength(4);
      expect(outcomes.every((o) => o[o.length - 1] === 'sent' && !o.includes('transient'))).toBe(true);
      // No retry on the schedule, no email.retrying, no dead letter
      expect(await metricValue(stack.mailerUrl, 'mailer_smtp_rate_limited_total')).toBe(4);
      expect(await metricValue(stack.mailerUrl, 'mailer_smtp_rate_limit_pause_seconds_total')).toBeGreaterThanOrEqual(
        PAUSE_MS / 1000,
      );
      expect(await metricValue(stack.mailerUrl, 'mailer_emails_total', { result: 'retried' })).toBe(0);
      expect(await metricValue(stack.mailerUrl, 'mailer_emails_total', { result: 'sent' })).toBe(5);
      expect(events.events.map((e) => e.event.type)).toEqual(Array(5).fill('email.sent'));
      expect(await deadLetterRows(stack.names.schema)).toEqual([]);
    } finally {
      await events.close();
      await dispose();
      await smtp.close();
    }
  });
});
