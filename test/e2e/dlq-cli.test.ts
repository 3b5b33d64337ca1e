import { existsSync } from 'node:fs';
import { DEAD_LETTER_REASON_DESCRIPTIONS } from '../../services/mailer/src/domain/dead-letter-reasons';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { connectTestBroker, eventually } from '@test/helpers/broker';
import { recordedDeadLetters } from '@test/helpers/inspect';
import {
  DLQ_CLI_ENV,
  deleteStackTopology,
  mailerEnv,
  mailerQueueNamesFor,
  startTestStack,
  TEST_ADMIN_TOKEN,
  uniqueStackNames,
  type TestStack,
} from '@test/helpers/stack';
import { loadMailerConfig } from '../../services/mailer/src/config';
import { startMailer, type RunningMailer } from '../../services/mailer/src/service';
import { closedPort } from '@test/helpers/ports';
import { DLQ_COMPILED, runDlqCli, runProcess } from '@test/helpers/processes';

const runCli = (args: string[], env: Record<string, string> = {}) => runDlqCli(args, env, { compiled: true });
const UNKNOWN_JOB = '00000000-0000-4000-8000-000000000000';

beforeAll(() => {
  if (!existsSync(DLQ_COMPILED)) throw new Error(`${DLQ_COMPILED} is missing: run "npm run build" first`);
});

