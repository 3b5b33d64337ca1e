import { parseArgs } from 'node:util';
import { z } from 'zod';
import { orderSchema } from '@order-mail/shared/contract';
import {
  DEAD_LETTER_REASON_DESCRIPTIONS,
  isDeadLetterReason,
  type AnyDeadLetterReason,
} from '../../domain/dead-letter-reasons';
import { DEAD_LETTER_STATES, type DeadLetterState, type ListOrder } from '../../domain/dead-letters';
import { commonOptions, integerOption, usageError, type CommonOptions, type UsageError } from './admin-cli-args';

const reasonLines = Object.entries(DEAD_LETTER_REASON_DESCRIPTIONS)
  .map(([reason, meaning]) => `  ${reason.padEnd(19)}${meaning}`)
  .join('\n');

/** What `help` prints, and what a usage error is followed by; the reasons come from `DEAD_LETTER_REASON_DESCRIPTIONS`. */
export const USAGE = `Usage: npm run dlq -- <command> [options]

Dead letters are recorded in the mailer's PostgreSQL (table dead_letters); these commands read
and change that record through the mailer's admin API.

Commands:
  list                       list dead letters, newest first: a line of counts by reason, then
                             one line per dead letter starting with its id
      --state S              dead (default: waiting), replaying, replayed, purged or any
      --order O              newest (default) or oldest first
      --limit N              how many per page, 1-500 (default 50)
      --cursor C             the next page, as the previous page printed it (same filters)
  show <id>                  one dead letter: its fields, properties, headers and body
  replay                     move matching dead letters back to the work queue as a replay job
                             (retry schedule reset), then follow the job until it ends;
                             needs a filter (--reason, --smtp-code, --order-id, --from, --to)
                             or --all
      --all                  every dead letter (not with a filter)
      --dry-run              only list what would move, and which of them would be skipped
                             because their recipient is suppressed; nothing moves
      --force                send even to suppressed recipients (otherwise their dead letters
                             are skipped as suppressed and stay dead)
      --limit N              move at most N (oldest first), 1-100000 (default 10000)
      --no-wait              print the job id and return at once (the job goes on; follow it
                             with: job <id>)
  job <id>                   follow a replay job (its id, a UUID, as replay printed it) until it
                             ends, as replay does; any mailer sharing the database knows it
      --no-wait              print its state once and return
  purge                      drop matching dead letters (state purged: never replayed, deleted
                             after DEAD_LETTER_RETENTION_DAYS); needs a filter (--reason,
                             --smtp-code, --order-id, --from, --to) or --all
      --all                  every dead letter (not with a filter)
      --dry-run              only count what would be purged; nothing changes
      --limit N              purge at most N (oldest first), 1-100000 (default 10000)
  help                       show this text (also --help, -h)

Filters (list, replay, purge; every one given must match):
  --reason R                 one of the reasons below
  --smtp-code N              the SMTP reply code, 3 digits, e.g. 550
  --order-id ID              the order's id
  --from T, --to T           dead-lettered at or after T, before T: ISO 8601 date-times with
                             seconds and a zone, e.g. 2026-11-25T18:00:00Z

Options:
  --url URL                  mailer admin URL (default $MAILER_ADMIN_URL or http://127.0.0.1:3001)
  --token T                  the mailer's ADMIN_TOKEN (default $ADMIN_TOKEN); the admin API is
                             off (HTTP 403) until the mailer runs with ADMIN_TOKEN set
  --json                     print the API's JSON answer (replay, job: the job as it ended)

Reasons:
${reasonLines}

Exit codes: 0 done, 1 the mailer could not be reached or refused the request, or the replay job
failed (or could not be followed to its end: it goes on), 2 bad usage.
`;

/** The filter options of list, replay and purge, checked; `from`/`to` as given (ISO 8601). */
export interface FilterOptions {
  reason?: AnyDeadLetterReason;
  smtpCode?: number;
  orderId?: string;
  from?: string;
  to?: string;
}

/** What the command line asks for, once every option is checked. */
export type DlqCommand =
  | { command: 'help' }
  | UsageError
  | (CommonOptions &
      FilterOptions & {
        command: 'list';
        state?: DeadLetterState | 'any';
        order?: ListOrder;
        /** As given (a cursor `list` printed); checked to be one. */
        cursor?: string;
        limit?: number;
      })
  | (CommonOptions & { command: 'show'; id: string })
  | (CommonOptions & { command: 'job'; id: string; wait: boolean })
  | (CommonOptions &
      FilterOptions & {
        command: 'replay';
        all: boolean;
        dryRun: boolean;
        /** `--force`: send even to suppressed recipients. */
        force: boolean;
        limit?: number;
        wait: boolean;
      })
  | (CommonOptions & FilterOptions & { command: 'purge'; all: boolean; dryRun: boolean; limit?: number });

