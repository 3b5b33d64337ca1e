/**
 * Dead letters as messages: what one says about itself, the row it becomes in `dead_letters`
 * (`toNewDeadLetter`), and the headers of its copy when it is replayed. Pure: no broker calls.
 */
import { createHash } from 'node:crypto';
import type { GetMessage } from '@order-mail/shared/broker';
import { idsFromBody } from '../../domain/message-ids';
import type { DeadLetterSummary } from '../../domain/dead-letters';
import { UNKNOWN_DEAD_LETTER_REASON } from '../../domain/dead-letter-reasons';
import { MailerHeaders, readCountHeader, withoutBrokerHistory } from './mailer-topology';

/** A message from the dead-letter queue, as amqplib's `get` or `consume` hands it over (its fields do not matter). */
export type DeadLetterMessage = Pick<GetMessage, 'content' | 'properties'>;

/**
 * What a dead letter says about itself: the columns of `dead_letters` that describe it (see
 * `DeadLetterSummary`). Read from its headers and body: `eventId`, `orderId` and `correlationId`
 * from a JSON body (cut to 200 characters), `reason` from `x-dead-letter-reason`, else the newest
 * `x-death` reason, else `x-first-death-reason`, else `unknown`; `smtpCode` only when `x-smtp-code`
 * is a whole number that fits an integer column; `attempts` from `x-attempts` (0 when absent or
 * unreadable).
 */
export type DeadLetterDescription = Pick<
  DeadLetterSummary,
  | 'messageId'
  | 'eventId'
  | 'orderId'
  | 'correlationId'
  | 'reason'
  | 'error'
  | 'smtpCode'
  | 'smtpResponse'
  | 'attempts'
  | 'firstFailureAt'
  | 'lastFailureAt'
  | 'workerId'
>;

/** Everything a `dead_letters` row is made of (id, state and recording time are the table's). */
export interface NewDeadLetter extends DeadLetterDescription {
  /** sha256, hex, of body, properties and headers without the per-delivery counters: equal messages, equal fingerprints. */
  fingerprint: string;
  body: Buffer;
  /** AMQP properties other than headers, JSON-safe (undefined ones left out). */
  properties: Record<string, unknown>;
  /** Every header, JSON-safe (see `toJsonSafe`). */
  headers: Record<string, unknown>;
  deadLetteredAt: Date;
}

/** Headers the broker changes on every delivery of the same message; a redelivery must keep its fingerprint. */
const PER_DELIVERY_HEADERS = ['x-delivery-count', 'x-acquired-count'];

/** `reason` is indexed: a header of any length must not make the row too large for the index. */
const MAX_REASON_LENGTH = 200;
const INT4_MAX = 2 ** 31 - 1;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `value` as PostgreSQL text and jsonb accept it: NUL characters (which both refuse) and lone
 * surrogates (which are not UTF-8) become U+FFFD.
 */
