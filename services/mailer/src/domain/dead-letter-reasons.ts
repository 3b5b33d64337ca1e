import type { BrokerDeadLetterReason, DeadLetterReason } from './vocabulary';

/**
 * Every reason a dead letter can carry, with what it means: the mailer's own
 * (`x-dead-letter-reason`, the list `DEAD_LETTER_REASONS`), then RabbitMQ's, for messages the
 * broker dead-lettered itself (the `reason` of their newest `x-death` entry; RabbitMQ docs, "Dead
 * Letter Exchanges"). The `satisfies` makes a reason added to either list without a description
 * here a type error.
 */
const MAILER_REASONS = {
  invalid_event: 'body not JSON or not matching the event schema',
  unknown_template: 'no template for the event',
  render_failed: 'the template failed to render',
  smtp_rejected: 'the SMTP server rejected the email permanently (5xx)',
  retries_exhausted: 'transient failures outlasted the retry schedule',
  outcome_unknown: 'the outcome stayed unknown after one resend',
  internal_error: 'unexpected errors outlasted the retry schedule',
} as const satisfies Record<DeadLetterReason, string>;

const BROKER_REASONS = {
  delivery_limit: 'delivered DELIVERY_LIMIT times without being settled (by the broker)',
  rejected: 'rejected without requeue (by the broker, without our reason headers)',
  expired: 'its TTL expired (by the broker)',
  maxlen: 'a queue length limit was exceeded (by the broker)',
} as const satisfies Record<BrokerDeadLetterReason, string>;

/**
 * What the recorder calls a dead letter that carries neither our reason header nor an `x-death`
 * (published to the dead-letter exchange or queue by something other than the mailer or the
 * broker): listed, counted and filtered like the others.
 */
export const UNKNOWN_DEAD_LETTER_REASON = 'unknown';

/** Reason → one-line description, the mailer's, the broker's, then `unknown`, in the order the CLI's usage lists them. */
export const DEAD_LETTER_REASON_DESCRIPTIONS: Readonly<
  Record<DeadLetterReason | BrokerDeadLetterReason | typeof UNKNOWN_DEAD_LETTER_REASON, string>
> = {
  ...MAILER_REASONS,
  ...BROKER_REASONS,
  [UNKNOWN_DEAD_LETTER_REASON]: "neither our reason header nor the broker's x-death (put there by something else)",
};

/** Any reason a dead letter can carry: the mailer's or the broker's. */
export type AnyDeadLetterReason = keyof typeof DEAD_LETTER_REASON_DESCRIPTIONS;

export const isDeadLetterReason = (value: string): value is AnyDeadLetterReason =>
  Object.hasOwn(DEAD_LETTER_REASON_DESCRIPTIONS, value);
