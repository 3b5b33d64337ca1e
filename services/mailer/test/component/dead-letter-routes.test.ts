import { Registry } from 'prom-client';
import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import { listenHttp, type HttpServerHandle } from '@order-mail/shared/http';
import { jsonOf } from '@test/helpers/http';
import { capturingLogger, type LogLine } from '@test/helpers/logs';
import type { PgDeliveryLedger } from '../../src/adapters/db/delivery-ledger-pg';
import {
  decodeCursor,
  encodeCursor,
  listingScope,
  type DeadLetterDetail,
  type DeadLetterFilter,
  type DeadLetterRecords,
  type DeadLetterReplays,
  type DeadLetterSummary,
  type ListOrder,
  type ReplayJobView,
} from '../../src/domain/dead-letters';
import { adminTokenId } from '../../src/entry-points/http/admin-request';
import { createMailerApp } from '../../src/entry-points/http/app';

// The HTTP contract of the dead-letter routes, against in-memory fakes of the two ports: what
// each route answers, what it passes to the ports, and how it refuses bad input. The ports'
// PostgreSQL side is tested with the adapters; the whole path end to end in test/e2e.

const TOKEN = 'admin-token-for-dead-letter-routes-0123';
const ACTOR = `admin:${adminTokenId(TOKEN)}`;
const JOB_ID = '7d1f3a52-0b6e-4c1a-9f0e-3b2d8c4e5a61';
const RUNNING_JOB_ID = '5b0c3e1e-8f2a-4d1b-9a57-0c6f2b1d9e44';

function letter(id: number, reason = 'smtp_rejected'): DeadLetterDetail {
  return {
    id: String(id),
    messageId: `msg-${id}`,
    eventId: `evt-${id}`,
    orderId: `A-${id}`,
    correlationId: null,
    reason,
    error: reason === 'smtp_rejected' ? '550 No such user here' : null,
    smtpCode: reason === 'smtp_rejected' ? 550 : null,
    smtpResponse: null,
    attempts: 1,
    firstFailureAt: null,
    lastFailureAt: null,
    workerId: 'mailer-1',
    deadLetteredAt: new Date(Date.UTC(2026, 10, 25, 18, 0, id)).toISOString(),
    recordedAt: new Date(Date.UTC(2026, 10, 25, 18, 0, id)).toISOString(),
    state: 'dead',
    replayJobId: null,
    replayedAt: null,
    purgedAt: null,
    purgedBy: null,
    body: { encoding: 'utf8', data: `{"orderId":"A-${id}"}` },
    properties: { contentType: 'application/json', messageId: `msg-${id}` },
    headers: { 'x-dead-letter-reason': reason },
  };
}

const summaryOf = ({ body: _b, properties: _p, headers: _h, ...summary }: DeadLetterDetail): DeadLetterSummary =>
  summary;

function jobView(overrides: Partial<ReplayJobView> = {}): ReplayJobView {
  return {
    id: JOB_ID,
    state: 'running',
    filter: { reason: 'smtp_rejected' },
    limit: 10_000,
    force: false,
    requestedBy: ACTOR,
    createdAt: '2026-11-25T18:05:00.000Z',
    updatedAt: '2026-11-25T18:05:00.000Z',
    finishedAt: null,
    matched: 4,
    moved: 0,
    skipped: {},
    failed: 0,
    pending: 4,
    republished: 0,
    resumes: 0,
    runningOn: 'mailer-1',
    error: null,
    ...overrides,
  };
}

