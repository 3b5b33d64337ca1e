import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DeliveryOutcome } from '../../domain/delivery-outcome';
import { ORDER_CONFIRMATION_TEMPLATE } from '../../domain/order-email';
import type { WorkerMetrics } from '../../domain/ports';
import { DEAD_LETTER_REASONS, EMAIL_RESULTS, type EmailResult } from '../../domain/vocabulary';

/** The `reply_class` label values created at zero (the classes a send's final reply can have). */
const REPLY_CLASSES = ['2xx', '4xx', '5xx'] as const;

export interface MailerMetrics extends WorkerMetrics {
  consumed(): void;
  /**
   * What became of a consumed message, once it is settled; a retry is counted under its place in
   * the schedule (`retryNumber`) and its failure class, `internal` for an unexpected error.
   */
  settled(outcome: DeliveryOutcome): void;
}

function createCounters(registers: Registry[]) {
  return {
    consumed: new Counter({
      name: 'mailer_messages_consumed_total',
      help: 'Messages taken from the work queue.',
      registers,
    }),
    emails: new Counter({
      name: 'mailer_emails_total',
      help: 'What became of each consumed message, by template and result.',
      labelNames: ['template', 'result'] as const,
      registers,
    }),
    retries: new Counter({
      name: 'mailer_retries_total',
      help: 'Retries scheduled, by the number of the attempt that failed and its failure class.',
      labelNames: ['attempt', 'failure_class'] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: 'mailer_dead_letters_total',
      help: 'Messages the mailer dead-lettered, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    outcomeUnknown: new Counter({
      name: 'mailer_outcome_unknown_total',
      help: 'Sends whose outcome was unknown (connection lost after the whole message went out, or a worker died mid-send); each is resent once after the grace period.',
      registers,
    }),
    replies: new Counter({
      name: 'mailer_smtp_responses_total',
      help: 'SMTP replies to sends, by reply class (connection failures have none).',
      labelNames: ['reply_class'] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: 'mailer_smtp_rate_limited_total',
      help: 'Sends the SMTP server turned away for our sending rate (421, 451 or 454 saying "rate" or with a 4.7.x code).',
      registers,
    }),
    pausedSeconds: new Counter({
      name: 'mailer_smtp_rate_limit_pause_seconds_total',
      help: "Seconds of the pauses of this worker's sends after rate-limit replies, each pause's length added when it starts.",
      registers,
    }),
    sendRateWaitSeconds: new Counter({
      name: 'mailer_send_rate_wait_seconds_total',
      help: 'Seconds sends waited for the shared cap on sends per second (SMTP_MAX_RATE), every waiting send counted: its rate is the average number of sends waiting.',
      registers,
    }),
  };
}

type Counters = ReturnType<typeof createCounters>;

function createHistograms(registers: Registry[]) {
  return {
    smtpDuration: new Histogram({
      name: 'mailer_smtp_send_duration_seconds',
      help: 'Time of one SMTP send, successful or not.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    renderDuration: new Histogram({
      name: 'mailer_render_duration_seconds',
      help: 'Time to fill a precompiled email template.',
      buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05],
      registers,
    }),
    endToEnd: new Histogram({
      name: 'mailer_end_to_end_latency_seconds',
      help: 'Time from the API accepting an order to the SMTP server accepting its email.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21600],
      registers,
    }),
  };
}

/** Every series a dashboard or alert reads starts at zero, so a quiet system shows 0 instead of "no data". */
function createSeriesAtZero(counters: Counters, retryAttempts: number): void {
  for (const result of EMAIL_RESULTS) counters.emails.inc({ template: ORDER_CONFIRMATION_TEMPLATE, result }, 0);
  for (const reason of DEAD_LETTER_REASONS) counters.deadLetters.inc({ reason }, 0);
  for (const replyClass of REPLY_CLASSES) counters.replies.inc({ reply_class: replyClass }, 0);
  for (let attempt = 1; attempt <= retryAttempts; attempt++) {
    counters.retries.inc({ attempt: String(attempt), failure_class: 'transient' }, 0);
  }
}

function countSettled(counters: Counters, outcome: DeliveryOutcome): void {
  const count = (result: EmailResult) => counters.emails.inc({ template: outcome.template ?? 'unknown', result });
  switch (outcome.action) {
    case 'ack':
      count(outcome.result);
      return;
    case 'retry':
      count('retried');
      counters.retries.inc({ attempt: String(outcome.retryNumber), failure_class: outcome.failure.failureClass });
      return;
    case 'hold':
      count('held');
      return;
    case 'dead-letter':
      count('dead_lettered');
      counters.deadLetters.inc({ reason: outcome.reason });
      return;
  }
}

/**
 * The mailer's metrics (catalogue in infra/METRICS.md), registered in `registry`; durations are
 * in seconds. `retryAttempts` is the retry schedule's length (the `attempt` label values created
 * at zero). Throws if `registry` already holds these metrics.
 */
export function createMailerMetrics(registry: Registry, options: { retryAttempts: number }): MailerMetrics {
  const registers = [registry];
  const counters = createCounters(registers);
  const histograms = createHistograms(registers);
  createSeriesAtZero(counters, options.retryAttempts);

  return {
    consumed: () => counters.consumed.inc(),
    settled: (outcome) => countSettled(counters, outcome),
    startRender() {
      const end = histograms.renderDuration.startTimer();
      return () => void end();
    },
    startSmtpSend() {
      const end = histograms.smtpDuration.startTimer();
      return (replyCode) => {
        end();
        if (replyCode !== undefined) counters.replies.inc({ reply_class: `${Math.floor(replyCode / 100)}xx` });
      };
    },
    delivered: (seconds) => histograms.endToEnd.observe(seconds),
    outcomeUnknown: () => counters.outcomeUnknown.inc(),
    rateLimited: () => counters.rateLimited.inc(),
    paused: (seconds) => counters.pausedSeconds.inc(seconds),
    waitedForSendRate: (seconds) => counters.sendRateWaitSeconds.inc(seconds),
  };
}

/**
 * `mailer_in_flight`: messages being processed now, read from `inFlight` at each scrape (the
 * consumer's own count, so it cannot drift). Throws if `registry` already holds it.
 */
export function createInFlightGauge(registry: Registry, inFlight: () => number): void {
  new Gauge({
    name: 'mailer_in_flight',
    help: 'Messages being processed now.',
    registers: [registry],
    collect() {
      this.set(inFlight());
    },
  });
}
