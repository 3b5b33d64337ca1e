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
  ReplaySkipReason,
} from './dead-letters';

/** A dead letter as a job finds it under its row lock: null when the record is gone (retention deletes purged ones). */
export interface ReplayLetterState {
  state: DeadLetterState;
  /** The job that took it on last (null: none, or a job passed over it). */
  replayJobId: string | null;
}

/**
 * What a job does with one of its dead letters:
 * - `move`: mark it `replaying`, publish its copy, mark it `replayed`;
 * - `republish`: it was left `replaying` (its mailer stopped between publish and mark), so its copy
 *   may or may not be in the work queue: publish again (the delivery ledger still sends at most
 *   one email per order) and mark it `replayed`;
 * - `skip`: pass over it, counted under `reason`.
 */
export type ReplayStep = { action: 'move' } | { action: 'republish' } | { action: 'skip'; reason: ReplaySkipReason };

/** The step for `letter` (null: no longer recorded) in job `jobId`. */
export function decideReplayStep(letter: ReplayLetterState | null, jobId: string): ReplayStep {
  // Only purged records are deleted while they could still belong to a running job.
  if (letter === null) return { action: 'skip', reason: 'purged' };
  if (letter.state === 'purged') return { action: 'skip', reason: 'purged' };
  if (letter.replayJobId !== jobId) return { action: 'skip', reason: 'not_dead' };
  switch (letter.state) {
    case 'dead':
      return { action: 'move' };
    case 'replaying':
      return { action: 'republish' };
    case 'replayed':
      return { action: 'skip', reason: 'not_dead' };
  }
}

/** A job as stored (table `replay_jobs`), with its times as Dates. */
export interface ReplayJobRecord {
  id: string;
  state: ReplayJobState;
  filter: Record<string, unknown>;
  limit: number;
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` can name a job (a UUID): anything else names none, without asking the database. */
export function isReplayJobId(id: string): boolean {
  return UUID.test(id);
}

/** The pause after each publish that keeps a job at `ratePerSecond` copies a second at most, ms. */
export function replayPauseMs(ratePerSecond: number): number {
  return ratePerSecond > 0 ? 1000 / ratePerSecond : 0;
}
