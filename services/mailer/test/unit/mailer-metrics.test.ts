import { Registry } from 'prom-client';
import {
  createInFlightGauge,
  createMailerMetrics,
  type MailerMetrics,
} from '../../src/adapters/metrics/mailer-metrics';
import type { DeliveryOutcome } from '../../src/domain/delivery-outcome';
import { ORDER_CONFIRMATION_TEMPLATE } from '../../src/domain/order-email';
import { DEAD_LETTER_REASONS, EMAIL_RESULTS } from '../../src/domain/vocabulary';

type Labels = Record<string, string | number>;

/**
 * The value of `metric`'s series with exactly `labels`, or undefined if there is none. `series`
 * picks one of a histogram's own series, e.g. `<name>_count`.
 */
async function valueOf(registry: Registry, metric: string, labels: Labels = {}, series = metric) {
  const { values } = await registry.getSingleMetric(metric)!.get();
  const wanted = JSON.stringify(Object.entries(labels).sort());
  return values.find(
    (v) =>
      ((v as { metricName?: string }).metricName ?? metric) === series &&
      JSON.stringify(Object.entries(v.labels).sort()) === wanted,
  )?.value;
}

/** How many observations histogram `metric` holds. */
const observationsOf = (registry: Registry, metric: string) => valueOf(registry, metric, {}, `${metric}_count`);

describe('createMailerMetrics', () => {
  let registry: Registry;
  let metrics: MailerMetrics;
  let inFlight: number;

  beforeEach(() => {
    registry = new Registry();
    inFlight = 0;
    metrics = createMailerMetrics(registry, { retryAttempts: 3 });
    createInFlightGauge(registry, () => inFlight);
  });

  it('when nothing happened yet, then every result, dead-letter reason, reply class and transient retry attempt is a series at 0', async () => {
    // Assert
    for (const result of EMAIL_RESULTS) {
      expect(await valueOf(registry, 'mailer_emails_total', { template: ORDER_CONFIRMATION_TEMPLATE, result })).toBe(0);
    }
    for (const reason of DEAD_LETTER_REASONS) {
      expect(await valueOf(registry, 'mailer_dead_letters_total', { reason })).toBe(0);
    }
    for (const replyClass of ['2xx', '4xx', '5xx']) {
      expect(await valueOf(registry, 'mailer_smtp_responses_total', { reply_class: replyClass })).toBe(0);
    }
    for (const attempt of ['1', '2', '3']) {
      expect(await valueOf(registry, 'mailer_retries_total', { attempt, failure_class: 'transient' })).toBe(0);
    }
    expect(
      await valueOf(registry, 'mailer_retries_total', { attempt: '4', failure_class: 'transient' }),
    ).toBeUndefined();
  });

  it.each<[string, number | undefined, string | undefined]>([
    ['a 250 reply', 250, '2xx'],
    ['a 451 reply', 451, '4xx'],
    ['a 550 reply', 550, '5xx'],
    ['no reply (a connection failure)', undefined, undefined],
  ])(
    'when a timed SMTP send ends with %s, then its duration is observed once and its reply class counted',
    async (_name, code, replyClass) => {
      // Act
      const stop = metrics.startSmtpSend();
      stop(code);

      // Assert
      expect(await observationsOf(registry, 'mailer_smtp_send_duration_seconds')).toBe(1);
      for (const c of ['2xx', '4xx', '5xx']) {
        expect(await valueOf(registry, 'mailer_smtp_responses_total', { reply_class: c })).toBe(
          c === replyClass ? 1 : 0,
        );
      }
    },
  );

  it('when sends are rate-limited, paused and kept waiting for the shared cap, then each counter adds up', async () => {
    // Arrange
    const before = [
      await valueOf(registry, 'mailer_smtp_rate_limited_total'),
      await valueOf(registry, 'mailer_smtp_rate_limit_pause_seconds_total'),
      await valueOf(registry, 'mailer_send_rate_wait_seconds_total'),
    ];

    // Act
    metrics.rateLimited();
    metrics.rateLimited();
    metrics.paused(5);
    metrics.paused(10);
    metrics.waitedForSendRate(0.25);
    metrics.waitedForSendRate(0.5);

    // Assert: every series exists at 0 from the start
    expect(before).toEqual([0, 0, 0]);
    expect(await valueOf(registry, 'mailer_smtp_rate_limited_total')).toBe(2);
    expect(await valueOf(registry, 'mailer_smtp_rate_limit_pause_seconds_total')).toBe(15);
    expect(await valueOf(registry, 'mailer_send_rate_wait_seconds_total')).toBe(0.75);
  });

  it('when a render is timed, then its duration is observed once', async () => {
    // Act
    metrics.startRender()();

    // Assert
    expect(await observationsOf(registry, 'mailer_render_duration_seconds')).toBe(1);
  });

  const ids = { template: ORDER_CONFIRMATION_TEMPLATE, orderId: 'M-1', eventId: 'evt-1', correlationId: 'corr-1' };
  const failure = { failureClass: 'transient' as const, message: '451 try later' };

  it.each<[string, DeliveryOutcome, Labels]>([
    ['acked as sent', { ...ids, action: 'ack', result: 'sent' }, { result: 'sent' }],
    ['acked as a duplicate', { ...ids, action: 'ack', result: 'duplicate_skipped' }, { result: 'duplicate_skipped' }],
    [
      'retried',
      { ...ids, action: 'retry', delayMs: 1000, failure, counts: { sendFailures: 2 }, retryNumber: 2 },
      { result: 'retried' },
    ],
    ['held', { ...ids, action: 'hold', delayMs: 1000, reason: 'in_progress' }, { result: 'held' }],
    [
      'dead-lettered',
      { ...ids, action: 'dead-letter', reason: 'smtp_rejected', failure, counts: {} },
      { result: 'dead_lettered' },
    ],
  ])('when a message is settled %s, then its template and result are counted once', async (_name, outcome, labels) => {
    // Act
    metrics.settled(outcome);

    // Assert
    expect(await valueOf(registry, 'mailer_emails_total', { template: ORDER_CONFIRMATION_TEMPLATE, ...labels })).toBe(
      1,
    );
  });

  it.each([
    ['auth', 3],
    ['transient', 1],
    ['internal', 2],
  ] as const)(
    'when a %s retry is settled, then it is counted under its place in the schedule (%d) and its failure class',
    async (failureClass, retryNumber) => {
      // Act
      metrics.settled({
        ...ids,
        action: 'retry',
        delayMs: 1000,
        failure: { failureClass, message: 'try later' },
        counts: {},
        retryNumber,
      });

      // Assert
      expect(
        await valueOf(registry, 'mailer_retries_total', { attempt: String(retryNumber), failure_class: failureClass }),
      ).toBe(1);
    },
  );

  it('when a dead letter is settled, then its reason is counted; a message without a template counts as unknown', async () => {
    // Act
    metrics.settled({
      action: 'dead-letter',
      reason: 'invalid_event',
      failure: { failureClass: 'invalid', message: 'x' },
      counts: {},
    });

    // Assert
    expect(await valueOf(registry, 'mailer_dead_letters_total', { reason: 'invalid_event' })).toBe(1);
    expect(await valueOf(registry, 'mailer_emails_total', { template: 'unknown', result: 'dead_lettered' })).toBe(1);
  });

  it('when the metrics are scraped, then the in-flight gauge reads the current count', async () => {
    // Arrange
    inFlight = 4;

    // Act + Assert
    expect(await valueOf(registry, 'mailer_in_flight')).toBe(4);
  });
});