/** The records port over five dead letters (ids 1-5), paging by id as the PostgreSQL adapter does; it remembers its calls. */
function fakeRecords(): DeadLetterRecords & { calls: { method: string; args: unknown[] }[]; failWith?: unknown } {
  const letters = [1, 2, 3, 4, 5].map((id) => letter(id, id === 5 ? 'invalid_event' : 'smtp_rejected'));
  const fake = {
    calls: [] as { method: string; args: unknown[] }[],
    failWith: undefined as unknown,
    async list(filter: DeadLetterFilter, page: { order: ListOrder; afterId?: string; limit: number }) {
      fake.calls.push({ method: 'list', args: [filter, page] });
      if (fake.failWith) throw fake.failWith;
      const ordered = page.order === 'oldest' ? letters : [...letters].reverse();
      const after = page.afterId === undefined ? -1 : ordered.findIndex((l) => l.id === page.afterId);
      const rest = ordered.slice(after + 1);
      const taken = rest.slice(0, page.limit);
      return {
        deadLetters: taken.map(summaryOf),
        nextCursor:
          rest.length > page.limit ? encodeCursor(taken[taken.length - 1].id, listingScope(filter, page.order)) : null,
        counts: { total: 5, byReason: { smtp_rejected: 4, invalid_event: 1 } },
      };
    },
    async find(id: string) {
      fake.calls.push({ method: 'find', args: [id] });
      if (fake.failWith) throw fake.failWith;
      return letters.find((l) => l.id === id) ?? null;
    },
    async purge(filter: DeadLetterFilter, options: { dryRun: boolean; limit: number; purgedBy: string }) {
      fake.calls.push({ method: 'purge', args: [filter, options] });
      if (fake.failWith) throw fake.failWith;
      return { dryRun: options.dryRun, purged: 2, ids: ['1', '2'] };
    },
    removeExpired: async () => 0,
    stats: async () => ({ waitingByReason: {}, oldestWaitingAt: null }),
  };
  return fake;
}

/** The replays port: a dry run matches ids 1-4, of which 2 and 4 go to suppressed recipients; start answers a running job or `startFailure`. */
function fakeReplays(): DeadLetterReplays & { calls: { method: string; args: unknown[] }[]; failWith?: unknown } {
  const fake = {
    calls: [] as { method: string; args: unknown[] }[],
    failWith: undefined as unknown,
    async preview(filter: DeadLetterFilter, limit: number) {
      fake.calls.push({ method: 'preview', args: [filter, limit] });
      if (fake.failWith) throw fake.failWith;
      return {
        matched: 4,
        deadLetters: [1, 2, 3, 4].map((id) => summaryOf(letter(id))),
        suppressed: { count: 2, deadLetterIds: ['2', '4'] },
      };
    },
    async start(filter: DeadLetterFilter, options: { limit: number; requestedBy: string; force?: boolean }) {
      fake.calls.push({ method: 'start', args: [filter, options] });
      if (fake.failWith) throw fake.failWith;
      return jobView({ limit: options.limit, requestedBy: options.requestedBy, force: options.force ?? false });
    },
    async get(id: string) {
      fake.calls.push({ method: 'get', args: [id] });
      if (fake.failWith) throw fake.failWith;
      return id === JOB_ID ? jobView({ state: 'succeeded', moved: 4, pending: 0, runningOn: null }) : null;
    },
    async recent(limit: number) {
      fake.calls.push({ method: 'recent', args: [limit] });
      if (fake.failWith) throw fake.failWith;
      return [jobView({ state: 'succeeded', moved: 4, pending: 0, runningOn: null })];
    },
  };
  return fake;
}

