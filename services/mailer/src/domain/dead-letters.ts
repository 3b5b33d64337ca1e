/**
 * Dead letters as the ledger database keeps them (table `dead_letters`, migration 002), and the
 * replay jobs that move them back to the work queue (table `replay_jobs`). Pure: types, the
 * cursor's encoding and the rules a replay applies to each dead letter. The PostgreSQL adapters
 * (`adapters/db/dead-letter-records-pg.ts`, `adapters/db/replay-jobs-pg.ts`) implement the ports.
 */
import type { AnyDeadLetterReason } from './dead-letter-reasons';

/**
 * Where a recorded dead letter stands:
 * - `dead`: waiting for an operator (listed by default, replayable, purgeable);
 * - `replaying`: a replay job is publishing its copy now (or was, when its mailer stopped: the
 *   job, resumed, publishes it again; the ledger still sends at most one email per order);
 * - `replayed`: its copy is confirmed in the work queue (`replayJobId` names the job);
 * - `purged`: an operator dropped it (`purgedBy`, `purgedAt`).
 * Replayed and purged records are deleted after `DEAD_LETTER_RETENTION_DAYS`.
 */
export const DEAD_LETTER_STATES = ['dead', 'replaying', 'replayed', 'purged'] as const;
export type DeadLetterState = (typeof DEAD_LETTER_STATES)[number];

/** Why a replay job passed over a dead letter it had matched (counted in `ReplayJobView.skipped`). */
export const REPLAY_SKIP_REASONS = [
  /** Purged by an operator after the job matched it. */
  'purged',
  /** No longer `dead` when the job reached it (replayed by an earlier run of the same job). */
  'not_dead',
  /**
   * Its recipient is on the suppression list (table `suppressions`) when the job reached it, and
   * the job was not asked to `force`: it stays `dead`, for a forced replay later.
   */
  'suppressed',
] as const;
export type ReplaySkipReason = (typeof REPLAY_SKIP_REASONS)[number];

/** How a replay job ended, or that it has not: the label of `mailer_replay_jobs_total{outcome}`. */
export const REPLAY_JOB_STATES = ['running', 'succeeded', 'failed'] as const;
export type ReplayJobState = (typeof REPLAY_JOB_STATES)[number];

/**
 * Which dead letters a listing, a replay or a purge is about. Every field given must match;
 * `from`/`to` bound `deadLetteredAt` (from inclusive, to exclusive). `state` defaults to `dead`
 * for listings and is always `dead` for replays and purges.
 */
export interface DeadLetterFilter {
  reason?: AnyDeadLetterReason;
  smtpCode?: number;
  orderId?: string;
  from?: Date;
  to?: Date;
  state?: DeadLetterState | 'any';
}

/** A dead letter as listed: what it says about itself, and where it stands. Times are ISO 8601. */
export interface DeadLetterSummary {
  /** The record's id (a decimal string: a bigserial), stable for ever; `show`/`GET /dead-letters/:id` take it. */
  id: string;
  /** The AMQP message id (the event id, for events our order API published). */
  messageId: string | null;
  /** The body's `eventId` / `order.orderId` / `correlationId` when the body parses as JSON; else null. */
  eventId: string | null;
  orderId: string | null;
  correlationId: string | null;
  /** `x-dead-letter-reason`; for messages the broker dead-lettered itself, its `x-death` reason (`delivery_limit`, …); `unknown` if neither. */
  reason: string;
  error: string | null;
  smtpCode: number | null;
  smtpResponse: string | null;
  /** `x-attempts`: the ledger's attempts when it was dead-lettered (0 if absent). */
  attempts: number;
  firstFailureAt: string | null;
  lastFailureAt: string | null;
  workerId: string | null;
  /** When it was dead-lettered: `x-last-failure-at`, else the newest `x-death` time, else when it was recorded. */
  deadLetteredAt: string;
  recordedAt: string;
  state: DeadLetterState;
  replayJobId: string | null;
  replayedAt: string | null;
  purgedAt: string | null;
  /** Who purged it: `admin:<token id>` (see `adminTokenId`). */
  purgedBy: string | null;
}