describe('the dead-letter CLI (compiled, as a process)', () => {
  let unreachable: string;
  beforeAll(async () => {
    unreachable = `http://127.0.0.1:${await closedPort()}`;
  });

  it.each([['help'], ['--help'], ['-h'], ['list', '--help']])(
    'when run with %p, then it prints the usage with every documented reason on stdout and exits 0',
    async (...args) => {
      const run = await runCli(args);

      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(/^Usage: npm run dlq -- <command> \[options\]/);
      for (const reason of Object.keys(DEAD_LETTER_REASON_DESCRIPTIONS)) expect(run.stdout).toContain(`  ${reason} `);
    },
  );

  it('when its stdout is a pipe the reader has already closed, then it exits 0 quietly (no EPIPE stack trace)', async () => {
    // `true` exits at once, before node has started: every write of the CLI meets a closed pipe.
    const run = await runProcess('bash', [
      '-c',
      'node "$0" help | true; echo "exit ${PIPESTATUS[0]}" >&2',
      DLQ_COMPILED,
    ]);

    expect(run).toMatchObject({ code: 0, stdout: '', stderr: 'exit 0\n' });
  });

  it.each([
    [[], 'Give a command: list, show, replay, job, purge or help'],
    [['peek'], 'Unknown command "peek"'],
    [['show'], 'Give the id of the dead letter to show: show <id>'],
    [['show', '1', '2'], 'Unexpected argument "2"'],
    [['show', 'abc'], 'The id must be a dead letter\'s id as list prints it (a whole number), got "abc"'],
    [['job'], 'Give the id of the replay job to follow: job <id>'],
    [['job', '7d1f3a52'], 'The id must be a replay job\'s id as replay printed it (a UUID), got "7d1f3a52"'],
    [['job', UNKNOWN_JOB, '--all'], '--all is not an option of job'],
    [['replay'], 'give a filter (--reason, --smtp-code, --order-id, --from, --to) or --all'],
    [['purge', '--dry-run'], 'give a filter (--reason, --smtp-code, --order-id, --from, --to) or --all'],
    [['replay', '--all', '--smtp-code', '550'], '--all cannot be combined with --reason, --smtp-code'],
    [['purge', '--all', '--order-id', 'A-1'], '--all cannot be combined with --reason, --smtp-code'],
    [['list', 'extra'], 'Unexpected argument "extra"'],
    [['list', '--frobnicate'], "Unknown option '--frobnicate'"],
    [['list', '--all'], '--all is not an option of list'],
    [['replay', '--all', '--cursor', 'x'], '--cursor is not an option of replay'],
    [['purge', '--all', '--no-wait'], '--no-wait is not an option of purge'],
    [['replay', '--reason', 'smtp-rejected'], '--reason must be one of invalid_event, unknown_template'],
    [['replay', '--reason', 'SMTP_REJECTED'], '--reason must be one of'],
    [['replay', '--reason', ''], '--reason must be one of'],
    [['replay', '--smtp-code', '55'], '--smtp-code must be a 3-digit SMTP reply code'],
    [['replay', '--smtp-code', '5500'], '--smtp-code must be a 3-digit SMTP reply code'],
    [['replay', '--smtp-code', '650'], '--smtp-code must be a 3-digit SMTP reply code'],
    [['replay', '--smtp-code', 'abc'], '--smtp-code must be a 3-digit SMTP reply code'],
    [['replay', '--all', '--limit', '0'], '--limit must be a whole number from 1 to 100000'],
    [['list', '--limit', '0'], '--limit must be a whole number from 1 to 500'],
    [['list', '--limit', '501'], '--limit must be a whole number from 1 to 500'],
    [['list', '--limit', '10x'], '--limit must be a whole number from 1 to 500'],
    [['list', '--offset=10'], "Unknown option '--offset'"],
    [['list', '--from', 'yesterday'], '--from must be an ISO 8601 date-time with seconds and a zone'],
    [['list', '--state', 'lost'], '--state must be one of dead, replaying, replayed, purged, any; got "lost"'],
    [['list', '--order', 'sideways'], '--order must be one of newest, oldest; got "sideways"'],
    [['list', '--url', 'ftp://mailer'], '--url must be an http:// or https:// URL'],
  ])('when run with %p, then it exits 2 with "%s" and the usage on stderr, calling nothing', async (args, message) => {
    // The URL is closed: a call would end in exit 1, so exit 2 shows nothing was called.
    const run = await runCli([...args], { MAILER_ADMIN_URL: unreachable });

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(message);
    expect(run.stderr).toContain('Usage: npm run dlq');
  });

  it.each([
    [['list'], {}],
    [['replay', '--reason', 'delivery_limit', '--dry-run'], {}],
    [['list'], { viaEnv: true }],
  ])(
    'when the arguments %p are valid but the mailer is unreachable, then it exits 1 naming the cause and address',
    async (args, { viaEnv }: { viaEnv?: boolean }) => {
      const run = await runCli(
        viaEnv ? args : [...args, '--url', unreachable],
        viaEnv ? { MAILER_ADMIN_URL: unreachable } : {},
      );

      const address = unreachable.replace('http://', '');
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        `Cannot reach the mailer at ${unreachable} (ECONNREFUSED ${address}): is it running? ` +
          'Give its admin URL with --url or MAILER_ADMIN_URL.\n',
      );
    },
  );

  describe('when the mailer is running', () => {
    let smtp: SmtpCatcher;
    let stack: TestStack;
    beforeAll(async () => {
      smtp = await startSmtpCatcher();
      stack = await startTestStack({ smtpUrl: smtp.url });
    });
    afterAll(async () => {
      await stack.dispose();
      await smtp.close();
    });

    // One of ours and one of the broker's: the list itself is checked against DeadLetterReason by the compiler.
    it.each(['smtp_rejected', 'delivery_limit'])(
      'when replaying with the documented reason %s (dry run), then the mailer accepts it',
      async (reason) => {
        const run = await runCli(['replay', '--reason', reason, '--dry-run', '--url', stack.mailerUrl], DLQ_CLI_ENV);

        expect(run).toMatchObject({ code: 0, stderr: '' });
        expect(run.stdout).toBe('dry run: 0 dead letter(s) would be replayed\n');
      },
    );

    it.each([
      [['list', '--limit', '500', '--order', 'oldest', '--state', 'any']],
      [['list', '--limit', '1', '--from', '2026-01-01T00:00:00Z', '--to', '2027-01-01T00:00:00+01:00', '--json']],
      [['purge', '--reason', 'invalid_event', '--limit', '100000', '--dry-run']],
      [['replay', '--smtp-code', '550', '--limit', '100000', '--dry-run']],
      [['replay', '--all', '--limit', '1', '--dry-run', '--json']],
      [['replay', '--all', '--force', '--dry-run']],
    ])('when the CLI accepts %p, then so does the mailer (the ranges agree)', async (args) => {
      const run = await runCli([...args, '--url', stack.mailerUrl], DLQ_CLI_ENV);

      expect(run).toMatchObject({ code: 0, stderr: '' });
    });

    it.each([
      ['no token', [], {}, "No token was given: pass the mailer's ADMIN_TOKEN with --token or set ADMIN_TOKEN."],
      ['a wrong --token', ['--token', 'not-the-admin-token-0123'], {}, "is not the mailer's ADMIN_TOKEN"],
      ['a wrong ADMIN_TOKEN', [], { ADMIN_TOKEN: 'not-the-admin-token-0123' }, "is not the mailer's ADMIN_TOKEN"],
    ])('when the CLI gives %s, then it exits 1 with the 401 and what to do', async (_case, extra, env, hint) => {
      const run = await runCli(['list', '--url', stack.mailerUrl, ...extra], env);

      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('HTTP 401: A valid "Authorization: Bearer <ADMIN_TOKEN>" header is required\n');
      expect(run.stderr).toContain(hint);
      expect(run.stderr).not.toContain(TEST_ADMIN_TOKEN);
    });

    it.each([[[]], [['--no-wait']], [['--json']]])(
      'when following a replay job that does not exist (%p), then it exits 1 with the 404 naming it',
      async (extra) => {
        const run = await runCli(['job', UNKNOWN_JOB, ...extra, '--url', stack.mailerUrl], DLQ_CLI_ENV);

        expect(run).toMatchObject({ code: 1, stdout: '', stderr: `HTTP 404: No replay job "${UNKNOWN_JOB}"\n` });
      },
    );

    it('when a replay is started with --no-wait, then it prints how to follow the job, and job follows it to its end', async () => {
      // An order no dead letter has: the job matches nothing and succeeds at once.
      const started = await runCli(
        ['replay', '--order-id', 'no-such-order', '--no-wait', '--url', stack.mailerUrl],
        DLQ_CLI_ENV,
      );
      const id = /^replay job ([0-9a-f-]{36}) started: 0 dead letter\(s\)$/m.exec(started.stdout)?.[1];
      const followed = await runCli(['job', String(id), '--url', stack.mailerUrl], DLQ_CLI_ENV);
      const once = await runCli(['job', String(id), '--no-wait', '--json', '--url', stack.mailerUrl], DLQ_CLI_ENV);

      expect(started).toMatchObject({ code: 0, stderr: '' });
      expect(started.stdout).toBe(`replay job ${id} started: 0 dead letter(s)\nfollow it: npm run dlq -- job ${id}\n`);
      expect(followed).toMatchObject({
        code: 0,
        stderr: '',
        stdout: `replay job ${id} succeeded: moved 0, skipped 0, failed 0\n`,
      });
      expect(once).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(once.stdout)).toMatchObject({ id, state: 'succeeded', matched: 0 });
    });

    it('when the CLI gives the token with --token, then it is accepted like ADMIN_TOKEN', async () => {
      const run = await runCli(['list', '--url', stack.mailerUrl, '--token', TEST_ADMIN_TOKEN]);

      expect(run).toMatchObject({ code: 0, stderr: '', stdout: '0 dead letter(s)\n' });
    });

    it('when a dead letter has an AMQP timestamp and a body that is not UTF-8, then show prints the time as ISO 8601 and the body as README says', async () => {
      // Arrange (last: the tests above expect no dead letter): straight into the dead-letter queue.
      // The connection stays open until it is recorded: closing it at once can drop the publish.
      const broker = await connectTestBroker();
      let recorded;
      try {
        broker.channel.sendToQueue(stack.names.deadLetterQueue, Buffer.from([0xff, 0xfe, 0x00]), {
          messageId: 'binary-1',
          timestamp: 1796096714,
        });
        [recorded] = await recordedDeadLetters(stack.names.schema, 1);
      } finally {
        await broker.connection.close();
      }

      // Act
      const run = await runCli(['show', recorded.id, '--url', stack.mailerUrl], DLQ_CLI_ENV);

      // Assert
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toContain('\n  timestamp: 1796096714 (2026-12-01T03:45:14.000Z)\n');
      expect(run.stdout).toMatch(/\nbody: \(base64, 3 bytes; --json shows it\)\n$/);
    });
  });

  describe('when the mailer runs without ADMIN_TOKEN', () => {
    const names = uniqueStackNames();
    let smtp: SmtpCatcher;
    let mailer: RunningMailer;
    beforeAll(async () => {
      smtp = await startSmtpCatcher();
      mailer = await startMailer(loadMailerConfig(mailerEnv(names, smtp.url, { ADMIN_TOKEN: '' })));
      await eventually(() => mailer.isReady(), 15000, 'mailer ready');
    });
    afterAll(async () => {
      await mailer.stop();
      await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
      await smtp.close();
    });

    it.each([
      [['list'], {}],
      [['replay', '--all', '--dry-run'], { ADMIN_TOKEN: TEST_ADMIN_TOKEN }],
    ])('when the CLI runs %p (token: %p), then it exits 1 saying how to enable the admin API', async (args, env) => {
      const run = await runCli([...args, '--url', `http://127.0.0.1:${mailer.port}`], env);

      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^HTTP 403: The admin API is off: set ADMIN_TOKEN /);
      expect(run.stderr).toContain(
        'The mailer was started without ADMIN_TOKEN. Restart it with ADMIN_TOKEN set (e.g. to the output of ' +
          '`openssl rand -hex 32`), then give the same token here with --token or ADMIN_TOKEN.\n',
      );
    });
  });
});
