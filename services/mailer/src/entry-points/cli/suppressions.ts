#!/usr/bin/env node
// `npm run suppressions -- list|add|remove|help …`: the suppression list's admin API from a terminal.
import type { Suppression } from '../../domain/suppression';
import { call, endQuietlyOnClosedStdout, fail, out } from './admin-client';
import { parseSuppressionsArgs, USAGE, type SuppressionsCommand } from './suppressions-args';

type Args<C extends SuppressionsCommand['command']> = Extract<SuppressionsCommand, { command: C }>;

/** A suppression as the API's JSON gives it (`createdAt` an ISO 8601 string). */
type SuppressionJson = Omit<Suppression, 'createdAt'> & { createdAt: string };

interface Page {
  suppressions: SuppressionJson[];
  nextCursor: number | null;
}

/** The page size of `list --all` without `--limit`: the API's largest. */
const ALL_PAGE_SIZE = 500;

/** One line per entry, its id first: `id  address  origin  smtpCode  createdAt  createdBy  reason`. */
function printEntries(entries: SuppressionJson[]): void {
  for (const s of entries) {
    out(
      [s.id, s.address ?? '(erased)', s.origin, s.smtpCode ?? '-', s.createdAt, s.createdBy, s.reason]
        .join('  ')
        .trimEnd(),
    );
  }
}

/** `value` as one word for a POSIX shell: as it is when it is safe, else in single quotes. */
function shellWord(value: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The options that gave this page (filters, limit), to repeat with the next page's `--after`. */
function pageOptions(args: Args<'list'>): string {
  const options: [string, string | number | undefined][] = [
    ['--address', args.address],
    ['--domain', args.domain],
    ['--limit', args.limit],
  ];
  return options
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => ` ${name} ${shellWord(String(value))}`)
    .join('');
}

function pageUrl(args: Args<'list'>, after: number | undefined, limit: number | undefined): string {
  const query = new URLSearchParams();
  if (args.address !== undefined) query.set('address', args.address);
  if (args.domain !== undefined) query.set('domain', args.domain);
  if (after !== undefined) query.set('after', String(after));
  if (limit !== undefined) query.set('limit', String(limit));
  return `${args.url}/suppressions?${query}`;
}

/** Every page from `args.after` on, printed as it comes (with --json: all of them in one answer at the end). */
async function listAll(args: Args<'list'>): Promise<void> {
  const limit = args.limit ?? ALL_PAGE_SIZE;
  const all: SuppressionJson[] = [];
  let after = args.after;
  let count = 0;
  for (;;) {
    const page = (await call(pageUrl(args, after, limit), {}, args.token)).body as Page;
    if (args.json) all.push(...page.suppressions);
    else printEntries(page.suppressions);
    count += page.suppressions.length;
    if (page.nextCursor === null) break;
    after = page.nextCursor;
  }
  if (args.json) out(JSON.stringify({ suppressions: all, nextCursor: null }, null, 2));
  else if (count === 0) out('no suppressed address');
}

async function list(args: Args<'list'>): Promise<void> {
  if (args.all) return listAll(args);
  const page = (await call(pageUrl(args, args.after, args.limit), {}, args.token)).body as Page;
  if (args.json) return out(JSON.stringify(page, null, 2));
  if (page.suppressions.length === 0 && args.after === undefined) return out('no suppressed address');
  printEntries(page.suppressions);
  if (page.nextCursor !== null) {
    out(`next page: npm run suppressions -- list${pageOptions(args)} --after ${page.nextCursor}`);
  }
}

async function add(args: Args<'add'>): Promise<void> {
  const answer = await call(
    `${args.url}/suppressions`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ address: args.address, reason: args.reason }),
    },
    args.token,
  );
  const { suppression } = answer.body as { suppression: SuppressionJson };
  if (args.json) return out(JSON.stringify(answer.body, null, 2));
  if (answer.status === 201) return out(`suppressed ${suppression.address} (entry ${suppression.id})`);
  out(
    `already suppressed since ${suppression.createdAt} (entry ${suppression.id}, ${suppression.origin}: ` +
      `${suppression.reason}); the entry is kept as it was`,
  );
}

async function remove(args: Args<'remove'>): Promise<void> {
  const answer = await call(
    `${args.url}/suppressions/${encodeURIComponent(args.address)}`,
    { method: 'DELETE' },
    args.token,
  );
  if (args.json) return out(JSON.stringify(answer.body, null, 2));
  const { address } = answer.body as { address: string };
  out(`removed ${address} from the suppression list: the mailer sends to it again`);
}

async function main(): Promise<void> {
  endQuietlyOnClosedStdout();
  const args = parseSuppressionsArgs(process.argv.slice(2), process.env);
  switch (args.command) {
    case 'help':
      return out(USAGE.trimEnd());
    case 'usage_error':
      return fail(`${args.message}\n\n${USAGE.trimEnd()}`, 2);
    case 'list':
      return list(args);
    case 'add':
      return add(args);
    case 'remove':
      return remove(args);
  }
}

void main();
