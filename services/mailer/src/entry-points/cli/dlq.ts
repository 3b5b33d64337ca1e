#!/usr/bin/env node
// `npm run dlq -- list|replay|help …`: the dead-letter admin API from a terminal.
import { describeErrorCause } from '@order-mail/shared/diagnostics';
import { parseDlqArgs, USAGE } from './dlq-args';

interface DeadLetterView {
  messageId: string | null;
  orderId: string | null;
  reason: string;
  smtpCode: number | null;
  attempts: number;
  lastFailureAt: string | null;
  error: string | null;
}

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function printLetters(letters: DeadLetterView[]): void {
  for (const l of letters) {
    out(
      [
        l.orderId ?? '(no order id)',
        l.reason,
        l.smtpCode ?? '-',
        `attempts=${l.attempts}`,
        l.lastFailureAt ?? '-',
        l.error ?? '',
      ]
        .join('  ')
        .trimEnd(),
    );
  }
}

/** Why fetch failed, from its cause: `ECONNREFUSED 127.0.0.1:3001`, `ENOTFOUND mailer.internal`, … */
function unreachableCause(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause ?? err;
  return describeErrorCause(cause) || (cause as Error)?.message || String(cause);
}

async function call(url: string, init: RequestInit, token: string | undefined): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), ...(token && { authorization: `Bearer ${token}` }) },
    });
  } catch (err) {
    const base = new URL(url).origin;
    return fail(
      `Cannot reach the mailer at ${base} (${unreachableCause(err)}): is it running? ` +
        'Give its admin URL with --url or MAILER_ADMIN_URL.',
      1,
    );
  }
  const body = (await res.json().catch(() => ({}))) as {
    error?: string;
    message?: string;
    details?: { path: string; message: string }[];
  };
  if (!res.ok) {
    const details = body.details?.map((d) => `\n  ${d.path || '(request)'}: ${d.message}`).join('') ?? '';
    return fail(`HTTP ${res.status}: ${body.message ?? res.statusText}${details}${authHint(body.error, token)}`, 1);
  }
  return body;
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

async function main(): Promise<void> {
  const args = parseDlqArgs(process.argv.slice(2), process.env);
  if (args.command === 'help') return out(USAGE.trimEnd());
  if (args.command === 'usage_error') return fail(`${args.message}\n\n${USAGE.trimEnd()}`, 2);

  if (args.command === 'list') {
    const query = new URLSearchParams();
    if (args.limit !== undefined) query.set('limit', String(args.limit));
    if (args.offset !== undefined) query.set('offset', String(args.offset));
    const body = (await call(`${args.url}/dead-letters?${query}`, {}, args.token)) as {
      total: number;
      messages: DeadLetterView[];
    };
    if (args.json) return out(JSON.stringify(body, null, 2));
    out(`${body.total} dead letter(s)`);
    printLetters(body.messages);
    return;
  }
  const request: Record<string, unknown> = { dryRun: args.dryRun };
  if (args.reason !== undefined) request.reason = args.reason;
  if (args.smtpCode !== undefined) request.smtpCode = args.smtpCode;
  if (args.all) request.all = true;
  if (args.limit !== undefined) request.limit = args.limit;
  const body = (await call(
    `${args.url}/dead-letters/replay`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) },
    args.token,
  )) as { dryRun: boolean; scanned: number; matched: number; moved: number; messages: DeadLetterView[] };
  if (args.json) return out(JSON.stringify(body, null, 2));
  out(
    body.dryRun
      ? `dry run: ${body.matched} of ${body.scanned} dead letter(s) match; nothing moved`
      : `moved ${body.moved} of ${body.matched} matching dead letter(s) (scanned ${body.scanned})`,
  );
  printLetters(body.messages);
}

void main();
