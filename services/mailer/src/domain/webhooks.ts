import type { MailEvent } from '@order-mail/shared/contract';

/**
 * Webhooks: the delivery events (`MailEvent`) POSTed to `WEBHOOK_URL`, signed per the Standard
 * Webhooks specification 1.0.0 (https://www.standardwebhooks.com, "Signature scheme" and
 * "Webhook headers"), retried with backoff, each attempt logged. Pure: no I/O here; the
 * PostgreSQL adapter (`webhook-deliveries-pg.ts`), the HTTP sender (`webhook-sender.ts`) and the
 * dispatcher (`entry-points/jobs/webhook-dispatcher.ts`) apply it.
 */

/** Where a webhook delivery is: waiting for its (next) attempt, done, or given up. */
export const WEBHOOK_STATES = ['pending', 'delivered', 'failed'] as const;
export type WebhookState = (typeof WEBHOOK_STATES)[number];

/** What one attempt's decision did to its delivery; the label of `mailer_webhook_attempts_total{outcome}`. */
export const WEBHOOK_OUTCOMES = ['delivered', 'retrying', 'failed'] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];

/**
 * Why a delivery was given up: `gone` (the receiver answered 410 Gone, which the specification
 * reads as "stop sending"), `retries_exhausted` (every delay of WEBHOOK_RETRY_DELAYS was used).
 */
export type WebhookFailureReason = 'gone' | 'retries_exhausted';

/** What one POST came to, as the sender saw it. */
export type WebhookAttemptResult =
  /** The receiver answered; `retryAfterSeconds` from its `Retry-After` header (`parseRetryAfter`), if any. */
  | { kind: 'response'; status: number; retryAfterSeconds?: number | null }
  /** No answer within WEBHOOK_TIMEOUT_MS. */
  | { kind: 'timeout' }
  /** No HTTP answer at all: DNS, refused or reset connection, TLS; `message` says which. */
  | { kind: 'network'; message: string };

/** What happens to the delivery after an attempt. `delayMs`: until the next attempt. */
export type WebhookDecision =
  | { outcome: 'delivered' }
  | { outcome: 'retrying'; delayMs: number }
  | { outcome: 'failed'; reason: WebhookFailureReason };

/** The longest `Retry-After` honoured (24 h): a receiver cannot park a delivery for longer per attempt. */
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;
/** Each scheduled delay is stretched or shrunk by up to this fraction at random (the specification asks for jitter). */
export const RETRY_JITTER = 0.1;

/**
 * Decides an attempt's consequence (Standard Webhooks, "Delivery success and failure"):
 * - a 2xx answer → `delivered`;
 * - `410 Gone` → `failed` (`gone`), never retried;
 * - anything else (3xx: redirects are not followed; 4xx, 5xx, a timeout, a network error) →
 *   `retrying` after `delaysMs[attempt - 1]` ± RETRY_JITTER, or at least the receiver's
 *   `Retry-After` (at most MAX_RETRY_AFTER_MS); after the last delay → `failed`
 *   (`retries_exhausted`).
 * `attempt` is this attempt's number, 1 for the first; `delaysMs` is WEBHOOK_RETRY_DELAYS
 * (so a delivery gets at most `delaysMs.length + 1` attempts); `random` returns [0, 1).
 */
export function decideWebhookAttempt(
  result: WebhookAttemptResult,
  attempt: number,
  delaysMs: readonly number[],
  random: () => number = Math.random,
): WebhookDecision {
  if (result.kind === 'response' && result.status >= 200 && result.status <= 299) return { outcome: 'delivered' };
  if (result.kind === 'response' && result.status === 410) return { outcome: 'failed', reason: 'gone' };
  const scheduled = delaysMs[attempt - 1];
  if (scheduled === undefined) return { outcome: 'failed', reason: 'retries_exhausted' };
  const jittered = Math.round(scheduled * (1 + RETRY_JITTER * (2 * random() - 1)));
  const retryAfterMs =
    result.kind === 'response' && result.retryAfterSeconds != null
      ? Math.min(result.retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS)
      : 0;
  return { outcome: 'retrying', delayMs: Math.max(1, jittered, retryAfterMs) };
}

/**
 * An HTTP-date whose zone is GMT: IMF-fixdate (`Wed, 21 Oct 2026 07:28:00 GMT`) or the obsolete
 * RFC 850 form (`Wednesday, 21-Oct-26 07:28:00 GMT`), RFC 9110 §5.6.7. The asctime form carries no
 * zone (JavaScript would read it in local time) and is refused.
 */
