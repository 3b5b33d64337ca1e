import { describeErrorCause } from '@order-mail/shared/diagnostics';

// How an admin CLI talks to the mailer's admin API and ends: the same requests, messages and exit
// codes as `npm run dlq` (dlq.ts), for `npm run suppressions`.

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

interface ProblemBody {
  error?: string;
  message?: string;
  details?: { path: string; message: string }[];
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
 * One request to the admin API with the token as `Authorization: Bearer`; resolves with the
 * answer's status and JSON body when it is a 2xx. Anything else ends the process with exit 1 and
 * what went wrong on stderr, never the token:
 * - unreachable: `Cannot reach the mailer at <origin> (<cause>): is it running? …`;
 * - refused: `HTTP <status>: <message>`, one line per `details[]` entry (`  <path>: <message>`),
 *   and for a 401 or 403 what to do about the token.
 */
export async function call(
  url: string,
  init: RequestInit,
  token: string | undefined,
): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), ...(token && { authorization: `Bearer ${token}` }) },
    });
  } catch (err) {
    return fail(
      `Cannot reach the mailer at ${new URL(url).origin} (${unreachableCause(err)}): is it running? ` +
        'Give its admin URL with --url or MAILER_ADMIN_URL.',
      1,
    );
  }
  const body = (await res.json().catch(() => ({}))) as ProblemBody;
  if (res.ok) return { status: res.status, body };
  const details = body.details?.map((d) => `\n  ${d.path || '(request)'}: ${d.message}`).join('') ?? '';
  return fail(`HTTP ${res.status}: ${body.message ?? res.statusText}${details}${authHint(body.error, token)}`, 1);
}

/**
 * A reader that has closed its end (`npm run suppressions -- list | head -1`) needs nothing more:
 * stop quietly instead of dying on the write error with a stack trace.
 */
export function endQuietlyOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}
