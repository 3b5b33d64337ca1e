import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import pino from 'pino';
import type { MailEvent } from '@order-mail/shared/contract';
import { DATABASE_URL, dropSchema, query } from '@test/helpers/database';
import { jsonOf, type Loose } from '@test/helpers/http';
import type { LogLine } from '@test/helpers/logs';
import { uniqueStackNames } from '@test/helpers/stack';
import { startAdminApp, type RunningAdminApp } from './fixtures/admin-app';
import { migrate } from '../../src/adapters/db/database';
import { createPgWebhookLog } from '../../src/adapters/db/webhook-log-pg';
import type { WebhookOutcome, WebhookState } from '../../src/domain/webhooks';
import { adminTokenId } from '../../src/entry-points/http/admin-request';
import {
  BOTH_SELECTIONS_MESSAGE,
  MAX_REDELIVER_EVENT_IDS,
  NO_SELECTION_MESSAGE,
} from '../../src/entry-points/http/webhook-routes';

// The webhook delivery log's admin routes and its PostgreSQL adapter together, on a real
// database: each test migrates a schema of its own, fills webhook_deliveries and
// webhook_attempts with SQL (as the outbox relay and the dispatcher would) and starts the
// mailer's app on it.

const TOKEN = 'admin-token-for-webhook-routes-0123456';
const ACTOR = `admin:${adminTokenId(TOKEN)}`;
const AUTH = { authorization: `Bearer ${TOKEN}` };
const WEBHOOK_URL = 'https://shop.example/hooks/mail';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The mailer's app on `pool`, its webhook log the PostgreSQL adapter's. */
const startApp = (pool: Pool, logs: LogLine[], adminToken: string | undefined): Promise<RunningAdminApp> =>
  startAdminApp(pool, logs, adminToken, { webhookLog: createPgWebhookLog(pool) });

/** A delivery row to insert; what is left out takes the table's default (pending, due now, created now). */
interface DeliveryRow {
  eventId?: string;
  orderId?: string;
  type?: MailEvent['type'];
  state?: WebhookState;
  attempts?: number;
  failureReason?: 'gone' | 'retries_exhausted' | null;
  createdAt?: string;
  /** Its last change: when a failed delivery failed (default: `createdAt`). */
  updatedAt?: string;
  nextAttemptAt?: string;
  deliveredAt?: string | null;
}

/** An attempt row to insert. */
interface AttemptRow {
  attempt: number;
  attemptedAt: string;
  statusCode?: number | null;
  error?: string | null;
  durationMs?: number;
  responseExcerpt?: string | null;
  outcome: WebhookOutcome;
}

