import { describeErrorCause } from '@order-mail/shared/diagnostics';

// How the admin CLIs (`npm run dlq`, `npm run suppressions`) talk to the mailer's admin API and
// end: one set of requests, messages and exit codes for both.

/** Prints one line on stdout. */
export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Prints `message` on stderr and exits with `code` (1 a refused or failed request, 2 bad usage). */
export function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

/** Why fetch failed, from its cause: `ECONNREFUSED 127.0.0.1:3001`, `ENOTFOUND mailer.internal`, … */
function unreachableCause(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause ?? err;
  return describeErrorCause(cause) || (cause as Error)?.message || String(cause);
}

/** An error answer of the admin API (`{ error, message, details[] }`, plus route-specific members). */
export interface ProblemBody {
  error?: string;
  message?: string;
  details?: { path: string; message: string }[];
  /** The running replay job a `409` names. */
  jobId?: string;
}

/** What to do about a refused token, after the API's own message; never shows the token. */
function authHint(error: string | undefined, token: string | undefined): string {
  if (error === 'admin_api_disabled') {
    return (
      '\nThe mailer was started without ADMIN_TOKEN. Restart it with ADMIN_TOKEN set (e.g. to the output of ' +
      '`openssl rand -hex 32`), then give the same token here with --token or ADMIN_TOKEN.'
    );
  }
  if (error === 'unauthorized') {
    return token
      ? "\nThe token given (--token or ADMIN_TOKEN) is not the mailer's ADMIN_TOKEN."
      : "\nNo token was given: pass the mailer's ADMIN_TOKEN with --token or set ADMIN_TOKEN.";
  }
  return '';
}

/**
 * A refusal or failure carries the whole `problem` (what to print) and, when asking again may
 * help (unreachable, 503), its short `cause` (`ECONNREFUSED 127.0.0.1:3001`, `HTTP 503: …`).
 */
export type Answer =
  { ok: true; status: number; body: unknown } | { ok: false; problem: string; retryable: boolean; cause: string };

/**
 * One request to the admin API with the token as `Authorization: Bearer`; resolves with the
 * answer or what went wrong, never the token, without exiting:
 * - unreachable: `Cannot reach the mailer at <origin> (<cause>): is it running? …` (retryable);
 * - refused: `HTTP <status>: <message>`, one line per `details[]` entry (`  <path>: <message>`),
 *   `hint(body)` (a command's own advice, e.g. which job to follow), and for a 401 or 403 what to
 *   do about the token (retryable for a 503).
 */
export async function request(
  url: string,
  init: RequestInit,
  token: string | undefined,
  hint: (body: ProblemBody) => string = () => '',
): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch(url, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), ...(token && { authorization: `Bearer ${token}` }) },
    });
  } catch (err) {
    const cause = unreachableCause(err);
    return {
      ok: false,
      retryable: true,
      cause,
      problem:
        `Cannot reach the mailer at ${new URL(url).origin} (${cause}): is it running? ` +
        'Give its admin URL with --url or MAILER_ADMIN_URL.',
    };
  }
  const body = (await res.json().catch(() => ({}))) as ProblemBody;
  if (res.ok) return { ok: true, status: res.status, body };
  const cause = `HTTP ${res.status}: ${body.message ?? res.statusText}`;
  const details = body.details?.map((d) => `\n  ${d.path || '(request)'}: ${d.message}`).join('') ?? '';
  const problem = `${cause}${details}${hint(body)}${authHint(body.error, token)}`;
  return { ok: false, retryable: res.status === 503, cause, problem };
}

/** `request`, whose refusal ends the command: exit 1 with the problem on stderr. */
export async function call(
  url: string,
  init: RequestInit,
  token: string | undefined,
  hint?: (body: ProblemBody) => string,
): Promise<{ status: number; body: unknown }> {
  const answer = await request(url, init, token, hint);
  if (!answer.ok) return fail(answer.problem, 1);
  return { status: answer.status, body: answer.body };
}

/**
 * A reader that has closed its end (`npm run dlq -- list | head -1`) needs nothing more:
 * stop quietly instead of dying on the write error with a stack trace.
 */
export function endQuietlyOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}
