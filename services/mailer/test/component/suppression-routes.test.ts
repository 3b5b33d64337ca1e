import { Pool } from 'pg';
import pino from 'pino';
import { DATABASE_URL, dropSchema, query } from '@test/helpers/database';
import { jsonOf, type Loose } from '@test/helpers/http';
import type { LogLine } from '@test/helpers/logs';
import { uniqueStackNames } from '@test/helpers/stack';
import { startAdminApp, type RunningAdminApp } from './fixtures/admin-app';
import { migrate } from '../../src/adapters/db/database';
import { createPgSuppressionList } from '../../src/adapters/db/suppressions-pg';
import type { SuppressionList } from '../../src/domain/suppression';
import { adminTokenId } from '../../src/entry-points/http/admin-request';

// The suppression list's admin routes and its PostgreSQL adapter together, on a real database:
// each test migrates a schema of its own and starts the mailer's app on it.

const TOKEN = 'admin-token-for-suppression-routes-0123';
const ACTOR = `admin:${adminTokenId(TOKEN)}`;
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** The app of `startAdminApp`, and the suppression list it serves. */
interface Running extends RunningAdminApp {
  suppressions: SuppressionList;
}

/** The mailer's app on `pool`, its suppression list the PostgreSQL adapter's. */
async function startApp(pool: Pool, logs: LogLine[], adminToken: string | undefined): Promise<Running> {
  const suppressions = createPgSuppressionList(pool);
  return { ...(await startAdminApp(pool, logs, adminToken, { suppressions })), suppressions };
}

