#!/usr/bin/env node
// `npm run dlq -- list|show|replay|job|purge|help …`: the dead-letter admin API from a terminal.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeadLetterDetail, DeadLetterSummary, ReplayJobView, ReplayPreview } from '../../domain/dead-letters';
import {
  call as callAdmin,
  endQuietlyOnClosedStdout,
  fail,
  out,
  request as requestAdmin,
  type ProblemBody,
} from './admin-client';
import { parseDlqArgs, USAGE, type DlqCommand, type FilterOptions } from './dlq-args';

/** How often `replay` and `job` ask for the job's progress. */
const POLL_INTERVAL_MS = 500;
/** How long `replay` and `job` keep asking while the mailer cannot be reached or answers 503 (a restart): the job resumes meanwhile. */
const POLL_PATIENCE_MS = 60_000;

/** How many ids `purge` prints (all with --json). */
const SHOWN_IDS = 50;

type Args<C extends DlqCommand['command']> = Extract<DlqCommand, { command: C }>;

/** A `409` names the replay job already running: say how to follow it. */
const jobHint = (body: ProblemBody): string =>
  body.jobId ? `\nFollow that job with: npm run dlq -- job ${body.jobId}` : '';

/** One request; resolves with the answer or what went wrong (never the token), without exiting. */
const request = (url: string, init: RequestInit, token: string | undefined) => requestAdmin(url, init, token, jobHint);

/** One request whose refusal ends the command (exit 1, the API's message and details on stderr). */
async function call(url: string, init: RequestInit, token: string | undefined): Promise<unknown> {
  return (await callAdmin(url, init, token, jobHint)).body;
}

/** One line per dead letter, its id first (what `show` and the filters take). */
function printLetters(letters: DeadLetterSummary[]): void {
  for (const l of letters) {
    out(
      [
        l.id,
        l.orderId ?? '(no order id)',
        l.reason,
        l.smtpCode ?? '-',
        `attempts=${l.attempts}`,
        l.deadLetteredAt,
        l.state,
        l.error ?? '',
      ]
        .join('  ')
        .trimEnd(),
    );
  }
}

/** The filter as the API names it (query keys and JSON members alike). */
function filterEntries(filter: FilterOptions): [string, string | number][] {
  const entries: [string, string | number | undefined][] = [
    ['reason', filter.reason],
    ['smtpCode', filter.smtpCode],
    ['orderId', filter.orderId],
    ['from', filter.from],
    ['to', filter.to],
  ];
  return entries.filter((e): e is [string, string | number] => e[1] !== undefined);
}

/** The filter as a query string. */
function filterQuery(filter: FilterOptions): URLSearchParams {
  return new URLSearchParams(filterEntries(filter).map(([key, value]): [string, string] => [key, String(value)]));
}

/** The options that gave this page (filters, state, order, limit), to repeat with the next page's cursor. */
function pageOptions(args: Args<'list'>): string {
  const options: [string, string | number | undefined][] = [
    ['--reason', args.reason],
    ['--smtp-code', args.smtpCode],
    ['--order-id', args.orderId],
    ['--from', args.from],
    ['--to', args.to],
    ['--state', args.state],
    ['--order', args.order],
    ['--limit', args.limit],
  ];
  return options
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => ` ${name} ${value}`)
    .join('');
}

/** `20000 dead letter(s): smtp_rejected 19000, invalid_event 1000`, largest first. */
function countsLine(counts: { total: number; byReason: Record<string, number> }): string {
  const reasons = Object.entries(counts.byReason)
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([reason, n]) => `${reason} ${n}`);
  return `${counts.total} dead letter(s)${reasons.length > 0 ? `: ${reasons.join(', ')}` : ''}`;
}

async function list(args: Args<'list'>): Promise<void> {
  const query = filterQuery(args);
  if (args.state !== undefined) query.set('state', args.state);
  if (args.order !== undefined) query.set('order', args.order);
  if (args.cursor !== undefined) query.set('cursor', args.cursor);
  if (args.limit !== undefined) query.set('limit', String(args.limit));
  const body = (await call(`${args.url}/dead-letters?${query}`, {}, args.token)) as {
    deadLetters: DeadLetterSummary[];
    nextCursor: string | null;
    counts: { total: number; byReason: Record<string, number> };
  };
  if (args.json) return out(JSON.stringify(body, null, 2));
  out(countsLine(body.counts));
  printLetters(body.deadLetters);
  if (body.nextCursor) out(`next page: npm run dlq -- list${pageOptions(args)} --cursor ${body.nextCursor}`);
}

/**
 * `properties` with the AMQP `timestamp` (whole seconds since the epoch, as the publisher set it)
 * followed by its ISO 8601 form, which a reader cannot work out in their head.
 */
