import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import { AppError, ErrorCodes, isAppError } from '@order-mail/shared/contract';
import type { Logger } from '@order-mail/shared/logger';
import {
  createConfirmedPublisher,
  type BrokerLink,
  type ConfirmChannel,
  type ConfirmedPublisher,
} from '@order-mail/shared/broker';
import { replayHeaders } from '../../adapters/broker/dead-letter-messages';
import { asDatabaseError } from '../../adapters/db/database';
import {
  createPgReplayJobs,
  type LetterToReplay,
  type PgReplayJobs,
  type ReplayLock,
} from '../../adapters/db/replay-jobs-pg';
import type { DeadLetterReplays } from '../../domain/dead-letters';
import {
  replayPauseMs,
  suppressedReport,
  toReplayJobView,
  type ReplayJobRecord,
  type ReplayStepJob,
} from '../../domain/replay-job';

export interface ReplayJobRunnerOptions {
  /** The ledger's pool (its `search_path` names `schema`); the running job holds one of its connections. */
  pool: Pool;
  schema: string;
  /** The mailer's broker connection; null until it exists. */
  link: () => BrokerLink | null;
  /** Where dead letters are moved to (through the default exchange). */
  workQueue: string;
  /** Copies published per second at most (REPLAY_RATE_PER_SECOND). */
  ratePerSecond: number;
  /** How long each publish may wait for the broker's confirm, ms. */
  confirmTimeoutMs: number;
  /** This mailer (WORKER_ID), shown as the job's `runningOn`. */
  workerId: string;
  logger: Logger;
  /** How often every mailer looks for an interrupted job to resume, ms (default 5000). */
  resumeCheckMs?: number;
  /** Called once per job that ends (not one that stops to be resumed). */
  onJobFinished?: (state: 'succeeded' | 'failed') => void;
}

export interface ReplayJobRunner extends DeadLetterReplays {
  /** Looks for an interrupted job at once and then every `resumeCheckMs`, and resumes it when no mailer runs it. */
  startResuming(): void;
  /**
   * Stops resuming and, if a job runs here, lets it finish the dead letter under way and leaves
   * it `running` (nobody's) for the next mailer to resume. Resolves when that is done; never rejects.
   */
  stop(): Promise<void>;
}

/** Records read per query of a job's remaining dead letters. */
const BATCH_SIZE = 100;
const DEFAULT_RESUME_CHECK_MS = 5000;

/** A job running in this mailer. */
interface ActiveRun {
  jobId: string;
  /** The job's `force`: its copies carry the suppression override, and no letter is skipped as suppressed. */
  force: boolean;
  stopRequested: boolean;
  /** Aborted to cut the pause between publishes short when the run is asked to stop. */
  wake: AbortController;
  done: Promise<void>;
}

interface RunnerState {
  active: ActiveRun | null;
  stopping: boolean;
  checking: boolean;
  timer: NodeJS.Timeout | null;
  /** `start` calls and resume checks under way: `stop` waits for them, so none launches a run after it. */
  inFlight: Set<Promise<unknown>>;
  lastCheckError: string | null;
}

interface RunnerContext {
  options: ReplayJobRunnerOptions;
  jobs: PgReplayJobs;
  state: RunnerState;
}

/**
 * AMQP properties a copy keeps, with the type amqplib encodes each as: a recorded value of another
 * type is left out rather than fail the publish. `userId` is dropped: the broker checks it against
 * the publishing connection's user, which is ours now.
 */
const KEPT_PROPERTIES = {
  contentType: 'string',
  contentEncoding: 'string',
  priority: 'number',
  correlationId: 'string',
  replyTo: 'string',
  expiration: 'string',
  timestamp: 'number',
  type: 'string',
  appId: 'string',
} as const;

/**
 * What a dead letter's copy is published with: its recorded properties and `replayHeaders`
 * (`x-suppression-override: true` only when the job forces), persistent.
 */
export function replayPublishOptions(letter: LetterToReplay, options: { force?: boolean; now?: Date } = {}) {
  const { force = false, now = new Date() } = options;
  const kept = Object.fromEntries(
    Object.entries(KEPT_PROPERTIES)
      .filter(([name, type]) => typeof letter.properties[name] === type)
      .map(([name]) => [name, letter.properties[name]]),
  );
  return {
    ...kept,
    headers: replayHeaders(letter.headers, now, { force }),
    persistent: true,
    // A dead letter without a message id still needs one: the publisher matches returns by it.
    messageId: letter.messageId ?? `dead-letter-${letter.id}`,
  };
}