describe('webhook delivery-log admin routes on PostgreSQL', () => {
  let schema: string;
  let pool: Pool;
  let running: RunningAdminApp;
  let logs: LogLine[];

  beforeEach(async () => {
    ({ schema } = uniqueStackNames());
    pool = new Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
    await migrate(pool, schema, pino({ level: 'silent' }));
    logs = [];
    running = await startApp(pool, logs, TOKEN);
  });

  afterEach(async () => {
    await running.close();
    await pool.end();
    await dropSchema(schema);
  });

  const request = (method: string, path: string, body?: unknown, headers: Record<string, string> = AUTH) =>
    fetch(`${running.url}${path}`, {
      method,
      headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const get = (path: string) => request('GET', path);
  const redeliver = (body: unknown) => request('POST', '/webhook-deliveries/redeliver', body);
  const eventIds = (page: Loose): string[] => page.items.map((item: { eventId: string }) => item.eventId);

  /** Inserts a delivery as the outbox relay would (the event as published); resolves with its event id. */
  async function insertDelivery(row: DeliveryRow = {}): Promise<{ id: string; eventId: string }> {
    const eventId = row.eventId ?? randomUUID();
    const orderId = row.orderId ?? 'A-1001';
    const type = row.type ?? 'email.sent';
    const event: MailEvent = {
      schemaVersion: 1,
      type,
      eventId,
      occurredAt: '2026-11-25T18:00:00.000Z',
      orderId,
      orderEventId: randomUUID(),
      messageId: '<m@example.com>',
      recipient: 'ada@example.com',
      status: 'sent',
      attempt: 1,
    };
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO webhook_deliveries
         (event_id, type, order_id, event, state, attempts, failure_reason, created_at, next_attempt_at, delivered_at,
          updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8::timestamptz, now()), COALESCE($9::timestamptz, now()), $10,
               COALESCE($11::timestamptz, $8::timestamptz, now()))
       RETURNING id`,
      [
        eventId,
        type,
        orderId,
        event,
        row.state ?? 'pending',
        row.attempts ?? 0,
        row.failureReason ?? null,
        row.createdAt ?? null,
        row.nextAttemptAt ?? null,
        row.deliveredAt ?? null,
        row.updatedAt ?? null,
      ],
    );
    return { id: rows[0].id, eventId };
  }

  /** Logs an attempt of delivery `deliveryId` as the dispatcher would. */
  const insertAttempt = (deliveryId: string, attempt: AttemptRow) =>
    pool.query(
      `INSERT INTO webhook_attempts
         (delivery_id, attempt, attempted_at, url, status_code, error, duration_ms, response_excerpt, outcome)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        deliveryId,
        attempt.attempt,
        attempt.attemptedAt,
        WEBHOOK_URL,
        attempt.statusCode ?? null,
        attempt.error ?? null,
        attempt.durationMs ?? 12,
        attempt.responseExcerpt ?? null,
        attempt.outcome,
      ],
    );

  /** A delivery that failed after two attempts (a 503, then 410 Gone). */
  async function insertFailed(row: DeliveryRow = {}): Promise<{ id: string; eventId: string }> {
    const delivery = await insertDelivery({ state: 'failed', attempts: 2, failureReason: 'gone', ...row });
    await insertAttempt(delivery.id, {
      attempt: 1,
      attemptedAt: '2026-11-25T18:00:01.000Z',
      statusCode: 503,
      outcome: 'retrying',
    });
    await insertAttempt(delivery.id, {
      attempt: 2,
      attemptedAt: '2026-11-25T18:00:31.000Z',
      statusCode: 410,
      outcome: 'failed',
    });
    return delivery;
  }

  const stateOf = async (eventId: string) =>
    (
      await query<{ state: string; attempts: number; failure_reason: string | null; delivered_at: Date | null }>(
        `SELECT state, attempts, failure_reason, delivered_at FROM "${schema}".webhook_deliveries WHERE event_id = $1`,
        [eventId],
      )
    )[0];

  describe('GET /webhook-deliveries', () => {
    it('when deliveries are listed, then they come newest first, each with its attempt log oldest first, also across a redelivery', async () => {
      // Arrange
      const older = await insertDelivery({ orderId: 'A-1001', type: 'email.retrying' });
      const newer = await insertDelivery({
        orderId: 'A-1002',
        state: 'delivered',
        attempts: 1,
        createdAt: '2026-11-25T18:00:00.000Z',
        deliveredAt: '2026-11-26T09:00:00.250Z',
      });
      // Two attempts, a redelivery, then its first attempt again: the log is in time order, not by number.
      await insertAttempt(newer.id, {
        attempt: 1,
        attemptedAt: '2026-11-25T18:00:01.000Z',
        error: 'timeout after 15000 ms',
        durationMs: 15000,
        outcome: 'retrying',
      });
      await insertAttempt(newer.id, {
        attempt: 2,
        attemptedAt: '2026-11-25T18:00:31.000Z',
        statusCode: 500,
        responseExcerpt: 'oops',
        outcome: 'failed',
      });
      await insertAttempt(newer.id, {
        attempt: 1,
        attemptedAt: '2026-11-26T09:00:00.000Z',
        statusCode: 204,
        durationMs: 40,
        outcome: 'delivered',
      });

      // Act
      const res = await get('/webhook-deliveries');

      // Assert
      expect(res.status).toBe(200);
      const page = await jsonOf(res);
      expect(eventIds(page)).toEqual([newer.eventId, older.eventId]);
      expect(page.nextCursor).toBeNull();
      expect(page.items[0]).toEqual({
        eventId: newer.eventId,
        type: 'email.sent',
        orderId: 'A-1002',
        state: 'delivered',
        attempts: 1,
        nextAttemptAt: null,
        failureReason: null,
        createdAt: '2026-11-25T18:00:00.000Z',
        deliveredAt: '2026-11-26T09:00:00.250Z',
        log: [
          {
            attempt: 1,
            attemptedAt: '2026-11-25T18:00:01.000Z',
            url: WEBHOOK_URL,
            statusCode: null,
            error: 'timeout after 15000 ms',
            durationMs: 15000,
            responseExcerpt: null,
            outcome: 'retrying',
          },
          {
            attempt: 2,
            attemptedAt: '2026-11-25T18:00:31.000Z',
            url: WEBHOOK_URL,
            statusCode: 500,
            error: null,
            durationMs: 12,
            responseExcerpt: 'oops',
            outcome: 'failed',
          },
          {
            attempt: 1,
            attemptedAt: '2026-11-26T09:00:00.000Z',
            url: WEBHOOK_URL,
            statusCode: 204,
            error: null,
            durationMs: 40,
            responseExcerpt: null,
            outcome: 'delivered',
          },
        ],
        cursor: newer.id,
      });
      expect(page.items[1]).toMatchObject({
        eventId: older.eventId,
        type: 'email.retrying',
        state: 'pending',
        attempts: 0,
        nextAttemptAt: expect.stringMatching(ISO),
        createdAt: expect.stringMatching(ISO),
        deliveredAt: null,
        log: [],
        cursor: older.id,
      });
    });

    it('when the log is read page by page, then before/nextCursor walk it newest first, each delivery once, one added meanwhile not shifting the pages', async () => {
      // Arrange
      const inserted: string[] = [];
      for (let n = 0; n < 5; n++) inserted.push((await insertDelivery()).eventId);
      const [e1, e2, e3, e4, e5] = inserted;

      // Act
      const first = await jsonOf(get('/webhook-deliveries?limit=2'));
      await insertDelivery();
      const second = await jsonOf(get(`/webhook-deliveries?limit=2&before=${first.nextCursor}`));
      const third = await jsonOf(get(`/webhook-deliveries?limit=2&before=${second.nextCursor}`));

      // Assert
      expect([first, second, third].map(eventIds)).toEqual([[e5, e4], [e3, e2], [e1]]);
      expect(first.nextCursor).toBe(first.items[1].cursor);
      expect(second.nextCursor).toBe(second.items[1].cursor);
      expect(third.nextCursor).toBeNull();
    });

    it('when the page ends exactly at the last delivery, then nextCursor is null', async () => {
      // Arrange
      await insertDelivery();
      await insertDelivery();

      // Act
      const page = await jsonOf(get('/webhook-deliveries?limit=2'));

      // Assert
      expect(page.items).toHaveLength(2);
      expect(page.nextCursor).toBeNull();
    });

    it('when there is no delivery, then it answers an empty page without a cursor', async () => {
      // Act
      const res = await get('/webhook-deliveries');

      // Assert
      expect(res.status).toBe(200);
      expect(await jsonOf(res)).toEqual({ items: [], nextCursor: null });
    });

    it('when filtered by state, by order, or both, then only deliveries matching every filter come', async () => {
      // Arrange
      const pendingA = (await insertDelivery({ orderId: 'A-1' })).eventId;
      const failedA = (await insertFailed({ orderId: 'A-1' })).eventId;
      const failedB = (await insertFailed({ orderId: 'B-2' })).eventId;
      const deliveredB = (await insertDelivery({ orderId: 'B-2', state: 'delivered', attempts: 1 })).eventId;

      // Act
      const failed = await jsonOf(get('/webhook-deliveries?state=failed'));
      const orderA = await jsonOf(get('/webhook-deliveries?orderId=A-1'));
      const both = await jsonOf(get('/webhook-deliveries?state=failed&orderId=B-2'));
      const delivered = await jsonOf(get('/webhook-deliveries?state=delivered'));
      const none = await jsonOf(get('/webhook-deliveries?state=pending&orderId=B-2'));

      // Assert
      expect(eventIds(failed)).toEqual([failedB, failedA]);
      expect(failed.items.map((item: { log: unknown[] }) => item.log.length)).toEqual([2, 2]);
      expect(eventIds(orderA)).toEqual([failedA, pendingA]);
      expect(eventIds(both)).toEqual([failedB]);
      expect(eventIds(delivered)).toEqual([deliveredB]);
      expect(none).toEqual({ items: [], nextCursor: null });
    });
  });

  describe('GET /webhook-deliveries/:eventId', () => {
    it('when the event has a delivery, then it answers it with its log, also for the id in upper case', async () => {
      // Arrange
      const { eventId, id } = await insertFailed({ orderId: 'A-7' });

      // Act
      const res = await get(`/webhook-deliveries/${eventId}`);
      const upper = await get(`/webhook-deliveries/${eventId.toUpperCase()}`);

      // Assert
      expect(res.status).toBe(200);
      const view = await jsonOf(res);
      expect(view).toMatchObject({
        eventId,
        orderId: 'A-7',
        state: 'failed',
        attempts: 2,
        nextAttemptAt: null,
        failureReason: 'gone',
        cursor: id,
      });
      expect(view.log.map((a: { statusCode: number }) => a.statusCode)).toEqual([503, 410]);
      expect(upper.status).toBe(200);
      expect(await jsonOf(upper)).toEqual(view);
    });

    it('when no delivery has that event id, then it answers 404 not_found', async () => {
      // Arrange
      await insertDelivery();
      const unknown = randomUUID();

      // Act
      const res = await get(`/webhook-deliveries/${unknown}`);

      // Assert
      expect(res.status).toBe(404);
      expect(await jsonOf(res)).toMatchObject({ error: 'not_found', message: expect.stringContaining(unknown) });
    });
  });

  describe('POST /webhook-deliveries/redeliver', () => {
    it('when given event ids, then those deliveries (a failed one, a delivered one) become pending with 0 attempts, their logs kept, and the count is logged', async () => {
      // Arrange
      const failed = await insertFailed();
      const delivered = await insertDelivery({
        state: 'delivered',
        attempts: 1,
        deliveredAt: '2026-11-25T18:00:02.000Z',
      });
      const untouched = await insertFailed();
      const before = Date.now();

      // Act
      const res = await redeliver({ eventIds: [failed.eventId, delivered.eventId.toUpperCase(), randomUUID()] });

      // Assert
      expect(res.status).toBe(200);
      expect(await jsonOf(res)).toEqual({ redelivered: 2 });
      const view = await jsonOf(get(`/webhook-deliveries/${failed.eventId}`));
      expect(view).toMatchObject({
        state: 'pending',
        attempts: 0,
        failureReason: null,
        deliveredAt: null,
        nextAttemptAt: expect.stringMatching(ISO),
      });
      expect(Date.parse(view.nextAttemptAt)).toBeGreaterThanOrEqual(before - 5000);
      expect(Date.parse(view.nextAttemptAt)).toBeLessThanOrEqual(Date.now() + 5000);
      expect(view.log.map((a: { outcome: string }) => a.outcome)).toEqual(['retrying', 'failed']);
      expect(await stateOf(delivered.eventId)).toEqual({
        state: 'pending',
        attempts: 0,
        failure_reason: null,
        delivered_at: null,
      });
      expect(await stateOf(untouched.eventId)).toMatchObject({ state: 'failed', attempts: 2, failure_reason: 'gone' });
      expect(logs).toContainEqual(
        expect.objectContaining({
          level: 30,
          msg: 'webhook deliveries set to be sent again',
          requestedBy: ACTOR,
          eventIds: 3,
          redelivered: 2,
        }),
      );
      expect(JSON.stringify(logs)).not.toContain('ada@example.com');
    });

    it('when given failedSince, then only deliveries that failed at or after it become pending, whenever they were created', async () => {
      // Arrange: all created the day before; they failed at different times
      const since = '2026-11-25T18:00:00Z';
      const createdAt = '2026-11-24T08:00:00.000Z';
      const tooOld = await insertFailed({ createdAt, updatedAt: '2026-11-25T17:59:59.999Z' });
      const atTheTime = await insertFailed({ createdAt, updatedAt: '2026-11-25T18:00:00.000Z' });
      const later = await insertFailed({ createdAt, updatedAt: '2026-11-26T08:00:00.000Z' });
      const delivered = await insertDelivery({
        state: 'delivered',
        attempts: 1,
        createdAt: '2026-11-26T08:00:00.000Z',
        deliveredAt: '2026-11-26T08:00:01.000Z',
      });
      const pending = await insertDelivery({ attempts: 3, createdAt: '2026-11-26T08:00:00.000Z' });

      // Act
      const res = await redeliver({ failedSince: since });

      // Assert
      expect(res.status).toBe(200);
      expect(await jsonOf(res)).toEqual({ redelivered: 2 });
      expect(await stateOf(atTheTime.eventId)).toMatchObject({ state: 'pending', attempts: 0, failure_reason: null });
      expect(await stateOf(later.eventId)).toMatchObject({ state: 'pending', attempts: 0, failure_reason: null });
      expect(await stateOf(tooOld.eventId)).toMatchObject({ state: 'failed', attempts: 2, failure_reason: 'gone' });
      expect(await stateOf(delivered.eventId)).toMatchObject({ state: 'delivered', attempts: 1 });
      expect(await stateOf(pending.eventId)).toMatchObject({ state: 'pending', attempts: 3 });
      expect(logs).toContainEqual(
        expect.objectContaining({
          msg: 'webhook deliveries set to be sent again',
          requestedBy: ACTOR,
          failedSince: '2026-11-25T18:00:00.000Z',
          redelivered: 2,
        }),
      );
    });

    it(`when given the most event ids it takes (${MAX_REDELIVER_EVENT_IDS}), then the body fits the admin body limit and it answers 200`, async () => {
      // Arrange
      const known = await insertFailed();
      const ids = [known.eventId, ...Array.from({ length: MAX_REDELIVER_EVENT_IDS - 1 }, () => randomUUID())];

      // Act
      const res = await redeliver({ eventIds: ids });

      // Assert
      expect(res.status).toBe(200);
      expect(await jsonOf(res)).toEqual({ redelivered: 1 });
    });
  });

  describe('bad input', () => {
    const uuid = '7d1f3a52-0b6e-4c1a-9f0e-3b2d8c4e5a61';
    it.each<[string, string, string, unknown, [string, string | RegExp][]]>([
      ['limit 0', 'GET', '/webhook-deliveries?limit=0', undefined, [['limit', />=1/]]],
      ['limit 501', 'GET', '/webhook-deliveries?limit=501', undefined, [['limit', /<=500/]]],
      ['a limit that is not a number', 'GET', '/webhook-deliveries?limit=1e2', undefined, [['limit', 'whole number']]],
      [
        'a repeated state',
        'GET',
        '/webhook-deliveries?state=failed&state=pending',
        undefined,
        [['state', 'more than once']],
      ],
      [
        'an unknown state',
        'GET',
        '/webhook-deliveries?state=dead',
        undefined,
        [['state', /pending.*delivered.*failed/]],
      ],
      ['an invalid order id', 'GET', '/webhook-deliveries?orderId=A%201', undefined, [['orderId', /./]]],
      ['a cursor that is not a number', 'GET', '/webhook-deliveries?before=abc', undefined, [['before', 'nextCursor']]],
      ['a negative cursor', 'GET', '/webhook-deliveries?before=-1', undefined, [['before', 'nextCursor']]],
      [
        'a cursor beyond bigint',
        'GET',
        '/webhook-deliveries?before=9223372036854775808',
        undefined,
        [['before', 'nextCursor']],
      ],
      ['an unknown query key', 'GET', '/webhook-deliveries?offset=10', undefined, [['', 'offset']]],
      ['an event id that is not a UUID', 'GET', '/webhook-deliveries/42', undefined, [['eventId', 'UUID']]],
      ['a query on GET one', 'GET', `/webhook-deliveries/${uuid}?limit=1`, undefined, [['', 'limit']]],
      [
        'both selectors',
        'POST',
        '/webhook-deliveries/redeliver',
        { eventIds: [uuid], failedSince: '2026-11-25T18:00:00Z' },
        [['failedSince', BOTH_SELECTIONS_MESSAGE]],
      ],
      ['neither selector', 'POST', '/webhook-deliveries/redeliver', {}, [['', NO_SELECTION_MESSAGE]]],
      [
        'an event id in the list that is not a UUID',
        'POST',
        '/webhook-deliveries/redeliver',
        { eventIds: [uuid, 'evt-2'] },
        [['eventIds.1', 'UUID']],
      ],
      ['no event id', 'POST', '/webhook-deliveries/redeliver', { eventIds: [] }, [['eventIds', 'at least one']]],
      [
        'too many event ids',
        'POST',
        '/webhook-deliveries/redeliver',
        { eventIds: Array.from({ length: MAX_REDELIVER_EVENT_IDS + 1 }, () => uuid) },
        [['eventIds', `at most ${MAX_REDELIVER_EVENT_IDS}`]],
      ],
      [
        'event ids that are no list',
        'POST',
        '/webhook-deliveries/redeliver',
        { eventIds: uuid },
        [['eventIds', /array/]],
      ],
      [
        'a failedSince that is no date',
        'POST',
        '/webhook-deliveries/redeliver',
        { failedSince: 'yesterday' },
        [['failedSince', 'ISO 8601']],
      ],
      [
        'a failedSince without a time',
        'POST',
        '/webhook-deliveries/redeliver',
        { failedSince: '2026-11-25' },
        [['failedSince', 'ISO 8601']],
      ],
      [
        'a failedSince without a zone',
        'POST',
        '/webhook-deliveries/redeliver',
        { failedSince: '2026-11-25T18:00:00' },
        [['failedSince', 'ISO 8601']],
      ],
      ['an unknown field', 'POST', '/webhook-deliveries/redeliver', { eventIds: [uuid], all: true }, [['', 'all']]],
      ['a query on POST', 'POST', '/webhook-deliveries/redeliver?dryRun=true', { eventIds: [uuid] }, [['', 'dryRun']]],
    ])(
      'when the request has %s, then it answers 400 validation_failed naming the field',
      async (_case, method, path, body, expected) => {
        // Act
        const res = await request(method, path, body);

        // Assert
        expect(res.status).toBe(400);
        const problem = await jsonOf(res);
        expect(problem.error).toBe('validation_failed');
        expect(problem.details.map((d: { path: string }) => d.path)).toEqual(expected.map(([field]) => field));
        expected.forEach(([, message], i) => {
          if (typeof message === 'string') expect(problem.details[i].message).toContain(message);
          else expect(problem.details[i].message).toMatch(message);
        });
      },
    );

    it('when a redelivery is refused, then no delivery changes', async () => {
      // Arrange
      const failed = await insertFailed();

      // Act
      const res = await redeliver({ eventIds: [failed.eventId], failedSince: '2026-11-25T18:00:00Z' });

      // Assert
      expect(res.status).toBe(400);
      expect(await stateOf(failed.eventId)).toMatchObject({ state: 'failed', attempts: 2 });
    });

    it.each([
      ['a body that is not JSON', 415, { 'content-type': 'text/plain' }, 'eventIds=x'],
      ['broken JSON', 400, { 'content-type': 'application/json' }, '{"eventIds":'],
    ])(
      'when POST /webhook-deliveries/redeliver has %s, then it answers %s, not 500',
      async (_case, status, headers, body) => {
        // Act
        const res = await fetch(`${running.url}/webhook-deliveries/redeliver`, {
          method: 'POST',
          headers: { ...AUTH, ...headers },
          body,
        });

        // Assert
        expect(res.status).toBe(status);
      },
    );

    it('when the body is larger than the admin body limit (16 KiB), then it answers 413 payload_too_large', async () => {
      // Arrange
      const eventIds = Array.from({ length: 500 }, () => randomUUID());

      // Act
      const res = await redeliver({ eventIds });

      // Assert
      expect(res.status).toBe(413);
      expect(await jsonOf(res)).toMatchObject({ error: 'payload_too_large' });
    });
  });

  describe('the admin token', () => {
    const routes: [string, string, unknown][] = [
      ['GET', '/webhook-deliveries', undefined],
      ['GET', '/webhook-deliveries/7d1f3a52-0b6e-4c1a-9f0e-3b2d8c4e5a61', undefined],
      ['POST', '/webhook-deliveries/redeliver', { failedSince: '2000-01-01T00:00:00Z' }],
    ];

    it.each(routes)(
      'when %s %s comes without a token, then it answers 401 and changes nothing',
      async (method, path, body) => {
        // Arrange
        const failed = await insertFailed();

        // Act
        const res = await request(method, path, body, {});

        // Assert
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="mailer-admin"');
        expect(await jsonOf(res)).toMatchObject({ error: 'unauthorized' });
        expect(await stateOf(failed.eventId)).toMatchObject({ state: 'failed', attempts: 2 });
      },
    );

    it.each(routes)(
      'when ADMIN_TOKEN is not set, then %s %s answers 403 admin_api_disabled, even with a token',
      async (method, path, body) => {
        // Arrange
        const failed = await insertFailed();
        const tokenless = await startApp(pool, [], undefined);

        try {
          // Act
          const res = await fetch(`${tokenless.url}${path}`, {
            method,
            headers: { ...AUTH, ...(body !== undefined && { 'content-type': 'application/json' }) },
            body: body === undefined ? undefined : JSON.stringify(body),
          });

          // Assert
          expect(res.status).toBe(403);
          expect(await jsonOf(res)).toMatchObject({ error: 'admin_api_disabled' });
          expect(await stateOf(failed.eventId)).toMatchObject({ state: 'failed', attempts: 2 });
        } finally {
          await tokenless.close();
        }
      },
    );
  });
});

describe('webhook delivery-log admin routes when PostgreSQL cannot be reached', () => {
  it.each([
    ['GET', '/webhook-deliveries', undefined],
    ['GET', '/webhook-deliveries/7d1f3a52-0b6e-4c1a-9f0e-3b2d8c4e5a61', undefined],
    ['POST', '/webhook-deliveries/redeliver', { eventIds: ['7d1f3a52-0b6e-4c1a-9f0e-3b2d8c4e5a61'] }],
  ])('when %s %s is asked, then it answers 503 naming the problem, with Retry-After', async (method, path, body) => {
    // Arrange
    const pool = new Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectionTimeoutMillis: 2000 });
    const running = await startApp(pool, [], TOKEN);

    try {
      // Act
      const res = await fetch(`${running.url}${path}`, {
        method,
        headers: { ...AUTH, ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });

      // Assert
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await jsonOf(res)).toMatchObject({
        error: 'service_unavailable',
        message: 'The ledger database is not usable: the server cannot be reached',
      });
    } finally {
      await running.close();
      await pool.end();
    }
  });
});
