/**
 * The rules of a replay job, apart from the I/O that applies them (`adapters/db/replay-jobs-pg.ts`
 * under a row lock, `entry-points/jobs/replay-job-runner.ts` around the publishes): what to do
 * with each dead letter the job reaches, what the job's stored filter says, and how its view is
 * computed. Pure.
 */
import type {
  DeadLetterFilter,
  DeadLetterState,
  ReplayJobState,
  ReplayJobView,
  ReplayPreview,
  ReplaySkipReason,
} from './dead-letters';
import { recipientKeyOf } from './suppression';

/** A dead letter as a job finds it under its row lock: null when the record is gone (retention deletes purged ones). */
export interface ReplayLetterState {
  state: DeadLetterState;
  /** The job that took it on last (null: none, or a job passed over it). */
  replayJobId: string | null;
  /**
   * Whether its recipient (`replayRecipientKey` of its body) is on the suppression list now;
   * false when the body names none.
   */
  recipientSuppressed: boolean;
}

/** The job, as far as its steps depend on it. */
export interface ReplayStepJob {
  id: string;
  /** The request said `force`: suppressed recipients are sent to (the copy carries the override). */
  force: boolean;
}

/**
 * What a job does with one of its dead letters:
 * - `move`: mark it `replaying`, publish its copy, mark it `replayed`;
 * - `republish`: it was left `replaying` (its mailer stopped between publish and mark), so its copy
 *   may or may not be in the work queue: publish again (the delivery ledger still sends at most
 *   one email per order) and mark it `replayed`;
 * - `skip`: pass over it, counted under `reason` (a skipped `dead` letter stays `dead`).
 */
export type ReplayStep = { action: 'move' } | { action: 'republish' } | { action: 'skip'; reason: ReplaySkipReason };

/**
 * The step for `letter` (null: no longer recorded) in `job`. A `dead` letter whose recipient is
 * suppressed is skipped as `suppressed` unless the job forces (issue #14: a replay does not
 * contact a suppressed address unless asked to). A letter left `replaying` is published again
 * whatever the list says now: its copy may be in the work queue already, and the worker applies
 * the list to it anyway.
 */
export function decideReplayStep(letter: ReplayLetterState | null, job: ReplayStepJob): ReplayStep {
  // Only purged records are deleted while they could still belong to a running job.
  if (letter === null) return { action: 'skip', reason: 'purged' };
  if (letter.state === 'purged') return { action: 'skip', reason: 'purged' };
  if (letter.replayJobId !== job.id) return { action: 'skip', reason: 'not_dead' };
  switch (letter.state) {
    case 'dead':
      return letter.recipientSuppressed && !job.force ? { action: 'skip', reason: 'suppressed' } : { action: 'move' };
    case 'replaying':
      return { action: 'republish' };
    case 'replayed':
      return { action: 'skip', reason: 'not_dead' };
  }
}

/**
 * The suppression key (`recipientKeyOf(...).key`) of the recipient a dead letter's copy would be
 * sent to: its body's `order.customer.email`, read leniently (any body: a dead letter may be
 * anything). An address that does not parse is its own key, as the worker keys it. Null when the
 * body is not JSON or names no recipient (the worker would dead-letter such a copy again before
 * any send). Never throws.
 */
export function replayRecipientKey(body: Buffer): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  const order = (parsed as { order?: unknown } | null)?.order;
  const customer = (order as { customer?: unknown } | null | undefined)?.customer;
  const email = (customer as { email?: unknown } | null | undefined)?.email;
  if (typeof email !== 'string' || email.length === 0) return null;
  return recipientKeyOf(email).key;
}

/** How many ids of suppressed dead letters a dry run lists (the count covers all). */
export const SHOWN_SUPPRESSED_IDS = 100;

/** A dry run's report on suppressed recipients, from the ids of every matched dead letter that has one. */
export function suppressedReport(ids: readonly string[]): ReplayPreview['suppressed'] {
  return { count: ids.length, deadLetterIds: ids.slice(0, SHOWN_SUPPRESSED_IDS) };
}