function withTimestampTime(properties: Record<string, unknown>): Record<string, unknown> {
  const seconds = properties.timestamp;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return properties;
  const time = new Date(seconds * 1000);
  if (Number.isNaN(time.getTime())) return properties;
  return { ...properties, timestamp: `${seconds} (${time.toISOString()})` };
}

/** `key: value` lines, indented, values that are not strings as JSON. */
function printFields(title: string, fields: Record<string, unknown>): void {
  out(`${title}:`);
  const entries = Object.entries(fields);
  if (entries.length === 0) out('  (none)');
  for (const [key, value] of entries) out(`  ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
}

async function show(args: Args<'show'>): Promise<void> {
  const l = (await call(`${args.url}/dead-letters/${args.id}`, {}, args.token)) as DeadLetterDetail;
  if (args.json) return out(JSON.stringify(l, null, 2));
  out(`dead letter ${l.id} (${l.state})`);
  const rows: [string, unknown][] = [
    ['reason', l.reason],
    ['error', l.error],
    // The server's reply starts with its code; the code alone when the reply was not kept.
    ['smtp reply', l.smtpResponse ?? l.smtpCode],
    ['order id', l.orderId],
    ['event id', l.eventId],
    ['message id', l.messageId],
    ['correlation id', l.correlationId],
    ['attempts', l.attempts],
    ['first failure', l.firstFailureAt],
    ['last failure', l.lastFailureAt],
    ['worker', l.workerId],
    ['dead-lettered', l.deadLetteredAt],
    ['recorded', l.recordedAt],
    ['replayed', l.replayedAt && `${l.replayedAt} by job ${l.replayJobId}`],
    ['purged', l.purgedAt && `${l.purgedAt} by ${l.purgedBy}`],
  ];
  for (const [name, value] of rows) if (value !== null && value !== undefined) out(`  ${name.padEnd(16)}${value}`);
  printFields('properties', withTimestampTime(l.properties));
  printFields('headers', l.headers);
  if (l.body.encoding === 'utf8') {
    out(`body (${Buffer.byteLength(l.body.data, 'utf8')} bytes):`);
    out(l.body.data);
  } else {
    out(`body: (base64, ${Buffer.from(l.body.data, 'base64').length} bytes; --json shows it)`);
  }
}

/** `moved X, skipped Y (purged 2), failed Z`. */
function progressOf(job: ReplayJobView): string {
  const skippedBy = Object.entries(job.skipped).filter(([, n]) => n > 0);
  const skipped = skippedBy.reduce((sum, [, n]) => sum + n, 0);
  const why = skippedBy.length > 0 ? ` (${skippedBy.map(([reason, n]) => `${reason} ${n}`).join(', ')})` : '';
  return `moved ${job.moved}, skipped ${skipped}${why}, failed ${job.failed}`;
}

/** `replay job <id> succeeded: moved X, skipped Y, failed Z`, and why it failed if it did. */
function endLine(job: ReplayJobView): string {
  return `replay job ${job.id} ${job.state}: ${progressOf(job)}${job.error ? `: ${job.error}` : ''}`;
}

/** How the job looks now: its end line once it has ended, else its counts so far. */
function stateLine(job: ReplayJobView): string {
  if (job.state !== 'running') return endLine(job);
  return `replay job ${job.id} running: ${progressOf(job)}, pending ${job.pending}`;
}

/**
 * Why following stopped, and that it need not matter: the job lives in the database, not in the
 * mailer that was polled, so any running mailer resumes it and another one can be asked.
 */
function lostTouch(url: string, cause: string, jobId: string): string {
  return (
    `Lost touch with the mailer at ${url} (${cause}) while following replay job ${jobId}; ` +
    'the job goes on: any running mailer resumes it. ' +
    `Follow it with: npm run dlq -- job ${jobId} --url <another mailer's admin URL>`
  );
}

/**
 * Asks for the job every `POLL_INTERVAL_MS` until it has ended, printing a line whenever its
 * counts change (unless --json). A mailer that cannot be reached or answers 503 is asked again
 * for up to `POLL_PATIENCE_MS` (the job survives a restart and is resumed meanwhile); after that
 * it exits 1 saying how to follow the job elsewhere.
 */
async function follow(args: Args<'replay' | 'job'>, started: ReplayJobView): Promise<ReplayJobView> {
  let job = started;
  let shown = progressOf(job);
  let unreachableSince: number | null = null;
  while (job.state === 'running') {
    await sleep(POLL_INTERVAL_MS);
    const answer = await request(`${args.url}/dead-letters/replays/${job.id}`, {}, args.token);
    if (!answer.ok) {
      if (!answer.retryable) fail(answer.problem, 1);
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > POLL_PATIENCE_MS) fail(lostTouch(args.url, answer.cause, job.id), 1);
      continue;
    }
    unreachableSince = null;
    job = answer.body as ReplayJobView;
    const now = progressOf(job);
    if (now !== shown && job.state === 'running' && !args.json) out(`  ${now}, pending ${job.pending}`);
    shown = now;
  }
  return job;
}