describe('dead-letter admin routes (HTTP contract, ports faked)', () => {
  const logs: LogLine[] = [];
  let http: HttpServerHandle;
  let records: ReturnType<typeof fakeRecords>;
  let replays: ReturnType<typeof fakeReplays>;

  beforeAll(async () => {
    records = fakeRecords();
    replays = fakeReplays();
    const notUsed = () => Promise.reject(new Error('the ledger is not part of these tests'));
    const app = createMailerApp({
      registry: new Registry(),
      checks: [],
      ledger: { find: notUsed, list: notUsed } as unknown as PgDeliveryLedger,
      deadLetters: records,
      replays,
      logger: capturingLogger(logs, { service: 'mailer' }),
      adminToken: TOKEN,
      retryAfterSeconds: 5,
    });
    http = await listenHttp(app, 0, { host: '127.0.0.1' });
  });

  afterAll(async () => {
    await http.close(1000);
  });

  beforeEach(() => {
    records.calls.length = 0;
    replays.calls.length = 0;
    records.failWith = undefined;
    replays.failWith = undefined;
  });

  const request = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${http.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const get = (path: string) => request('GET', path);
  const replay = (body: unknown) => request('POST', '/dead-letters/replay', body);

  describe('GET /dead-letters', () => {
    it('when asked without a query, then it answers the newest page of waiting dead letters, the counts, the order and the limit', async () => {
      // Act
      const res = await get('/dead-letters');

      // Assert
      expect(res.status).toBe(200);
      const body = await jsonOf(res);
      expect(body).toEqual({
        deadLetters: [5, 4, 3, 2, 1].map((id) => summaryOf(letter(id, id === 5 ? 'invalid_event' : 'smtp_rejected'))),
        nextCursor: null,
        counts: { total: 5, byReason: { smtp_rejected: 4, invalid_event: 1 } },
        order: 'newest',
        limit: 50,
      });
      expect(records.calls).toEqual([{ method: 'list', args: [{ state: 'dead' }, { order: 'newest', limit: 50 }] }]);
    });

    it('when every filter is given, then the port receives each, parsed (numbers, dates, state, order)', async () => {
      // Act
      const res = await get(
        '/dead-letters?reason=smtp_rejected&smtpCode=550&orderId=A-1&from=2026-11-25T18:00:00Z' +
          '&to=2026-11-25T19:00:01%2B01:00&state=any&order=oldest&limit=500',
      );

      // Assert
      expect(res.status).toBe(200);
      expect(records.calls).toEqual([
        {
          method: 'list',
          args: [
            {
              reason: 'smtp_rejected',
              smtpCode: 550,
              orderId: 'A-1',
              from: new Date('2026-11-25T18:00:00Z'),
              to: new Date('2026-11-25T18:00:01Z'),
              state: 'any',
            },
            { order: 'oldest', limit: 500 },
          ],
        },
      ]);
    });

    it('when pages are followed by their cursor, then each cursor reaches the port as the record id it names, and the last page has none', async () => {
      // Act
      const first = await jsonOf(get('/dead-letters?order=oldest&limit=2'));
      const second = await jsonOf(get(`/dead-letters?order=oldest&limit=2&cursor=${first.nextCursor}`));
      const third = await jsonOf(get(`/dead-letters?order=oldest&limit=2&cursor=${second.nextCursor}`));

      // Assert
      expect([first, second, third].map((p) => p.deadLetters.map((l: { id: string }) => l.id))).toEqual([
        ['1', '2'],
        ['3', '4'],
        ['5'],
      ]);
      const scope = listingScope({ state: 'dead' }, 'oldest');
      expect([decodeCursor(first.nextCursor, scope), decodeCursor(second.nextCursor, scope), third.nextCursor]).toEqual(
        ['2', '4', null],
      );
      expect(records.calls.map((c) => (c.args[1] as { afterId?: string }).afterId)).toEqual([undefined, '2', '4']);
    });
  });

  describe('GET /dead-letters/:id and GET /dead-letters/replays/:id', () => {
    it('when a recorded dead letter is asked for, then it answers it with body, properties and headers', async () => {
      // Act
      const res = await get('/dead-letters/3');

      // Assert
      expect(res.status).toBe(200);
      expect(await jsonOf(res)).toEqual(letter(3));
      expect(records.calls).toEqual([{ method: 'find', args: ['3'] }]);
    });

    it('when a replay job is asked for, then it answers its progress', async () => {
      // Act
      const res = await get(`/dead-letters/replays/${JOB_ID}`);

      // Assert
      expect(res.status).toBe(200);
      expect(await jsonOf(res)).toMatchObject({ id: JOB_ID, state: 'succeeded', matched: 4, moved: 4, pending: 0 });
    });

    it.each([
      ['', 20],
      ['?limit=5', 5],
    ])(
      'when the replay jobs are listed with %p, then the latest jobs come back, at most the limit',
      async (query, limit) => {
        // Act
        const res = await get(`/dead-letters/replays${query}`);

        // Assert
        expect(res.status).toBe(200);
        expect((await jsonOf(res)).jobs).toMatchObject([{ id: JOB_ID, state: 'succeeded' }]);
        expect(replays.calls).toEqual([{ method: 'recent', args: [limit] }]);
      },
    );

    it.each([
      ['a dead letter that is not recorded', '/dead-letters/999'],
      ['a replay job that does not exist', '/dead-letters/replays/00000000-0000-4000-8000-000000000000'],
    ])('when %s is asked for, then it answers 404 not_found', async (_what, path) => {
      // Act
      const res = await get(path);

      // Assert
      expect(res.status).toBe(404);
      expect(await jsonOf(res)).toMatchObject({ error: 'not_found' });
    });
  });

  describe('POST /dead-letters/replay', () => {
    it('when it is a dry run, then it answers 200 with what would move, and no job is started', async () => {
      // Act
      const res = await replay({ reason: 'smtp_rejected', dryRun: true, limit: 100 });

      // Assert
      expect(res.status).toBe(200);
      expect(await jsonOf(res)).toEqual({
        dryRun: true,
        force: false,
        matched: 4,
        suppressed: { count: 2, deadLetterIds: ['2', '4'], skipped: true },
        deadLetters: [1, 2, 3, 4].map((id) => summaryOf(letter(id))),
      });
      expect(replays.calls).toEqual([{ method: 'preview', args: [{ reason: 'smtp_rejected' }, 100] }]);
    });

    it('when it is a dry run with force, then the suppressed recipients are listed as sent anyway (not skipped)', async () => {
      // Act
      const res = await replay({ smtpCode: 550, dryRun: true, force: true });

      // Assert
      expect(res.status).toBe(200);
      expect(await jsonOf(res)).toMatchObject({
        dryRun: true,
        force: true,
        matched: 4,
        suppressed: { count: 2, deadLetterIds: ['2', '4'], skipped: false },
      });
      expect(replays.calls).toEqual([{ method: 'preview', args: [{ smtpCode: 550 }, 10_000] }]);
    });

    it('when a real replay says force, then the port gets it, the job shows it and the request is logged with it', async () => {
      // Act
      const res = await replay({ smtpCode: 550, force: true });

      // Assert
      expect(res.status).toBe(202);
      expect(await jsonOf(res)).toMatchObject({ id: JOB_ID, force: true });
      expect(replays.calls).toEqual([
        { method: 'start', args: [{ smtpCode: 550 }, { limit: 10_000, requestedBy: ACTOR, force: true }] },
      ]);
      expect(logs).toContainEqual(
        expect.objectContaining({ msg: 'dead-letter replay requested', requestedBy: ACTOR, force: true }),
      );
    });

    it('when it is a real replay, then it answers 202 with the job and its Location, requested by admin:<token id>', async () => {
      // Act
      const res = await replay({ reason: 'smtp_rejected', smtpCode: 550, from: '2026-11-25T00:00:00Z' });

      // Assert
      expect(res.status).toBe(202);
      expect(res.headers.get('location')).toBe(`/dead-letters/replays/${JOB_ID}`);
      expect(await jsonOf(res)).toEqual(jobView({ requestedBy: ACTOR }));
      expect(ACTOR).toMatch(/^admin:[0-9a-f]{8}$/);
      expect(replays.calls).toEqual([
        {
          method: 'start',
          args: [
            { reason: 'smtp_rejected', smtpCode: 550, from: new Date('2026-11-25T00:00:00Z') },
            { limit: 10_000, requestedBy: ACTOR, force: false },
          ],
        },
      ]);
    });

    it('when "all" is asked for, then the port gets an empty filter (every dead letter)', async () => {
      // Act
      const res = await replay({ all: true, limit: 5 });

      // Assert
      expect(res.status).toBe(202);
      expect(replays.calls).toEqual([{ method: 'start', args: [{}, { limit: 5, requestedBy: ACTOR, force: false }] }]);
    });

    it.each([
      [
        'carries the job id as an extension',
        new AppError(ErrorCodes.CONFLICT, 'A replay job is running', { extensions: { jobId: RUNNING_JOB_ID } }),
      ],
    ])('when another job runs and the port %s, then it answers 409 conflict with its jobId', async (_how, err) => {
      // Arrange
      replays.failWith = err;

      // Act
      const res = await replay({ all: true });

      // Assert
      expect(res.status).toBe(409);
      expect(await jsonOf(res)).toMatchObject({ error: 'conflict', jobId: RUNNING_JOB_ID, message: err.message });
    });
  });

  describe('DELETE /dead-letters', () => {
    it('when it is a dry run with a filter, then it answers what would be purged, as admin:<token id>, and logs who asked', async () => {
      // Act
      const res = await request('DELETE', '/dead-letters?reason=smtp_rejected&dryRun=true');

      // Assert
      expect(res.status).toBe(200);
      expect(await jsonOf(res)).toEqual({ dryRun: true, purged: 2, ids: ['1', '2'] });
      expect(records.calls).toEqual([
        { method: 'purge', args: [{ reason: 'smtp_rejected' }, { dryRun: true, limit: 10_000, purgedBy: ACTOR }] },
      ]);
    });

    it('when every dead letter is purged for real, then the port gets an empty filter and the log says who, what and how many', async () => {
      // Act
      const res = await request('DELETE', '/dead-letters?all=true&limit=2');

      // Assert
      expect(res.status).toBe(200);
      expect(await jsonOf(res)).toEqual({ dryRun: false, purged: 2, ids: ['1', '2'] });
      expect(records.calls).toEqual([{ method: 'purge', args: [{}, { dryRun: false, limit: 2, purgedBy: ACTOR }] }]);
      expect(logs).toContainEqual(
        expect.objectContaining({
          level: 30,
          msg: 'dead letters purged',
          purgedBy: ACTOR,
          all: true,
          filter: {},
          purged: 2,
        }),
      );
    });

    it('when no filter is given, then it answers 400 saying to give one, and nothing is purged', async () => {
      // Act
      const res = await request('DELETE', '/dead-letters');

      // Assert
      expect(res.status).toBe(400);
      expect(await jsonOf(res)).toMatchObject({
        error: 'validation_failed',
        details: [{ path: '', message: expect.stringContaining('give a filter') }],
      });
      expect(records.calls).toEqual([]);
    });
  });

  describe('every value a route cannot use', () => {
    it.each([
      ['GET', '/dead-letters?reason=smtp_rejectd', 'reason'],
      ['GET', '/dead-letters?smtpCode=99', 'smtpCode'],
      ['GET', '/dead-letters?smtpCode=600', 'smtpCode'],
      ['GET', '/dead-letters?smtpCode=5xx', 'smtpCode'],
      ['GET', '/dead-letters?orderId=%00', 'orderId'],
      ['GET', `/dead-letters?orderId=${'x'.repeat(65)}`, 'orderId'],
      ['GET', '/dead-letters?from=2026-11-25', 'from'],
      ['GET', '/dead-letters?from=2026-11-25T18:00:00', 'from'],
      ['GET', '/dead-letters?to=yesterday', 'to'],
      ['GET', '/dead-letters?to=2026-02-30T00:00:00Z', 'to'],
      ['GET', '/dead-letters?from=2026-11-25T18:00:00Z&to=2026-11-25T18:00:00Z', 'to'],
      ['GET', '/dead-letters?state=lost', 'state'],
      ['GET', '/dead-letters?order=random', 'order'],
      ['GET', '/dead-letters?cursor=abc', 'cursor'],
      ['GET', `/dead-letters?cursor=${encodeCursor('0', listingScope({}, 'newest'))}`, 'cursor'],
      // A cursor of another listing (oldest first, another reason) would page the wrong records.
      ['GET', `/dead-letters?cursor=${encodeCursor('3', listingScope({}, 'oldest'))}`, 'cursor'],
      ['GET', `/dead-letters?reason=smtp_rejected&cursor=${encodeCursor('3', listingScope({}, 'newest'))}`, 'cursor'],
      ['GET', '/dead-letters?cursor=', 'cursor'],
      ['GET', '/dead-letters?limit=0', 'limit'],
      ['GET', '/dead-letters?limit=501', 'limit'],
      ['GET', '/dead-letters?limit=1&limit=2', 'limit'],
      ['GET', '/dead-letters?offset=10', 'offset'],
      ['GET', '/dead-letters/abc', 'id'],
      ['GET', '/dead-letters/0', 'id'],
      ['GET', '/dead-letters/9223372036854775808', 'id'],
      ['GET', '/dead-letters/3?verbose=1', 'verbose'],
      ['GET', '/dead-letters/replays/not-a-uuid', 'id'],
      ['GET', '/dead-letters/replays?limit=101', 'limit'],
      ['GET', '/dead-letters/replays?state=running', 'state'],
      ['GET', `/dead-letters/replays/${JOB_ID}?watch=1`, 'watch'],
      ['DELETE', '/dead-letters?all=yes', 'all'],
      ['DELETE', '/dead-letters?all=true&reason=smtp_rejected', 'all'],
      ['DELETE', '/dead-letters?all=true&dryRun=maybe', 'dryRun'],
      ['DELETE', '/dead-letters?all=true&limit=0', 'limit'],
      ['DELETE', '/dead-letters?all=true&limit=100001', 'limit'],
      ['DELETE', '/dead-letters?smtpCode=abc', 'smtpCode'],
      ['DELETE', '/dead-letters?state=any&all=true', 'state'],
    ])('when %s %s is asked, then it answers 400 validation_failed naming %s', async (method, path, field) => {
      // Act
      const res = await request(method, path);

      // Assert
      expect(res.status).toBe(400);
      expect(namedFields(await jsonOf(res))).toContain(field);
    });

    it.each([
      [{ reason: 'smtp_rejectd' }, 'reason'],
      [{ smtpCode: '550' }, 'smtpCode'],
      [{ smtpCode: 99 }, 'smtpCode'],
      [{ orderId: 'A 1' }, 'orderId'],
      [{ from: '2026-11-25' }, 'from'],
      [{ to: 1_795_629_600_000 }, 'to'],
      [{ from: '2026-11-26T00:00:00Z', to: '2026-11-25T00:00:00Z' }, 'to'],
      [{ all: true, reason: 'smtp_rejected' }, 'all'],
      [{ all: true, orderId: 'A-1' }, 'all'],
      [{ all: false }, 'all'],
      [{ all: true, dryRun: 'yes' }, 'dryRun'],
      [{ all: true, limit: 0 }, 'limit'],
      [{ all: true, limit: 100_001 }, 'limit'],
      [{ all: true, force: 'yes' }, 'force'],
      [{ all: true, state: 'any' }, 'state'],
    ])('when the replay body is %j, then it answers 400 validation_failed naming %s', async (body, field) => {
      // Act
      const res = await replay(body);

      // Assert
      expect(res.status).toBe(400);
      expect(namedFields(await jsonOf(res))).toContain(field);
      expect(replays.calls).toEqual([]);
    });

    it('when the replay has a query string, then it answers 400 naming the key', async () => {
      // Act
      const res = await request('POST', '/dead-letters/replay?dryRun=false', { all: true });

      // Assert
      expect(res.status).toBe(400);
      expect(namedFields(await jsonOf(res))).toContain('dryRun');
    });

    it('when the replay body has no filter, then it answers 400 listing the filters to give', async () => {
      // Act
      const res = await replay({ dryRun: true });

      // Assert
      expect(res.status).toBe(400);
      expect(await jsonOf(res)).toMatchObject({
        details: [
          { path: '', message: 'give a filter: "reason", "smtpCode", "orderId", "from", "to", or "all": true' },
        ],
      });
    });
  });

  describe('when a port fails', () => {
    const databaseDown = new AppError(
      ErrorCodes.DATABASE_UNAVAILABLE,
      'The ledger database is not usable: the server cannot be reached',
    );

    it.each([
      ['GET', '/dead-letters', undefined],
      ['GET', '/dead-letters/1', undefined],
      ['GET', `/dead-letters/replays/${JOB_ID}`, undefined],
      ['POST', '/dead-letters/replay', { all: true, dryRun: true }],
      ['POST', '/dead-letters/replay', { all: true }],
      ['DELETE', '/dead-letters?all=true', undefined],
    ])(
      'when %s %s finds the database down, then it answers 503 saying so, with Retry-After',
      async (method, path, body) => {
        // Arrange
        records.failWith = databaseDown;
        replays.failWith = databaseDown;

        // Act
        const res = await request(method, path, body);

        // Assert
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('5');
        expect(await jsonOf(res)).toMatchObject({ error: 'service_unavailable', message: databaseDown.message });
      },
    );
  });

  it.each([
    ['GET', '/dead-letters'],
    ['GET', '/dead-letters/1'],
    ['GET', `/dead-letters/replays/${JOB_ID}`],
    ['POST', '/dead-letters/replay'],
    ['DELETE', '/dead-letters?all=true'],
  ])('when %s %s comes without the token, then it answers 401 and no port is called', async (method, path) => {
    // Act
    const res = await request(method, path, method === 'POST' ? { all: true } : undefined, { authorization: '' });

    // Assert
    expect(res.status).toBe(401);
    expect([...records.calls, ...replays.calls]).toEqual([]);
  });

  it('when all of the above was asked, then the token never appeared in a log line, and no request was an error', () => {
    // Runs last (jest keeps the order): every request above has been logged by then.
    expect(logs.length).toBeGreaterThan(0);
    expect(JSON.stringify(logs)).not.toContain(TOKEN);
    expect(logs.filter((line) => line.level >= 50)).toEqual([]);
  });
});

/** The fields a 400 names: each detail's path, and for an unknown key (path "") the quoted keys of its message. */
function namedFields(body: { error?: string; details?: { path: string; message: string }[] }): string[] {
  expect(body.error).toBe('validation_failed');
  return (body.details ?? []).flatMap((d) =>
    d.path !== '' ? [d.path] : [...d.message.matchAll(/"([^"]+)"/g)].map((m) => m[1]),
  );
}
