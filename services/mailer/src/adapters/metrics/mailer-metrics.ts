import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DeadLetterReason, DeliveryOutcome } from '../../domain/mail-worker';
import { ORDER_CONFIRMATION_TEMPLATE } from '../../domain/order-email';
import type { WorkerMetrics } from '../../domain/ports';

const RESULTS = ['sent', 'retried', 'held', 'dead_lettered', 'duplicate_skipped'] as const;
const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = [
  'invalid_event',
  'unknown_template',
  'render_failed',
  'smtp_rejected',
  'retries_exhausted',
  'outcome_unknown',
  'internal_error',
];
const REPLY_CLASSES = ['2xx', '4xx', '5xx'] as const;

export interface MailerMetrics extends WorkerMetrics {
  consumed(): void;
  /** What became of a consumed message, once it is settled. */
  settled(outcome: DeliveryOutcome): void;
  /** A retry scheduled after an unexpected (internal) error. */
  internalRetry(attempt: number): void;
}

/**
 * The mailer's metrics (catalogue in infra/METRICS.md). Every series a dashboard or alert reads
 * is created at zero up front, so a quiet system shows 0 instead of "no data".
 */
export function createMailerMetrics(
  registry: Registry,
  options: { retryAttempts: number; inFlight: () => number },
): MailerMetrics {
  const registers = [registry];
  const consumed = new Counter({
    name: 'mailer_messages_consumed_total',
    help: 'Messages taken from the work queue.',
    registers,
  });
  const emails = new Counter({
    name: 'mailer_emails_total',
    help: 'What became of each consumed message, by template and result.',
    labelNames: ['template', 'result'],
    registers,
  });
  const smtpDuration = new Histogram({
    name: 'mailer_smtp_send_duration_seconds',
    help: 'Time of one SMTP send, successful or not.',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const renderDuration = new Histogram({
    name: 'mailer_render_duration_seconds',
    help: 'Time to fill a precompiled email template.',
    buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05],
    registers,
  });
  const endToEnd = new Histogram({
    name: 'mailer_end_to_end_latency_seconds',
    help: 'Time from the API accepting an order to the SMTP server accepting its email.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21600],
    registers,
  });
  const retries = new Counter({
    name: 'mailer_retries_total',
    help: 'Retries scheduled, by the number of the attempt that failed and its failure class.',
    labelNames: ['attempt', 'failure_class'],
    registers,
  });
  const deadLetters = new Counter({
    name: 'mailer_dead_letters_total',
    help: 'Messages the mailer dead-lettered, by reason.',
    labelNames: ['reason'],
    registers,
  });
  const outcomeUnknown = new Counter({
    name: 'mailer_outcome_unknown_total',
    help: 'Sends whose outcome was unknown (connection lost after the whole message went out, or a worker died mid-send); each is resent once after the grace period.',
    registers,
  });
  const replies = new Counter({
    name: 'mailer_smtp_responses_total',
    help: 'SMTP replies to sends, by reply class (connection failures have none).',
    labelNames: ['reply_class'],
    registers,
  });
  new Gauge({
    name: 'mailer_in_flight',
    help: 'Messages being processed now.',
    registers,
    collect() {
      this.set(options.inFlight());
    },
  });

  for (const result of RESULTS) emails.inc({ template: ORDER_CONFIRMATION_TEMPLATE, result }, 0);
  for (const reason of DEAD_LETTER_REASONS) deadLetters.inc({ reason }, 0);
  for (const replyClass of REPLY_CLASSES) replies.inc({ reply_class: replyClass }, 0);
  for (let attempt = 1; attempt <= options.retryAttempts; attempt++) {
    retries.inc({ attempt: String(attempt), failure_class: 'transient' }, 0);
  }

  const count = (outcome: DeliveryOutcome, result: (typeof RESULTS)[number]) =>
    emails.inc({ template: outcome.template ?? 'unknown', result });

  return {
    consumed: () => consumed.inc(),
    settled(outcome) {
      switch (outcome.action) {
        case 'ack':
          count(outcome, outcome.result);
          return;
        case 'retry':
          count(outcome, 'retried');
          // Auth failures do not count as attempts: label them with the attempt they wait to repeat.
          retries.inc({
            attempt: String(outcome.failure.failureClass === 'auth' ? outcome.failures + 1 : outcome.failures),
            failure_class: outcome.failure.failureClass,
          });
          return;
        case 'hold':
          count(outcome, 'held');
          return;
        case 'dead-letter':
          count(outcome, 'dead_lettered');
          deadLetters.inc({ reason: outcome.reason });
          return;
      }
    },
    internalRetry(attempt) {
      emails.inc({ template: 'unknown', result: 'retried' });
      retries.inc({ attempt: String(attempt), failure_class: 'internal' });
    },
    rendered: (seconds) => renderDuration.observe(seconds),
    smtpSend(seconds, replyCode) {
      smtpDuration.observe(seconds);
      if (replyCode !== undefined) replies.inc({ reply_class: `${Math.floor(replyCode / 100)}xx` });
    },
    delivered: (seconds) => endToEnd.observe(seconds),
    outcomeUnknown: () => outcomeUnknown.inc(),
  };
}
