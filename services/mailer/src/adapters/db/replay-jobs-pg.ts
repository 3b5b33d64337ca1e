import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import { tryAdvisoryLock, type AdvisoryLock } from './advisory-lock';
import { asDatabaseError, inTransaction } from './database';
import { SUMMARY_COLUMNS, toSummary, type SummaryRow } from './dead-letter-records-pg';
import { deadLetterFilterSql } from './dead-letter-filter-sql';
import type { DeadLetterFilter, DeadLetterState, DeadLetterSummary, ReplayJobState } from '../../domain/dead-letters';
import {
  decideReplayStep,
  isReplayJobId,
  readStoredReplayFilter,
  replayRecipientKey,
  storedReplayFilter,
  type ReplayJobRecord,
  type ReplayStep,
  type ReplayStepJob,
} from '../../domain/replay-job';

interface JobRow {
  id: string;
  state: ReplayJobState;
  filter: Record<string, unknown>;
  max_letters: number;
  requested_by: string;
  matched: number;
  moved: number;
  skipped: Record<string, number>;
  failed: number;
  republished: number;
  resumes: number;
  running_on: string | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

function toJob(row: JobRow): ReplayJobRecord {
  const { filter, force } = readStoredReplayFilter(row.filter);
  return {
    id: row.id,
    state: row.state,
    filter,
    limit: row.max_letters,
    force,
    requestedBy: row.requested_by,
    matched: row.matched,
    moved: row.moved,
    skipped: row.skipped,
    failed: row.failed,
    republished: row.republished,
    resumes: row.resumes,
    runningOn: row.running_on,
    error: row.error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}

/** A dead letter as a job publishes it: what the broker gave when it was recorded. */
export interface LetterToReplay {
  /** The record's id (a decimal string). */
  id: string;
  messageId: string | null;
  body: Buffer;
  /** AMQP properties other than headers, as recorded. */
  properties: Record<string, unknown>;
  headers: Record<string, unknown>;
}

/** A step as begun under the letter's row lock: a move or republish (with the letter, now `replaying`), or a skip already counted. */
export type BegunStep = Exclude<ReplayStep, { action: 'skip' }> & { letter: LetterToReplay };

/** The advisory lock that lets one replay job run at a time, on a connection of its own. */
/** The replay jobs' lock (`tryAdvisoryLock`): at most one job runs at a time across the mailers. */
export type ReplayLock = AdvisoryLock;

/** What the replay-job runner does with PostgreSQL; every method rejects with pg's errors except where noted. */
export interface PgReplayJobs {
  /** The lock, or null when another session holds it. */
  tryLock(): Promise<ReplayLock | null>;
  /** The unfinished (`running`) job, if any: at most one exists. */
  findUnfinished(): Promise<ReplayJobRecord | null>;
  /**
   * In one transaction: creates a job running on `workerId` that takes on the `dead` records
   * matching `filter`, oldest first (by id), at most `limit` (each gets the job's id), and stores
   * how many it took as `matched`, and `force` in its filter (`storedReplayFilter`). Rejects with
   * AppError CONFLICT if an unfinished job exists.
   */
  create(input: {
    filter: DeadLetterFilter;
    limit: number;
    force: boolean;
    requestedBy: string;
    workerId: string;
  }): Promise<ReplayJobRecord>;
  /** Marks an unfinished job as taken up again by `workerId` (`resumes` + 1). */
  takeUp(jobId: string, workerId: string): Promise<ReplayJobRecord>;
  /** Ids of the job's records still to handle (`dead`, `replaying`, `purged`) after `afterId`, in id order, at most `size`. */
  nextBatch(jobId: string, afterId: string | null, size: number): Promise<string[]>;
  /**
   * Under the record's row lock: looks its recipient up on the suppression list (same
   * transaction), decides its step (`decideReplayStep`) and applies it. A move marks it
   * `replaying`; a skip counts `reason` in the job's `skipped` and lets go of the record (its
   * `replay_job_id` is cleared, so a resumed job does not count it again; a `dead` one stays
   * `dead`) in one statement and resolves with the skip.
   */
  beginStep(job: ReplayStepJob, letterId: string): Promise<BegunStep | Extract<ReplayStep, { action: 'skip' }>>;
  /** In one statement: the `replaying` record becomes `replayed` now and the job's `moved` (and `republished`) count it. False if it was not `replaying` in the job. */
  markReplayed(jobId: string, letterId: string, republished: boolean): Promise<boolean>;
  /** In one statement: the record goes back to `dead`, and the job counts it as failed and ends `failed` with `error`. */
  failLetter(jobId: string, letterId: string, error: string): Promise<ReplayJobRecord>;
  /** Ends the job as `state` (with `error` when failed); nobody runs it any more. */
  finish(jobId: string, state: Exclude<ReplayJobState, 'running'>, error: string | null): Promise<ReplayJobRecord>;
  /** Leaves the still-running job for another run to resume: `running_on` is cleared, if it is still `workerId`. */
  leave(jobId: string, workerId: string): Promise<void>;
  /** A job by id; null if none or `id` is not a UUID. Rejects with `asDatabaseError`'s errors. */
  get(id: string): Promise<ReplayJobRecord | null>;
  /** The latest jobs, newest first, at most `limit`. Rejects with `asDatabaseError`'s errors. */
  recent(limit: number): Promise<ReplayJobRecord[]>;
  /**
   * The `dead` records a job with `filter` and `limit` would take on now, oldest first, and the
   * ids (in id order) of those whose recipient is on the suppression list now. Reads only;
   * rejects with `asDatabaseError`'s errors.
   */
  preview(
    filter: DeadLetterFilter,
    limit: number,
  ): Promise<{ deadLetters: DeadLetterSummary[]; suppressedIds: string[] }>;
}

const UNIQUE_VIOLATION = '23505';

/**
 * Dead letters no running job has taken on. A job takes on its dead letters when it is created,
 * so a dry run while one runs must not count them: a job started after it would not get them.
 */
const NOT_TAKEN_BY_A_RUNNING_JOB = `(replay_job_id IS NULL
  OR replay_job_id NOT IN (SELECT id FROM replay_jobs WHERE state = 'running'))`;

async function create(pool: Pool, input: Parameters<PgReplayJobs['create']>[0]): Promise<ReplayJobRecord> {
  const id = randomUUID();
  try {
    return await inTransaction(pool, async (client) => {
      await client.query(
        `INSERT INTO replay_jobs (id, filter, max_letters, requested_by, running_on) VALUES ($1, $2, $3, $4, $5)`,
        [id, storedReplayFilter(input.filter, input.force), input.limit, input.requestedBy, input.workerId],
      );
      const { where, params } = deadLetterFilterSql({ ...input.filter, state: 'dead' }, [id, input.limit]);
      // FOR UPDATE: a purge committing meanwhile is seen, and its records are not taken.
      const { rowCount } = await client.query(
        `WITH taken AS (SELECT id FROM dead_letters WHERE ${where}
           AND ${NOT_TAKEN_BY_A_RUNNING_JOB} ORDER BY id LIMIT $2 FOR UPDATE)
         UPDATE dead_letters d SET replay_job_id = $1 FROM taken WHERE d.id = taken.id AND d.state = 'dead'`,
        params,
      );
      const { rows } = await client.query<JobRow>(`UPDATE replay_jobs SET matched = $2 WHERE id = $1 RETURNING *`, [
        id,
        rowCount ?? 0,
      ]);
      return toJob(rows[0]);
    });
  } catch (err) {
    if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
    const running = await findUnfinished(pool);
    throw new AppError(ErrorCodes.CONFLICT, `A replay job is already running: ${running?.id ?? 'unknown'}`, {
      cause: err,
      extensions: running ? { jobId: running.id } : {},
    });
  }
}

async function findUnfinished(pool: Pool): Promise<ReplayJobRecord | null> {
  const { rows } = await pool.query<JobRow>(`SELECT * FROM replay_jobs WHERE state = 'running' LIMIT 1`);
  return rows.length > 0 ? toJob(rows[0]) : null;
}

async function oneJob(pool: Pool, sql: string, params: unknown[]): Promise<ReplayJobRecord> {
  const { rows } = await pool.query<JobRow>(sql, params);
  if (rows.length === 0) throw new Error(`replay job ${String(params[0])} not found`);
  return toJob(rows[0]);
}

interface LetterRow {
  id: string;
  state: DeadLetterState;
  replay_job_id: string | null;
  message_id: string | null;
  body: Buffer;
  properties: Record<string, unknown>;
  headers: Record<string, unknown>;
}

/** Whether the recipient with suppression key `key` is on the suppression list (false for none). */
async function isSuppressed(client: PoolClient, key: string | null): Promise<boolean> {
  if (key === null) return false;
  const { rows } = await client.query<{ suppressed: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM suppressions WHERE address_hash = address_hash($1)) AS suppressed',
    [key],
  );
  return rows[0].suppressed;
}

function beginStep(pool: Pool, job: ReplayStepJob, letterId: string): ReturnType<PgReplayJobs['beginStep']> {
  const jobId = job.id;
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<LetterRow>(
      `SELECT id, state, replay_job_id, message_id, body, properties, headers FROM dead_letters WHERE id = $1 FOR UPDATE`,
      [letterId],
    );
    const row = rows.at(0);
    const found = row && {
      state: row.state,
      replayJobId: row.replay_job_id,
      recipientSuppressed: await isSuppressed(client, replayRecipientKey(row.body)),
    };
    const step = decideReplayStep(found ?? null, job);
    if (step.action === 'skip' || row === undefined) {
      const reason = step.action === 'skip' ? step.reason : 'purged';
      // One statement: the count and the letting go cannot part, whatever stops the job.
      await client.query(
        `WITH released AS (
           UPDATE dead_letters SET replay_job_id = NULL
           WHERE id = $2 AND replay_job_id = $1 AND state <> 'replayed'
         )
         UPDATE replay_jobs
         SET skipped = skipped || jsonb_build_object($3::text, COALESCE((skipped ->> $3::text)::integer, 0) + 1),
             updated_at = now()
         WHERE id = $1`,
        [jobId, letterId, reason],
      );
      return { action: 'skip', reason };
    }
    if (step.action === 'move') {
      await client.query(`UPDATE dead_letters SET state = 'replaying' WHERE id = $1`, [letterId]);
    }
    const letter: LetterToReplay = {
      id: String(row.id),
      messageId: row.message_id,
      body: row.body,
      properties: row.properties,
      headers: row.headers,
    };
    return { ...step, letter };
  });
}