/** A job as stored (table `replay_jobs`), with its times as Dates. */
export interface ReplayJobRecord {
  id: string;
  state: ReplayJobState;
  /** As `replayFilterRecord` gives it (without `force`). */
  filter: Record<string, unknown>;
  limit: number;
  /** See `ReplayJobView.force`. */
  force: boolean;
  requestedBy: string;
  matched: number;
  moved: number;
  /** Per `REPLAY_SKIP_REASONS` entry. */
  skipped: Record<string, number>;
  failed: number;
  republished: number;
  resumes: number;
  runningOn: string | null;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

/** Dead letters passed over, over every reason. */
export function skippedTotal(skipped: Record<string, number>): number {
  return Object.values(skipped).reduce((sum, n) => sum + n, 0);
}

/**
 * Matched dead letters the job has still to reach: none once it has finished (a failed job leaves
 * the rest `dead` for a new job); never negative.
 */
export function pendingLetters(
  job: Pick<ReplayJobRecord, 'state' | 'matched' | 'moved' | 'skipped' | 'failed'>,
): number {
  if (job.state !== 'running') return 0;
  return Math.max(0, job.matched - job.moved - skippedTotal(job.skipped) - job.failed);
}

/** The job as `GET /dead-letters/replays/:id` shows it. */
export function toReplayJobView(job: ReplayJobRecord): ReplayJobView {
  return {
    id: job.id,
    state: job.state,
    filter: job.filter,
    limit: job.limit,
    force: job.force,
    requestedBy: job.requestedBy,
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
    finishedAt: job.finishedAt?.toISOString() ?? null,
    matched: job.matched,
    moved: job.moved,
    skipped: { ...job.skipped },
    failed: job.failed,
    pending: pendingLetters(job),
    republished: job.republished,
    resumes: job.resumes,
    runningOn: job.runningOn,
    error: job.error,
  };
}

/**
 * The filter a job stores and shows: the fields given (times as ISO 8601), `state` left out (a
 * replay always takes `dead` records), and `{ all: true }` when none is given.
 */
export function replayFilterRecord(filter: DeadLetterFilter): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  if (filter.reason !== undefined) record.reason = filter.reason;
  if (filter.smtpCode !== undefined) record.smtpCode = filter.smtpCode;
  if (filter.orderId !== undefined) record.orderId = filter.orderId;
  if (filter.from !== undefined) record.from = filter.from.toISOString();
  if (filter.to !== undefined) record.to = filter.to.toISOString();
  return Object.keys(record).length > 0 ? record : { all: true };
}

/**
 * What a job stores in `replay_jobs.filter` (jsonb): `replayFilterRecord(filter)`, plus
 * `force: true` when the request forced (absent otherwise, as on jobs from before `force`).
 */
export function storedReplayFilter(filter: DeadLetterFilter, force: boolean): Record<string, unknown> {
  return force ? { ...replayFilterRecord(filter), force: true } : replayFilterRecord(filter);
}

/** `storedReplayFilter` read back: the filter as shown, and whether the job forces (only `force: true` does). */
export function readStoredReplayFilter(stored: Record<string, unknown>): {
  filter: Record<string, unknown>;
  force: boolean;
} {
  const { force, ...filter } = stored;
  return { filter, force: force === true };
}

/** Any UUID in its 8-4-4-4-12 hex form, any case (PostgreSQL's `uuid` takes it; its version is not checked). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` can name a job (a UUID): anything else names none, without asking the database. */
export function isReplayJobId(id: string): boolean {
  return UUID.test(id);
}

/** The pause after each publish that keeps a job at `ratePerSecond` copies a second at most, ms. */
export function replayPauseMs(ratePerSecond: number): number {
  return ratePerSecond > 0 ? 1000 / ratePerSecond : 0;
}
