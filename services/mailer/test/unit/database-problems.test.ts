import {
  classifyDatabaseError,
  databaseRetryDelayMs,
  shouldLogProblem,
  type DatabaseProblem,
  type DatabaseVerdict,
} from '../../src/domain/database-problems';
import { describeErrorCause, maskUrlPassword } from '@order-mail/shared/diagnostics';

/** An error shaped like the ones pg and node:net raise (code, and for sockets address and port). */
const errorWith = (message: string, fields: Record<string, unknown> = {}) => Object.assign(new Error(message), fields);

describe('classifyDatabaseError', () => {
  const retry = (problem: DatabaseProblem, userMustFix: boolean) => ({
    problem,
    action: 'retry' as const,
    userMustFix,
  });
  const cases: [string, unknown, Pick<DatabaseVerdict, 'problem' | 'action' | 'userMustFix'>][] = [
    // Gone, late or busy: it goes away by itself, so retry quietly.
    [
      'connection refused (nothing listens)',
      errorWith('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED', address: '127.0.0.1', port: 5432 }),
      retry('unreachable', false),
    ],
    ['connection reset', errorWith('read ECONNRESET', { code: 'ECONNRESET' }), retry('unreachable', false)],
    ['a socket timeout', errorWith('connect ETIMEDOUT', { code: 'ETIMEDOUT' }), retry('unreachable', false)],
    ['no route to the host', errorWith('connect EHOSTUNREACH', { code: 'EHOSTUNREACH' }), retry('unreachable', false)],
    ["pg's connect timeout", errorWith('timeout exceeded when trying to connect'), retry('unreachable', false)],
    ['a connection closed under us', errorWith('Connection terminated unexpectedly'), retry('unreachable', false)],
    [
      'SQLSTATE 08006 connection failure',
      errorWith('connection failure', { code: '08006' }),
      retry('unreachable', false),
    ],
    [
      'SQLSTATE 57P03 the database system is starting up',
      errorWith('the database system is starting up', { code: '57P03' }),
      retry('starting_up', false),
    ],
    [
      'SQLSTATE 57P01 admin shutdown',
      errorWith('terminating connection due to administrator command', { code: '57P01' }),
      retry('shutting_down', false),
    ],
    [
      'SQLSTATE 53300 too many connections',
      errorWith('sorry, too many clients already', { code: '53300' }),
      retry('too_many_connections', false),
    ],
    [
      'SQLSTATE 53200 out of memory',
      errorWith('out of memory', { code: '53200' }),
      retry('too_many_connections', false),
    ],
    [
      'an AggregateError of refused connections (a name with IPv4 and IPv6 addresses)',
      new AggregateError([errorWith('connect ECONNREFUSED ::1:5432', { code: 'ECONNREFUSED' })], ''),
      retry('unreachable', false),
    ],
    // A person must fix it; the fix needs no restart, so keep retrying, but say so as an error.
    [
      'SQLSTATE 3D000 the database does not exist',
      errorWith('database "shop" does not exist', { code: '3D000' }),
      retry('database_missing', true),
    ],
    [
      'SQLSTATE 28P01 password authentication failed',
      errorWith('password authentication failed for user "mailer"', { code: '28P01' }),
      retry('auth_refused', true),
    ],
    [
      'SQLSTATE 28000 role does not exist / pg_hba rejects',
      errorWith('role "nobody" does not exist', { code: '28000' }),
      retry('auth_refused', true),
    ],
    [
      'a password asked for but none in DATABASE_URL',
      errorWith('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'),
      retry('auth_refused', true),
    ],
    [
      'SQLSTATE 42501 no permission to create the schema',
      errorWith('permission denied for database test', { code: '42501' }),
      retry('permission_denied', true),
    ],
    [
      'a host name that does not resolve',
      errorWith('getaddrinfo ENOTFOUND db.internal', { code: 'ENOTFOUND', hostname: 'db.internal' }),
      retry('host_not_found', true),
    ],
    [
      'a migration interrupted by a lost connection (judged by its cause)',
      new Error('Migration 002_x.sql failed: terminating connection due to administrator command', {
        cause: errorWith('terminating connection due to administrator command', { code: '57P01' }),
      }),
      retry('shutting_down', false),
    ],
    // Retrying cannot help: the process exits non-zero.
    [
      'an unparseable URL',
      Object.assign(new TypeError('Invalid URL'), { code: 'ERR_INVALID_URL' }),
      { problem: 'invalid_url', action: 'exit', userMustFix: true },
    ],
    [
      'a migration whose own SQL fails (SQLSTATE 42P07 relation exists)',
      new Error('Migration 001_init.sql failed: relation "deliveries" already exists', {
        cause: errorWith('relation "deliveries" already exists', { code: '42P07' }),
      }),
      { problem: 'other', action: 'exit', userMustFix: false },
    ],
    [
      'a bug (a TypeError without a code)',
      new TypeError('x is not a function'),
      { problem: 'other', action: 'exit', userMustFix: false },
    ],
  ];

  it.each(cases.map(([name, err, expected]) => ({ name, err, expected })))(
    'when the error is $name, then it is $expected.action ($expected.problem)',
    ({ err, expected }) => {
      expect(classifyDatabaseError(err)).toMatchObject(expected);
    },
  );

  it('when any verdict is given, then it comes with a description for the log line', () => {
    for (const [, err] of cases) expect(classifyDatabaseError(err).description).toMatch(/^[a-z].{5,}/);
  });
});