async function markReplayed(pool: Pool, jobId: string, letterId: string, republished: boolean): Promise<boolean> {
  const { rows } = await pool.query<{ marked: number }>(
    `WITH letter AS (
       UPDATE dead_letters SET state = 'replayed', replayed_at = now()
       WHERE id = $2 AND replay_job_id = $1 AND state = 'replaying'
       RETURNING id
     ), counted AS (SELECT count(*)::integer AS n FROM letter)
     UPDATE replay_jobs
     SET moved = moved + counted.n,
         republished = republished + CASE WHEN $3::boolean THEN counted.n ELSE 0 END,
         updated_at = now()
     FROM counted
     WHERE id = $1
     RETURNING counted.n AS marked`,
    [jobId, letterId, republished],
  );
  return (rows[0]?.marked ?? 0) > 0;
}

function failLetter(pool: Pool, jobId: string, letterId: string, error: string): Promise<ReplayJobRecord> {
  return oneJob(
    pool,
    `WITH letter AS (
       UPDATE dead_letters SET state = 'dead' WHERE id = $2 AND replay_job_id = $1 AND state = 'replaying'
     )
     UPDATE replay_jobs
     SET failed = failed + 1, state = 'failed', error = $3, finished_at = now(), running_on = NULL, updated_at = now()
     WHERE id = $1
     RETURNING *`,
    [jobId, letterId, error],
  );
}

