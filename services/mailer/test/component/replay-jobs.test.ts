import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import pino from 'pino';
import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import { openBroker, type BrokerLink, type GetMessage } from '@order-mail/shared/broker';
import { AMQP_URL, connectTestBroker, eventually } from '@test/helpers/broker';
import { DATABASE_URL, query } from '@test/helpers/database';
import { deleteStackTopology, mailerTopologyFor, uniqueStackNames } from '@test/helpers/stack';
import {
  declareMailerTopology,
  mailerQueueNames,
  type MailerTopology,
} from '../../src/adapters/broker/mailer-topology';
import { migrate } from '../../src/adapters/db/database';
import type { DeadLetterFilter, ReplayJobView } from '../../src/domain/dead-letters';
import {
  createReplayJobRunner,
  type ReplayJobRunner,
  type ReplayJobRunnerOptions,
} from '../../src/entry-points/jobs/replay-job-runner';

const silent = pino({ level: 'silent' });
const REQUEST = { limit: 1000, requestedBy: 'admin:test' };

interface LetterSeed {
  reason?: string;
  smtpCode?: number | null;
  orderId?: string;
  /** Null: recorded without an AMQP message id. */
  messageId?: string | null;
  deadLetteredAt?: Date;
  /** The body's `order.customer.email` (none when absent). */
  email?: string;
  /** The body as recorded, instead of the event built from the other fields. */
  body?: Buffer;
  /** Headers added to the recorded ones. */
  headers?: Record<string, unknown>;
}

