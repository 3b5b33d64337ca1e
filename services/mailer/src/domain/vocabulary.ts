/**
 * The mailer's words, each list declared once: types derive from these lists, and metrics (label
 * values created at zero), the admin API's validation, the CLI and the ledger's checks read the
 * same lists. Adding a value here is the one change that reaches all of them.
 */

/**
 * How a failed SMTP send is treated (decided by `classifyFailure`):
 * - `transient`: retry on the schedule (4xx replies, 503, DNS errors, and any connection lost,
 *   timed out or aborted before the final dot of the message was written);
 * - `permanent`: dead-letter at once (5xx replies but 503);
 * - `unknown_outcome`: the final dot had been written and no reply came (connection lost, timed
 *   out, send aborted at its deadline), so the server may have accepted the message: never
 *   resend at once;
 * - `auth`: the server refused our credentials (535, EAUTH): not the message's fault, retry slowly;
 * - `rate_limited`: the relay turned the send away for our sending rate (a 421, 451 or 454 saying
 *   "rate" or with a 4.7.x code): the worker pauses its sends briefly and sends the message again
 *   without using up a place in the retry schedule (`isRateLimitReply`).
 */
export const FAILURE_CLASSES = ['transient', 'permanent', 'unknown_outcome', 'auth', 'rate_limited'] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/**
 * What went wrong with a message, as its `x-last-error-class` header and log lines name it: a
 * failed send's class, or a failure before any send (`invalid`: the body is not an event;
 * `render_failed`: the template failed; `internal`: an unexpected error such as a database outage).
 */
export const PROBLEM_CLASSES = [...FAILURE_CLASSES, 'invalid', 'render_failed', 'internal'] as const;
export type ProblemClass = (typeof PROBLEM_CLASSES)[number];

/** How one ledger attempt (one claim of the order's delivery) ended: the ledger's `outcome` column. */
export const ATTEMPT_OUTCOMES = ['sent', ...FAILURE_CLASSES, 'render_failed'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/**
 * The ledger's status of one kind of email for one order: at most one is ever `sent`;
 * `suppressed` is final: the recipient was on the suppression list and nothing was sent.
 */
export const DELIVERY_STATUSES = ['pending', 'sending', 'sent', 'retrying', 'dead', 'suppressed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Why the mailer dead-letters a message (the `x-dead-letter-reason` header); described in `dead-letter-reasons.ts`. */
export const DEAD_LETTER_REASONS = [
  'invalid_event',
  'unknown_template',
  'render_failed',
  'smtp_rejected',
  'retries_exhausted',
  'outcome_unknown',
  'internal_error',
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/**
 * Why RabbitMQ dead-lettered a message itself: the `reason` of its newest `x-death` entry
 * (RabbitMQ docs, "Dead Letter Exchanges").
 */
export const BROKER_DEAD_LETTER_REASONS = ['delivery_limit', 'rejected', 'expired', 'maxlen'] as const;
export type BrokerDeadLetterReason = (typeof BROKER_DEAD_LETTER_REASONS)[number];

/** Why a message waits in the hold queue (the `x-hold-reason` header). */
export const HOLD_REASONS = ['in_progress', 'unknown_outcome'] as const;
export type HoldReason = (typeof HOLD_REASONS)[number];

/** What became of a consumed message: the `result` label of `mailer_emails_total`. */
export const EMAIL_RESULTS = ['sent', 'retried', 'held', 'dead_lettered', 'duplicate_skipped', 'suppressed'] as const;
export type EmailResult = (typeof EMAIL_RESULTS)[number];

/** Whether `value` is one of `list`'s members, narrowing its type. */
export function isOneOf<T extends string>(list: readonly T[], value: string): value is T {
  return (list as readonly string[]).includes(value);
}
