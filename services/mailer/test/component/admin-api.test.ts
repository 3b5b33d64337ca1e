import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import { listenHttp, type HttpServerHandle } from '@order-mail/shared/http';
import { jsonOf } from '@test/helpers/http';
import { connectTestBroker, eventually } from '@test/helpers/broker';
import { ledgerRow, recordedDeadLetters } from '@test/helpers/inspect';
import { postJson, sampleOrder } from '@test/helpers/orders';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import {
  deleteStackTopology,
  mailerEnv,
  mailerQueueNamesFor,
  startTestStack,
  uniqueStackNames,
  type TestStack,
} from '@test/helpers/stack';
import { loadMailerConfig } from '../../src/config';
import { createPgDeliveryLedger, type PgDeliveryLedger } from '../../src/adapters/db/delivery-ledger-pg';
import { createMailerApp } from '../../src/entry-points/http/app';
import { startMailer, type RunningMailer } from '../../src/service';
import { capturingLogger } from '@test/helpers/logs';

const TOKEN = 'admin-token-for-tests-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };

describe('mailer admin API', () => {
  let smtp: SmtpCatcher;
  let stack: TestStack;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const get = (path: string, headers: Record<string, string> = auth) => fetch(`${stack.mailerUrl}${path}`, { headers });

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    stack = await startTestStack({ smtpUrl: smtp.url, env: { ADMIN_TOKEN: TOKEN } });
    // One sent order, one dead one (550), one dead letter that is not JSON.
    expect((await postJson(stack.apiUrl, '/orders', sampleOrder({ orderId: 'ADM-sent' }))).status).toBe(202);
    await eventually(async () => (await ledgerRow(stack.names.schema, 'ADM-sent'))?.status === 'sent');
    smtp.behaviour = { rejectWith: { code: 550, message: 'No such user' } };
    expect((await postJson(stack.apiUrl, '/orders', sampleOrder({ orderId: 'ADM-dead' }))).status).toBe(202);
    await eventually(async () => (await ledgerRow(stack.names.schema, 'ADM-dead'))?.status === 'dead');
    const { connection, channel } = await connectTestBroker();
    channel.publish(stack.names.exchange, 'order.confirmed', Buffer.from('garbage'), { messageId: 'garbage-1' });
    await recordedDeadLetters(stack.names.schema, 2);
    await connection.close();
  });

  afterAll(async () => {
    await stack.dispose();
    await smtp.close();
  });

  it('when ADMIN_TOKEN is set and a request has no or a wrong token, then it answers 401, while health stays open', async () => {
    expect((await get('/deliveries', {})).status).toBe(401);
    expect((await get('/dead-letters', { authorization: 'Bearer wrong' })).status).toBe(401);
    expect(await jsonOf(get('/deliveries', {}))).toMatchObject({ error: 'unauthorized' });
    expect((await get('/healthz', {})).status).toBe(200);
    expect((await get('/metrics', {})).status).toBe(200);
  });

  it('when deliveries are listed with filters, then only matching records come back, newest first', async () => {
    const all = await jsonOf(get('/deliveries'));
    expect(all.deliveries.map((d: { orderId: string }) => d.orderId)).toEqual(['ADM-dead', 'ADM-sent']);

    const dead = await jsonOf(get('/deliveries?status=dead'));
    expect(dead.deliveries).toHaveLength(1);
    expect(dead.deliveries[0]).toMatchObject({ orderId: 'ADM-dead', status: 'dead', attempts: 1, smtpCode: 550 });

    const one = await jsonOf(get('/deliveries?orderId=ADM-sent&limit=1'));
    expect(one.deliveries).toHaveLength(1);
    expect(one.deliveries[0]).toMatchObject({ orderId: 'ADM-sent', status: 'sent' });
  });

  it('when a delivery is fetched by orderId, then it comes with its attempts; an unknown order is a 404', async () => {
    const res = await get('/deliveries/ADM-dead');
    expect(res.status).toBe(200);
    const body = await jsonOf(res);
    expect(body.delivery).toMatchObject({ orderId: 'ADM-dead', status: 'dead', lastErrorClass: 'permanent' });
    expect(body.attempts).toEqual([
      expect.objectContaining({
        attempt: 1,
        outcome: 'permanent',
        smtpCode: 550,
        workerId: stack.mailerConfig.WORKER_ID,
      }),
    ]);
    expect((await get('/deliveries/NOPE-404')).status).toBe(404);
  });

  it('when the path or the body type is malformed, then it answers 4xx, not 500', async () => {
    expect((await get('/deliveries/%E0%A4%A')).status).toBe(400);
    const replay = await fetch(`${stack.mailerUrl}/dead-letters/replay`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: '{"all":true}',
    });
    expect(replay.status).toBe(415);
  });

  it('when the query is invalid, then it answers 400 with details', async () => {
    const res = await get('/deliveries?status=lost&limit=0');
    expect(res.status).toBe(400);
    const body = await jsonOf(res);
    expect(body.error).toBe('validation_failed');
    expect(body.details.map((d: { path: string }) => d.path).sort()).toEqual(['limit', 'status']);
  });

  it('when dead letters are listed page by page, then the cursor walks them newest first, each once, with counts by reason', async () => {
    const first = await jsonOf(get('/dead-letters?limit=1'));
    const second = await jsonOf(get(`/dead-letters?limit=1&cursor=${first.nextCursor}`));
    const again = await jsonOf(get('/dead-letters'));

    expect(first.counts).toEqual({ total: 2, byReason: { invalid_event: 1, smtp_rejected: 1 } });
    expect(first.deadLetters).toHaveLength(1);
    expect(second.deadLetters).toHaveLength(1);
    expect(second.nextCursor).toBeNull();
    expect([...first.deadLetters, ...second.deadLetters]).toEqual(again.deadLetters);
    expect(Number(first.deadLetters[0].id)).toBeGreaterThan(Number(second.deadLetters[0].id));
    const reasons = again.deadLetters.map((m: { reason: string }) => m.reason).sort();
    expect(reasons).toEqual(['invalid_event', 'smtp_rejected']);
    expect(again.deadLetters.find((m: { reason: string }) => m.reason === 'smtp_rejected')).toMatchObject({
      orderId: 'ADM-dead',
      smtpCode: 550,
      attempts: 1,
      workerId: stack.mailerConfig.WORKER_ID,
    });
  });

  describe('every combination of ADMIN_TOKEN, credentials and route', () => {
    const names = uniqueStackNames();
    let tokenless: RunningMailer;
    const urlOf = (token: 'set' | 'unset') =>
      token === 'set' ? stack.mailerUrl : `http://127.0.0.1:${tokenless.port}`;

    beforeAll(async () => {
      // Real PostgreSQL and RabbitMQ, ADMIN_TOKEN blank (unset).
      tokenless = await startMailer(loadMailerConfig(mailerEnv(names, smtp.url, { ADMIN_TOKEN: '' })));
      await eventually(() => tokenless.isReady(), 15000, 'tokenless mailer ready');
    });

    afterAll(async () => {
      await tokenless.stop();
      await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
    });

    const CREDENTIALS: Record<string, Record<string, string>> = {
      none: {},
      'a wrong token': { authorization: 'Bearer not-the-admin-token-0123' },
      'the token without "Bearer "': { authorization: TOKEN },
      'the token': { authorization: `Bearer ${TOKEN}` },
      'the token with a lower-case scheme': { authorization: `bearer ${TOKEN}` },
    };
    const ACCEPTED = ['the token', 'the token with a lower-case scheme'];
    const ROUTES: [string, string][] = [
      ['GET', '/deliveries'],
      ['GET', '/deliveries?status=sent&limit=1'],
      ['GET', '/deliveries/ADM-sent'],
      ['GET', '/dead-letters'],
      ['GET', '/dead-letters?limit=1&order=oldest&reason=smtp_rejected'],
      // A dry run: nothing moves, so the tests above and below see the same dead letters.
      ['POST', '/dead-letters/replay'],
    ];
    const call = (token: 'set' | 'unset', method: string, path: string, credentials: string) =>
      fetch(`${urlOf(token)}${path}`, {
        method,
        headers: { ...CREDENTIALS[credentials], ...(method === 'POST' && { 'content-type': 'application/json' }) },
        body: method === 'POST' ? JSON.stringify({ all: true, dryRun: true }) : undefined,
      });

    const cases = (['unset', 'set'] as const).flatMap((token) =>
      Object.keys(CREDENTIALS).flatMap((credentials) =>
        ROUTES.map(([method, path]) => {
          const status = token === 'unset' ? 403 : ACCEPTED.includes(credentials) ? 200 : 401;
          return [token, credentials, method, path, status] as const;
        }),
      ),
    );

    it.each(cases)(
      'when ADMIN_TOKEN is %s and a request carries %s, then %s %s answers %s',
      async (token, credentials, method, path, status) => {
        const res = await call(token, method, path, credentials);

        expect(res.status).toBe(status);
        const body = await jsonOf(res);
        if (status === 403) {
          expect(body).toEqual({
            type: 'tag:order-mail,2026:error:ERR_ADMIN_API_DISABLED',
            title: expect.any(String),
            status: 403,
            detail: body.message,
            error: 'admin_api_disabled',
            message: expect.stringContaining('set ADMIN_TOKEN'),
          });
        } else if (status === 401) {
          expect(body).toMatchObject({ error: 'unauthorized' });
          // A Bearer token that is not the admin token is an invalid_token (RFC 6750 §3.1); no Bearer credentials, no error code.
          expect(res.headers.get('www-authenticate')).toBe(
            credentials === 'a wrong token'
              ? 'Bearer realm="mailer-admin", error="invalid_token"'
              : 'Bearer realm="mailer-admin"',
          );
        } else {
          expect(body.error).toBeUndefined();
        }
      },
    );

    it.each(
      (['unset', 'set'] as const).flatMap((token) =>
        Object.keys(CREDENTIALS).flatMap((credentials) =>
          ['/healthz', '/readyz', '/metrics'].map((path) => [token, credentials, path] as const),
        ),
      ),
    )('when ADMIN_TOKEN is %s and a request carries %s, then %s stays open (200)', async (token, credentials, path) => {
      expect((await call(token, 'GET', path, credentials)).status).toBe(200);
    });

    it.each([
      ['unset', 'none'],
      ['unset', 'the token'],
      ['set', 'none'],
      ['set', 'the token'],
    ] as const)(
      'when ADMIN_TOKEN is %s and a request for an unknown path carries %s, then it is a 404, not an auth answer',
      async (token, credentials) => {
        const res = await call(token, 'GET', '/deliveriesX', credentials);

        expect(res.status).toBe(404);
        expect(await jsonOf(res)).toMatchObject({ error: 'not_found' });
      },
    );
  });
});

