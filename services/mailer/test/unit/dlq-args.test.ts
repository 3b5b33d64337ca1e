import { encodeCursor, listingScope } from '../../src/domain/dead-letters';
import { DEAD_LETTER_REASON_DESCRIPTIONS } from '../../src/domain/dead-letter-reasons';
import { parseDlqArgs, USAGE } from '../../src/entry-points/cli/dlq-args';

const DEFAULTS = { url: 'http://127.0.0.1:3001', json: false };
const CURSOR = encodeCursor('20012', listingScope({}, 'newest'));
const JOB_ID = '7d1f3a52-0b6e-4c1a-9f0e-3b2d8c4e5a61';

describe('parseDlqArgs', () => {
  describe('when the line is valid', () => {
    it.each([
      ['list', ['list'], { command: 'list', ...DEFAULTS }],
      [
        'list with every filter',
        [
          'list',
          '--reason',
          'smtp_rejected',
          '--smtp-code',
          '550',
          '--order-id',
          'A-1001',
          '--from',
          '2026-11-25T00:00:00Z',
          '--to',
          '2026-11-26T00:00:00+01:00',
        ],
        {
          command: 'list',
          ...DEFAULTS,
          reason: 'smtp_rejected',
          smtpCode: 550,
          orderId: 'A-1001',
          from: '2026-11-25T00:00:00Z',
          to: '2026-11-26T00:00:00+01:00',
        },
      ],
      [
        'list with state, order, cursor, limit and --json',
        ['list', '--state', 'any', '--order', 'oldest', '--cursor', CURSOR, '--limit', '500', '--json'],
        { command: 'list', ...DEFAULTS, json: true, state: 'any', order: 'oldest', cursor: CURSOR, limit: 500 },
      ],
      ['show', ['show', '17'], { command: 'show', ...DEFAULTS, id: '17' }],
      [
        'show --json',
        ['show', '9223372036854775807', '--json'],
        { command: 'show', ...DEFAULTS, json: true, id: '9223372036854775807' },
      ],
      [
        'replay with a reason',
        ['replay', '--reason', 'retries_exhausted'],
        {
          command: 'replay',
          ...DEFAULTS,
          reason: 'retries_exhausted',
          all: false,
          dryRun: false,
          force: false,
          wait: true,
        },
      ],
      [
        'replay --all --dry-run --limit --no-wait',
        ['replay', '--all', '--dry-run', '--limit', '100000', '--no-wait'],
        { command: 'replay', ...DEFAULTS, all: true, dryRun: true, force: false, limit: 100_000, wait: false },
      ],
      [
        'replay --force with an SMTP code',
        ['replay', '--smtp-code', '550', '--force'],
        { command: 'replay', ...DEFAULTS, smtpCode: 550, all: false, dryRun: false, force: true, wait: true },
      ],
      [
        'replay --all --force --dry-run',
        ['replay', '--all', '--force', '--dry-run'],
        { command: 'replay', ...DEFAULTS, all: true, dryRun: true, force: true, wait: true },
      ],
      [
        'replay with an order id and a time range',
        ['replay', '--order-id', 'A-1', '--from', '2026-11-25T18:00:00.5Z'],
        {
          command: 'replay',
          ...DEFAULTS,
          orderId: 'A-1',
          from: '2026-11-25T18:00:00.5Z',
          all: false,
          dryRun: false,
          force: false,
          wait: true,
        },
      ],
      [
        'purge with a code and a dry run',
        ['purge', '--smtp-code', '550', '--dry-run', '--limit', '1'],
        { command: 'purge', ...DEFAULTS, smtpCode: 550, all: false, dryRun: true, limit: 1 },
      ],
      ['purge --all', ['purge', '--all'], { command: 'purge', ...DEFAULTS, all: true, dryRun: false }],
      [
        'purge with a time range only',
        ['purge', '--to', '2026-11-25T00:00:00Z'],
        { command: 'purge', ...DEFAULTS, to: '2026-11-25T00:00:00Z', all: false, dryRun: false },
      ],
      ['job', ['job', JOB_ID], { command: 'job', ...DEFAULTS, id: JOB_ID, wait: true }],
      [
        'job with an upper-case id, --no-wait and --json',
        ['job', JOB_ID.toUpperCase(), '--no-wait', '--json'],
        { command: 'job', ...DEFAULTS, json: true, id: JOB_ID.toUpperCase(), wait: false },
      ],
      ['help', ['help'], { command: 'help' }],
      ['--help', ['--help'], { command: 'help' }],
      ['-h after a command', ['replay', '-h'], { command: 'help' }],
    ])('when it is %s, then it is read as such', (_name, argv, expected) => {
      // Act
      const args = parseDlqArgs(argv);

      // Assert
      expect(args).toEqual(expected);
    });

    it('when --url and --token are not given, then MAILER_ADMIN_URL and ADMIN_TOKEN are used, the URL without its trailing slash', () => {
      // Act
      const args = parseDlqArgs(['list'], {
        MAILER_ADMIN_URL: 'http://mailer.internal:3001/',
        ADMIN_TOKEN: 't'.repeat(32),
      });

      // Assert
      expect(args).toMatchObject({ url: 'http://mailer.internal:3001', token: 't'.repeat(32) });
    });

    it('when --url and --token are given, then they win over the environment', () => {
      // Act
      const args = parseDlqArgs(['show', '1', '--url', 'https://m.example', '--token', 'given-token-0123456'], {
        MAILER_ADMIN_URL: 'http://other:3001',
        ADMIN_TOKEN: 'env-token-0123456789',
      });

      // Assert
      expect(args).toMatchObject({ url: 'https://m.example', token: 'given-token-0123456' });
    });
  });

  describe('when the line is not valid', () => {
    it.each([
      ['no command', [], 'Give a command: list, show, replay, job, purge or help'],
      ['an unknown command', ['peek'], 'Unknown command "peek": use list, show, replay, job, purge or help'],
      ['an extra argument to list', ['list', 'extra'], 'Unexpected argument "extra"'],
      ['show without an id', ['show'], 'Give the id of the dead letter to show: show <id>'],
      ['show with two ids', ['show', '1', '2'], 'Unexpected argument "2"'],
      ['show with an id that is not a number', ['show', 'A-1'], "The id must be a dead letter's id"],
      ['show with id 0', ['show', '0'], "The id must be a dead letter's id"],
      ['job without an id', ['job'], 'Give the id of the replay job to follow: job <id>'],
      ['job with two ids', ['job', JOB_ID, JOB_ID], `Unexpected argument "${JOB_ID}"`],
      [
        'job with an id that is not a UUID',
        ['job', '17'],
        'The id must be a replay job\'s id as replay printed it (a UUID), got "17"',
      ],
      ['job with a UUID cut short', ['job', JOB_ID.slice(0, -1)], "The id must be a replay job's id"],
      ['--all on job', ['job', JOB_ID, '--all'], '--all is not an option of job'],
      ['--reason on job', ['job', JOB_ID, '--reason', 'smtp_rejected'], '--reason is not an option of job'],
      [
        'replay without a filter or --all',
        ['replay'],
        'give a filter (--reason, --smtp-code, --order-id, --from, --to) or --all',
      ],
      [
        'a replay dry run without a filter or --all',
        ['replay', '--dry-run', '--limit', '5'],
        'give a filter (--reason',
      ],
      [
        'purge without a filter or --all',
        ['purge', '--dry-run'],
        'give a filter (--reason, --smtp-code, --order-id, --from, --to) or --all',
      ],
      [
        'replay with --all and a reason',
        ['replay', '--all', '--reason', 'smtp_rejected'],
        '--all cannot be combined with --reason, --smtp-code, --order-id, --from or --to',
      ],
      [
        'purge with --all and a time',
        ['purge', '--all', '--from', '2026-11-25T00:00:00Z'],
        '--all cannot be combined with --reason, --smtp-code, --order-id, --from or --to',
      ],
      ['an unknown option', ['list', '--frobnicate'], "Unknown option '--frobnicate'"],
      ['the removed --offset', ['list', '--offset', '5'], "Unknown option '--offset'"],
      ['--all on list', ['list', '--all'], '--all is not an option of list'],
      ['--cursor on replay', ['replay', '--all', '--cursor', CURSOR], '--cursor is not an option of replay'],
      ['--force on purge', ['purge', '--all', '--force'], '--force is not an option of purge'],
      ['--force on list', ['list', '--force'], '--force is not an option of list'],
      ['--force with a value', ['replay', '--all', '--force=yes'], "Option '--force' does not take an argument"],
      ['--force without a filter or --all', ['replay', '--force'], 'give a filter'],
      ['--no-wait on purge', ['purge', '--all', '--no-wait'], '--no-wait is not an option of purge'],
      ['--state on purge', ['purge', '--all', '--state', 'any'], '--state is not an option of purge'],
      ['--reason on show', ['show', '1', '--reason', 'smtp_rejected'], '--reason is not an option of show'],
      [
        'a misspelt reason',
        ['replay', '--reason', 'smtp-rejected'],
        '--reason must be one of invalid_event, unknown_template',
      ],
      ['a reason in upper case', ['list', '--reason', 'SMTP_REJECTED'], '--reason must be one of'],
      ['an empty reason', ['purge', '--reason', ''], '--reason must be one of'],
      ['a 2-digit SMTP code', ['replay', '--smtp-code', '55'], '--smtp-code must be a 3-digit SMTP reply code'],
      ['an SMTP code of 650', ['list', '--smtp-code', '650'], '--smtp-code must be a 3-digit SMTP reply code'],
      [
        'an SMTP code that is not a number',
        ['purge', '--smtp-code', 'abc'],
        '--smtp-code must be a 3-digit SMTP reply code',
      ],
      ['an order id with a space', ['list', '--order-id', 'A 1'], '--order-id must be an order id'],
      ['an order id of 65 characters', ['replay', '--order-id', 'x'.repeat(65)], '--order-id must be an order id'],
      ['a date without a time', ['list', '--from', '2026-11-25'], '--from must be an ISO 8601 date-time'],
      ['a local time without a zone', ['replay', '--to', '2026-11-25T18:00:00'], '--to must be an ISO 8601 date-time'],
      ['a word for a time', ['purge', '--to', 'yesterday'], '--to must be an ISO 8601 date-time'],
      [
        'an unknown state',
        ['list', '--state', 'lost'],
        '--state must be one of dead, replaying, replayed, purged, any; got "lost"',
      ],
      ['an unknown order', ['list', '--order', 'random'], '--order must be one of newest, oldest; got "random"'],
      ['a cursor list did not print', ['list', '--cursor', 'a+b'], '--cursor must be a cursor as list printed it'],
      ['a list limit of 0', ['list', '--limit', '0'], '--limit must be a whole number from 1 to 500, got "0"'],
      ['a list limit of 501', ['list', '--limit', '501'], '--limit must be a whole number from 1 to 500'],
      ['a list limit with a unit', ['list', '--limit', '10x'], '--limit must be a whole number from 1 to 500'],
      ['a replay limit of 0', ['replay', '--all', '--limit', '0'], '--limit must be a whole number from 1 to 100000'],
      [
        'a purge limit over the maximum',
        ['purge', '--all', '--limit', '100001'],
        '--limit must be a whole number from 1 to 100000',
      ],
      ['a URL that is not http', ['list', '--url', 'ftp://mailer'], '--url must be an http:// or https:// URL'],
      ['an option without its value', ['list', '--reason'], "Option '--reason <value>' argument missing"],
    ])('when it has %s, then it is a usage error saying so', (_name, argv, message) => {
      // Act
      const args = parseDlqArgs(argv);

      // Assert
      expect(args).toEqual({ command: 'usage_error', message: expect.stringContaining(message) });
    });
  });
});

describe('USAGE', () => {
  it('when read, then it lists every command, every option of each, and every documented reason', () => {
    // Assert
    for (const command of ['list', 'show <id>', 'replay', 'job <id>', 'purge', 'help']) {
      expect(USAGE).toContain(`\n  ${command} `);
    }
    for (const option of [
      '--state',
      '--order ',
      '--cursor',
      '--limit',
      '--all',
      '--dry-run',
      '--force',
      '--no-wait',
      '--reason',
      '--smtp-code',
      '--order-id',
      '--from',
      '--to',
      '--url',
      '--token',
      '--json',
    ]) {
      expect(USAGE).toContain(option);
    }
    for (const reason of Object.keys(DEAD_LETTER_REASON_DESCRIPTIONS)) expect(USAGE).toContain(`\n  ${reason} `);
    expect(USAGE).not.toContain('--offset');
  });
});
