import { parseSuppressionsArgs, USAGE } from '../../src/entry-points/cli/suppressions-args';

const DEFAULTS = { url: 'http://127.0.0.1:3001', json: false };

describe('parseSuppressionsArgs', () => {
  describe('when the line is valid', () => {
    it.each([
      ['list', ['list'], { command: 'list', ...DEFAULTS, all: false }],
      [
        'list by address (as given)',
        ['list', '--address', 'Ada@EXAMPLE.com'],
        { command: 'list', ...DEFAULTS, address: 'Ada@EXAMPLE.com', all: false },
      ],
      [
        'list by a Unicode domain (as given)',
        ['list', '--domain', 'Bücher.Example'],
        { command: 'list', ...DEFAULTS, domain: 'Bücher.Example', all: false },
      ],
      [
        'list with --limit, --after, --all and --json',
        ['list', '--limit', '500', '--after', '9007199254740991', '--all', '--json'],
        { command: 'list', ...DEFAULTS, json: true, limit: 500, after: Number.MAX_SAFE_INTEGER, all: true },
      ],
      ['list after 0', ['list', '--after', '0'], { command: 'list', ...DEFAULTS, after: 0, all: false }],
      [
        'add',
        ['add', 'Ada@example.com', '--reason', 'asked by phone'],
        { command: 'add', ...DEFAULTS, address: 'Ada@example.com', reason: 'asked by phone' },
      ],
      [
        'add with the reason first and a Unicode domain',
        ['add', '--reason', 'x'.repeat(500), 'ada@bücher.example'],
        { command: 'add', ...DEFAULTS, address: 'ada@bücher.example', reason: 'x'.repeat(500) },
      ],
      [
        'add with an emoji in the reason and --json',
        ['add', 'ada@example.com', '--reason', 'complained 📧', '--json'],
        { command: 'add', ...DEFAULTS, json: true, address: 'ada@example.com', reason: 'complained 📧' },
      ],
      ['remove', ['remove', 'Ada@example.com'], { command: 'remove', ...DEFAULTS, address: 'Ada@example.com' }],
      [
        'remove an address with a "/"',
        ['remove', 'sales/eu@example.com'],
        { command: 'remove', ...DEFAULTS, address: 'sales/eu@example.com' },
      ],
      ['help', ['help'], { command: 'help' }],
      ['--help', ['--help'], { command: 'help' }],
      ['-h after a command', ['add', '-h'], { command: 'help' }],
    ])('when it is %s, then it is read as such', (_name, argv, expected) => {
      // Act
      const args = parseSuppressionsArgs(argv);

      // Assert
      expect(args).toEqual(expected);
    });

    it('when --url and --token are not given, then MAILER_ADMIN_URL and ADMIN_TOKEN are used, the URL without its trailing slash', () => {
      // Act
      const args = parseSuppressionsArgs(['list'], {
        MAILER_ADMIN_URL: 'http://mailer.internal:3001/',
        ADMIN_TOKEN: 't'.repeat(32),
      });

      // Assert
      expect(args).toMatchObject({ url: 'http://mailer.internal:3001', token: 't'.repeat(32) });
    });

    it('when --url and --token are given, then they win over the environment', () => {
      // Act
      const args = parseSuppressionsArgs(
        ['remove', 'ada@example.com', '--url', 'https://m.example', '--token', 'given-token-0123456'],
        { MAILER_ADMIN_URL: 'http://other:3001', ADMIN_TOKEN: 'env-token-0123456789' },
      );

      // Assert
      expect(args).toMatchObject({ url: 'https://m.example', token: 'given-token-0123456' });
    });
  });

  describe('when the line is not valid', () => {
    it.each([
      ['no command', [], 'Give a command: list, add, remove or help'],
      ['an unknown command', ['delete'], 'Unknown command "delete": use list, add, remove or help'],
      ['an extra argument to list', ['list', 'ada@example.com'], 'Unexpected argument "ada@example.com"'],
      ['add without an address', ['add', '--reason', 'r'], 'Give the address to suppress: add <address> --reason TEXT'],
      [
        'add with two addresses',
        ['add', 'a@example.com', 'b@example.com', '--reason', 'r'],
        'Unexpected argument "b@example.com"',
      ],
      ['add without --reason', ['add', 'ada@example.com'], 'add needs --reason TEXT'],
      ['add with an empty reason', ['add', 'ada@example.com', '--reason', ''], '--reason must not be empty or blank'],
      ['add with a blank reason', ['add', 'ada@example.com', '--reason', '  '], '--reason must not be empty or blank'],
      [
        'add with a reason of 501 characters',
        ['add', 'ada@example.com', '--reason', 'x'.repeat(501)],
        '--reason must be at most 500 characters, got 501',
      ],
      [
        'add with a line break in the reason',
        ['add', 'ada@example.com', '--reason', 'a\nb'],
        '--reason must be one line of text: Contains U+000A LINE FEED',
      ],
      [
        'add with a bidi override in the reason',
        ['add', 'ada@example.com', '--reason', 'a\u202eb'],
        'RIGHT-TO-LEFT OVERRIDE',
      ],
      [
        'add with an address without "@"',
        ['add', 'ada', '--reason', 'r'],
        'Invalid email address: it must contain one "@"; got "ada"',
      ],
      [
        'add with a display name',
        ['add', 'Ada <ada@example.com>', '--reason', 'r'],
        'Invalid email address: only a bare address',
      ],
      ['add with a non-ASCII local part', ['add', 'üser@example.com', '--reason', 'r'], 'need the SMTPUTF8 extension'],
      ['remove without an address', ['remove'], 'Give the address to take off the list: remove <address>'],
      [
        'remove with two addresses',
        ['remove', 'a@example.com', 'b@example.com'],
        'Unexpected argument "b@example.com"',
      ],
      ['remove with an invalid address', ['remove', 'ada@'], 'Invalid email address'],
      ['--reason on remove', ['remove', 'ada@example.com', '--reason', 'r'], '--reason is not an option of remove'],
      ['--reason on list', ['list', '--reason', 'r'], '--reason is not an option of list'],
      ['--all on add', ['add', 'ada@example.com', '--reason', 'r', '--all'], '--all is not an option of add'],
      [
        '--address on remove',
        ['remove', 'ada@example.com', '--address', 'b@example.com'],
        '--address is not an option of remove',
      ],
      [
        'an invalid --address',
        ['list', '--address', 'ada'],
        '--address: Invalid email address: it must contain one "@"',
      ],
      [
        'a --domain with a local part',
        ['list', '--domain', 'ada@example.com'],
        '--domain: Invalid domain: give the domain alone',
      ],
      [
        'a --domain that is no hostname',
        ['list', '--domain', 'exa_mple.com'],
        '--domain: Invalid domain: the domain must be a hostname',
      ],
      ['a list limit of 0', ['list', '--limit', '0'], '--limit must be a whole number from 1 to 500, got "0"'],
      ['a list limit of 501', ['list', '--limit', '501'], '--limit must be a whole number from 1 to 500'],
      ['a list limit with a unit', ['list', '--limit', '10x'], '--limit must be a whole number from 1 to 500'],
      ['a negative --after', ['list', '--after', '-1'], "Option '--after' argument is ambiguous"],
      [
        'a negative --after=',
        ['list', '--after=-1'],
        '--after must be a whole number from 0 to 9007199254740991, got "-1"',
      ],
      ['an --after that is not a number', ['list', '--after', 'abc'], '--after must be a whole number from 0 to'],
      [
        'an --after beyond a safe integer',
        ['list', '--after', '9007199254740992'],
        '--after must be a whole number from 0 to',
      ],
      ['an unknown option', ['list', '--frobnicate'], "Unknown option '--frobnicate'"],
      ['an option without its value', ['list', '--domain'], "Option '--domain <value>' argument missing"],
      ['a URL that is not http', ['list', '--url', 'ftp://mailer'], '--url must be an http:// or https:// URL'],
    ])('when it has %s, then it is a usage error saying so', (_name, argv, message) => {
      // Act
      const args = parseSuppressionsArgs(argv);

      // Assert
      expect(args).toEqual({ command: 'usage_error', message: expect.stringContaining(message) });
    });
  });
});

describe('USAGE', () => {
  it('when read, then it lists every command, every option, and the comparison rule', () => {
    // Assert
    for (const command of ['list', 'add <address>', 'remove <address>', 'help']) {
      expect(USAGE).toContain(`\n  ${command} `);
    }
    for (const option of [
      '--address',
      '--domain',
      '--limit',
      '--after',
      '--all',
      '--reason',
      '--url',
      '--token',
      '--json',
    ]) {
      expect(USAGE).toContain(option);
    }
    expect(USAGE).toContain('Ada@EXAMPLE.com is Ada@example.com, but not\nada@example.com');
  });
});