export function safeText(value: string): string {
  return value.replace(/\u0000/g, '\uFFFD').replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * `value` as JSON can hold it and jsonb accepts it: Buffers (and other byte arrays) as UTF-8
 * text, Dates as ISO 8601 (null if invalid), bigints and non-finite numbers as strings, arrays
 * and objects converted member by member (undefined members left out, undefined array items as
 * null), every string and key through `safeText`. amqplib's typed values (`{ '!': 'timestamp',
 * value }`) are plain objects and stay as they are.
 */
export function toJsonSafe(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
      return safeText(value);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'object':
      return objectToJsonSafe(value);
    default:
      return safeText(String(value));
  }
}

function objectToJsonSafe(value: object): unknown {
  if (value instanceof Uint8Array) return safeText(Buffer.from(value).toString('utf8'));
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map((item: unknown) => toJsonSafe(item));
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, member]) => member !== undefined)
      .map(([key, member]) => [safeText(key), toJsonSafe(member)]),
  );
}

/** A header or property as text: Buffers as UTF-8, other non-strings as JSON (objects) or `String`; absent is null. */
function text(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return safeText(value);
  if (Buffer.isBuffer(value)) return safeText(value.toString('utf8'));
  return typeof value === 'object' ? JSON.stringify(toJsonSafe(value)) : safeText(String(value));
}

/** The newest `x-death` entry (RabbitMQ lists the newest first), if the header is one. */
function newestDeath(headers: Record<string, unknown>): Record<string, unknown> | undefined {
  const deaths = headers['x-death'];
  const newest: unknown = Array.isArray(deaths) ? deaths[0] : undefined;
  return typeof newest === 'object' && newest !== null ? (newest as Record<string, unknown>) : undefined;
}

function smtpCodeOf(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= INT4_MAX ? value : null;
}

/**
 * What a dead letter says about itself, from its headers (the mailer's, else the broker's
 * `x-death`) and its body's ids. A body that is not JSON, or a header that is absent or unreadable,
 * reads as null (the attempts as 0, the reason as `unknown`). Every text is `safeText`. Never throws.
 */
export function describeDeadLetter(msg: DeadLetterMessage): DeadLetterDescription {
  const headers = msg.properties.headers ?? {};
  const ids = idsFromBody(msg.content);
  const reason =
    text(headers[MailerHeaders.deadLetterReason]) ??
    text(newestDeath(headers)?.reason) ??
    text(headers['x-first-death-reason']) ??
    UNKNOWN_DEAD_LETTER_REASON;
  return {
    messageId: text(msg.properties.messageId),
    eventId: ids.eventId === undefined ? null : safeText(ids.eventId),
    orderId: ids.orderId === undefined ? null : safeText(ids.orderId),
    correlationId: ids.correlationId === undefined ? null : safeText(ids.correlationId),
    reason: reason.slice(0, MAX_REASON_LENGTH),
    error: text(headers[MailerHeaders.lastError]),
    smtpCode: smtpCodeOf(headers[MailerHeaders.smtpCode]),
    smtpResponse: text(headers[MailerHeaders.smtpResponse]),
    attempts: Math.min(INT4_MAX, Math.max(0, Math.trunc(readCountHeader(headers, MailerHeaders.attempts)))),
    firstFailureAt: text(headers[MailerHeaders.firstFailureAt]),
    lastFailureAt: text(headers[MailerHeaders.lastFailureAt]),
    workerId: text(headers[MailerHeaders.workerId]),
  };
}

/** `date` if it is one PostgreSQL's timestamptz takes (years 1 to 9999), else undefined. */
function usableDate(date: Date): Date | undefined {
  const year = date.getUTCFullYear();
  return Number.isNaN(date.getTime()) || year < 1 || year > 9999 ? undefined : date;
}

/** An AMQP timestamp as amqplib decodes it: `{ '!': 'timestamp', value: seconds }`, or seconds, or a Date. */
function amqpTime(value: unknown): Date | undefined {
  if (value instanceof Date) return usableDate(value);
  const seconds =
    typeof value === 'object' && value !== null && (value as { '!'?: unknown })['!'] === 'timestamp'
      ? (value as { value?: unknown }).value
      : value;
  return typeof seconds === 'number' && Number.isFinite(seconds) ? usableDate(new Date(seconds * 1000)) : undefined;
}

/** When it was dead-lettered: `x-last-failure-at` if a valid date, else the newest `x-death` time, else `recordedAt`. */
function deadLetteredAt(headers: Record<string, unknown>, recordedAt: Date): Date {
  const lastFailure = text(headers[MailerHeaders.lastFailureAt]);
  const fromMailer = lastFailure === null ? undefined : usableDate(new Date(lastFailure));
  return fromMailer ?? amqpTime(newestDeath(headers)?.time) ?? recordedAt;
}

/**
 * `value` as canonical JSON: object keys sorted, and the types JSON lacks tagged (bytes, dates,
 * bigints, non-finite numbers), so that equal values give equal text and a Buffer never equals a string.
 */
function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value));
}

function canonical(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (value instanceof Date) return { $date: value.getTime() };
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (typeof value === 'number' && !Number.isFinite(value)) return { $number: String(value) };
  if (Array.isArray(value)) return value.map((item: unknown) => canonical(item));
  if (typeof value === 'object' && value !== null) {
    const members = Object.entries(value).filter(([, member]) => member !== undefined);
    members.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(members.map(([key, member]) => [key, canonical(member)]));
  }
  return value ?? null;
}

/** sha256 (hex) of the body and of properties and headers without the broker's per-delivery counters. */
export function deadLetterFingerprint(msg: DeadLetterMessage): string {
  const { headers = {}, ...properties } = msg.properties;
  const stable = Object.fromEntries(Object.entries(headers).filter(([name]) => !PER_DELIVERY_HEADERS.includes(name)));
  return createHash('sha256')
    .update(`${msg.content.length}:`)
    .update(msg.content)
    .update(canonicalJson({ properties, headers: stable }))
    .digest('hex');
}

/**
 * The `dead_letters` row for `msg`: its description, fingerprint, body, JSON-safe properties and
 * headers, and when it was dead-lettered (`x-last-failure-at` if a valid date, else the newest
 * `x-death` time, else `recordedAt`). Every value is one PostgreSQL accepts (no NUL, integers in
 * range, dates within timestamptz's years), so no message can keep the recorder from committing.
 * Never throws.
 */
export function toNewDeadLetter(msg: DeadLetterMessage, recordedAt = new Date()): NewDeadLetter {
  const { headers = {}, ...properties } = msg.properties;
  return {
    ...describeDeadLetter(msg),
    fingerprint: deadLetterFingerprint(msg),
    body: msg.content,
    properties: toJsonSafe(properties) as Record<string, unknown>,
    headers: toJsonSafe(headers) as Record<string, unknown>,
    deadLetteredAt: deadLetteredAt(headers, recordedAt),
  };
}

/** Headers that describe past failures; a replayed message starts with a clean slate. */
const FAILURE_HEADERS = new Set<string>([
  MailerHeaders.sendFailures,
  MailerHeaders.attempts,
  MailerHeaders.internalErrors,
  MailerHeaders.lastError,
  MailerHeaders.lastErrorClass,
  MailerHeaders.firstFailureAt,
  MailerHeaders.lastFailureAt,
  MailerHeaders.smtpCode,
  MailerHeaders.smtpResponse,
  MailerHeaders.workerId,
  MailerHeaders.holdReason,
  MailerHeaders.deadLetterReason,
]);

/**
 * The headers of a dead letter's copy for the work queue, from the dead letter's: its failure
 * history (`FAILURE_HEADERS`: the copy's retry schedule starts afresh) and the broker's history
 * are dropped, every other header is kept, and `x-replayed-at` (`now`, ISO 8601) and
 * `x-replay-count` (one more than the dead letter's) are set. `x-suppression-override` is the
 * replay's own say: `true` with `force` (the worker then sends even to a suppressed recipient),
 * absent without, whatever an earlier forced replay left on the dead letter.
 */
export function replayHeaders(
  headers: Record<string, unknown> | undefined,
  now = new Date(),
  { force = false }: { force?: boolean } = {},
): Record<string, unknown> {
  const copy = Object.fromEntries(
    Object.entries(withoutBrokerHistory(headers)).filter(
      ([k]) => !FAILURE_HEADERS.has(k) && k !== MailerHeaders.suppressionOverride,
    ),
  );
  copy[MailerHeaders.replayedAt] = now.toISOString();
  copy[MailerHeaders.replayCount] = readCountHeader(headers, MailerHeaders.replayCount) + 1;
  if (force) copy[MailerHeaders.suppressionOverride] = true;
  return copy;
}