async function get(pool: Pool, id: string): Promise<ReplayJobRecord | null> {
  if (!isReplayJobId(id)) return null;
  const { rows } = await pool.query<JobRow>('SELECT * FROM replay_jobs WHERE id = $1', [id]);
  return rows.length > 0 ? toJob(rows[0]) : null;
}

async function recent(pool: Pool, limit: number): Promise<ReplayJobRecord[]> {
  const { rows } = await pool.query<JobRow>('SELECT * FROM replay_jobs ORDER BY created_at DESC, id LIMIT $1', [limit]);
  return rows.map(toJob);
}

/** Bodies read per query when a dry run looks the recipients up. */
const PREVIEW_BATCH_SIZE = 500;

/**
 * The ids among `ids` (id order kept) whose recipient is on the suppression list: bodies are read
 * and their recipient keys computed here (`replayRecipientKey`: a body may be anything, which
 * SQL's jsonb cast would fail on), then looked up in one query per batch.
 */
async function suppressedAmong(pool: Pool, ids: readonly string[]): Promise<string[]> {
  const suppressed: string[] = [];
  for (let start = 0; start < ids.length; start += PREVIEW_BATCH_SIZE) {
    const batch = ids.slice(start, start + PREVIEW_BATCH_SIZE);
    const { rows: bodies } = await pool.query<{ id: string; body: Buffer }>(
      'SELECT id, body FROM dead_letters WHERE id = ANY($1::bigint[]) ORDER BY id',
      [batch],
    );
    const { rows } = await pool.query<{ id: string }>(
      `SELECT u.id FROM unnest($1::bigint[], $2::text[]) AS u(id, key)
       WHERE EXISTS (SELECT 1 FROM suppressions s WHERE s.address_hash = address_hash(u.key))
       ORDER BY u.id`,
      [bodies.map((b) => b.id), bodies.map((b) => replayRecipientKey(b.body))],
    );
    suppressed.push(...rows.map((r) => String(r.id)));
  }
  return suppressed;
}

