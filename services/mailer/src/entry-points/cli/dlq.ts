#!/usr/bin/env node
// `npm run dlq -- list|replay …`: the dead-letter admin API from a terminal.
import { parseArgs } from 'node:util';

const USAGE = `Usage: npm run dlq -- <command> [options]

Commands:
  list                       show dead letters (not removed from the queue)
      --limit N              how many (default 50)      --offset N   skip the first N
  replay                     move matching dead letters back to the work queue, attempts reset
      --reason R             e.g. smtp_rejected, retries_exhausted, invalid_event
      --smtp-code N          e.g. 550
      --all                  every dead letter
      --dry-run              only show what would move
      --limit N              move at most N

Options:
  --url URL                  mailer admin URL (default $MAILER_ADMIN_URL or http://127.0.0.1:3001)
  --token T                  admin token (default $ADMIN_TOKEN)
  --json                     print the API's JSON answer
`;

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

async function call(url: string, init: RequestInit, token: string | undefined): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), ...(token && { authorization: `Bearer ${token}` }) },
    });
  } catch (err) {
    return fail(`Cannot reach the mailer at ${url}: ${(err as Error).message}`, 1);
  }
  const body = (await res.json().catch(() => ({}))) as {
    message?: string;
    details?: { path: string; message: string }[];
  };
  if (!res.ok) {
    const details = body.details?.map((d) => `\n  ${d.path || '(request)'}: ${d.message}`).join('') ?? '';
    return fail(`HTTP ${res.status}: ${body.message ?? res.statusText}${details}`, 1);
  }
  return body;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        limit: { type: 'string' },
        offset: { type: 'string' },
        reason: { type: 'string' },
        'smtp-code': { type: 'string' },
        all: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        url: { type: 'string' },
        token: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${USAGE}`, 2);
  }
  const { values, positionals } = parsed;
  for (const name of ['limit', 'offset', 'smtp-code'] as const) {
    const value = values[name];
    if (value !== undefined && !/^\d+$/.test(value))
      return fail(`--${name} must be a whole number, got "${value}"\n\n${USAGE}`, 2);
  }
  const command = positionals[0];
  if (values.help || !command) return fail(USAGE, values.help ? 0 : 2);
  const base = (values.url ?? process.env.MAILER_ADMIN_URL ?? 'http://127.0.0.1:3001').replace(/\/$/, '');
  const token = values.token ?? process.env.ADMIN_TOKEN;

  if (command === 'list') {
    const query = new URLSearchParams();
    if (values.limit) query.set('limit', values.limit);
    if (values.offset) query.set('offset', values.offset);
    const body = (await call(`${base}/dead-letters?${query}`, {}, token)) as {
      total: number;
      messages: DeadLetterView[];
    };
    if (values.json) return out(JSON.stringify(body, null, 2));
    out(`${body.total} dead letter(s)`);
    printLetters(body.messages);
    return;
  }
  if (command === 'replay') {
    const request: Record<string, unknown> = { dryRun: values['dry-run'] === true };
    if (values.reason) request.reason = values.reason;
    if (values['smtp-code']) request.smtpCode = Number(values['smtp-code']);
    if (values.all) request.all = true;
    if (values.limit) request.limit = Number(values.limit);
    const body = (await call(
      `${base}/dead-letters/replay`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) },
      token,
    )) as { dryRun: boolean; scanned: number; matched: number; moved: number; messages: DeadLetterView[] };
    if (values.json) return out(JSON.stringify(body, null, 2));
    out(
      body.dryRun
        ? `dry run: ${body.matched} of ${body.scanned} dead letter(s) match; nothing moved`
        : `moved ${body.moved} of ${body.matched} matching dead letter(s) (scanned ${body.scanned})`,
    );
    printLetters(body.messages);
    return;
  }
  fail(`Unknown command "${command}"\n\n${USAGE}`, 2);
}

void main();
