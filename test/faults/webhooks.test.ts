import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { mailEventSchema } from '@order-mail/shared/contract';
import { eventually } from '@test/helpers/broker';
import { query } from '@test/helpers/database';
import { ledgerRow, metricValue } from '@test/helpers/inspect';
import { listenToMailEvents, type MailEventListener } from '@test/helpers/mail-events';
import { sampleOrder } from '@test/helpers/orders';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { ADMIN_AUTH, TEST_ADMIN_TOKEN, startTestStack, type TestStack } from '@test/helpers/stack';
import { startWebhookReceiver, type WebhookReceiver } from '@test/helpers/webhook-receiver';

// Webhooks end to end: real order API, mailer, RabbitMQ, PostgreSQL and SMTP server, and an HTTP
// receiver scripted per request. Signatures are checked with the `standardwebhooks` library, as
// a shop's receiver would check them.

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const OLD_SECRET = `whsec_${randomBytes(32).toString('base64')}`;

interface DeliveryRow {
  state: string;
  attempts: number;
  failure_reason: string | null;
}

describe('webhooks (Standard Webhooks) to a scripted receiver', () => {
  let smtp: SmtpCatcher;
  let receiver: WebhookReceiver;
  let stack: TestStack;
  let events: MailEventListener;

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    receiver = await startWebhookReceiver();
    stack = await startTestStack({
      smtpUrl: smtp.url,
      env: {
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        WEBHOOK_URL: receiver.url,
        // Two secrets, as during a rotation: the receiver may know either.
        WEBHOOK_SECRET: `${SECRET} ${OLD_SECRET}`,
        WEBHOOK_RETRY_DELAYS: '200ms,200ms,200ms',
        WEBHOOK_TIMEOUT_MS: '60000',
        WEBHOOK_CONCURRENCY: '2',
      },
    });
    events = await listenToMailEvents(stack.names.mailEventsExchange);
  });

  afterAll(async () => {
    await events?.close();
    // The receiver first: it drops the hanging requests, so the mailer's stop does not wait for them.
    await receiver?.close();
    await stack?.dispose();
    await smtp?.close();
  });

  const deliveryOf = async (eventId: string) =>
    (
      await query<DeliveryRow>(
        `SELECT state, attempts, failure_reason FROM "${stack.names.schema}".webhook_deliveries WHERE event_id = $1`,
        [eventId],
      )
    )[0];

  async function postOrder(orderId: string): Promise<void> {
    const res = await stack.postOrder(
      sampleOrder({ orderId, customer: { email: 'ada@example.com', name: 'Ada', locale: 'en' } }),
    );
    expect(res.status).toBe(202);
  }

  it('when an email is sent, then one webhook carries its event, signed so that the library verifies it with either secret', async () => {
    // Act
    await postOrder('W1-sent');
    const [hook] = await receiver.waitFor('W1-sent', 1);
    const [published] = await events.waitFor(1, 'W1-sent');

    // Assert
    for (const secret of [SECRET, OLD_SECRET]) {
      expect(new Webhook(secret).verify(hook.body, hook.headers)).toEqual(hook.payload);
    }
    expect(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(hook.body, hook.headers)).toThrow(
      'No matching signature found',
    );
    expect(hook.headers['webhook-id']).toBe(published.event.eventId);
    expect(hook.headers['content-type']).toBe('application/json');
    expect(hook.payload).toEqual({ type: 'email.sent', timestamp: published.event.occurredAt, data: published.event });
    expect(mailEventSchema.parse(hook.payload.data)).toEqual(published.event);
    await eventually(
      async () => (await deliveryOf(published.event.eventId))?.state === 'delivered',
      10_000,
      'delivered',
    );
  });

  it('when the receiver fails twice (500, then a dropped connection), then the webhook is retried with the same webhook-id and delivered on the third attempt, each attempt logged', async () => {
    // Arrange
    let calls = 0;
    receiver.answer = (p) => {
      if (p.data.orderId !== 'W2-retry') return { status: 204 };
      calls += 1;
      if (calls === 1) return { status: 500, body: 'receiver broke' };
      return calls === 2 ? 'destroy' : { status: 200 };
    };

    // Act
    await postOrder('W2-retry');
    const hooks = await receiver.waitFor('W2-retry', 3);

    // Assert
    expect(hooks.map((h) => h.headers['webhook-id'])).toEqual(Array(3).fill(hooks[0].payload.data.eventId));
    for (const hook of hooks) expect(new Webhook(SECRET).verify(hook.body, hook.headers)).toEqual(hook.payload);
    const eventId = hooks[0].payload.data.eventId;
    await eventually(async () => (await deliveryOf(eventId))?.state === 'delivered', 10_000, 'delivered');
    expect(await deliveryOf(eventId)).toEqual({ state: 'delivered', attempts: 3, failure_reason: null });
    const log = await query<{ attempt: number; status_code: number | null; error: string | null; outcome: string }>(
      `SELECT a.attempt, a.status_code, a.error, a.outcome FROM "${stack.names.schema}".webhook_attempts a
       JOIN "${stack.names.schema}".webhook_deliveries d ON d.id = a.delivery_id
       WHERE d.event_id = $1 ORDER BY a.id`,
      [eventId],
    );
    expect(log).toEqual([
      { attempt: 1, status_code: 500, error: null, outcome: 'retrying' },
      { attempt: 2, status_code: null, error: expect.any(String), outcome: 'retrying' },
      { attempt: 3, status_code: 200, error: null, outcome: 'delivered' },
    ]);
    expect(
      await metricValue(stack.mailerUrl, 'mailer_webhook_attempts_total', { outcome: 'retrying' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      await metricValue(stack.mailerUrl, 'mailer_webhook_attempts_total', { outcome: 'delivered' }),
    ).toBeGreaterThanOrEqual(2);
  });

  it('when the receiver keeps failing, then after the last retry the delivery is failed, and a redelivery from the admin API delivers it', async () => {
    // Arrange
    let down = true;
    receiver.answer = (p) => (p.data.orderId === 'W3-down' && down ? { status: 503 } : { status: 204 });

    // Act: 1 attempt + 3 retries, then given up
    await postOrder('W3-down');
    const hooks = await receiver.waitFor('W3-down', 4);
    const eventId = hooks[0].payload.data.eventId;
    await eventually(async () => (await deliveryOf(eventId))?.state === 'failed', 10_000, 'failed');
    down = false;
    const res = await fetch(`${stack.mailerUrl}/webhook-deliveries/redeliver`, {
      method: 'POST',
      headers: { ...ADMIN_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ eventIds: [eventId] }),
    });

    // Assert
    expect(hooks).toHaveLength(4);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ redelivered: 1 });
    await receiver.waitFor('W3-down', 5);
    await eventually(
      async () => (await deliveryOf(eventId))?.state === 'delivered',
      10_000,
      'delivered after redelivery',
    );
    expect(
      await metricValue(stack.mailerUrl, 'mailer_webhook_attempts_total', { outcome: 'failed' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('when the receiver answers 410 Gone, then the delivery is failed at once (gone), never retried', async () => {
    // Arrange
    receiver.answer = (p) => (p.data.orderId === 'W4-gone' ? { status: 410 } : { status: 204 });

    // Act
    await postOrder('W4-gone');
    const [hook] = await receiver.waitFor('W4-gone', 1);
    const eventId = hook.payload.data.eventId;
    await eventually(async () => (await deliveryOf(eventId))?.state === 'failed', 10_000, 'failed');
    await new Promise((r) => setTimeout(r, 600));

    // Assert
    expect(await deliveryOf(eventId)).toEqual({ state: 'failed', attempts: 1, failure_reason: 'gone' });
    expect(receiver.received.filter((r) => r.payload.data.orderId === 'W4-gone')).toHaveLength(1);
  });

  it('when the receiver hangs and never answers, then emails are still sent and their events published: webhooks wait, sending does not', async () => {
    // Arrange: every request from now on is left hanging (WEBHOOK_TIMEOUT_MS is a minute)
    receiver.answer = () => 'hang';
    const orders = Array.from({ length: 20 }, (_, i) => `W5-hang-${i}`);

    // Act
    for (const orderId of orders) await postOrder(orderId);
    for (const orderId of orders) await events.waitFor(1, orderId);

    // Assert: every email went out while the receiver has answered nothing
    const statuses = await Promise.all(orders.map(async (id) => (await ledgerRow(stack.names.schema, id))?.status));
    expect(statuses).toEqual(Array(20).fill('sent'));
    expect(receiver.hanging()).toBe(2);
    const pending = await query<{ n: string }>(
      `SELECT count(*) AS n FROM "${stack.names.schema}".webhook_deliveries WHERE order_id LIKE 'W5-hang-%' AND state = 'pending'`,
    );
    expect(Number(pending[0].n)).toBe(20);
    expect(await metricValue(stack.mailerUrl, 'mailer_webhook_pending')).toBeGreaterThanOrEqual(20);
  });

  it('when the person is erased while webhooks wait, then they go out without the recipient once the receiver is back', async () => {
    // Arrange: the 20 webhooks of the previous case wait (2 hang at the receiver)
    const erased = await fetch(`${stack.mailerUrl}/recipients/ada@example.com`, {
      method: 'DELETE',
      headers: ADMIN_AUTH,
    });
    receiver.answer = () => ({ status: 204 });

    // Act: the hanging ones get a 503 (so they are retried), and the backlog drains
    receiver.answerHanging(503);
    await eventually(
      async () =>
        (
          await query<{ n: string }>(
            `SELECT count(*) AS n FROM "${stack.names.schema}".webhook_deliveries WHERE state = 'pending'`,
          )
        )[0].n === '0',
      20_000,
      'every webhook delivered',
    );

    // Assert
    expect(erased.status).toBe(200);
    const { erased: counts } = (await erased.json()) as { erased: { webhookDeliveries: number } };
    expect(counts.webhookDeliveries).toBeGreaterThanOrEqual(20);
    const last = new Map(
      receiver.received
        .filter((r) => r.payload.data.orderId.startsWith('W5-hang-'))
        .map((r) => [r.payload.data.orderId, r]),
    );
    expect(last.size).toBe(20);
    for (const hook of last.values()) {
      expect(hook.payload.data.recipient).toBeNull();
      expect(new Webhook(SECRET).verify(hook.body, hook.headers)).toEqual(hook.payload);
    }
  });
});
