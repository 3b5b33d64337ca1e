import { describeStartupError } from '@order-mail/shared/http';
import { eventually } from '@test/helpers/broker';
import { capturingLogger, type LogLine } from '@test/helpers/logs';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import {
  deleteStackTopology,
  mailerEnv,
  mailerQueueNamesFor,
  TEST_ADMIN_TOKEN,
  uniqueStackNames,
} from '@test/helpers/stack';
import { loadMailerConfig } from '../../src/config';
import { startMailer } from '../../src/service';

/** Whether an HTTP server answers `/healthz` at `host:port`. */
const answers = (host: string, port: number) =>
  fetch(`http://${host}:${port}/healthz`).then(
    (res) => res.status === 200,
    () => false,
  );

describe('where the mailer listens (HOST)', () => {
  let smtp: SmtpCatcher;
  beforeAll(async () => {
    smtp = await startSmtpCatcher();
  });
  afterAll(async () => {
    await smtp.close();
  });

  // 127.0.0.2 is this host too (all of 127.0.0.0/8 is loopback on Linux), but not 127.0.0.1:
  // a server on 127.0.0.1 does not answer there, one on every interface does.
  it.each([
    ['unset (the default)', undefined, '127.0.0.1', false],
    ['127.0.0.1', '127.0.0.1', '127.0.0.1', false],
    ['0.0.0.0', '0.0.0.0', '0.0.0.0', true],
  ])(
    'when HOST is %s, then it listens on %s only there and its start-up line says so',
    async (_case, host, listensOn, answersElsewhere) => {
      const names = uniqueStackNames();
      const logs: LogLine[] = [];
      const env = mailerEnv(names, smtp.url, host === undefined ? {} : { HOST: host });
      const mailer = await startMailer(loadMailerConfig(env), capturingLogger(logs, { service: 'mailer' }));
      try {
        await eventually(() => mailer.isReady(), 15000, 'mailer ready');

        const line = logs.find((l) => l.msg === 'mailer listening');
        expect(line).toMatchObject({
          host: listensOn,
          port: mailer.port,
          url: `http://${listensOn}:${mailer.port}`,
          adminApi: 'on',
        });
        expect(await answers('127.0.0.1', mailer.port)).toBe(true);
        expect(await answers('127.0.0.2', mailer.port)).toBe(answersElsewhere);
        // The token itself is never logged.
        expect(JSON.stringify(logs)).not.toContain(TEST_ADMIN_TOKEN);
      } finally {
        await mailer.stop();
        await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
      }
    },
  );

  it('when ADMIN_TOKEN is not set, then the start-up line says the admin API is off', async () => {
    const names = uniqueStackNames();
    const logs: LogLine[] = [];
    const mailer = await startMailer(
      loadMailerConfig(mailerEnv(names, smtp.url, { ADMIN_TOKEN: '' })),
      capturingLogger(logs, { service: 'mailer' }),
    );
    try {
      expect(logs.find((l) => l.msg === 'mailer listening')).toMatchObject({
        adminApi: 'off (ADMIN_TOKEN is not set)',
      });
    } finally {
      await eventually(() => mailer.isReady(), 15000, 'mailer ready');
      await mailer.stop();
      await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
    }
  });

  it('when HOST is not an address of this host, then starting fails with one line naming HOST', async () => {
    // 192.0.2.1: TEST-NET-1 (RFC 5737), never assigned to a host.
    const config = loadMailerConfig(mailerEnv(uniqueStackNames(), smtp.url, { HOST: '192.0.2.1' }));

    const err = await startMailer(config, capturingLogger([], { service: 'mailer' })).then(
      async (mailer) => {
        await mailer.stop();
        throw new Error('the mailer started on 192.0.2.1');
      },
      (e: unknown) => e,
    );

    // PORT 0 (any free port): Node names no port.
    expect(describeStartupError(err, config)).toBe(
      'HOST 192.0.2.1 is not an address of this host (EADDRNOTAVAIL 192.0.2.1)',
    );
  });
});
