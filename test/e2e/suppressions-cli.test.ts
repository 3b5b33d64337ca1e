import { existsSync } from 'node:fs';
import path from 'node:path';
import { eventually } from '@test/helpers/broker';
import { closedPort } from '@test/helpers/ports';
import { runProcess } from '@test/helpers/processes';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import {
  deleteStackTopology,
  DLQ_CLI_ENV,
  mailerEnv,
  mailerQueueNamesFor,
  TEST_ADMIN_TOKEN,
  uniqueStackNames,
} from '@test/helpers/stack';
import { loadMailerConfig } from '../../services/mailer/src/config';
import { startMailer, type RunningMailer } from '../../services/mailer/src/service';

/** The compiled suppression-list CLI, the script `npm run suppressions` runs. */
const SUPPRESSIONS_COMPILED = path.resolve(__dirname, '../../services/mailer/dist/entry-points/cli/suppressions.js');

/** Runs `npm run suppressions -- …` as `npm run` does (the compiled file), with only PATH and `env`. */
const runCli = (args: string[], env: Record<string, string> = {}) =>
  runProcess(process.execPath, [SUPPRESSIONS_COMPILED, ...args], env);

/** `text` as a regular expression that matches it literally. */
const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The token the CLI needs for a test mailer (`ADMIN_TOKEN`, as for `npm run dlq`). */
const CLI_ENV = DLQ_CLI_ENV;

beforeAll(() => {
  if (!existsSync(SUPPRESSIONS_COMPILED)) {
    throw new Error(`${SUPPRESSIONS_COMPILED} is missing: run "npm run build" first`);
  }
});