/** The 409 of a `start` while a job runs: the id is in the message and, for clients, in `details` as `jobId`. */
function conflict(jobId: string | undefined, resuming: boolean): AppError {
  if (jobId === undefined) {
    return new AppError(ErrorCodes.CONFLICT, 'A replay job is starting or finishing on another mailer; try again');
  }
  const suffix = resuming ? ' (interrupted earlier; this mailer resumes it now)' : '';
  return new AppError(ErrorCodes.CONFLICT, `A replay job is already running: ${jobId}${suffix}`, {
    extensions: { jobId },
  });
}

function jobCounts(job: ReplayJobRecord) {
  const { matched, moved, skipped, failed, republished, resumes, force } = job;
  return { replayJobId: job.id, state: job.state, force, matched, moved, skipped, failed, republished, resumes };
}

type LetterOutcome = { kind: 'published' } | { kind: 'skipped' } | { kind: 'failed'; job: ReplayJobRecord };

/** One dead letter, in the order that never loses it: mark `replaying`, publish with a confirm, mark `replayed`. */
async function replayLetter(
  ctx: RunnerContext,
  job: ReplayStepJob,
  letterId: string,
  publisher: ConfirmedPublisher,
): Promise<LetterOutcome> {
  const { jobs, options } = ctx;
  const log = options.logger;
  const jobId = job.id;
  const step = await jobs.beginStep(job, letterId);
  if (step.action === 'skip') {
    log.debug({ replayJobId: jobId, deadLetterId: letterId, reason: step.reason }, 'dead letter skipped by replay');
    return { kind: 'skipped' };
  }
  const publishOptions = replayPublishOptions(step.letter, { force: job.force });
  try {
    await publisher.publish('', options.workQueue, step.letter.body, publishOptions);
  } catch (err) {
    const error = `Publishing dead letter ${letterId} failed: ${(err as Error).message}`;
    return { kind: 'failed', job: await jobs.failLetter(jobId, letterId, error) };
  }
  if (!(await jobs.markReplayed(jobId, letterId, step.action === 'republish'))) {
    log.warn({ replayJobId: jobId, deadLetterId: letterId }, 'replayed dead letter was no longer replaying');
  }
  log.debug(
    { replayJobId: jobId, deadLetterId: letterId, messageId: publishOptions.messageId, step: step.action },
    'dead letter replayed to the work queue',
  );
  return { kind: 'published' };
}

type RunOutcome =
  { kind: 'done' } | { kind: 'stopped'; why: 'shutdown' | 'lock_lost' } | { kind: 'failed'; job: ReplayJobRecord };

/** The job's remaining dead letters in id order, until none is left, one fails, or the run is asked to stop. */
async function replayLetters(
  ctx: RunnerContext,
  run: ActiveRun,
  lock: ReplayLock,
  publisher: ConfirmedPublisher,
): Promise<RunOutcome> {
  const pauseMs = replayPauseMs(ctx.options.ratePerSecond);
  let afterId: string | null = null;
  for (;;) {
    const ids = await ctx.jobs.nextBatch(run.jobId, afterId, BATCH_SIZE);
    if (ids.length === 0) return { kind: 'done' };
    for (const id of ids) {
      // A lost lock may already be someone else's: stop before touching another letter.
      if (lock.lost()) return { kind: 'stopped', why: 'lock_lost' };
      if (run.stopRequested) return { kind: 'stopped', why: 'shutdown' };
      const outcome = await replayLetter(ctx, { id: run.jobId, force: run.force }, id, publisher);
      if (outcome.kind === 'failed') return outcome;
      afterId = id;
      if (outcome.kind === 'published' && pauseMs > 0) {
        await sleep(pauseMs, undefined, { signal: run.wake.signal }).catch(() => undefined);
      }
    }
  }
}