describe('replay jobs on PostgreSQL and RabbitMQ', () => {
  const names = uniqueStackNames();
  const { schema } = names;
  const topology: MailerTopology = mailerTopologyFor(names);
  const pools: Pool[] = [];
  let runners: ReplayJobRunner[] = [];
  let link: BrokerLink;
  let inspector: Awaited<ReturnType<typeof connectTestBroker>>;

  /** A pool as one mailer has it: its connections work in the test's schema. */
  const newPool = () => {
    const pool = new Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
    pools.push(pool);
    return pool;
  };

  beforeAll(async () => {
    await migrate(newPool(), schema, silent);
    link = await openBroker({
      url: AMQP_URL,
      connectionName: 'replay-jobs-test',
      logger: silent,
      // The channel stays open: a setup channel that closes makes the link reconnect.
      setup: async (open) => declareMailerTopology(await open.channel(), topology),
    });
    await link.waitForConnect();
    inspector = await connectTestBroker();
  });

  afterAll(async () => {
    await inspector?.connection.close();
    await link?.close();
    for (const pool of pools) await pool.end();
    await deleteStackTopology({ ...names, queues: mailerQueueNames(topology) });
  });

  beforeEach(async () => {
    await query(`TRUNCATE "${schema}".dead_letters, "${schema}".replay_jobs, "${schema}".suppressions`);
    await inspector.channel.purgeQueue(topology.workQueue);
  });

  afterEach(async () => {
    for (const runner of runners) await runner.stop();
    runners = [];
  });

  /** A runner as one mailer has it (its own pool unless given one), fast unless `overrides` say otherwise. */
  const newRunner = (overrides: Partial<ReplayJobRunnerOptions> = {}) => {
    const runner = createReplayJobRunner({
      pool: pools[0],
      schema,
      link: () => link,
      workQueue: topology.workQueue,
      ratePerSecond: 10_000,
      confirmTimeoutMs: 5000,
      workerId: 'mailer-a',
      logger: silent,
      resumeCheckMs: 100,
      ...overrides,
    });
    runners.push(runner);
    return runner;
  };

  /** Records dead letters in this order (ids ascending); resolves with their ids. */
  const insertDeadLetters = async (seeds: LetterSeed[]): Promise<string[]> => {
    const ids: string[] = [];
    for (const seed of seeds) {
      const orderId = seed.orderId ?? `O-${randomUUID()}`;
      const messageId = seed.messageId === undefined ? randomUUID() : seed.messageId;
      const reason = seed.reason ?? 'smtp_rejected';
      const customer = seed.email === undefined ? {} : { customer: { email: seed.email } };
      const body = seed.body ?? Buffer.from(JSON.stringify({ eventId: messageId, order: { orderId, ...customer } }));
      const properties = {
        contentType: 'application/json',
        correlationId: `corr-${orderId}`,
        timestamp: 1_767_225_600,
        // Another user's: the copy must not carry it (the broker would refuse it on our connection).
        userId: 'someone-else',
        ...(messageId !== null && { messageId }),
      };
      const headers = {
        'x-dead-letter-reason': reason,
        'x-attempts': 3,
        'x-last-error': '550 No such user',
        'x-death': [{ queue: topology.workQueue, reason: 'rejected', count: 1 }],
        'x-tenant': 'kept',
        ...seed.headers,
      };
      const rows = await query<{ id: string }>(
        `INSERT INTO "${schema}".dead_letters
           (fingerprint, message_id, order_id, correlation_id, reason, smtp_code, body, properties, headers, dead_lettered_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
        [
          randomUUID(),
          messageId,
          orderId,
          properties.correlationId,
          reason,
          seed.smtpCode === undefined ? 550 : seed.smtpCode,
          body,
          properties,
          headers,
          seed.deadLetteredAt ?? new Date(),
        ],
      );
      ids.push(String(rows[0].id));
    }
    return ids;
  };

  const letters = (count: number, seed: LetterSeed = {}) =>
    insertDeadLetters(Array.from({ length: count }, () => seed));

  const rowsById = async () => {
    const rows = await query<{ id: string; state: string; replay_job_id: string | null; replayed_at: Date | null }>(
      `SELECT id, state, replay_job_id, replayed_at FROM "${schema}".dead_letters ORDER BY id`,
    );
    return new Map(rows.map((r) => [String(r.id), r]));
  };

  /** Takes every message out of the work queue. */
  const drainWorkQueue = async (): Promise<GetMessage[]> => {
    const messages: GetMessage[] = [];
    for (;;) {
      const msg = await inspector.channel.get(topology.workQueue, { noAck: true });
      if (!msg) return messages;
      messages.push(msg);
    }
  };

  /** Puts `address` on the suppression list, as an operator would (its key as `suppressionKeyOf` builds it). */
  const suppress = async (address: string) => {
    // Through a pool of the schema: `address_hash` reads the salt through the search_path.
    await pools[0].query(
      `INSERT INTO suppressions (address_hash, address, domain, origin, reason, created_by)
       VALUES (address_hash($1), $1, $2, 'manual', 'test', 'test')`,
      [address, address.slice(address.indexOf('@') + 1)],
    );
  };

  const messageIdsOf = (messages: GetMessage[]) => messages.map((m) => String(m.properties.messageId));

  const waitForJob = async (runner: ReplayJobRunner, id: string, state: ReplayJobView['state'], timeoutMs = 15000) => {
    let view: ReplayJobView | null = null;
    await eventually(
      async () => (view = await runner.get(id))?.state === state,
      timeoutMs,
      `replay job ${id} ${state}`,
    );
    return view as unknown as ReplayJobView;
  };

  const startRejection = async (runner: ReplayJobRunner, filter: DeadLetterFilter = {}) => {
    const error = await runner.start(filter, REQUEST).then(
      () => null,
      (err: unknown) => err,
    );
    if (!(error instanceof AppError)) throw new Error(`expected an AppError, got ${String(error)}`);
    return error;
  };

  it('when a job runs, then it moves every matching dead letter exactly once, with replay headers and without its history', async () => {
    // Arrange
    const onJobFinished = jest.fn();
    const runner = newRunner({ onJobFinished });
    const matching = await insertDeadLetters([{}, {}, { messageId: null }, {}, {}]);
    const others = await letters(2, { reason: 'invalid_event', smtpCode: null });

    // Act
    const started = await runner.start({ reason: 'smtp_rejected' }, REQUEST);
    const finished = await waitForJob(runner, started.id, 'succeeded');

    // Assert: the job
    expect(started).toMatchObject({ state: 'running', matched: 5, filter: { reason: 'smtp_rejected' } });
    expect(started).toMatchObject({ runningOn: 'mailer-a', requestedBy: 'admin:test', limit: REQUEST.limit });
    expect(finished).toMatchObject({ matched: 5, moved: 5, skipped: {}, failed: 0, pending: 0, republished: 0 });
    expect(finished).toMatchObject({ resumes: 0, runningOn: null, error: null });
    expect(finished.finishedAt).not.toBeNull();
    expect(onJobFinished.mock.calls).toEqual([['succeeded']]);
    // Assert: the work queue got exactly those, each once
    const messages = await drainWorkQueue();
    const recorded = await query<{ id: string; message_id: string | null }>(
      `SELECT id, message_id FROM "${schema}".dead_letters WHERE id = ANY($1::bigint[])`,
      [matching],
    );
    const expectedIds = recorded.map((r) => r.message_id ?? `dead-letter-${r.id}`);
    expect(messageIdsOf(messages).sort()).toEqual(expectedIds.sort());
    expect(expectedIds).toContain(`dead-letter-${matching[2]}`);
    for (const msg of messages) {
      expect(msg.properties.headers).toMatchObject({ 'x-tenant': 'kept', 'x-replay-count': 1 });
      expect(msg.properties.headers).not.toHaveProperty('x-death');
      expect(msg.properties.headers).not.toHaveProperty('x-dead-letter-reason');
      expect(msg.properties.headers).not.toHaveProperty('x-attempts');
      expect(typeof msg.properties.headers?.['x-replayed-at']).toBe('string');
      const orderId = (JSON.parse(msg.content.toString('utf8')) as { order: { orderId: string } }).order.orderId;
      expect(msg.properties).toMatchObject({
        contentType: 'application/json',
        deliveryMode: 2,
        correlationId: `corr-${orderId}`,
      });
      expect(msg.properties.userId).toBeUndefined();
    }
    // Assert: the records
    const rows = await rowsById();
    for (const id of matching) {
      expect(rows.get(id)).toMatchObject({ state: 'replayed', replay_job_id: started.id });
      expect(rows.get(id)?.replayed_at).not.toBeNull();
    }
    for (const id of others) expect(rows.get(id)).toMatchObject({ state: 'dead', replay_job_id: null });
  });

  it('when a job runs on one mailer, then another mailer (and the same one) is refused with 409 naming the job, and sees its progress', async () => {
    // Arrange: a slow job on mailer A
    const runnerA = newRunner({ ratePerSecond: 20 });
    const runnerB = newRunner({ pool: newPool(), workerId: 'mailer-b' });
    await letters(12);
    const job = await runnerA.start({}, REQUEST);

    // Act
    const fromB = await startRejection(runnerB);
    const fromA = await startRejection(runnerA);
    await eventually(async () => ((await runnerB.get(job.id))?.moved ?? 0) >= 2, 10000, 'some moved');
    const midway = await runnerB.get(job.id);

    // Assert
    for (const error of [fromB, fromA]) {
      expect(error.code).toBe(ErrorCodes.CONFLICT);
      expect(error.message).toBe(`A replay job is already running: ${job.id}`);
      expect(error.extensions).toEqual({ jobId: job.id });
    }
    expect(midway).toMatchObject({ state: 'running', matched: 12, runningOn: 'mailer-a', filter: { all: true } });
    expect(midway!.moved).toBeLessThan(12);
    expect(midway!.pending).toBe(12 - midway!.moved);
    const finished = await waitForJob(runnerB, job.id, 'succeeded');
    expect(finished).toMatchObject({ moved: 12, pending: 0 });
  });

  it('when the mailer running a job stops mid-job, then another mailer resumes it and every dead letter is moved exactly once', async () => {
    // Arrange: mailer A runs a slow job and stops part-way
    const runnerA = newRunner({ ratePerSecond: 20 });
    const ids = await letters(15);
    const job = await runnerA.start({}, REQUEST);
    await eventually(async () => ((await runnerA.get(job.id))?.moved ?? 0) >= 3, 10000, 'some moved');
    await runnerA.stop();
    const paused = await runnerA.get(job.id);
    const pausedStates = [...(await rowsById()).values()].map((r) => r.state);

    // Act: mailer B looks for interrupted jobs
    const runnerB = newRunner({ pool: newPool(), workerId: 'mailer-b' });
    runnerB.startResuming();
    const finished = await waitForJob(runnerB, job.id, 'succeeded');

    // Assert
    expect(paused).toMatchObject({ state: 'running', runningOn: null, resumes: 0 });
    expect(paused!.moved).toBeGreaterThanOrEqual(3);
    expect(paused!.moved).toBeLessThan(15);
    // The letter under way was finished: none is left replaying, each moved one is replayed.
    expect(pausedStates.filter((state) => state === 'replaying')).toEqual([]);
    expect(pausedStates.filter((state) => state === 'replayed')).toHaveLength(paused!.moved);
    expect(finished).toMatchObject({ matched: 15, moved: 15, skipped: {}, failed: 0, resumes: 1, republished: 0 });
    const messages = await drainWorkQueue();
    expect(messages).toHaveLength(15);
    expect(new Set(messageIdsOf(messages)).size).toBe(15);
    const rows = await rowsById();
    for (const id of ids) expect(rows.get(id)).toMatchObject({ state: 'replayed', replay_job_id: job.id });
  });

  it('when a job was interrupted and a new one is asked for, then the mailer resumes the old one and answers 409 naming it', async () => {
    // Arrange: a job left running by a mailer that stopped
    const runnerA = newRunner({ ratePerSecond: 20 });
    await letters(6);
    const job = await runnerA.start({}, REQUEST);
    await runnerA.stop();
    const onJobFinished = jest.fn();
    const runnerB = newRunner({ pool: newPool(), workerId: 'mailer-b', onJobFinished });

    // Act
    const error = await startRejection(runnerB, { reason: 'smtp_rejected' });
    const finished = await waitForJob(runnerB, job.id, 'succeeded');

    // Assert
    expect(error.code).toBe(ErrorCodes.CONFLICT);
    expect(error.message).toBe(
      `A replay job is already running: ${job.id} (interrupted earlier; this mailer resumes it now)`,
    );
    expect(error.extensions).toEqual({ jobId: job.id });
    expect(finished).toMatchObject({ moved: 6, resumes: 1, runningOn: null });
    expect(onJobFinished.mock.calls).toEqual([['succeeded']]);
    expect(await query(`SELECT id FROM "${schema}".replay_jobs`)).toHaveLength(1);
  });

  it('when a dead letter is purged after a job took it on, then the job skips it as purged and moves the rest', async () => {
    // Arrange
    const runner = newRunner({ ratePerSecond: 10 });
    const ids = await letters(5);
    const purged = ids[4];

    // Act
    const job = await runner.start({}, REQUEST);
    await query(`UPDATE "${schema}".dead_letters SET state = 'purged', purged_at = now() WHERE id = $1`, [purged]);
    const finished = await waitForJob(runner, job.id, 'succeeded');

    // Assert
    expect(finished).toMatchObject({ matched: 5, moved: 4, skipped: { purged: 1 }, pending: 0 });
    const messages = await drainWorkQueue();
    expect(messages).toHaveLength(4);
    expect((await rowsById()).get(purged)).toMatchObject({ state: 'purged' });
  });

  it('when a job without force reaches dead letters whose recipient is suppressed, then it skips them as suppressed, leaves them dead and moves the rest without the override', async () => {
    // Arrange: one suppressed recipient (given in another case of its domain in one letter), one
    // that is not, and a letter an earlier forced replay left the override on
    await suppress('gone@example.com');
    const runner = newRunner();
    const [gone, goneUpper, ada, noRecipient, overridden] = await insertDeadLetters([
      { email: 'gone@example.com' },
      { email: 'gone@EXAMPLE.com' },
      { email: 'ada@example.com' },
      { body: Buffer.from('not json') },
      { email: 'bob@example.com', headers: { 'x-suppression-override': true } },
    ]);

    // Act
    const job = await runner.start({}, REQUEST);
    const finished = await waitForJob(runner, job.id, 'succeeded');

    // Assert: the job
    expect(job).toMatchObject({ force: false, filter: { all: true } });
    expect(finished).toMatchObject({ matched: 5, moved: 3, skipped: { suppressed: 2 }, failed: 0, pending: 0 });
    // Assert: the skipped ones stay dead, let go of, for a forced replay later
    const rows = await rowsById();
    for (const id of [gone, goneUpper]) expect(rows.get(id)).toMatchObject({ state: 'dead', replay_job_id: null });
    for (const id of [ada, noRecipient, overridden]) expect(rows.get(id)).toMatchObject({ state: 'replayed' });
    // Assert: no copy carries the override, not even the one whose dead letter had it
    const messages = await drainWorkQueue();
    expect(messages).toHaveLength(3);
    for (const msg of messages) expect(msg.properties.headers).not.toHaveProperty(['x-suppression-override']);
  });

  it('when a job with force reaches a dead letter whose recipient is suppressed, then it moves it and its copy carries x-suppression-override: true', async () => {
    // Arrange
    await suppress('gone@example.com');
    const runner = newRunner();
    const [gone, ada] = await insertDeadLetters([{ email: 'gone@example.com' }, { email: 'ada@example.com' }]);

    // Act
    const job = await runner.start({ reason: 'smtp_rejected' }, { ...REQUEST, force: true });
    const finished = await waitForJob(runner, job.id, 'succeeded');

    // Assert
    expect(job).toMatchObject({ force: true, filter: { reason: 'smtp_rejected' } });
    expect(finished).toMatchObject({ force: true, matched: 2, moved: 2, skipped: {} });
    expect(await runner.get(job.id)).toMatchObject({ force: true });
    const stored = await query<{ filter: Record<string, unknown> }>(
      `SELECT filter FROM "${schema}".replay_jobs WHERE id = $1`,
      [job.id],
    );
    expect(stored[0].filter).toEqual({ reason: 'smtp_rejected', force: true });
    const messages = await drainWorkQueue();
    expect(messages).toHaveLength(2);
    for (const msg of messages) expect(msg.properties.headers).toMatchObject({ 'x-suppression-override': true });
    const rows = await rowsById();
    for (const id of [gone, ada]) expect(rows.get(id)).toMatchObject({ state: 'replayed' });
  });

  it('when a replay is previewed, then it reports which of the matched dead letters have a suppressed recipient, and changes nothing', async () => {
    // Arrange: suppressed recipients among other letters, one letter of them beyond the limit
    await suppress('gone@example.com');
    await suppress('Ada@example.com');
    const ids = await insertDeadLetters([
      { email: 'gone@example.com' },
      { email: 'ada@example.com' },
      { body: Buffer.from([0xff, 0xfe]) },
      { email: 'Ada@Example.COM' },
      { email: 'gone@example.com' },
    ]);
    const runner = newRunner();

    // Act
    const preview = await runner.preview({}, 4);

    // Assert: ada@ is another address than Ada@ (the local part is compared as given)
    expect(preview.matched).toBe(4);
    expect(preview.suppressed).toEqual({ count: 2, deadLetterIds: [ids[0], ids[3]] });
    expect([...(await rowsById()).values()].every((r) => r.state === 'dead' && r.replay_job_id === null)).toBe(true);
  });

  it('when publishing fails, then the job fails, its dead letters stay dead, and a new job moves them', async () => {
    // Arrange: a work queue that does not exist, so the broker returns the copy unroutable
    const onJobFinished = jest.fn();
    const broken = newRunner({ workQueue: `${topology.workQueue}.missing`, onJobFinished });
    const ids = await letters(3);

    // Act
    const job = await broken.start({}, REQUEST);
    const failed = await waitForJob(broken, job.id, 'failed');
    const afterFailure = await rowsById();
    const retry = await newRunner().start({}, REQUEST);
    const retried = await waitForJob(broken, retry.id, 'succeeded');

    // Assert
    expect(failed).toMatchObject({ matched: 3, moved: 0, failed: 1, pending: 0, runningOn: null });
    expect(failed.error).toMatch(/No queue is bound/);
    expect(onJobFinished.mock.calls).toEqual([['failed']]);
    for (const id of ids) expect(afterFailure.get(id)).toMatchObject({ state: 'dead', replay_job_id: job.id });
    expect(retried).toMatchObject({ matched: 3, moved: 3 });
    expect(await drainWorkQueue()).toHaveLength(3);
    const rows = await rowsById();
    for (const id of ids) expect(rows.get(id)).toMatchObject({ state: 'replayed', replay_job_id: retry.id });
  });

  it('when the broker connection does not exist yet, then a start is refused as broker unavailable and no job is created', async () => {
    // Arrange
    const runner = newRunner({ link: () => null });
    await letters(2);

    // Act
    const error = await startRejection(runner);

    // Assert
    expect(error.code).toBe(ErrorCodes.BROKER_UNAVAILABLE);
    expect(await query(`SELECT id FROM "${schema}".replay_jobs`)).toEqual([]);
    expect([...(await rowsById()).values()].map((r) => r.state)).toEqual(['dead', 'dead']);
  });

  it('when a resumed job finds a dead letter left replaying, then it publishes it again and counts it as republished', async () => {
    // Arrange: a job whose mailer died between a publish and its mark
    const ids = await letters(3);
    const jobId = randomUUID();
    await query(
      `INSERT INTO "${schema}".replay_jobs (id, filter, max_letters, requested_by, matched, running_on)
       VALUES ($1, '{"all": true}', 100, 'admin:test', 3, 'mailer-that-died')`,
      [jobId],
    );
    await query(`UPDATE "${schema}".dead_letters SET replay_job_id = $1`, [jobId]);
    await query(`UPDATE "${schema}".dead_letters SET state = 'replaying' WHERE id = $1`, [ids[0]]);
    const runner = newRunner();

    // Act
    runner.startResuming();
    const finished = await waitForJob(runner, jobId, 'succeeded');

    // Assert
    expect(finished).toMatchObject({ matched: 3, moved: 3, republished: 1, resumes: 1, pending: 0 });
    expect(await drainWorkQueue()).toHaveLength(3);
    const rows = await rowsById();
    for (const id of ids) expect(rows.get(id)).toMatchObject({ state: 'replayed', replay_job_id: jobId });
  });

  it('when a replay is previewed, then it lists exactly the dead letters a job then takes on, and changes nothing', async () => {
    // Arrange: matching and not matching by reason, time and state; older ones first
    const base = Date.parse('2026-03-01T00:00:00Z');
    const at = (minutes: number) => new Date(base + minutes * 60_000);
    const ids = await insertDeadLetters([
      { reason: 'smtp_rejected', deadLetteredAt: at(0) },
      { reason: 'smtp_rejected', deadLetteredAt: at(-60) },
      { reason: 'retries_exhausted', deadLetteredAt: at(1) },
      { reason: 'smtp_rejected', deadLetteredAt: at(2) },
      { reason: 'smtp_rejected', deadLetteredAt: at(3) },
      { reason: 'smtp_rejected', deadLetteredAt: at(4) },
      { reason: 'smtp_rejected', deadLetteredAt: at(5) },
    ]);
    await query(`UPDATE "${schema}".dead_letters SET state = 'purged' WHERE id = $1`, [ids[3]]);
    const filter: DeadLetterFilter = { reason: 'smtp_rejected', from: at(0) };
    const runner = newRunner();

    // Act
    const preview = await runner.preview(filter, 3);
    const after = await rowsById();
    const job = await runner.start(filter, { limit: 3, requestedBy: 'admin:test' });
    await waitForJob(runner, job.id, 'succeeded');

    // Assert
    const expected = [ids[0], ids[4], ids[5]];
    expect(preview.matched).toBe(3);
    expect(preview.deadLetters.map((d) => d.id)).toEqual(expected);
    expect(preview.deadLetters[0]).toMatchObject({ state: 'dead', reason: 'smtp_rejected', smtpCode: 550 });
    expect(preview.deadLetters[0].deadLetteredAt).toBe(at(0).toISOString());
    expect([...after.values()].every((r) => r.replay_job_id === null)).toBe(true);
    const taken = (
      await query<{ id: string }>(`SELECT id FROM "${schema}".dead_letters WHERE replay_job_id = $1 ORDER BY id`, [
        job.id,
      ])
    ).map((r) => String(r.id));
    expect(job).toMatchObject({ matched: 3, filter: { reason: 'smtp_rejected', from: at(0).toISOString() } });
    expect(taken).toEqual(expected);
  });

  it('when a job id is not a UUID or names no job, then get finds none', async () => {
    // Arrange
    const runner = newRunner();

    // Act
    const results = await Promise.all([runner.get('not-a-uuid'), runner.get(randomUUID())]);

    // Assert
    expect(results).toEqual([null, null]);
  });
});