describe('databaseRetryDelayMs', () => {
  it.each([
    [0, 250],
    [1, 500],
    [2, 1000],
    [4, 4000],
    [5, 5000],
    [100, 5000],
  ])('when attempt %i failed, then the next one waits %i ms (doubling, capped at 5 s)', (attempt, expected) => {
    expect(databaseRetryDelayMs(attempt)).toBe(expected);
  });

  it('when a smaller cap is given, then no wait exceeds it', () => {
    expect(databaseRetryDelayMs(10, 1000)).toBe(1000);
  });
});

describe('shouldLogProblem', () => {
  const at = 1_000_000;
  it.each([
    ['nothing was logged yet', null, 'unreachable', at, true],
    ['the same problem was logged 1 s ago', { problem: 'unreachable', at: at - 1000 }, 'unreachable', at, false],
    ['the same problem was logged 59 s ago', { problem: 'unreachable', at: at - 59_000 }, 'unreachable', at, false],
    ['the same problem was logged 60 s ago', { problem: 'unreachable', at: at - 60_000 }, 'unreachable', at, true],
    ['another problem was logged 1 s ago', { problem: 'unreachable', at: at - 1000 }, 'database_missing', at, true],
  ] as const)('when %s, then logging again is %s', (_name, last, problem, now, expected) => {
    expect(shouldLogProblem(last, problem, now)).toBe(expected);
  });
});

describe('maskUrlPassword', () => {
  it.each([
    ['postgres://mailer:s3cret@db:5432/shop', 'postgres://mailer:***@db:5432/shop'],
    ['postgres://postgres@127.0.0.1:5432/test', 'postgres://postgres@127.0.0.1:5432/test'],
    ['postgres://db/shop?user=mailer&password=s3cret', 'postgres://db/shop?user=mailer&password=***'],
    ['postgres://mailer:s3cret@db:notaport/shop', 'postgres://mailer:***@db:notaport/shop'],
  ])('when the URL is %s, then it is logged as %s', (url, expected) => {
    expect(maskUrlPassword(url)).toBe(expected);
    expect(maskUrlPassword(url)).not.toContain('s3cret');
  });
});

describe('describeErrorCause', () => {
  it.each([
    [
      'a refused connection',
      errorWith('connect ECONNREFUSED 127.0.0.1:3001', { code: 'ECONNREFUSED', address: '127.0.0.1', port: 3001 }),
      'ECONNREFUSED 127.0.0.1:3001',
    ],
    [
      'refused on every address of a name',
      new AggregateError([errorWith('x', { code: 'ECONNREFUSED', address: '::1', port: 3001 })], ''),
      'ECONNREFUSED ::1:3001',
    ],
    [
      'a name that does not resolve',
      errorWith('x', { code: 'ENOTFOUND', hostname: 'mailer.internal' }),
      'ENOTFOUND mailer.internal',
    ],
    ['a SQLSTATE', errorWith('x', { code: '3D000' }), '3D000'],
    ['no code', new Error('x'), ''],
  ])('when the error is %s, then the cause reads %p', (_name, err, expected) => {
    expect(describeErrorCause(err)).toBe(expected);
  });
});
