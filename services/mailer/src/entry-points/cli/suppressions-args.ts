import { parseArgs } from 'node:util';
import { commonOptions, integerOption, usageError, type CommonOptions, type UsageError } from './admin-cli-args';
import { suppressionDomainOf, suppressionKeyOf, suppressionReasonProblem } from '../../domain/suppression';

/** What `help` prints, and what a usage error is followed by. */
export const USAGE = `Usage: npm run suppressions -- <command> [options]

The suppression list holds the addresses the mailer never sends to: those the SMTP server refused
for good (550, 551, 553 or 5.1.x at RCPT TO) and those added here. An order to a suppressed
address ends "suppressed" without contacting the SMTP server. These commands read and change the
list (table suppressions in the mailer's PostgreSQL) through the mailer's admin API.

Addresses are compared with the domain case-insensitive and in its ASCII form (bücher.example is
xn--bcher-kva.example) and the local part as given: Ada@EXAMPLE.com is Ada@example.com, but not
ada@example.com.

Commands:
  list                       the entries, oldest first, one line each:
                             id  address  origin  smtpCode  createdAt  createdBy  reason
      --address A            only this address
      --domain D             only addresses at this domain (Unicode or ASCII, any case)
      --limit N              how many per page, 1-500 (default 50; with --all 500)
      --after ID             the next page, as the previous page printed it
      --all                  every page, one after the other
  add <address>              suppress an address by hand; one already on the list keeps its entry
      --reason TEXT          why (required): 1-500 characters, one line
  remove <address>           take an address off the list: the mailer sends to it again
  help                       show this text (also --help, -h)

Options:
  --url URL                  mailer admin URL (default $MAILER_ADMIN_URL or http://127.0.0.1:3001)
  --token T                  the mailer's ADMIN_TOKEN (default $ADMIN_TOKEN); the admin API is
                             off (HTTP 403) until the mailer runs with ADMIN_TOKEN set
  --json                     print the API's JSON answer (list --all: every entry in one answer)

Exit codes: 0 done, 1 the mailer could not be reached or refused the request (remove: the address
is not on the list), 2 bad usage.
`;

/** What the command line asks for, once every option is checked; addresses and the domain as given. */
export type SuppressionsCommand =
  | { command: 'help' }
  | UsageError
  | (CommonOptions & {
      command: 'list';
      address?: string;
      domain?: string;
      limit?: number;
      after?: number;
      all: boolean;
    })
  | (CommonOptions & { command: 'add'; address: string; reason: string })
  | (CommonOptions & { command: 'remove'; address: string });

type CommandName = 'list' | 'add' | 'remove';

const COMMON_OPTIONS = ['url', 'token', 'json', 'help'];
const COMMAND_OPTIONS: Record<CommandName, string[]> = {
  list: ['address', 'domain', 'limit', 'after', 'all'],
  add: ['reason'],
  remove: [],
};
const COMMANDS = Object.keys(COMMAND_OPTIONS) as CommandName[];

/** The commands that take an address, and what a line without one is told. */
const ADDRESS_MISSING: Partial<Record<CommandName, string>> = {
  add: 'Give the address to suppress: add <address> --reason TEXT',
  remove: 'Give the address to take off the list: remove <address>',
};

/** Splits the line into options and positionals; throws node's parseArgs error on an unknown or malformed option. */
function readArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      address: { type: 'string' },
      domain: { type: 'string' },
      limit: { type: 'string' },
      after: { type: 'string' },
      all: { type: 'boolean' },
      reason: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

type Values = ReturnType<typeof readArgs>['values'];

/** The command asked for and its positional address (add, remove), if the line names one and every option given belongs to it. */
function commandOf(
  values: Values,
  positionals: string[],
): 'help' | { name: CommandName; address?: string } | UsageError {
  const [command, ...extra] = positionals;
  if (values.help || command === 'help') return 'help';
  const names = `${COMMANDS.join(', ')} or help`;
  if (command === undefined) return usageError(`Give a command: ${names}`);
  if (!(COMMANDS as string[]).includes(command)) return usageError(`Unknown command "${command}": use ${names}`);
  const name = command as CommandName;
  const missing = ADDRESS_MISSING[name];
  const [address, ...more] = missing ? extra : [undefined, ...extra];
  if (more.length > 0) return usageError(`Unexpected argument "${more[0]}"`);
  if (missing && address === undefined) return usageError(missing);
  if (address !== undefined) {
    const key = suppressionKeyOf(address);
    if (!key.ok) return usageError(`${key.message}; got "${address}"`);
  }
  const allowed = new Set([...COMMON_OPTIONS, ...COMMAND_OPTIONS[name]]);
  const misplaced = Object.keys(values).find((option) => !allowed.has(option));
  if (misplaced) return usageError(`--${misplaced} is not an option of ${name}`);
  return { name, address };
}

/** list: each filter checked by the API's own rule (`suppressionKeyOf`, `suppressionDomainOf`), the page options by its ranges. */
function listCommand(values: Values, common: CommonOptions): SuppressionsCommand {
  const { address, domain } = values;
  const key = address === undefined ? undefined : suppressionKeyOf(address);
  if (key && !key.ok) return usageError(`--address: ${key.message}; got "${address}"`);
  const asDomain = domain === undefined ? undefined : suppressionDomainOf(domain);
  if (asDomain && !asDomain.ok) return usageError(`--domain: ${asDomain.message}; got "${domain}"`);
  const limit = integerOption('limit', values.limit, 1, 500);
  if (typeof limit === 'string') return usageError(limit);
  const after = integerOption('after', values.after, 0, Number.MAX_SAFE_INTEGER);
  if (typeof after === 'string') return usageError(after);
  return { command: 'list', ...common, address, domain, limit, after, all: values.all === true };
}

/** add: `--reason` is required and follows the API's rule (1-500 characters, one line, no control characters). */
function addCommand(values: Values, common: CommonOptions, address: string): SuppressionsCommand {
  const { reason } = values;
  if (reason === undefined) return usageError('add needs --reason TEXT: say why the address is suppressed');
  const problem = suppressionReasonProblem(reason);
  if (problem) return usageError(`--reason ${problem}`);
  return { command: 'add', ...common, address, reason };
}

/**
 * Parses and checks `npm run suppressions -- …` arguments (without `node` and the script); `env`
 * supplies `MAILER_ADMIN_URL` and `ADMIN_TOKEN` when `--url` and `--token` are not given. Every
 * value is checked here by the admin API's own rules (addresses by `suppressionKeyOf`, domains by
 * `suppressionDomainOf`, the reason's length and characters, the limit's range), so a typo is a
 * usage error (exit 2) naming the option instead of a request the API refuses. Never throws.
 */
export function parseSuppressionsArgs(argv: string[], env: NodeJS.ProcessEnv = {}): SuppressionsCommand {
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
  if (command.name === 'list') return listCommand(parsed.values, common);
  if (command.name === 'add') return addCommand(parsed.values, common, command.address as string);
  return { command: 'remove', ...common, address: command.address as string };
}