type CommandName = 'list' | 'show' | 'replay' | 'job' | 'purge';

const COMMON_OPTIONS = ['url', 'token', 'json', 'help'];
const FILTER_OPTIONS = ['reason', 'smtp-code', 'order-id', 'from', 'to'];
const COMMAND_OPTIONS: Record<CommandName, string[]> = {
  list: [...FILTER_OPTIONS, 'state', 'order', 'cursor', 'limit'],
  show: [],
  replay: [...FILTER_OPTIONS, 'all', 'dry-run', 'force', 'limit', 'no-wait'],
  job: ['no-wait'],
  purge: [...FILTER_OPTIONS, 'all', 'dry-run', 'limit'],
};
const COMMANDS = Object.keys(COMMAND_OPTIONS) as CommandName[];

/** A replay job's id: the admin API's own rule for `GET /dead-letters/replays/:id` (any case). */
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The commands that take an id, what it is called in the usage error, and its rule. */
const ID_RULES: Partial<Record<CommandName, { missing: string; pattern: RegExp; wrong: string }>> = {
  show: {
    missing: 'Give the id of the dead letter to show: show <id>',
    pattern: /^[1-9][0-9]{0,18}$/,
    wrong: "The id must be a dead letter's id as list prints it (a whole number)",
  },
  job: {
    missing: 'Give the id of the replay job to follow: job <id>',
    pattern: JOB_ID,
    wrong: "The id must be a replay job's id as replay printed it (a UUID)",
  },
};

