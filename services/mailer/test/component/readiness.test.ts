import { jsonOf } from '../../../../test/helpers/http';
import { SMTPServer } from 'smtp-server';
import { eventually } from '../../../../test/helpers/broker';
import { metricValue } from '../../../../test/helpers/inspect';
import { postJson, sampleOrder } from '../../../../test/helpers/orders';
import { dropSchema } from '../../../../test/helpers/database';
import { startSmtpCatcher } from '../../../../test/helpers/smtp-catcher';
import {
  deleteStackTopology,
  mailerEnv,
  mailerQueueNamesFor,
  startTestStack,
  uniqueStackNames,
} from '../../../../test/helpers/stack';
import { loadMailerConfig } from '../../src/config';
import { startMailer } from '../../src/service';

describe('mailer readiness', () => {
  it('when the broker, SMTP server and database are up, then /readyz reports each ready', async () => {
    const smtp = await startSmtpCatcher();
    const stack = await startTestStack({ smtpUrl: smtp.url });
    try {
      const res = await fetch(`${stack.mailerUrl}/readyz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        status: 'ready',
        checks: { broker: 'ready', smtp: 'ready', database: 'ready' },
      });
    } finally {
      await stack.stop();
      await deleteStackTopology(stack.names);
      await smtp.close();
    }
  });

  it('when the SMTP server goes away after start-up, then a failed send turns /readyz to smtp unreachable and mailer_smtp_up to 0', async () => {
    const smtp = await startSmtpCatcher();
    const stack = await startTestStack({ smtpUrl: smtp.url });
    try {
      expect((await jsonOf(fetch(`${stack.mailerUrl}/readyz`))).checks.smtp).toBe('ready');
      expect(await metricValue(stack.mailerUrl, 'mailer_smtp_up')).toBe(1);

      await smtp.close();
      expect((await postJson(stack.apiUrl, '/orders', sampleOrder({ orderId: 'RDY-down' }))).status).toBe(202);

      await eventually(async () => (await jsonOf(fetch(`${stack.mailerUrl}/readyz`))).checks.smtp === 'unreachable');
      expect((await fetch(`${stack.mailerUrl}/readyz`)).status).toBe(503);
      expect(await metricValue(stack.mailerUrl, 'mailer_smtp_up')).toBe(0);
    } finally {
      await stack.stop();
      await deleteStackTopology(stack.names);
    }
  });

  it('when SMTP and the broker cannot be reached, then /readyz answers 503 naming each, and /healthz 200', async () => {
    const names = uniqueStackNames();
    const mailer = await startMailer(
      loadMailerConfig(mailerEnv(names, 'smtp://127.0.0.1:1', { AMQP_URL: 'amqp://guest:guest@127.0.0.1:1' })),
    );
    try {
      const res = await fetch(`http://127.0.0.1:${mailer.port}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        status: 'not_ready',
        checks: { broker: 'not_ready', smtp: 'unreachable', database: 'ready' },
      });
      expect((await fetch(`http://127.0.0.1:${mailer.port}/healthz`)).status).toBe(200);
    } finally {
      await mailer.stop();
      await dropSchema(names.schema);
    }
  });

  it('when the SMTP server refuses our credentials, then /readyz reports smtp auth_failed', async () => {
    const names = uniqueStackNames();
    const server = new SMTPServer({
      logger: false,
      disabledCommands: ['STARTTLS'],
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth: (_auth, _session, callback) => callback(new Error('Invalid username or password')),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.server.address() as { port: number };
    const mailer = await startMailer(loadMailerConfig(mailerEnv(names, `smtp://user:wrong@127.0.0.1:${port}`)));
    try {
      let body: { checks: Record<string, string> } = { checks: {} };
      for (let i = 0; i < 40 && body.checks.smtp !== 'auth_failed'; i++) {
        body = await jsonOf(fetch(`http://127.0.0.1:${mailer.port}/readyz`));
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(body.checks.smtp).toBe('auth_failed');
    } finally {
      await mailer.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
    }
  });
});