/** One dead letter with everything the broker gave: body, AMQP properties and every header. */
export interface DeadLetterDetail extends DeadLetterSummary {
  /** The body as UTF-8 text when it is valid UTF-8, else base64. */
  body: { encoding: 'utf8' | 'base64'; data: string };
  /** AMQP properties other than headers (contentType, messageId, correlationId, timestamp, …). */
  properties: Record<string, unknown>;
  /** Every header, `x-death` included (Buffers as UTF-8 strings, NUL characters as U+FFFD). */
  headers: Record<string, unknown>;
}

/** Listing order: `newest` (default) or `oldest` first, by the record id (the order of recording). */
export type ListOrder = 'newest' | 'oldest';

export interface DeadLetterPage {
  deadLetters: DeadLetterSummary[];
  /** Pass as `cursor` (with the same filter and order) for the next page; null on the last page. */
  nextCursor: string | null;
  /** Over the whole filter, not just this page: how many, and how many per reason. */
  counts: { total: number; byReason: Record<string, number> };
}

/**
 * What a listing is, for its cursors: the filter (state included, `dead` when absent) and the
 * order, in one canonical string. Two requests list the same records in the same order exactly
 * when their scopes are equal.
 */
export function listingScope(filter: DeadLetterFilter, order: ListOrder): string {
  return JSON.stringify([
    order,
    filter.state ?? 'dead',
    filter.reason ?? null,
    filter.smtpCode ?? null,
    filter.orderId ?? null,
    filter.from?.toISOString() ?? null,
    filter.to?.toISOString() ?? null,
  ]);
}