describe('the suppression-list CLI (compiled, as a process)', () => {
  let unreachable: string;
  beforeAll(async () => {
    unreachable = `http://127.0.0.1:${await closedPort()}`;
  });

  it.each([['help'], ['--help'], ['-h'], ['add', '--help']])(
    'when run with %p, then it prints the usage on stdout and exits 0',
    async (...args) => {
      // Act
      const run = await runCli(args);

      // Assert
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(/^Usage: npm run suppressions -- <command> \[options\]/);
    },
  );

  it.each([
    [[], 'Give a command: list, add, remove or help'],
    [['drop'], 'Unknown command "drop"'],
    [['add', 'ada@example.com'], 'add needs --reason TEXT'],
    [['add', 'ada', '--reason', 'r'], 'Invalid email address: it must contain one "@"'],
    [['add', 'ada@example.com', '--reason', 'x'.repeat(501)], '--reason must be at most 500 characters'],
    [['remove'], 'Give the address to take off the list: remove <address>'],
    [['list', '--domain', 'ada@example.com'], '--domain: Invalid domain'],
    [['list', '--limit', '0'], '--limit must be a whole number from 1 to 500'],
    [['list', '--reason', 'r'], '--reason is not an option of list'],
    [['list', '--url', 'ftp://mailer'], '--url must be an http:// or https:// URL'],
  ])('when run with %p, then it exits 2 with "%s" and the usage on stderr, calling nothing', async (args, message) => {
    // Act: the URL is closed, so a call would end in exit 1; exit 2 shows nothing was called.
    const run = await runCli([...args], { MAILER_ADMIN_URL: unreachable });

    // Assert
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(message);
    expect(run.stderr).toContain('Usage: npm run suppressions');
  });

  it('when the mailer is unreachable, then it exits 1 naming the cause and address', async () => {
    // Act
    const run = await runCli(['list'], { MAILER_ADMIN_URL: unreachable });

    // Assert
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `Cannot reach the mailer at ${unreachable} (ECONNREFUSED ${unreachable.replace('http://', '')}): is it running? ` +
        'Give its admin URL with --url or MAILER_ADMIN_URL.\n',
    );
  });

  describe('when the mailer is running', () => {
    const names = uniqueStackNames();
    let smtp: SmtpCatcher;
    let mailer: RunningMailer;
    let url: string;
    // Each test's addresses are its own (the list is shared by the tests of this block).
    let n = 0;
    const unique = (local: string, domain = 'example.com') => `${local}.${++n}@${domain}`;
    const cli = (args: string[], env: Record<string, string> = CLI_ENV) => runCli([...args, '--url', url], env);

    beforeAll(async () => {
      smtp = await startSmtpCatcher();
      mailer = await startMailer(loadMailerConfig(mailerEnv(names, smtp.url)));
      await mailer.started;
      await eventually(() => mailer.isReady(), 15000, 'mailer ready');
      url = `http://127.0.0.1:${mailer.port}`;
    });
    afterAll(async () => {
      await mailer.stop();
      await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
      await smtp.close();
    });

    it('when an address is added, listed and removed, then each step prints what it did, and a second remove exits 1 with the 404', async () => {
      // Arrange
      const address = unique('Ada');

      // Act
      const added = await cli(['add', address.replace('example.com', 'EXAMPLE.com'), '--reason', 'asked by phone']);
      const listed = await cli(['list', '--address', address]);
      const removed = await cli(['remove', address]);
      const again = await cli(['remove', address]);

      // Assert
      expect(added).toMatchObject({ code: 0, stderr: '' });
      expect(added.stdout).toMatch(new RegExp(`^suppressed ${literally(address)} \\(entry \\d+\\)\\n$`));
      expect(listed).toMatchObject({ code: 0, stderr: '' });
      expect(listed.stdout).toMatch(
        new RegExp(`^\\d+  ${literally(address)}  manual  -  \\S+Z  admin:[0-9a-f]{8}  asked by phone\\n$`),
      );
      expect(removed).toMatchObject({
        code: 0,
        stderr: '',
        stdout: `removed ${address} from the suppression list: the mailer sends to it again\n`,
      });
      expect(again.code).toBe(1);
      expect(again.stdout).toBe('');
      expect(again.stderr).toMatch(/^HTTP 404: A\*\*\*@example\.com is not on the suppression list\n$/);
    });

    it('when an address already on the list is added again, then it says so and keeps the entry; --json prints the answer', async () => {
      // Arrange
      const address = unique('bob');
      await cli(['add', address, '--reason', 'first']);

      // Act
      const again = await cli(['add', address, '--reason', 'second']);
      const json = await cli(['add', address, '--reason', 'third', '--json']);

      // Assert
      expect(again).toMatchObject({ code: 0, stderr: '' });
      expect(again.stdout).toMatch(
        /^already suppressed since \S+Z \(entry \d+, manual: first\); the entry is kept as it was\n$/,
      );
      expect(JSON.parse(json.stdout)).toMatchObject({ created: false, suppression: { address, reason: 'first' } });
    });

    it('when the list spans pages, then list prints the command for the next page, which works, and --all prints every entry', async () => {
      // Arrange: three entries at a domain of their own.
      const domain = `pages-${Date.now()}.example`;
      const addresses = [unique('a', domain), unique('b', domain), unique('c', domain)];
      for (const address of addresses) expect((await cli(['add', address, '--reason', 'paging'])).code).toBe(0);

      // Act
      const first = await cli(['list', '--domain', domain, '--limit', '2']);
      const nextCommand = /^next page: npm run suppressions -- (list .*)$/m.exec(first.stdout)?.[1] ?? '';
      const second = await cli(nextCommand.split(' '));
      const all = await cli(['list', '--domain', domain.toUpperCase(), '--limit', '1', '--all']);
      const allJson = await cli(['list', '--domain', domain, '--limit', '1', '--all', '--json']);

      // Assert
      const addressesOf = (stdout: string) =>
        stdout
          .split('\n')
          .filter((line) => /^\d+ {2}/.test(line))
          .map((line) => line.split('  ')[1]);
      expect(addressesOf(first.stdout)).toEqual(addresses.slice(0, 2));
      expect(nextCommand).toMatch(new RegExp(`^list --domain ${literally(domain)} --limit 2 --after \\d+$`));
      expect(second).toMatchObject({ code: 0, stderr: '' });
      expect(addressesOf(second.stdout)).toEqual(addresses.slice(2));
      expect(second.stdout).not.toContain('next page');
      expect(all).toMatchObject({ code: 0, stderr: '' });
      expect(addressesOf(all.stdout)).toEqual(addresses);
      expect(JSON.parse(allJson.stdout)).toEqual({
        suppressions: addresses.map((address) => expect.objectContaining({ address, domain })),
        nextCursor: null,
      });
    });

    it('when nothing matches, then list says so', async () => {
      // Act
      const run = await cli(['list', '--domain', 'nobody-here.example']);

      // Assert
      expect(run).toMatchObject({ code: 0, stderr: '', stdout: 'no suppressed address\n' });
    });

    it.each([
      ['no token', {}, "No token was given: pass the mailer's ADMIN_TOKEN with --token or set ADMIN_TOKEN."],
      ['a wrong token', { ADMIN_TOKEN: 'not-the-admin-token-0123' }, "is not the mailer's ADMIN_TOKEN"],
    ])(
      'when the CLI gives %s, then it exits 1 with the 401 and what to do, never the token',
      async (_case, env, hint) => {
        // Act
        const run = await cli(['add', unique('eve'), '--reason', 'r'], env);

        // Assert
        expect(run.code).toBe(1);
        expect(run.stdout).toBe('');
        expect(run.stderr).toContain('HTTP 401: A valid "Authorization: Bearer <ADMIN_TOKEN>" header is required\n');
        expect(run.stderr).toContain(hint);
        expect(run.stderr).not.toContain(TEST_ADMIN_TOKEN);
      },
    );
  });
});
