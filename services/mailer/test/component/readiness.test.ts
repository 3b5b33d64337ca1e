import { jsonOf } from '@test/helpers/http';
import { SMTPServer } from 'smtp-server';
import { connectTestBroker, eventually } from '@test/helpers/broker';
import { ledgerRow, metricValue, subjectOf } from '@test/helpers/inspect';
import { postJson, sampleOrder } from '@test/helpers/orders';
import { dropSchema } from '@test/helpers/database';
import { startSmtpCatcher } from '@test/helpers/smtp-catcher';
import {
  ADMIN_AUTH,
  deleteStackTopology,
  mailerEnv,
  mailerQueueNamesFor,
  startTestStack,
  uniqueStackNames,
} from '@test/helpers/stack';
import { loadMailerConfig } from '../../src/config';
import { startMailer } from '../../src/service';
import { closedPort } from '@test/helpers/ports';
import { capturingLogger, type LogLine } from '@test/helpers/logs';

describe('mailer readiness', () => {
  it('when the broker, SMTP server and database are up, then /readyz reports each ready', async () => {
    const smtp = await startSmtpCatcher();
    const stack = await startTestStack({ smtpUrl: smtp.url });
    try {
      const res = await fetch(`${stack.mailerUrl}/readyz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        status: 'ready',
        checks: { broker: 'ready', brokerNode: '127.0.0.1:5672', smtp: 'ready', database: 'ready' },
      });
    } finally {
      await stack.dispose();
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
      await stack.dispose();
    }
  });

  it('when SMTP and the broker cannot be reached, then /readyz answers 503 naming each, and /healthz 200', async () => {
    const names = uniqueStackNames();
    const mailer = await startMailer(
      loadMailerConfig(mailerEnv(names, 'smtp://127.0.0.1:1', { AMQP_URL: 'amqp://guest:guest@127.0.0.1:1' })),
    );
    try {
      await mailer.started;
      const res = await fetch(`http://127.0.0.1:${mailer.port}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        status: 'not_ready',
        checks: { broker: 'not_ready', brokerNode: expect.any(String), smtp: 'unreachable', database: 'ready' },
      });
      expect((await fetch(`http://127.0.0.1:${mailer.port}/healthz`)).status).toBe(200);
    } finally {
      await mailer.stop();
      await dropSchema(names.schema);
    }
  });

  it('when PostgreSQL cannot be reached at start-up, then the HTTP side answers: /readyz 503 database unavailable, /healthz 200, the admin API 503', async () => {
    const names = uniqueStackNames();
    const smtp = await startSmtpCatcher();
    const mailer = await startMailer(
      loadMailerConfig(
        mailerEnv(names, smtp.url, { DATABASE_URL: `postgres://postgres@127.0.0.1:${await closedPort()}/test` }),
      ),
    );
    const mailerUrl = `http://127.0.0.1:${mailer.port}`;
    try {
      await eventually(async () => (await jsonOf(fetch(`${mailerUrl}/readyz`))).checks.smtp === 'ready');

      const res = await fetch(`${mailerUrl}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        status: 'not_ready',
        checks: { broker: 'not_ready', brokerNode: expect.any(String), smtp: 'ready', database: 'unavailable' },
      });
      expect(await metricValue(mailerUrl, 'mailer_database_up')).toBe(0);
      expect((await fetch(`${mailerUrl}/healthz`)).status).toBe(200);
      expect((await fetch(`${mailerUrl}/dead-letters`, { headers: ADMIN_AUTH })).status).toBe(503);
      expect((await fetch(`${mailerUrl}/deliveries/ANY-1`, { headers: ADMIN_AUTH })).status).toBe(503);
      expect(mailer.isReady()).toBe(false);
    } finally {
      await mailer.stop();
      await smtp.close();
    }
    // Stopped while waiting for the database: start-up ends without an error and nothing was declared.
    await expect(mailer.started).resolves.toBeUndefined();
    const { connection, channel } = await connectTestBroker();
    try {
      await expect(channel.checkQueue(names.queue)).rejects.toThrow(/NOT_FOUND/);
    } finally {
      await connection.close().catch(() => undefined);
    }
  });

  it('when the SMTP server goes away while the mailer is idle, then the periodic check turns /readyz to smtp unreachable and mailer_smtp_up to 0, with no order sent; when it is back, ready again, each change logged once naming SMTP_URL', async () => {
    const lines: LogLine[] = [];
    let smtp = await startSmtpCatcher();
    const stack = await startTestStack({
      smtpUrl: smtp.url,
      env: { SMTP_CHECK_INTERVAL_MS: '100' },
      mailerLogger: capturingLogger(lines),
    });
    try {
      expect((await jsonOf(fetch(`${stack.mailerUrl}/readyz`))).checks.smtp).toBe('ready');

      await smtp.close();

      await eventually(async () => (await jsonOf(fetch(`${stack.mailerUrl}/readyz`))).checks.smtp === 'unreachable');
      expect(await metricValue(stack.mailerUrl, 'mailer_smtp_up')).toBe(0);
      expect(await metricValue(stack.mailerUrl, 'mailer_emails_total', { result: 'sent' })).toBe(0);

      smtp = await startSmtpCatcher({ port: smtp.port });

      await eventually(async () => (await jsonOf(fetch(`${stack.mailerUrl}/readyz`))).checks.smtp === 'ready');
      expect(await metricValue(stack.mailerUrl, 'mailer_smtp_up')).toBe(1);
      const changes = lines.filter((l) => l.level >= 30 && /^SMTP server/.test(l.msg));
      expect(changes.map((l) => l.msg)).toEqual(['SMTP server not reachable', 'SMTP server usable again']);
      expect(changes.every((l) => l.setting === 'SMTP_URL' && l.smtpUrl === smtp.url)).toBe(true);
    } finally {
      await stack.dispose();
      await smtp.close();
    }
  });

  it('when SMTP checks run while pooled connections are busy sending, then every send completes once, without a retry', async () => {
    const smtp = await startSmtpCatcher();
    smtp.behaviour = { delayMs: 800 };
    const stack = await startTestStack({
      smtpUrl: smtp.url,
      env: { SMTP_CHECK_INTERVAL_MS: '20', SMTP_POOL_SIZE: '2' },
    });
    try {
      for (const id of ['CHK-1', 'CHK-2', 'CHK-3']) {
        expect((await postJson(stack.apiUrl, '/orders', sampleOrder({ orderId: id }))).status).toBe(202);
      }

      await smtp.waitForMails(3, 20000);

      expect(smtp.mails.map((m) => m.subject).sort()).toEqual(['CHK-1', 'CHK-2', 'CHK-3'].map(subjectOf));
      await eventually(
        async () => (await metricValue(stack.mailerUrl, 'mailer_emails_total', { result: 'sent' })) === 3,
      );
      for (const id of ['CHK-1', 'CHK-2', 'CHK-3']) {
        expect(await ledgerRow(stack.names.schema, id)).toMatchObject({ status: 'sent', attempts: 1 });
      }
      expect((await jsonOf(fetch(`${stack.mailerUrl}/readyz`))).checks.smtp).toBe('ready');
    } finally {
      await stack.dispose();
      await smtp.close();
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