/** Prints how the job ended (its JSON with --json); a job that failed makes the exit code 1. */
function printEnd(args: Args<'replay' | 'job'>, job: ReplayJobView): void {
  if (args.json) out(JSON.stringify(job, null, 2));
  else out(endLine(job));
  if (job.state === 'failed') process.exitCode = 1;
}

/**
 * The dry run's line about suppressed recipients, when there are any: without --force, how many
 * would be skipped (and their ids, as the API lists them); with it, how many would be sent anyway.
 */
function suppressedLine(suppressed: ReplayPreview['suppressed'], force: boolean): string | null {
  if (suppressed.count === 0) return null;
  const more = suppressed.count - suppressed.deadLetterIds.length;
  const ids = `${suppressed.deadLetterIds.join(', ')}${more > 0 ? `, … and ${more} more` : ''}`;
  return force
    ? `of which ${suppressed.count} to a suppressed recipient, sent anyway (--force): ${ids}`
    : `skipped as suppressed (recipient on the suppression list; --force sends them): ${ids}`;
}

/** `N dead letter(s) would be replayed`, or, when some would be skipped, how many of each. */
function dryRunCount(preview: ReplayPreview, force: boolean): string {
  const skipped = force ? 0 : preview.suppressed.count;
  if (skipped === 0) return `${preview.matched} dead letter(s) would be replayed`;
  return `${preview.matched} dead letter(s) match: ${preview.matched - skipped} would be replayed, ${skipped} skipped as suppressed`;
}

async function replay(args: Args<'replay'>): Promise<void> {
  const body: Record<string, unknown> = { ...Object.fromEntries(filterEntries(args)), dryRun: args.dryRun };
  if (args.all) body.all = true;
  if (args.force) body.force = true;
  if (args.limit !== undefined) body.limit = args.limit;
  const answer = await call(
    `${args.url}/dead-letters/replay`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    args.token,
  );
  if (args.dryRun) {
    const preview = answer as ReplayPreview;
    if (args.json) return out(JSON.stringify(preview, null, 2));
    out(`dry run: ${dryRunCount(preview, args.force)}`);
    const suppressed = suppressedLine(preview.suppressed, args.force);
    if (suppressed) out(suppressed);
    return printLetters(preview.deadLetters);
  }
  const started = answer as ReplayJobView;
  const forced = started.force ? ' (--force: suppressed recipients are sent to)' : '';
  if (!args.json) out(`replay job ${started.id} started: ${started.matched} dead letter(s)${forced}`);
  if (!args.wait) {
    if (args.json) out(JSON.stringify(started, null, 2));
    else out(`follow it: npm run dlq -- job ${started.id}`);
    return;
  }
  printEnd(args, await follow(args, started));
}

/** A job started earlier (`replay --no-wait`, another terminal, a lost mailer): its state now, then followed like replay's. */
async function job(args: Args<'job'>): Promise<void> {
  const current = (await call(`${args.url}/dead-letters/replays/${args.id}`, {}, args.token)) as ReplayJobView;
  if (!args.wait) {
    out(args.json ? JSON.stringify(current, null, 2) : stateLine(current));
    if (current.state === 'failed') process.exitCode = 1;
    return;
  }
  if (current.state === 'running' && !args.json) out(stateLine(current));
  printEnd(args, await follow(args, current));
}

async function purge(args: Args<'purge'>): Promise<void> {
  const query = filterQuery(args);
  if (args.all) query.set('all', 'true');
  if (args.dryRun) query.set('dryRun', 'true');
  if (args.limit !== undefined) query.set('limit', String(args.limit));
  const body = (await call(`${args.url}/dead-letters?${query}`, { method: 'DELETE' }, args.token)) as {
    dryRun: boolean;
    purged: number;
    ids: string[];
  };
  if (args.json) return out(JSON.stringify(body, null, 2));
  out(body.dryRun ? `dry run: ${body.purged} dead letter(s) would be purged` : `purged ${body.purged} dead letter(s)`);
  if (body.ids.length === 0) return;
  const more = body.ids.length - SHOWN_IDS;
  out(`ids: ${body.ids.slice(0, SHOWN_IDS).join(', ')}${more > 0 ? `, … and ${more} more (--json lists all)` : ''}`);
}

async function main(): Promise<void> {
  endQuietlyOnClosedStdout();
  const args = parseDlqArgs(process.argv.slice(2), process.env);
  switch (args.command) {
    case 'help':
      return out(USAGE.trimEnd());
    case 'usage_error':
      return fail(`${args.message}\n\n${USAGE.trimEnd()}`, 2);
    case 'list':
      return list(args);
    case 'show':
      return show(args);
    case 'replay':
      return replay(args);
    case 'job':
      return job(args);
    case 'purge':
      return purge(args);
  }
}

void main();