describe('mailer admin API, every path and query value it cannot use', () => {
  const logs: Record<string, unknown>[] = [];
  const names = uniqueStackNames();
  let smtp: SmtpCatcher;
  let mailer: RunningMailer;
  let baseUrl: string;

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    // Real PostgreSQL and RabbitMQ: a value that slipped through would reach them.
    mailer = await startMailer(
      loadMailerConfig(mailerEnv(names, smtp.url, { ADMIN_TOKEN: TOKEN })),
      capturingLogger(logs, { service: 'mailer' }),
    );
    baseUrl = `http://127.0.0.1:${mailer.port}`;
    await eventually(() => mailer.isReady(), 15000, 'mailer ready');
  });

  afterAll(async () => {
    await mailer.stop();
    await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
    await smtp.close();
  });

  const request = (method: string, path: string) =>
    fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: method === 'POST' ? JSON.stringify({ all: true, dryRun: true }) : undefined,
    });

  it.each([
    ['GET', '/deliveries/%00', 'orderId'],
    ['GET', '/deliveries/A%00B', 'orderId'],
    ['GET', `/deliveries/${'x'.repeat(65)}`, 'orderId'],
    ['GET', '/deliveries/A%20B', 'orderId'],
    ['GET', '/deliveries/%2F', 'orderId'],
    ['GET', "/deliveries/A'%3B--", 'orderId'],
    ['GET', '/deliveries/%C3%A9', 'orderId'],
    ['GET', '/deliveries/ADM-1?verbose=1', 'verbose'],
    ['GET', '/deliveries?orderId=%00', 'orderId'],
    ['GET', '/deliveries?orderId=', 'orderId'],
    ['GET', `/deliveries?orderId=${'x'.repeat(65)}`, 'orderId'],
    ['GET', '/deliveries?orderId=a&orderId=b', 'orderId'],
    ['GET', '/deliveries?status=lost', 'status'],
    ['GET', '/deliveries?status=%00', 'status'],
    ['GET', '/deliveries?limit=0', 'limit'],
    ['GET', '/deliveries?limit=501', 'limit'],
    ['GET', '/deliveries?limit=', 'limit'],
    ['GET', '/deliveries?limit=1e2', 'limit'],
    ['GET', '/deliveries?limit=0x10', 'limit'],
    ['GET', '/deliveries?limit=-1', 'limit'],
    ['GET', '/deliveries?limit=1.5', 'limit'],
    ['GET', '/deliveries?limit=%00', 'limit'],
    ['GET', '/deliveries?limit=99999999999999999999', 'limit'],
    ['GET', '/deliveries?order_id=A', 'order_id'],
    ['GET', '/dead-letters?limit=0', 'limit'],
    ['GET', '/dead-letters?limit=abc', 'limit'],
    ['GET', '/dead-letters?limit=1&limit=2', 'limit'],
    ['GET', '/dead-letters?offset=1', 'offset'],
    ['GET', '/dead-letters?cursor=abc', 'cursor'],
    ['GET', '/dead-letters?cursor=%00', 'cursor'],
    ['GET', '/dead-letters?order=sideways', 'order'],
    ['GET', '/dead-letters?from=yesterday', 'from'],
    ['GET', '/dead-letters?orderId=%00', 'orderId'],
    ['GET', '/dead-letters/abc', 'id'],
    ['GET', '/dead-letters/replays/not-a-uuid', 'id'],
    ['GET', '/dead-letters?page=2', 'page'],
    ['POST', '/dead-letters/replay?dryRun=false', 'dryRun'],
  ])('when %s %s is asked, then it answers 400 validation_failed naming %s', async (method, path, key) => {
    const res = await request(method, path);

    expect(res.status).toBe(400);
    const body = await jsonOf(res);
    expect(body).toMatchObject({ error: 'validation_failed', message: expect.any(String) });
    // A bad value is named by its path; an unknown key (path "") by the message.
    expect(body.details).toContainEqual(
      expect.objectContaining(
        body.details.some((d: { path: string }) => d.path === key)
          ? { path: key }
          : { message: expect.stringContaining(`"${key}"`) },
      ),
    );
  });

  it.each([
    ['GET', `/deliveries/${'x'.repeat(64)}`, 404],
    ['GET', '/deliveries/A_b-1', 404],
    ['GET', `/deliveries?orderId=${'x'.repeat(64)}`, 200],
    ['GET', '/deliveries?status=dead&limit=500', 200],
    ['GET', '/deliveries?limit=1', 200],
    ['GET', '/dead-letters?limit=500&order=oldest', 200],
    ['GET', '/dead-letters?state=any&smtpCode=550', 200],
    // A dead letter with neither our reason nor an x-death is recorded as `unknown`: it can be filtered.
    ['GET', '/dead-letters?reason=unknown', 200],
    ['GET', '/dead-letters/9223372036854775807', 404],
    ['GET', '/dead-letters/replays/00000000-0000-4000-8000-000000000000', 404],
    ['DELETE', '/dead-letters?all=true&dryRun=true', 200],
    ['POST', '/dead-letters/replay', 200],
  ])('when %s %s is asked (the edge of each rule), then it answers %s', async (method, path, status) => {
    expect((await request(method, path)).status).toBe(status);
  });

  it('when a path is not valid percent-encoding, then it answers 400 bad_request', async () => {
    const res = await request('GET', '/deliveries/%E0%A4%A');

    expect(res.status).toBe(400);
    expect(await jsonOf(res)).toMatchObject({ error: 'bad_request' });
  });

  it.each([
    [
      'Latin-1 bytes without a charset',
      'application/json',
      Buffer.from('{"reason":"smtp_rejected","note":"caf\xe9"}', 'latin1'),
      400,
    ],
    ['a reason nobody documents', 'application/json', Buffer.from('{"reason":"smtp_rejectd"}'), 400],
    ['a UTF-16 charset', 'application/json; charset=utf-16', Buffer.from('{"all":true}', 'utf16le'), 415],
  ])('when the replay body carries %s, then it answers %s', async (_name, type, body, status) => {
    const res = await fetch(`${baseUrl}/dead-letters/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': type },
      body,
    });

    expect(res.status).toBe(status);
    expect(await jsonOf(res)).toMatchObject({ error: status === 400 ? 'validation_failed' : 'unsupported_media_type' });
  });

  it('when all of the above was asked, then nothing was logged as an error', () => {
    // Runs after the tables above (jest keeps the order): bad input is never a 500 or a stack.
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.filter((line) => Number(line.level) >= 50)).toEqual([]);
  });
});

/** A dependency that fails every call with `err`. */
const failing = (err: unknown) => () => Promise.reject(err);

describe('mailer admin API, every cause of a 503', () => {
  let http: HttpServerHandle;
  let baseUrl: string;
  let failure: unknown;
  const logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const fail = () => Promise.reject(failure);
    const app = createMailerApp({
      registry: new Registry(),
      checks: [],
      ledger: { find: fail, list: fail } as unknown as PgDeliveryLedger,
      deadLetters: { list: fail, find: fail, purge: fail, removeExpired: fail, stats: fail },
      replays: { preview: fail, start: fail, get: fail, recent: fail },
      logger: capturingLogger(logs, { service: 'mailer' }),
      adminToken: TOKEN,
      retryAfterSeconds: 5,
    });
    http = await listenHttp(app, 0);
    baseUrl = `http://127.0.0.1:${http.port}`;
  });

  afterAll(async () => {
    await http.close(1000);
  });

  const replay = () =>
    fetch(`${baseUrl}/dead-letters/replay`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ all: true }),
    });

  // The errors as the adapters raise them (see DeadLetterStore, asDatabaseError, ConfirmedPublisher).
  const brokerDown = new AppError(ErrorCodes.BROKER_UNAVAILABLE, 'Not connected to the broker');
  const databaseDown = new AppError(
    ErrorCodes.DATABASE_UNAVAILABLE,
    'The ledger database is not usable: the server cannot be reached',
  );

  it.each([
    ['GET /deliveries', 'the database is down', databaseDown, /database is not usable/, '/deliveries'],
    ['GET /deliveries/:orderId', 'the database is down', databaseDown, /database is not usable/, '/deliveries/A-1'],
    ['GET /dead-letters', 'the database is down', databaseDown, /database is not usable/, '/dead-letters'],
    ['GET /dead-letters/:id', 'the database is down', databaseDown, /database is not usable/, '/dead-letters/1'],
    [
      'GET /dead-letters/replays/:id',
      'the database is down',
      databaseDown,
      /database is not usable/,
      `/dead-letters/replays/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`,
    ],
  ])('when %s finds %s, then it answers 503 saying so, with Retry-After', async (_route, _cause, err, says, path) => {
    failure = err;

    const res = await fetch(`${baseUrl}${path}`, { headers: AUTH });

    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const body = await jsonOf(res);
    expect(body.error).toBe('service_unavailable');
    expect(body.message).toMatch(says);
  });

  it.each([
    ['the broker is not connected', brokerDown, /Not connected to the broker/],
    ['the database is down', databaseDown, /database is not usable/],
  ])('when a replay cannot start because %s, then it answers 503 saying so', async (_cause, err, says) => {
    failure = err;

    const res = await replay();

    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const { error, message } = await jsonOf(res);
    expect(error).toBe('service_unavailable');
    expect(message).toMatch(says);
  });

  it.each([
    ['cannot be reached at all', 'postgres://postgres@127.0.0.1:1/test', 'the server cannot be reached'],
    ['has no such database', 'postgres://postgres@127.0.0.1:5432/no_such_db_om', 'the database does not exist'],
    ['refuses the role', 'postgres://no_such_role_om@127.0.0.1:5432/test', 'the server refused the user or password'],
  ])(
    'when PostgreSQL %s (a real pool), then the answer is 503 naming the problem, not 500',
    async (_case, url, problem) => {
      const pool = new Pool({ connectionString: url, connectionTimeoutMillis: 2000 });
      const app = createMailerApp({
        registry: new Registry(),
        checks: [],
        ledger: createPgDeliveryLedger(pool),
        deadLetters: {
          list: failing(databaseDown),
          find: failing(databaseDown),
          purge: failing(databaseDown),
          removeExpired: failing(databaseDown),
          stats: failing(databaseDown),
        },
        replays: {
          preview: failing(databaseDown),
          start: failing(databaseDown),
          get: failing(databaseDown),
          recent: failing(databaseDown),
        },
        logger: capturingLogger(logs, { service: 'mailer' }),
        adminToken: TOKEN,
        retryAfterSeconds: 5,
      });
      const server = await listenHttp(app, 0);
      try {
        const res = await fetch(`http://127.0.0.1:${server.port}/deliveries/A-1`, { headers: AUTH });

        expect(res.status).toBe(503);
        expect(await jsonOf(res)).toMatchObject({
          error: 'service_unavailable',
          message: `The ledger database is not usable: ${problem}`,
        });
      } finally {
        await server.close(1000);
        await pool.end();
      }
    },
  );

  it('when every cause was answered, then none was logged as an error (a 503 is a warning)', () => {
    expect(logs.filter((line) => line.level === 40).length).toBeGreaterThan(0);
    expect(logs.filter((line) => Number(line.level) >= 50)).toEqual([]);
    // Expected while a dependency is away: the reason, never a stack trace.
    expect(logs.filter((line) => JSON.stringify(line).includes('"stack"'))).toEqual([]);
  });
});