const HTTP_DATE = /^[A-Za-z]{3,9}, [0-9]{2}[ -][A-Za-z]{3}[ -][0-9]{2,4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$/;

/**
 * Seconds to wait from a `Retry-After` header (RFC 9110 §10.2.3): delay-seconds (`120`) or a
 * GMT HTTP-date (`HTTP_DATE`, counted from `now`; a past date is 0); null when absent or neither
 * form. Pure.
 */
export function parseRetryAfter(header: string | null | undefined, now: Date): number | null {
  const value = header?.trim();
  if (!value) return null;
  if (/^[0-9]+$/.test(value)) return Number(value);
  const at = HTTP_DATE.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

/**
 * The body of a webhook POST: the specification's recommended envelope
 * `{ "type", "timestamp", "data" }` with `type` the event's type, `timestamp` its `occurredAt`
 * and `data` the event exactly as published to MAIL_EVENTS_EXCHANGE. Minified JSON; the
 * signature covers these very bytes. Pure.
 */
export function webhookPayload(event: MailEvent): string {
  return JSON.stringify({ type: event.type, timestamp: event.occurredAt, data: event });
}

/** A delivery handed to the dispatcher: the event, and the number this attempt has (1 for the first). */
export interface ClaimedWebhook {
  /** The delivery's row id (a bigint as a string). */
  id: string;
  event: MailEvent;
  attempt: number;
}

/** One attempt as the delivery log keeps it (table `webhook_attempts`), with the decision taken. */
export interface WebhookAttemptRecord {
  deliveryId: string;
  attempt: number;
  /** WEBHOOK_URL at the time (it may change between attempts). */
  url: string;
  /** The HTTP status, null without an answer. */
  statusCode: number | null;
  /** Why there was no answer (`timeout after 15000 ms`, `connect ECONNREFUSED …`), else null. */
  error: string | null;
  durationMs: number;
  /** The first 500 characters of the answer's body, for debugging a receiver; null when none. */
  responseExcerpt: string | null;
  decision: WebhookDecision;
}

/** How far behind webhook delivery is: deliveries waiting, the oldest one's age in seconds (0: none), failed ones. */
export interface WebhookStats {
  pending: number;
  oldestPendingAgeSeconds: number;
  failed: number;
}

/**
 * The webhook deliveries as the dispatcher uses them (table `webhook_deliveries`, filled by the
 * outbox relay in the statement that removes the relayed events). Every mailer's dispatcher
 * claims from it; a claim is a lease, so a mailer that dies mid-POST leaves the delivery to be
 * attempted again once the lease ends (at least once). Methods reject with pg's errors.
 */
export interface WebhookQueue {
  /**
   * Up to `limit` pending deliveries whose time has come, oldest due first, each leased for
   * `leaseMs` (no other dispatcher takes it meanwhile) with its attempt counted.
   */
  claim(limit: number, leaseMs: number): Promise<ClaimedWebhook[]>;
  /** Logs the attempt and applies its decision (next attempt's time, `delivered`, `failed`). */
  record(attempt: WebhookAttemptRecord): Promise<void>;
  stats(): Promise<WebhookStats>;
}

/** One attempt of a delivery, as the admin API shows it. */
export interface WebhookAttemptView {
  attempt: number;
  attemptedAt: string;
  url: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  responseExcerpt: string | null;
  outcome: WebhookOutcome;
}

/** A delivery with its log, as the admin API shows it. */
export interface WebhookDeliveryView {
  eventId: string;
  type: MailEvent['type'];
  orderId: string;
  state: WebhookState;
  /** Attempts made so far (redelivery starts the count again; the log keeps every one). */
  attempts: number;
  /** When the next attempt is due (ISO 8601), null unless pending. */
  nextAttemptAt: string | null;
  failureReason: WebhookFailureReason | null;
  createdAt: string;
  deliveredAt: string | null;
  /** Oldest first. */
  log: WebhookAttemptView[];
  /** Paging cursor: deliveries are listed by it, newest first. */
  cursor: string;
}

/** Which deliveries `WebhookLog.list` returns: at most `limit`, newest first, with cursor below `before`. */
export interface WebhookLogQuery {
  state?: WebhookState;
  orderId?: string;
  /** The `nextCursor` of the previous page. */
  before?: string;
  limit: number;
}

/** The delivery log as the admin API reads and acts on it. Methods reject with pg's errors. */
export interface WebhookLog {
  list(query: WebhookLogQuery): Promise<{ items: WebhookDeliveryView[]; nextCursor: string | null }>;
  /** One delivery by its event's `eventId`, null when unknown. */
  get(eventId: string): Promise<WebhookDeliveryView | null>;
  /**
   * Makes deliveries pending again, due now, their attempt count back at 0 (the log keeps the
   * earlier attempts): the given `eventIds` whatever their state, or every `failed` one that
   * failed at or after `failedSince` (its last change). Resolves with how many were made pending.
   */
  redeliver(selection: { eventIds: readonly string[] } | { failedSince: Date }): Promise<number>;
}
