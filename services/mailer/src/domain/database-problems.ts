/**
 * What to do when the ledger's PostgreSQL cannot be used at start-up (connecting, or applying the
 * migrations), decided from the error alone so that it can be table-tested.
 *
 * Rule: the mailer never consumes before its migrations are applied, and it keeps retrying every
 * problem that can go away without a restart, so that it picks up a database that is late, still
 * starting, or created (or fixed) after the mailer started:
 * - the server cannot be reached or is busy (ECONNREFUSED, timeouts, SQLSTATE 08xxx, 53xxx, 57P0x):
 *   retried, logged as a warning;
 * - something a person must fix (3D000 the database does not exist, 28P01/28000 credentials or
 *   role refused, 42501 no permission, a host name that does not resolve): still retried (the fix
 *   needs no restart), but logged as an error naming DATABASE_URL;
 * - an unusable DATABASE_URL (ERR_INVALID_URL) or anything else (a migration that fails on its own
 *   SQL, a bug): retrying cannot help, the process exits non-zero.
 *
 * SQLSTATE codes: https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export type DatabaseProblem =
  | 'unreachable'
  | 'starting_up'
  | 'shutting_down'
  | 'too_many_connections'
  | 'host_not_found'
  | 'database_missing'
  | 'auth_refused'
  | 'permission_denied'
  | 'invalid_url'
  | 'other';

export interface DatabaseVerdict {
  problem: DatabaseProblem;
  /** `retry`: wait (with backoff) and try again, forever; `exit`: the process cannot go on. */
  action: 'retry' | 'exit';
  /** True when a person must change DATABASE_URL or the server: logged as an error, not a warning. */
  userMustFix: boolean;
  /** A phrase for the log line, e.g. `the database does not exist`. */
  description: string;
}

const VERDICTS: Record<DatabaseProblem, Omit<DatabaseVerdict, 'problem'>> = {
  unreachable: { action: 'retry', userMustFix: false, description: 'the server cannot be reached' },
  starting_up: { action: 'retry', userMustFix: false, description: 'the server is starting up' },
  shutting_down: { action: 'retry', userMustFix: false, description: 'the server is shutting down' },
  too_many_connections: {
    action: 'retry',
    userMustFix: false,
    description: 'the server has no connection slot or resources left',
  },
  host_not_found: { action: 'retry', userMustFix: true, description: 'the host name does not resolve' },
  database_missing: { action: 'retry', userMustFix: true, description: 'the database does not exist' },
  auth_refused: { action: 'retry', userMustFix: true, description: 'the server refused the user or password' },
  permission_denied: {
    action: 'retry',
    userMustFix: true,
    description: 'the user may not create the schema or its tables',
  },
  invalid_url: { action: 'exit', userMustFix: true, description: 'it is not a valid postgres:// URL' },
  other: { action: 'exit', userMustFix: false, description: 'an unexpected database error' },
};

/** Exact error codes: node:net's and DNS's (`E…`), pg's URL check, and SQLSTATEs (see the header). */
const PROBLEM_BY_CODE = new Map<string, DatabaseProblem>([
  ...['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EPIPE'].map(
    (code) => [code, 'unreachable'] as const,
  ),
  ['ENOTFOUND', 'host_not_found'],
  ['EAI_AGAIN', 'host_not_found'],
  ['ERR_INVALID_URL', 'invalid_url'],
  ['3D000', 'database_missing'],
  ['28P01', 'auth_refused'],
  ['28000', 'auth_refused'],
  ['42501', 'permission_denied'],
  ['57P03', 'starting_up'],
  ['57P01', 'shutting_down'],
  ['57P02', 'shutting_down'],
]);

/** SQLSTATE classes: 53 insufficient resources, 08 connection exception. */
const PROBLEM_BY_CODE_CLASS: readonly (readonly [string, DatabaseProblem])[] = [
  ['53', 'too_many_connections'],
  ['08', 'unreachable'],
];

const PROBLEM_BY_MESSAGE: readonly (readonly [RegExp, DatabaseProblem])[] = [
  // pg's own connect timeout and a socket closed under it carry no code, only these messages.
  [/timeout exceeded when trying to connect|Connection terminated/i, 'unreachable'],
  // The server asked for a password and DATABASE_URL has none (pg's SASL client says so).
  [/SASL|client password must be a string/i, 'auth_refused'],
];

function problemOfCode(code: unknown): DatabaseProblem | undefined {
  if (typeof code !== 'string') return undefined;
  return PROBLEM_BY_CODE.get(code) ?? PROBLEM_BY_CODE_CLASS.find(([prefix]) => code.startsWith(prefix))?.[1];
}

function problemOf(err: unknown): DatabaseProblem {
  const message = (err as Error | null)?.message ?? '';
  const known =
    problemOfCode((err as { code?: unknown } | null)?.code) ??
    PROBLEM_BY_MESSAGE.find(([pattern]) => pattern.test(message))?.[1];
  if (known) return known;
  // A host name with several addresses (IPv4 and IPv6) fails with one error per address.
  if (err instanceof AggregateError && err.errors.length > 0) return problemOf(err.errors[0]);
  return 'other';
}

/**
 * The verdict for an error met while connecting to the ledger's database or migrating it.
 * A migration's wrapper error is judged by its `cause` when it has one: a connection lost in the
 * middle of a migration is as retryable as one lost before it.
 */
export function classifyDatabaseError(err: unknown): DatabaseVerdict {
  let problem = problemOf(err);
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (problem === 'other' && cause !== undefined) problem = problemOf(cause);
  return { problem, ...VERDICTS[problem] };
}

/**
 * Wait before start-up attempt `attempt + 1` (attempt 0 is the first failure): 250 ms doubling
 * to at most `maxMs` (default 5 s, as the broker connection's backoff).
 */
export function databaseRetryDelayMs(attempt: number, maxMs = 5000): number {
  return Math.min(maxMs, 250 * 2 ** Math.max(0, Math.min(attempt, 20)));
}

/** The last problem that was logged and when (epoch ms). */
export interface LoggedProblem {
  problem: DatabaseProblem;
  at: number;
}

/**
 * Whether a failed attempt is worth a log line, so a long outage logs at a bounded rate: a
 * problem is logged when it first appears or changes, then again at most every `reminderMs`.
 */
export function shouldLogProblem(
  last: LoggedProblem | null,
  problem: DatabaseProblem,
  now: number,
  reminderMs = 60_000,
): boolean {
  return last === null || last.problem !== problem || now - last.at >= reminderMs;
}