async function endJob(ctx: RunnerContext, jobId: string, outcome: RunOutcome): Promise<void> {
  const { jobs, options } = ctx;
  if (outcome.kind === 'stopped') {
    await jobs.leave(jobId, options.workerId);
    if (outcome.why === 'shutdown') {
      options.logger.info({ replayJobId: jobId }, 'replay job paused by shutdown; a running mailer resumes it');
    } else {
      options.logger.warn(
        { replayJobId: jobId },
        'replay job left: the connection holding its lock failed; it is resumed',
      );
    }
    return;
  }
  const job = outcome.kind === 'done' ? await jobs.finish(jobId, 'succeeded', null) : outcome.job;
  if (job.state === 'failed') options.logger.warn({ ...jobCounts(job), error: job.error }, 'replay job failed');
  else options.logger.info(jobCounts(job), 'replay job finished');
  options.onJobFinished?.(job.state === 'failed' ? 'failed' : 'succeeded');
}

/** Runs (or resumes) `job` to its end or a stop, holding `lock` throughout; never rejects. */
async function runJob(
  ctx: RunnerContext,
  lock: ReplayLock,
  job: ReplayJobRecord,
  link: BrokerLink,
  run: ActiveRun,
  resumed: boolean,
): Promise<void> {
  const { jobs, options } = ctx;
  let channel: ConfirmChannel | null = null;
  try {
    if (run.stopRequested) {
      // Stopped before it began: a new job is left for resuming; an interrupted one stays as it was.
      if (!resumed) await jobs.leave(job.id, options.workerId);
      return;
    }
    const current = resumed ? await jobs.takeUp(job.id, options.workerId) : job;
    options.logger.info(jobCounts(current), resumed ? 'replay job resumed' : 'replay job started');
    try {
      channel = await link.openConfirmChannel();
    } catch (err) {
      await endJob(ctx, job.id, {
        kind: 'failed',
        job: await jobs.finish(job.id, 'failed', `No broker channel to publish on: ${(err as Error).message}`),
      });
      return;
    }
    const publisher = createConfirmedPublisher(channel, options.confirmTimeoutMs);
    await endJob(ctx, job.id, await replayLetters(ctx, run, lock, publisher));
  } catch (err) {
    // Mostly the database failing under the job. It stays `running`: once nobody holds the lock,
    // a mailer resumes it where it stopped.
    options.logger.error({ err, replayJobId: job.id }, 'replay job interrupted; it stays running and is resumed');
  } finally {
    await channel?.close().catch(() => undefined);
    await lock.release();
  }
}

/** Starts running `job` in the background as this mailer's active run. */
function launch(ctx: RunnerContext, lock: ReplayLock, job: ReplayJobRecord, link: BrokerLink, resume: boolean): void {
  const run: ActiveRun = {
    jobId: job.id,
    force: job.force,
    // A stop that came in meanwhile still gets the job left for resuming, not run.
    stopRequested: ctx.state.stopping,
    wake: new AbortController(),
    done: Promise.resolve(),
  };
  ctx.state.active = run;
  run.done = runJob(ctx, lock, job, link, run, resume).finally(() => {
    if (ctx.state.active === run) ctx.state.active = null;
  });
}

/** `start`: see `DeadLetterReplays.start`; rejects with AppError BROKER_UNAVAILABLE, CONFLICT, DATABASE_UNAVAILABLE or SHUTTING_DOWN. */
async function startJob(
  ctx: RunnerContext,
  filter: Parameters<DeadLetterReplays['start']>[0],
  request: Parameters<DeadLetterReplays['start']>[1],
) {
  const { jobs, options, state } = ctx;
  if (state.stopping) throw new AppError(ErrorCodes.SHUTTING_DOWN, 'The mailer is shutting down');
  if (state.active) throw conflict(state.active.jobId, false);
  const link = options.link();
  // A publish would wait for the connection; the operator should hear at once instead.
  if (!link?.isConnected()) throw new AppError(ErrorCodes.BROKER_UNAVAILABLE, 'Not connected to the broker');
  const lock = await jobs.tryLock().catch((err: unknown) => Promise.reject(asDatabaseError(err)));
  if (!lock) {
    const running = await jobs.findUnfinished().catch((err: unknown) => Promise.reject(asDatabaseError(err)));
    throw conflict(running?.id, false);
  }
  let launched = false;
  try {
    const unfinished = await jobs.findUnfinished();
    if (unfinished) {
      launch(ctx, lock, unfinished, link, true);
      launched = true;
      throw conflict(unfinished.id, true);
    }
    const job = await jobs.create({
      filter,
      limit: request.limit,
      force: request.force ?? false,
      requestedBy: request.requestedBy,
      workerId: options.workerId,
    });
    launch(ctx, lock, job, link, false);
    launched = true;
    return toReplayJobView(job);
  } catch (err) {
    if (!launched) await lock.release();
    throw isAppError(err) ? err : asDatabaseError(err);
  }
}