/** FNV-1a, 32 bits, as 8 hex digits: a check that a cursor belongs to its listing, not a secret. */
function scopeTag(scope: string): string {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(scope, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * A page cursor: opaque to clients (`v2.<id>.<tag of the listing's scope>` in base64url), so that
 * its form may change. It names the last record of a page; the next page starts after it in the
 * listing's order, so records recorded meanwhile never shift a page (an offset would). `scope` is
 * `listingScope` of the listing it was given out for.
 */
export function encodeCursor(lastId: string, scope: string): string {
  return Buffer.from(`v2.${lastId}.${scopeTag(scope)}`, 'utf8').toString('base64url');
}

/**
 * The record id a cursor names, or null when it is not a cursor `encodeCursor` made for a listing
 * of this `scope` (another filter or order, or no cursor at all).
 */
export function decodeCursor(cursor: string, scope: string): string | null {
  if (!/^[A-Za-z0-9_-]{1,60}$/.test(cursor)) return null;
  const match = /^v2\.([1-9][0-9]{0,18})\.([0-9a-f]{8})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return match && match[2] === scopeTag(scope) ? match[1] : null;
}

/** What the dead-letter table and its queries offer the admin API, the recorder and the metrics. */
export interface DeadLetterRecords {
  /**
   * One page of `filter` in `order`, after `cursor` (a record id from `decodeCursor`), at most
   * `limit`. Reads only: any number of concurrent listings see the same data. Rejects with
   * AppError DATABASE_UNAVAILABLE when PostgreSQL is not usable.
   */
  list(filter: DeadLetterFilter, page: { order: ListOrder; afterId?: string; limit: number }): Promise<DeadLetterPage>;
  /** One record with body, properties and headers; null if there is none with that id. */
  find(id: string): Promise<DeadLetterDetail | null>;
  /**
   * Marks the `dead` records matching `filter` as `purged` by `purgedBy` (at most `limit`, oldest
   * first), or with `dryRun` only counts them. Resolves with how many (would be) purged and their ids.
   */
  purge(
    filter: DeadLetterFilter,
    options: { dryRun: boolean; limit: number; purgedBy: string },
  ): Promise<{ dryRun: boolean; purged: number; ids: string[] }>;
  /**
   * Deletes `replayed` and `purged` records older than `retentionDays` days (by replayedAt/purgedAt),
   * and finished replay jobs as old that no record names any more; resolves with how many records.
   */
  removeExpired(retentionDays: number): Promise<number>;
  /** For the gauges: `dead` records per reason, and when the oldest `dead` one was dead-lettered (null if none). */
  stats(): Promise<{ waitingByReason: Record<string, number>; oldestWaitingAt: Date | null }>;
}

/** A replay job as `GET /dead-letters/replays/:id` shows it. Times are ISO 8601. */
export interface ReplayJobView {
  /** A UUID. */
  id: string;
  state: ReplayJobState;
  /** The filter as requested (`all: true` for every dead letter), and the job's limit. */
  filter: Record<string, unknown>;
  limit: number;
  /**
   * Whether the job was asked to `force`: its copies carry `x-suppression-override: true`, so a
   * suppressed recipient is sent to (false: such dead letters are skipped as `suppressed`).
   */
  force: boolean;
  /** `admin:<token id>`. */
  requestedBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** Dead letters the job took on when it was created (a snapshot: later ones wait for the next job). */
  matched: number;
  /** Copies confirmed in the work queue and marked `replayed`. */
  moved: number;
  /** Passed over, per reason (`REPLAY_SKIP_REASONS`), e.g. `{ "purged": 2 }`. */
  skipped: Record<string, number>;
  /** Publishes that failed (the job then stops as `failed`; those dead letters stay `dead`). */
  failed: number;
  /** Matched dead letters not yet moved, skipped or failed: 0 once the job has finished. */
  pending: number;
  /** Dead letters found `replaying` when the job resumed, published again (the ledger still sends at most one email per order). */
  republished: number;
  /** Times the job was picked up again after its mailer stopped mid-job. */
  resumes: number;
  /** The mailer (WORKER_ID) running it now; null when none is (finished, or waiting to be resumed). */
  runningOn: string | null;
  /** Why it failed; null otherwise. */
  error: string | null;
}

/** What a replay's dry run finds: the dead letters a job would take on, and which of them go to suppressed recipients. */
export interface ReplayPreview {
  /** How many a job would take on now (`deadLetters.length`). */
  matched: number;
  deadLetters: DeadLetterSummary[];
  /**
   * Those of `deadLetters` whose recipient (the body's `order.customer.email`) is on the
   * suppression list now: how many, and the ids of the first `SHOWN_SUPPRESSED_IDS` (100) in id
   * order. A job without `force` would skip them as `suppressed`; with `force` it sends them.
   */
  suppressed: { count: number; deadLetterIds: string[] };
}

/** What `POST /dead-letters/replay` does, through the replay-job runner. */
export interface DeadLetterReplays {
  /**
   * The `dead` records a replay with `filter` would move now, oldest first, at most `limit`:
   * exactly what a job would take on, and which of them have a suppressed recipient. Those a
   * running job has taken on are left out (a job started after it would not get them).
   */
  preview(filter: DeadLetterFilter, limit: number): Promise<ReplayPreview>;
  /**
   * Creates a job for the `dead` records matching `filter` (at most `limit`, oldest first) and
   * starts it in the background; resolves with it at once. With `force` (default false) its
   * copies are sent even to suppressed recipients; without, those are skipped as `suppressed`.
   * Rejects with AppError CONFLICT naming the job when another one is running on any mailer (a
   * PostgreSQL advisory lock), or when an interrupted job must be finished first (this mailer
   * resumes it).
   */
  start(
    filter: DeadLetterFilter,
    options: { limit: number; requestedBy: string; force?: boolean },
  ): Promise<ReplayJobView>;
  /** A job by id; null if none. */
  get(id: string): Promise<ReplayJobView | null>;
  /** The latest jobs, newest first (by creation), at most `limit`; finished ones go with the dead-letter retention. */
  recent(limit: number): Promise<ReplayJobView[]>;
}