describe('suppression-list admin routes on PostgreSQL', () => {
  let schema: string;
  let pool: Pool;
  let running: Running;
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
  const add = (address: string, reason = 'asked to be left alone') =>
    request('POST', '/suppressions', { address, reason });
  const addresses = (page: Loose): string[] => page.suppressions.map((s: { address: string }) => s.address);

  /** An entry as the worker adds it after a 550 at RCPT (delivery-ledger-pg.ts's `suppressRejected`). */
  const insertRejection = (address: string) =>
    // On the pool: `address_hash` finds its salt table through the schema's search_path, as the mailer's queries do.
    pool.query(
      `INSERT INTO suppressions (address_hash, address, domain, origin, reason, smtp_code, smtp_response, order_id, created_by)
       VALUES (address_hash($1), $1, 'example.com', 'smtp_rejection', 'the SMTP server refused the recipient for good (550)',
               550, '550 5.1.1 No such user', 'A-1002', 'mailer:mailer-1')`,
      [address],
    );

  describe('POST /suppressions', () => {
    it('when an address is added, then it answers 201 with the entry, the list shows it, and the log masks the address', async () => {
      // Act
      const res = await add('Ada@EXAMPLE.com', 'bounced in the old system');

      // Assert
      expect(res.status).toBe(201);
      const { suppression } = await jsonOf(res);
      expect(suppression).toEqual({
        id: expect.any(Number),
        address: 'Ada@example.com',
        domain: 'example.com',
        origin: 'manual',
        reason: 'bounced in the old system',
        smtpCode: null,
        smtpResponse: null,
        orderId: null,
        createdBy: ACTOR,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      expect(await jsonOf(get('/suppressions'))).toEqual({ suppressions: [suppression], nextCursor: null });
      expect(logs).toContainEqual(
        expect.objectContaining({
          level: 30,
          msg: 'address suppressed by hand',
          address: 'A***@example.com',
          created: true,
          createdBy: ACTOR,
        }),
      );
      expect(JSON.stringify(logs)).not.toContain('Ada@');
    });

    it('when the address is already on the list (another spelling of its domain), then it answers 200 with created false and the entry as it was', async () => {
      // Arrange
      const first = (await jsonOf(add('Ada@example.com', 'first reason'))).suppression;

      // Act
      const res = await add('Ada@Example.COM', 'second reason');

      // Assert
      expect(res.status).toBe(200);
      expect(await jsonOf(res)).toEqual({ suppression: first, created: false });
      expect(addresses(await jsonOf(get('/suppressions')))).toEqual(['Ada@example.com']);
    });

    it('when the worker suppressed the address after a rejection, then adding it by hand keeps the rejection entry', async () => {
      // Arrange
      await insertRejection('bounce@example.com');

      // Act
      const res = await add('bounce@example.com');

      // Assert
      expect(res.status).toBe(200);
      expect(await jsonOf(res)).toMatchObject({
        created: false,
        suppression: { origin: 'smtp_rejection', smtpCode: 550, orderId: 'A-1002', createdBy: 'mailer:mailer-1' },
      });
    });

    it('when the local part differs only in case, then it is another entry', async () => {
      // Act
      const upper = await add('Ada@example.com');
      const lower = await add('ada@example.com');

      // Assert
      expect([upper.status, lower.status]).toEqual([201, 201]);
      expect(addresses(await jsonOf(get('/suppressions')))).toEqual(['Ada@example.com', 'ada@example.com']);
    });
  });

  describe('GET /suppressions', () => {
    it('when the list is read page by page, then the cursor walks it oldest first, each entry once, an entry added meanwhile on a later page', async () => {
      // Arrange
      for (const n of [1, 2, 3, 4]) expect((await add(`user${n}@example.com`)).status).toBe(201);

      // Act
      const first = await jsonOf(get('/suppressions?limit=2'));
      await add('user5@example.com');
      const second = await jsonOf(get(`/suppressions?limit=2&after=${first.nextCursor}`));
      const third = await jsonOf(get(`/suppressions?limit=2&after=${second.nextCursor}`));

      // Assert
      expect([first, second, third].map(addresses)).toEqual([
        ['user1@example.com', 'user2@example.com'],
        ['user3@example.com', 'user4@example.com'],
        ['user5@example.com'],
      ]);
      expect(first.nextCursor).toBe(first.suppressions[1].id);
      expect(second.nextCursor).toBe(second.suppressions[1].id);
      expect(third.nextCursor).toBeNull();
    });

    it('when the list is empty, then it answers an empty page without a cursor', async () => {
      // Act
      const res = await get('/suppressions');

      // Assert
      expect(res.status).toBe(200);
      expect(await jsonOf(res)).toEqual({ suppressions: [], nextCursor: null });
    });

    it.each([
      ['the same address, domain in another case', 'Ada@EXAMPLE.com', ['Ada@example.com']],
      ['the same address', 'Ada@example.com', ['Ada@example.com']],
      ['the local part in another case', 'ada@example.com', []],
      ['the Unicode domain of a punycode entry', 'ada@Bücher.example', ['ada@xn--bcher-kva.example']],
      ['the punycode domain of an entry added in Unicode', 'ada@XN--BCHER-KVA.example', ['ada@xn--bcher-kva.example']],
      ['an address not on the list', 'bob@example.com', []],
    ])('when filtered by %s (%s), then it finds %p', async (_case, address, expected) => {
      // Arrange
      await add('Ada@example.com');
      await add('ada@bücher.example');
      await add('bob@example.org');

      // Act
      const res = await get(`/suppressions?address=${encodeURIComponent(address)}`);

      // Assert
      expect(res.status).toBe(200);
      expect(addresses(await jsonOf(res))).toEqual(expected);
    });

    it.each([
      ['a domain in another case', 'EXAMPLE.com', ['Ada@example.com', 'carl@example.com']],
      ['a Unicode domain', 'Bücher.Example', ['ada@xn--bcher-kva.example']],
      ['its punycode', 'xn--bcher-kva.example', ['ada@xn--bcher-kva.example']],
      ['a domain with no entry', 'example.net', []],
    ])('when filtered by %s (%s), then it finds %p', async (_case, domain, expected) => {
      // Arrange
      await add('Ada@example.com');
      await add('ada@bücher.example');
      await add('carl@example.com');

      // Act
      const res = await get(`/suppressions?domain=${encodeURIComponent(domain)}`);

      // Assert
      expect(res.status).toBe(200);
      expect(addresses(await jsonOf(res))).toEqual(expected);
    });

    it('when filtered by domain and address together, then both must match', async () => {
      // Arrange
      await add('Ada@example.com');

      // Act
      const both = await jsonOf(get('/suppressions?domain=example.com&address=Ada%40example.com'));
      const other = await jsonOf(get('/suppressions?domain=example.org&address=Ada%40example.com'));

      // Assert
      expect([addresses(both), addresses(other)]).toEqual([['Ada@example.com'], []]);
    });
  });

  describe('DELETE /suppressions/:address', () => {
    it('when a suppressed address is removed (URL-encoded, domain in another case), then it answers 200, the list no longer has it, and a second remove is a 404', async () => {
      // Arrange
      await add('Ada@example.com');

      // Act
      const removed = await request('DELETE', `/suppressions/${encodeURIComponent('Ada@EXAMPLE.com')}`);
      const again = await request('DELETE', `/suppressions/${encodeURIComponent('Ada@EXAMPLE.com')}`);

      // Assert
      expect(removed.status).toBe(200);
      expect(await jsonOf(removed)).toEqual({ removed: true, address: 'Ada@example.com' });
      expect(await jsonOf(get('/suppressions'))).toEqual({ suppressions: [], nextCursor: null });
      expect(again.status).toBe(404);
      expect(await jsonOf(again)).toMatchObject({ error: 'not_found', message: expect.stringContaining('A***@') });
      expect(logs).toContainEqual(
        expect.objectContaining({
          level: 30,
          msg: 'address removed from the suppression list',
          address: 'A***@example.com',
          removedBy: ACTOR,
        }),
      );
      expect(JSON.stringify(logs)).not.toContain('Ada@');
    });

    it('when the address differs from the entry in the case of its local part, then it is not on the list: 404, and the entry stays', async () => {
      // Arrange
      await add('Ada@example.com');

      // Act
      const res = await request('DELETE', '/suppressions/ada%40example.com');

      // Assert
      expect(res.status).toBe(404);
      expect(addresses(await jsonOf(get('/suppressions')))).toEqual(['Ada@example.com']);
    });

    it('when the address has a "/" (percent-encoded in the path), then it is removed like any other', async () => {
      // Arrange
      await add('sales/eu@example.com');

      // Act
      const res = await request('DELETE', `/suppressions/${encodeURIComponent('sales/eu@example.com')}`);

      // Assert
      expect(res.status).toBe(200);
      expect(await jsonOf(res)).toEqual({ removed: true, address: 'sales/eu@example.com' });
    });

    it('when an address is removed and added again, then it is a new entry', async () => {
      // Arrange
      const first = (await jsonOf(add('Ada@example.com'))).suppression;
      await request('DELETE', '/suppressions/Ada%40example.com');

      // Act
      const res = await add('Ada@example.com', 'again');

      // Assert
      expect(res.status).toBe(201);
      expect((await jsonOf(res)).suppression.id).toBeGreaterThan(first.id);
    });
  });

  describe('bad input', () => {
    const INVALID_ADDRESS = 'Invalid email address: it must contain one "@"';
    it.each<[string, string, string, unknown, [string, string | RegExp][]]>([
      ['limit 0', 'GET', '/suppressions?limit=0', undefined, [['limit', />=1/]]],
      ['limit 501', 'GET', '/suppressions?limit=501', undefined, [['limit', /<=500/]]],
      [
        'a limit that is not a number',
        'GET',
        '/suppressions?limit=1e2',
        undefined,
        [['limit', 'must be a whole number']],
      ],
      ['a repeated limit', 'GET', '/suppressions?limit=1&limit=2', undefined, [['limit', 'given more than once']]],
      ['a negative cursor', 'GET', '/suppressions?after=-1', undefined, [['after', 'must be a nextCursor']]],
      [
        'a cursor that is not a number',
        'GET',
        '/suppressions?after=abc',
        undefined,
        [['after', 'must be a nextCursor']],
      ],
      ['an address without "@"', 'GET', '/suppressions?address=ada', undefined, [['address', INVALID_ADDRESS]]],
      [
        'a domain with a local part',
        'GET',
        '/suppressions?domain=ada%40example.com',
        undefined,
        [['domain', 'give the domain alone']],
      ],
      [
        'a domain that is no hostname',
        'GET',
        '/suppressions?domain=exa_mple.com',
        undefined,
        [['domain', /^Invalid domain: /]],
      ],
      ['an unknown query key', 'GET', '/suppressions?offset=10', undefined, [['', 'offset']]],
      [
        'an empty body',
        'POST',
        '/suppressions',
        {},
        [
          ['address', /expected string/],
          ['reason', /^required: why the address is suppressed$/],
        ],
      ],
      ['an invalid address', 'POST', '/suppressions', { address: 'ada', reason: 'r' }, [['address', INVALID_ADDRESS]]],
      [
        'a display name',
        'POST',
        '/suppressions',
        { address: '"Ada" <ada@example.com>', reason: 'r' },
        [['address', 'only a bare address']],
      ],
      [
        'an address that is a number',
        'POST',
        '/suppressions',
        { address: 42, reason: 'r' },
        [['address', /expected string/]],
      ],
      [
        'no reason',
        'POST',
        '/suppressions',
        { address: 'ada@example.com' },
        [['reason', /^required: why the address is suppressed$/]],
      ],
      [
        'an empty reason',
        'POST',
        '/suppressions',
        { address: 'ada@example.com', reason: '' },
        [['reason', 'must not be empty or blank']],
      ],
      [
        'a blank reason',
        'POST',
        '/suppressions',
        { address: 'ada@example.com', reason: '   ' },
        [['reason', 'must not be empty or blank']],
      ],
      [
        'a reason of 501 characters',
        'POST',
        '/suppressions',
        { address: 'ada@example.com', reason: 'x'.repeat(501) },
        [['reason', 'at most 500 characters']],
      ],
      [
        'a reason with a line break',
        'POST',
        '/suppressions',
        { address: 'ada@example.com', reason: 'a\nb' },
        [['reason', 'LINE FEED']],
      ],
      [
        'a reason with ESC',
        'POST',
        '/suppressions',
        { address: 'ada@example.com', reason: 'a\u001b[31m' },
        [['reason', 'ESCAPE']],
      ],
      [
        'an unknown field',
        'POST',
        '/suppressions',
        { address: 'ada@example.com', reason: 'r', force: true },
        [['', 'force']],
      ],
      [
        'a query on POST',
        'POST',
        '/suppressions?dryRun=true',
        { address: 'ada@example.com', reason: 'r' },
        [['', 'dryRun']],
      ],
      ['an invalid address in the path', 'DELETE', '/suppressions/ada', undefined, [['address', INVALID_ADDRESS]]],
      ['a query on DELETE', 'DELETE', '/suppressions/ada%40example.com?force=1', undefined, [['', 'force']]],
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

    it.each([
      ['a body that is not JSON', { 'content-type': 'text/plain' }, 'address=ada@example.com', 415],
      ['broken JSON', { 'content-type': 'application/json' }, '{"address":', 400],
    ])('when POST /suppressions has %s, then it answers %s, not 500', async (_case, headers, body, status) => {
      // Act
      const res = await fetch(`${running.url}/suppressions`, {
        method: 'POST',
        headers: { ...AUTH, ...headers },
        body,
      });

      // Assert
      expect(res.status).toBe(status);
    });

    it('when the path is not valid percent-encoding, then DELETE answers 400, not 500', async () => {
      // Act
      const res = await request('DELETE', '/suppressions/%E0%A4%A');

      // Assert
      expect(res.status).toBe(400);
    });
  });

  describe('the admin token', () => {
    it.each([
      ['GET', '/suppressions', undefined],
      ['POST', '/suppressions', { address: 'ada@example.com', reason: 'r' }],
      ['DELETE', '/suppressions/ada%40example.com', undefined],
    ])('when %s %s comes without a token, then it answers 401 and changes nothing', async (method, path, body) => {
      // Act
      const res = await request(method, path, body, {});

      // Assert
      expect(res.status).toBe(401);
      expect(await jsonOf(res)).toMatchObject({ error: 'unauthorized' });
      expect(await query(`SELECT 1 FROM "${schema}".suppressions`)).toEqual([]);
    });

    it.each([
      ['GET', '/suppressions', undefined],
      ['POST', '/suppressions', { address: 'ada@example.com', reason: 'r' }],
      ['DELETE', '/suppressions/ada%40example.com', undefined],
    ])(
      'when ADMIN_TOKEN is not set, then %s %s answers 403 admin_api_disabled, even with a token',
      async (method, path, body) => {
        // Arrange
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
          expect(await query(`SELECT 1 FROM "${schema}".suppressions`)).toEqual([]);
        } finally {
          await tokenless.close();
        }
      },
    );
  });

  describe('suppressedAmong (the port the replay uses)', () => {
    it('when asked about several addresses, then it answers those on the list, as given, by the comparison rule', async () => {
      // Arrange
      await add('Ada@example.com');
      await add('bob@xn--bcher-kva.example');

      // Act
      const suppressed = await running.suppressions.suppressedAmong([
        'Ada@example.com',
        'Ada@EXAMPLE.COM',
        'ada@example.com',
        'bob@bücher.example',
        'carl@example.com',
        'not an address',
      ]);

      // Assert
      expect([...suppressed].sort()).toEqual(['Ada@EXAMPLE.COM', 'Ada@example.com', 'bob@bücher.example']);
    });

    it('when asked about no address, then it answers an empty set', async () => {
      // Act
      const suppressed = await running.suppressions.suppressedAmong([]);

      // Assert
      expect(suppressed.size).toBe(0);
    });
  });
});

describe('suppression-list admin routes when PostgreSQL cannot be reached', () => {
  it.each([
    ['GET', '/suppressions', undefined],
    ['POST', '/suppressions', { address: 'ada@example.com', reason: 'r' }],
    ['DELETE', '/suppressions/ada%40example.com', undefined],
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