/** Logs a failed resume check at warn when its cause is new, else at debug: a database that is away would fill the log every few seconds. */
function logCheckFailure(ctx: RunnerContext, err: unknown): void {
  const message = (err as Error)?.message ?? String(err);
  const level = ctx.state.lastCheckError === message ? 'debug' : 'warn';
  ctx.state.lastCheckError = message;
  ctx.options.logger[level]({ err }, 'could not look for an interrupted replay job; trying again later');
}

/** One resume check: takes up the interrupted job, if there is one and no mailer holds the lock. Never rejects. */
async function resumeIfIdle(ctx: RunnerContext): Promise<void> {
  const { jobs, options, state } = ctx;
  if (state.stopping || state.active || state.checking) return;
  // Resuming waits for the broker: the job would fail at its first publish otherwise.
  const link = options.link();
  if (!link?.isConnected()) return;
  state.checking = true;
  try {
    // Cheap and lock-free first: most checks find nothing to do.
    if (!(await jobs.findUnfinished())) return;
    const lock = await jobs.tryLock();
    if (!lock) return;
    // Under the lock, the job may have finished meanwhile; `stop` may have begun.
    const job = await jobs.findUnfinished().catch(async (err: unknown) => {
      await lock.release();
      throw err;
    });
    if (!job || state.stopping || state.active) {
      await lock.release();
      return;
    }
    launch(ctx, lock, job, link, true);
    state.lastCheckError = null;
  } catch (err) {
    logCheckFailure(ctx, err);
  } finally {
    state.checking = false;
  }
}

/** Runs `work` as an operation `stop` waits for. */
function tracked<T>(state: RunnerState, work: () => Promise<T>): Promise<T> {
  const promise = work();
  const settled = promise.then(
    () => undefined,
    () => undefined,
  );
  state.inFlight.add(settled);
  void settled.then(() => state.inFlight.delete(settled));
  return promise;
}

async function stopRunner(state: RunnerState): Promise<void> {
  state.stopping = true;
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
  await Promise.all(state.inFlight);
  const run = state.active;
  if (!run) return;
  run.stopRequested = true;
  run.wake.abort();
  await run.done;
}

/**
 * Replay jobs (see `DeadLetterReplays`), run one at a time across every mailer on the schema: the
 * mailer that runs a job holds a PostgreSQL session advisory lock for as long as it does. A job
 * survives its mailer: a graceful stop leaves it after the dead letter under way, a crash leaves it
 * as it was (a letter `replaying` is published again on resume); either way the lock goes with the
 * session and the next resume check of any mailer takes the job up. Each dead letter is marked
 * `replaying`, published with a publisher confirm, then marked `replayed`; a publish that fails
 * puts its letter back to `dead` and ends the job `failed`, the rest staying `dead` for a new job.
 * Unless the job forces, a dead letter whose recipient is on the suppression list when the job
 * reaches it is skipped as `suppressed` and stays `dead`; a forced job's copies carry
 * `x-suppression-override: true`, which makes the worker send even to a suppressed recipient.
 */
export function createReplayJobRunner(options: ReplayJobRunnerOptions): ReplayJobRunner {
  const state: RunnerState = {
    active: null,
    stopping: false,
    checking: false,
    timer: null,
    inFlight: new Set(),
    lastCheckError: null,
  };
  const ctx: RunnerContext = { options, jobs: createPgReplayJobs(options.pool, options.schema), state };
  return {
    async preview(filter, limit) {
      const { deadLetters, suppressedIds } = await ctx.jobs.preview(filter, limit);
      return { matched: deadLetters.length, deadLetters, suppressed: suppressedReport(suppressedIds) };
    },
    start: (filter, request) => tracked(state, () => startJob(ctx, filter, request)),
    async get(id) {
      const job = await ctx.jobs.get(id);
      return job && toReplayJobView(job);
    },
    async recent(limit) {
      return (await ctx.jobs.recent(limit)).map(toReplayJobView);
    },
    startResuming() {
      if (state.stopping || state.timer) return;
      const check = () => void tracked(state, () => resumeIfIdle(ctx));
      state.timer = setInterval(check, options.resumeCheckMs ?? DEFAULT_RESUME_CHECK_MS);
      state.timer.unref();
      check();
    },
    stop: () => stopRunner(state),
  };
}
