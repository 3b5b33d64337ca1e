import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import pino from 'pino';
import { ErrorCodes } from '@order-mail/shared/contract';
import { DATABASE_URL, dropSchema, query } from '@test/helpers/database';
import { uniqueStackNames } from '@test/helpers/stack';
import { toNewDeadLetter, type NewDeadLetter } from '../../src/adapters/broker/dead-letter-messages';
import { migrate } from '../../src/adapters/db/database';
import { createPgDeadLetterRecords, type PgDeadLetterRecords } from '../../src/adapters/db/dead-letter-records-pg';
import { decodeCursor, listingScope, type DeadLetterFilter, type ListOrder } from '../../src/domain/dead-letters';

/** A dead letter as the mailer dead-letters it; `n` makes it unique (its body and message id). */
function letter(
  n: number,
  options: { reason?: string; smtpCode?: number; orderId?: string; lastFailureAt?: string; content?: Buffer } = {},
): NewDeadLetter {
  const headers: Record<string, unknown> = {
    'x-dead-letter-reason': options.reason ?? 'smtp_rejected',
    'x-attempts': 1,
    'x-last-failure-at': options.lastFailureAt ?? '2024-05-01T12:00:00.000Z',
  };
  if (options.smtpCode !== undefined) headers['x-smtp-code'] = options.smtpCode;
  const body = { eventId: `evt-${n}`, correlationId: `corr-${n}`, order: { orderId: options.orderId ?? `ord-${n}` } };
  return toNewDeadLetter({
    content: options.content ?? Buffer.from(JSON.stringify(body)),
    properties: {
      contentType: 'application/json',
      contentEncoding: undefined,
      headers,
      deliveryMode: 2,
      priority: undefined,
      correlationId: undefined,
      replyTo: undefined,
      expiration: undefined,
      messageId: `msg-${n}`,
      timestamp: undefined,
      type: undefined,
      userId: undefined,
      appId: undefined,
      clusterId: undefined,
    },
  });
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe('dead-letter records on PostgreSQL', () => {
  let schema: string;
  let pool: Pool;
  let records: PgDeadLetterRecords;

  beforeEach(async () => {
    ({ schema } = uniqueStackNames());
    pool = new Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
    await migrate(pool, schema, pino({ level: 'silent' }));
    records = createPgDeadLetterRecords(pool);
  });

  afterEach(async () => {
    await pool.end();
    await dropSchema(schema);
  });

  /** Every page of `filter` in `order`, `limit` at a time, calling `between` after each page. */
  async function allPages(order: ListOrder, limit: number, between: (page: number) => Promise<void>) {
    const messageIds: string[] = [];
    let afterId: string | undefined;
    for (let page = 0; page < 20; page++) {
      const result = await records.list({}, { order, afterId, limit });
      messageIds.push(...result.deadLetters.map((l) => l.messageId ?? ''));
      if (result.nextCursor === null) return messageIds;
      afterId = decodeCursor(result.nextCursor, listingScope({}, order)) ?? undefined;
      await between(page);
    }
    throw new Error('more pages than expected');
  }

  it.each<[ListOrder, string[]]>([
    // Newest first: records made meanwhile are newer than the cursor, so they are not on later pages.
    [
      'newest',
      range(1, 7)
        .reverse()
        .map((n) => `msg-${n}`),
    ],
    // Oldest first: they come after the last record, so the last pages show them.
    ['oldest', range(1, 7 + 3 * 2).map((n) => `msg-${n}`)],
  ])(
    'when dead letters are recorded between pages in %s order, then every page continues where the last ended',
    async (order, expected) => {
      // Arrange: 7 records; 2 more after each page
      await records.record(range(1, 7).map((n) => letter(n)));
      let next = 8;
      const recordTwo = async () => {
        await records.record([letter(next), letter(next + 1)]);
        next += 2;
      };

      // Act: pages of 3 (the oldest order's pages keep finding the new ones; stop adding after 3 rounds)
      let rounds = 0;
      const messageIds = await allPages(order, 3, async () => {
        if (rounds++ < 3) await recordTwo();
      });

      // Assert: no duplicates, no gaps
      expect(messageIds).toEqual(expected);
    },
  );

  it('when the records fill the last page exactly, then it has no next cursor', async () => {
    // Arrange
    await records.record(range(1, 4).map((n) => letter(n)));

    // Act
    const first = await records.list({}, { order: 'newest', limit: 4 });

    // Assert: limit + 1 rows tell whether there is more; with exactly 4 there is not
    expect(first.deadLetters).toHaveLength(4);
    expect(first.nextCursor).toBeNull();
  });

  it('when listings are filtered, then only matching records are listed and counted, per reason, over the whole filter', async () => {
    // Arrange
    await records.record([
      letter(1, { reason: 'smtp_rejected', smtpCode: 550, lastFailureAt: '2024-05-01T10:00:00.000Z' }),
      letter(2, { reason: 'smtp_rejected', smtpCode: 554, lastFailureAt: '2024-05-02T10:00:00.000Z' }),
      letter(3, { reason: 'retries_exhausted', smtpCode: 451, lastFailureAt: '2024-05-03T10:00:00.000Z' }),
      letter(4, { reason: 'retries_exhausted', smtpCode: 451, orderId: 'ord-x' }),
      letter(5, { reason: 'invalid_event', orderId: 'ord-x', lastFailureAt: '2024-05-05T10:00:00.000Z' }),
    ]);
    const listed = async (filter: DeadLetterFilter) => {
      const page = await records.list(filter, { order: 'oldest', limit: 1 });
      return { first: page.deadLetters.map((l) => l.messageId), counts: page.counts };
    };

    // Act
    const results = {
      all: await listed({}),
      reason: await listed({ reason: 'retries_exhausted' }),
      smtpCode: await listed({ smtpCode: 554 }),
      orderId: await listed({ orderId: 'ord-x' }),
      window: await listed({ from: new Date('2024-05-02T10:00:00.000Z'), to: new Date('2024-05-05T10:00:00.000Z') }),
      purged: await listed({ state: 'purged' }),
    };

    // Assert
    expect(results).toEqual({
      all: {
        first: ['msg-1'],
        counts: { total: 5, byReason: { smtp_rejected: 2, retries_exhausted: 2, invalid_event: 1 } },
      },
      reason: { first: ['msg-3'], counts: { total: 2, byReason: { retries_exhausted: 2 } } },
      smtpCode: { first: ['msg-2'], counts: { total: 1, byReason: { smtp_rejected: 1 } } },
      orderId: { first: ['msg-4'], counts: { total: 2, byReason: { retries_exhausted: 1, invalid_event: 1 } } },
      // From inclusive, to exclusive; letter 4 was dead-lettered on 2024-05-01 12:00.
      window: { first: ['msg-2'], counts: { total: 2, byReason: { smtp_rejected: 1, retries_exhausted: 1 } } },
      purged: { first: [], counts: { total: 0, byReason: {} } },
    });
  });

  it('when the same batch is recorded twice, then each dead letter is recorded once', async () => {
    // Arrange: a batch with a dead letter in it twice, as a redelivery within one batch would be
    const batch = [letter(1), letter(2), letter(1), letter(3)];

    // Act
    const first = await records.record(batch);
    const second = await records.record(batch);

    // Assert
    expect({ first, second }).toEqual({ first: 3, second: 0 });
    const rows = await query<{ message_id: string }>(`SELECT message_id FROM "${schema}".dead_letters ORDER BY id`);
    expect(rows.map((r) => r.message_id)).toEqual(['msg-1', 'msg-2', 'msg-3']);
  });

  it('when a record is found, then it has its body as UTF-8 or base64, its properties and every header', async () => {
    // Arrange: one UTF-8 body, one that is not UTF-8, one dead-lettered by the broker
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
    const broker = toNewDeadLetter({
      content: Buffer.from('plain ünïcode\u0000text'),
      properties: {
        ...letter(0).properties,
        headers: {
          'x-death': [
            { count: 1, reason: 'delivery_limit', queue: 'q', time: { '!': 'timestamp', value: 1714567890 } },
          ],
        },
        messageId: 'msg-broker',
      } as never,
    });
    await records.record([letter(1, { content: binary }), broker]);
    const [{ id: binaryId }, { id: brokerId }] = (await records.list({}, { order: 'oldest', limit: 10 })).deadLetters;

    // Act
    const [binaryDetail, brokerDetail, missing, notAnId] = await Promise.all([
      records.find(binaryId),
      records.find(brokerId),
      records.find('999999999'),
      records.find('1; DROP TABLE dead_letters'),
    ]);

    // Assert
    expect(binaryDetail?.body).toEqual({ encoding: 'base64', data: binary.toString('base64') });
    expect(brokerDetail).toMatchObject({
      id: brokerId,
      messageId: 'msg-broker',
      reason: 'delivery_limit',
      deadLetteredAt: new Date(1714567890 * 1000).toISOString(),
      state: 'dead',
      body: { encoding: 'utf8', data: 'plain ünïcode\u0000text' },
      properties: { contentType: 'application/json', deliveryMode: 2, messageId: 'msg-broker' },
      headers: {
        'x-death': [{ count: 1, reason: 'delivery_limit', queue: 'q', time: { '!': 'timestamp', value: 1714567890 } }],
      },
    });
    expect({ missing, notAnId }).toEqual({ missing: null, notAnId: null });
  });

  it('when dead letters are purged, then a dry run only counts them and a real purge marks the oldest, by whom', async () => {
    // Arrange
    await records.record([
      ...range(1, 3).map((n) => letter(n, { reason: 'smtp_rejected' })),
      letter(4, { reason: 'invalid_event' }),
    ]);
    const ids = (await records.list({}, { order: 'oldest', limit: 10 })).deadLetters.map((l) => l.id);

    // Act
    const dryRun = await records.purge({ reason: 'smtp_rejected' }, { dryRun: true, limit: 2, purgedBy: 'admin:a' });
    const real = await records.purge({ reason: 'smtp_rejected' }, { dryRun: false, limit: 2, purgedBy: 'admin:a' });
    const again = await records.purge(
      { reason: 'smtp_rejected', state: 'any' },
      { dryRun: false, limit: 10, purgedBy: 'admin:b' },
    );

    // Assert: only dead ones are purged, whatever state the filter names
    expect(dryRun).toEqual({ dryRun: true, purged: 2, ids: [ids[0], ids[1]] });
    expect(real).toEqual({ dryRun: false, purged: 2, ids: [ids[0], ids[1]] });
    expect(again).toEqual({ dryRun: false, purged: 1, ids: [ids[2]] });
    const purged = await records.list({ state: 'purged' }, { order: 'oldest', limit: 10 });
    expect(purged.deadLetters.map((l) => [l.id, l.purgedBy, typeof l.purgedAt])).toEqual([
      [ids[0], 'admin:a', 'string'],
      [ids[1], 'admin:a', 'string'],
      [ids[2], 'admin:b', 'string'],
    ]);
    expect((await records.list({}, { order: 'oldest', limit: 10 })).deadLetters.map((l) => l.id)).toEqual([ids[3]]);
  });

  it('when replayed and purged records are past their retention, then only those are deleted', async () => {
    // Arrange: a replay job; records replayed or purged long ago and recently, and an old dead one
    await records.record(range(1, 5).map((n) => letter(n)));
    const jobId = randomUUID();
    const set = (sql: string, messageId: string, params: unknown[] = []) =>
      query(`UPDATE "${schema}".dead_letters SET ${sql} WHERE message_id = $1`, [messageId, ...params]);
    await query(
      `INSERT INTO "${schema}".replay_jobs (id, state, filter, max_letters, requested_by) VALUES ($1, 'succeeded', '{}', 10, 'admin:a')`,
      [jobId],
    );
    await set(`state = 'replayed', replay_job_id = $2, replayed_at = now() - interval '31 days'`, 'msg-1', [jobId]);
    await set(`state = 'replayed', replay_job_id = $2, replayed_at = now() - interval '29 days'`, 'msg-2', [jobId]);
    await set(`state = 'purged', purged_by = 'admin:a', purged_at = now() - interval '40 days'`, 'msg-3');
    await set(`state = 'purged', purged_by = 'admin:a', purged_at = now()`, 'msg-4');
    await set(`dead_lettered_at = now() - interval '100 days', recorded_at = now() - interval '100 days'`, 'msg-5');

    // Act
    const removed = await records.removeExpired(30);

    // Assert
    expect(removed).toBe(2);
    const left = await query<{ message_id: string }>(`SELECT message_id FROM "${schema}".dead_letters ORDER BY id`);
    expect(left.map((r) => r.message_id)).toEqual(['msg-2', 'msg-4', 'msg-5']);
  });

  it('when finished replay jobs are past their retention, then those no record names are deleted, and a running or named one is kept', async () => {
    // Arrange: an old finished job with no records left, one still named by a record, a running one
    await records.record([letter(1)]);
    const [gone, named, running] = [randomUUID(), randomUUID(), randomUUID()];
    const job = (id: string, state: string, finishedDaysAgo: number | null) =>
      query(
        `INSERT INTO "${schema}".replay_jobs (id, state, filter, max_letters, requested_by, finished_at)
         VALUES ($1, $2, '{}', 10, 'admin:a', now() - $3::integer * interval '1 day')`,
        [id, state, finishedDaysAgo],
      );
    await job(gone, 'succeeded', 31);
    await job(named, 'failed', 31);
    await job(running, 'running', null);
    await query(`UPDATE "${schema}".dead_letters SET replay_job_id = $1`, [named]);

    // Act
    await records.removeExpired(30);

    // Assert
    const left = await query<{ id: string }>(`SELECT id FROM "${schema}".replay_jobs`);
    expect(left.map((r) => r.id).sort()).toEqual([named, running].sort());
  });

  it('when stats are taken, then dead records are counted per reason with the oldest time', async () => {
    // Arrange
    await records.record([
      letter(1, { reason: 'smtp_rejected', lastFailureAt: '2024-05-02T00:00:00.000Z' }),
      letter(2, { reason: 'smtp_rejected', lastFailureAt: '2024-05-03T00:00:00.000Z' }),
      letter(3, { reason: 'invalid_event', lastFailureAt: '2024-05-04T00:00:00.000Z' }),
      letter(4, { reason: 'invalid_event', lastFailureAt: '2024-04-01T00:00:00.000Z' }),
    ]);
    await records.purge({ orderId: 'ord-4' }, { dryRun: false, limit: 1, purgedBy: 'admin:a' });

    // Act
    const stats = await records.stats();

    // Assert: the purged one is neither counted nor the oldest
    expect(stats).toEqual({
      waitingByReason: { smtp_rejected: 2, invalid_event: 1 },
      oldestWaitingAt: new Date('2024-05-02T00:00:00.000Z'),
    });
  });

  it('when there are no dead letters, then stats are empty', async () => {
    // Act
    const stats = await records.stats();

    // Assert
    expect(stats).toEqual({ waitingByReason: {}, oldestWaitingAt: null });
  });

  it('when PostgreSQL cannot be reached, then every call rejects with DATABASE_UNAVAILABLE', async () => {
    // Arrange: a port nothing listens on
    const away = new Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectionTimeoutMillis: 1000 });
    const unreachable = createPgDeadLetterRecords(away);

    try {
      // Act
      const outcomes = await Promise.allSettled([
        unreachable.record([letter(1)]),
        unreachable.list({}, { order: 'newest', limit: 1 }),
        unreachable.find('1'),
        unreachable.purge({}, { dryRun: true, limit: 1, purgedBy: 'admin:a' }),
        unreachable.removeExpired(30),
        unreachable.stats(),
      ]);

      // Assert
      expect(
        outcomes.map((o) => (o.status === 'rejected' ? (o.reason as { code?: string }).code : 'resolved')),
      ).toEqual(Array(6).fill(ErrorCodes.DATABASE_UNAVAILABLE));
    } finally {
      await away.end();
    }
  });
});