async function preview(pool: Pool, filter: DeadLetterFilter, limit: number): ReturnType<PgReplayJobs['preview']> {
  const { where, params } = deadLetterFilterSql({ ...filter, state: 'dead' }, [limit]);
  const { rows } = await pool.query<SummaryRow>(
    `SELECT ${SUMMARY_COLUMNS} FROM dead_letters WHERE ${where} AND ${NOT_TAKEN_BY_A_RUNNING_JOB}
     ORDER BY id LIMIT $1`,
    params,
  );
  const deadLetters = rows.map(toSummary);
  return {
    deadLetters,
    suppressedIds: await suppressedAmong(
      pool,
      deadLetters.map((d) => d.id),
    ),
  };
}

const asHttpError = (err: unknown) => Promise.reject(asDatabaseError(err));

/**
 * Replay jobs in PostgreSQL (tables `replay_jobs` and `dead_letters`, reached through the pool's
 * `search_path`). The advisory lock's key is derived from `schema`, so that mailers of one
 * schema exclude each other and those of other schemas do not.
 */
export function createPgReplayJobs(pool: Pool, schema: string): PgReplayJobs {
  const lockKey = `order-mail:replay:${schema}`;
  return {
    tryLock: () => tryAdvisoryLock(pool, lockKey),
    findUnfinished: () => findUnfinished(pool),
    create: (input) => create(pool, input),
    takeUp: (jobId, workerId) =>
      oneJob(
        pool,
        `UPDATE replay_jobs SET running_on = $2, resumes = resumes + 1, updated_at = now()
         WHERE id = $1 AND state = 'running' RETURNING *`,
        [jobId, workerId],
      ),
    nextBatch: async (jobId, afterId, size) => {
      const { rows } = await pool.query<{ id: string }>(
        `SELECT id FROM dead_letters
         WHERE replay_job_id = $1 AND state IN ('dead', 'replaying', 'purged') AND id > $2::bigint
         ORDER BY id LIMIT $3`,
        [jobId, afterId ?? '0', size],
      );
      return rows.map((r) => String(r.id));
    },
    beginStep: (job, letterId) => beginStep(pool, job, letterId),
    markReplayed: (jobId, letterId, republished) => markReplayed(pool, jobId, letterId, republished),
    failLetter: (jobId, letterId, error) => failLetter(pool, jobId, letterId, error),
    finish: (jobId, state, error) =>
      oneJob(
        pool,
        `UPDATE replay_jobs SET state = $2, error = $3, finished_at = now(), running_on = NULL, updated_at = now()
         WHERE id = $1 RETURNING *`,
        [jobId, state, error],
      ),
    leave: async (jobId, workerId) => {
      await pool.query(
        `UPDATE replay_jobs SET running_on = NULL, updated_at = now()
         WHERE id = $1 AND state = 'running' AND running_on = $2`,
        [jobId, workerId],
      );
    },
    get: (id) => get(pool, id).catch(asHttpError),
    recent: (limit) => recent(pool, limit).catch(asHttpError),
    preview: (filter, limit) => preview(pool, filter, limit).catch(asHttpError),
  };
}
