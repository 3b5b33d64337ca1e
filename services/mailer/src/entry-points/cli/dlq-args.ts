import { parseArgs } from 'node:util';
import {
  DEAD_LETTER_REASON_DESCRIPTIONS,
  isDeadLetterReason,
  type AnyDeadLetterReason,
} from '../../domain/dead-letter-reasons';

const reasonLines = Object.entries(DEAD_LETTER_REASON_DESCRIPTIONS)
  .map(([reason, meaning]) => `  ${reason.padEnd(19)}${meaning}`)
  .join('\n');

/** What `help` prints, and what a usage error is followed by; the reasons come from `DEAD_LETTER_REASON_DESCRIPTIONS`. */
export const USAGE = `Usage: npm run dlq -- <command> [options]

Commands:
  list                       show dead letters (not removed from the queue)
      --limit N              how many, 1-500 (default 50)
      --offset N             skip the first N, 0-10000 (default 0)
  replay                     move matching dead letters back to the work queue, retry schedule reset;
                             needs --reason and/or --smtp-code, or --all
      --reason R             one of the reasons below
      --smtp-code N          the SMTP reply code, 3 digits, e.g. 550
      --all                  every dead letter (not with --reason or --smtp-code)
      --dry-run              only show what would move
      --limit N              move at most N, 1-100000 (default 10000)
  help                       show this text (also --help, -h)

Options:
  --url URL                  mailer admin URL (default $MAILER_ADMIN_URL or http://127.0.0.1:3001)
  --token T                  the mailer's ADMIN_TOKEN (default $ADMIN_TOKEN); the admin API is
                             off (HTTP 403) until the mailer runs with ADMIN_TOKEN set
  --json                     print the API's JSON answer

Reasons:
${reasonLines}

Exit codes: 0 done, 1 the mailer could not be reached or refused the request, 2 bad usage.
`;

/** The connection options every command takes. */
interface CommonOptions {
  /** The mailer's admin API, without a trailing slash. */
  url: string;
  token?: string;
  json: boolean;
}

type UsageError = { command: 'usage_error'; message: string };

/** What the command line asks for, once every option is checked. */
export type DlqCommand =
  | { command: 'help' }
  | UsageError
  | (CommonOptions & { command: 'list'; limit?: number; offset?: number })
  | (CommonOptions & {
      command: 'replay';
      reason?: AnyDeadLetterReason;
      smtpCode?: number;
      all: boolean;
      dryRun: boolean;
      limit?: number;
    });

const COMMON_OPTIONS = ['url', 'token', 'json', 'help'];
const COMMAND_OPTIONS: Record<'list' | 'replay', string[]> = {
  list: ['limit', 'offset'],
  replay: ['reason', 'smtp-code', 'all', 'dry-run', 'limit'],
};

const usageError = (message: string): UsageError => ({ command: 'usage_error', message });

/** Splits the line into options and positionals; throws node's parseArgs error on an unknown or malformed option. */
function readArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
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
}

type Values = ReturnType<typeof readArgs>['values'];

/** A whole number within [min, max], or an error message naming the option. */
function integerOption(name: string, value: string | undefined, min: number, max: number): number | string | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    return `--${name} must be a whole number from ${min} to ${max}, got "${value}"`;
  return n;
}

/** The command asked for, if the positionals name one and every option given belongs to it. */
function commandOf(values: Values, positionals: string[]): 'help' | 'list' | 'replay' | UsageError {
  const [command, ...extra] = positionals;
  if (values.help || command === 'help') return 'help';
  if (command === undefined) return usageError('Give a command: list, replay or help');
  if (command !== 'list' && command !== 'replay') {
    return usageError(`Unknown command "${command}": use list, replay or help`);
  }
  if (extra.length > 0) return usageError(`Unexpected argument "${extra[0]}"`);
  const allowed = new Set([...COMMON_OPTIONS, ...COMMAND_OPTIONS[command]]);
  const misplaced = Object.keys(values).find((name) => !allowed.has(name));
  if (misplaced) return usageError(`--${misplaced} is not an option of ${command}`);
  return command;
}

function commonOptions(values: Values, env: NodeJS.ProcessEnv): CommonOptions | UsageError {
  const url = (values.url ?? env.MAILER_ADMIN_URL ?? 'http://127.0.0.1:3001').replace(/\/$/, '');
  if (!/^https?:\/\//.test(url) || !URL.canParse(url)) {
    return usageError(`--url must be an http:// or https:// URL, got "${url}"`);
  }
  return { url, token: values.token ?? env.ADMIN_TOKEN, json: values.json === true };
}

function listCommand(values: Values, common: CommonOptions): DlqCommand {
  const limit = integerOption('limit', values.limit, 1, 500);
  const offset = integerOption('offset', values.offset, 0, 10_000);
  for (const v of [limit, offset]) if (typeof v === 'string') return usageError(v);
  return { command: 'list', ...common, limit: limit as number | undefined, offset: offset as number | undefined };
}

function replayCommand(values: Values, common: CommonOptions): DlqCommand {
  const limit = integerOption('limit', values.limit, 1, 100_000);
  if (typeof limit === 'string') return usageError(limit);
  const reason = values.reason;
  if (reason !== undefined && !isDeadLetterReason(reason)) {
    return usageError(
      `--reason must be one of ${Object.keys(DEAD_LETTER_REASON_DESCRIPTIONS).join(', ')}; got "${reason}"`,
    );
  }
  const code = values['smtp-code'];
  if (code !== undefined && !/^[1-5]\d\d$/.test(code)) {
    return usageError(`--smtp-code must be a 3-digit SMTP reply code such as 550, got "${code}"`);
  }
  // Which filters go together is the API's rule (one place); it answers 400 naming the problem.
  return {
    command: 'replay',
    ...common,
    reason,
    smtpCode: code === undefined ? undefined : Number(code),
    all: values.all === true,
    dryRun: values['dry-run'] === true,
    limit,
  };
}

/**
 * Parses and checks `npm run dlq -- …` arguments (without `node` and the script); `env` supplies
 * `MAILER_ADMIN_URL` and `ADMIN_TOKEN` when `--url` and `--token` are not given. Every
 * enumerated value is checked here, against the same lists and ranges as the admin API
 * (reasons: `DEAD_LETTER_REASON_DESCRIPTIONS`; limits: `GET /dead-letters`, `POST /dead-letters/replay`), so a
 * typo is a usage error (exit 2) instead of a request that matches nothing. Which filters may be
 * combined is left to the API, which answers 400 naming the problem. Never throws.
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
  if (typeof command !== 'string') return command;
  const common = commonOptions(parsed.values, env);
  if ('command' in common) return common;
  return command === 'list' ? listCommand(parsed.values, common) : replayCommand(parsed.values, common);
}