/** Splits the line into options and positionals; throws node's parseArgs error on an unknown or malformed option. */
function readArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      reason: { type: 'string' },
      'smtp-code': { type: 'string' },
      'order-id': { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      state: { type: 'string' },
      order: { type: 'string' },
      cursor: { type: 'string' },
      limit: { type: 'string' },
      all: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      force: { type: 'boolean' },
      'no-wait': { type: 'boolean' },
      url: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

type Values = ReturnType<typeof readArgs>['values'];

/** One of `choices`, or an error message naming the option and them. */
function choiceOption<T extends string>(
  name: string,
  value: string | undefined,
  choices: readonly T[],
): T | UsageError {
  if (value === undefined || (choices as readonly string[]).includes(value)) return value as T;
  return usageError(`--${name} must be one of ${choices.join(', ')}; got "${value}"`);
}

/** The command asked for and its positional id (show, job), if the line names one and every option given belongs to it. */
function commandOf(values: Values, positionals: string[]): 'help' | { name: CommandName; id?: string } | UsageError {
  const [command, ...extra] = positionals;
  if (values.help || command === 'help') return 'help';
  const names = `${COMMANDS.join(', ')} or help`;
  if (command === undefined) return usageError(`Give a command: ${names}`);
  if (!(COMMANDS as string[]).includes(command)) return usageError(`Unknown command "${command}": use ${names}`);
  const name = command as CommandName;
  const idRule = ID_RULES[name];
  const [id, ...more] = idRule ? extra : [undefined, ...extra];
  if (more.length > 0) return usageError(`Unexpected argument "${more[0]}"`);
  if (idRule && id === undefined) return usageError(idRule.missing);
  if (idRule && id !== undefined && !idRule.pattern.test(id)) return usageError(`${idRule.wrong}, got "${id}"`);
  const allowed = new Set([...COMMON_OPTIONS, ...COMMAND_OPTIONS[name]]);
  const misplaced = Object.keys(values).find((option) => !allowed.has(option));
  if (misplaced) return usageError(`--${misplaced} is not an option of ${name}`);
  return { name, id };
}

/** A date-time as the API takes it (`z.iso.datetime` with a zone), or an error message naming the option. */
function dateTimeProblem(name: string, value: string | undefined): string | undefined {
  if (value === undefined || z.iso.datetime({ offset: true }).safeParse(value).success) return undefined;
  return `--${name} must be an ISO 8601 date-time with seconds and a zone, e.g. 2026-11-25T18:00:00Z; got "${value}"`;
}

/**
 * The filter options, each checked against the API's own rule (reasons, SMTP codes 100-599, the
 * order schema's order ids, ISO 8601 date-times), or the first problem.
 */
function filterOptions(values: Values): FilterOptions | UsageError {
  const { reason, 'smtp-code': code, 'order-id': orderId, from, to } = values;
  if (reason !== undefined && !isDeadLetterReason(reason)) {
    return usageError(
      `--reason must be one of ${Object.keys(DEAD_LETTER_REASON_DESCRIPTIONS).join(', ')}; got "${reason}"`,
    );
  }
  if (code !== undefined && !/^[1-5]\d\d$/.test(code)) {
    return usageError(`--smtp-code must be a 3-digit SMTP reply code such as 550, got "${code}"`);
  }
  if (orderId !== undefined && !orderSchema.shape.orderId.safeParse(orderId).success) {
    return usageError(`--order-id must be an order id: 1-64 letters, digits, "-" or "_"; got "${orderId}"`);
  }
  const timeProblem = dateTimeProblem('from', from) ?? dateTimeProblem('to', to);
  if (timeProblem) return usageError(timeProblem);
  return { reason, smtpCode: code === undefined ? undefined : Number(code), orderId, from, to };
}

function listCommand(values: Values, common: CommonOptions, filter: FilterOptions): DlqCommand {
  const limit = integerOption('limit', values.limit, 1, 500);
  if (typeof limit === 'string') return usageError(limit);
  const state = choiceOption('state', values.state, [...DEAD_LETTER_STATES, 'any'] as const);
  if (typeof state === 'object') return state;
  const order = choiceOption('order', values.order, ['newest', 'oldest'] as const);
  if (typeof order === 'object') return order;
  const cursor = values.cursor;
  // Whether it belongs to this listing (same filters and order) is the API's check; it names the cursor.
  if (cursor !== undefined && !/^[A-Za-z0-9_-]{1,60}$/.test(cursor)) {
    return usageError(`--cursor must be a cursor as list printed it ("next page: …"), got "${cursor}"`);
  }
  return { command: 'list', ...common, ...filter, state, order, cursor, limit };
}

/**
 * replay and purge: a filter or --all, never both nor neither (the API's rule, checked here so that
 * the problem is told in the CLI's flags rather than the API's JSON field names).
 */
function changeCommand(
  name: 'replay' | 'purge',
  values: Values,
  common: CommonOptions,
  filter: FilterOptions,
): DlqCommand {
  const filtered = Object.values(filter).some((value) => value !== undefined);
  if (!filtered && values.all !== true) {
    return usageError('give a filter (--reason, --smtp-code, --order-id, --from, --to) or --all');
  }
  if (filtered && values.all === true) {
    return usageError('--all cannot be combined with --reason, --smtp-code, --order-id, --from or --to');
  }
  const limit = integerOption('limit', values.limit, 1, 100_000);
  if (typeof limit === 'string') return usageError(limit);
  const change = { ...common, ...filter, all: values.all === true, dryRun: values['dry-run'] === true, limit };
  return name === 'replay'
    ? { command: 'replay', ...change, force: values.force === true, wait: values['no-wait'] !== true }
    : { command: 'purge', ...change };
}

/**
 * Parses and checks `npm run dlq -- …` arguments (without `node` and the script); `env` supplies
 * `MAILER_ADMIN_URL` and `ADMIN_TOKEN` when `--url` and `--token` are not given. Every
 * enumerated value is checked here, against the same lists and ranges as the admin API
 * (reasons: `DEAD_LETTER_REASON_DESCRIPTIONS`; states; limits of `GET /dead-letters`,
 * `POST /dead-letters/replay` and `DELETE /dead-letters`; cursors), so a typo is a usage error
 * (exit 2) naming the option instead of a request that matches nothing; so is replay or purge
 * with neither a filter nor `--all`, or with both (the API's rule, in the CLI's flags), and a
 * job id that is not a UUID. Never throws.
 */
export function parseDlqArgs(argv: string[], env: NodeJS.ProcessEnv = {}): DlqCommand {
  let parsed;
  try {
    parsed = readArgs(argv);
  } catch (err) {
    return usageError((err as Error).message);
  }
  const command = commandOf(parsed.values, parsed.positionals);
  if (command === 'help') return { command };
  if ('command' in command) return command;
  const common = commonOptions(parsed.values, env);
  if ('command' in common) return common;
  if (command.name === 'show') return { command: 'show', ...common, id: command.id as string };
  if (command.name === 'job') {
    return { command: 'job', ...common, id: command.id as string, wait: parsed.values['no-wait'] !== true };
  }
  const filter = filterOptions(parsed.values);
  if ('command' in filter) return filter;
  return command.name === 'list'
    ? listCommand(parsed.values, common, filter)
    : changeCommand(command.name, parsed.values, common, filter);
}
