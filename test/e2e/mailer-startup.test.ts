import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { declareMailerTopology } from '../../services/mailer/src/adapters/broker/mailer-topology';
import { AMQP_URL, connectTestBroker, eventually } from '@test/helpers/broker';
import { query } from '@test/helpers/database';
import { subjectOf } from '@test/helpers/inspect';
import { uniqueName } from '@test/helpers/names';
import { sampleEvent, sampleOrder, TEST_API_KEY_ENV } from '@test/helpers/orders';
import { spawnService, type ServiceProcess } from '@test/helpers/processes';
import { startSmtpCatcher } from '@test/helpers/smtp-catcher';
import {
  deleteStackTopology,
  mailerEnv,
  mailerQueueNamesFor,
  mailerTopologyFor,
  uniqueStackNames,
} from '@test/helpers/stack';
import { closedPort } from '@test/helpers/ports';

/** A TCP proxy from 127.0.0.1:`port` to the test PostgreSQL (127.0.0.1:5432): the database "arriving". */
async function startPostgresProxy(port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(5432, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

type LogLine = Record<string, unknown> & { level: number; msg: string };

const logLines = (proc: ServiceProcess): LogLine[] =>
  proc
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

async function readiness(port: number): Promise<{ status: number; checks: Record<string, string> }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, string> }).checks };
}

const PASSWORD = 'pw-never-logged';

interface LateDatabaseCase {
  name: string;
  /** DATABASE_URL to start with, and how to make it reachable later. */
  arrange(): Promise<{ url: string; problem: string; fix(): Promise<void>; cleanUp(): Promise<void> }>;
}

const lateDatabaseCases: LateDatabaseCase[] = [
  {
    name: 'nothing listens at the port of DATABASE_URL, and PostgreSQL appears there later',
    async arrange() {
      const port = await closedPort();
      let proxy: { close(): Promise<void> } | null = null;
      return {
        url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/test`,
        problem: 'unreachable',
        fix: async () => {
          proxy = await startPostgresProxy(port);
        },
        cleanUp: async () => {
          await proxy?.close();
        },
      };
    },
  },
  {
    name: 'the database of DATABASE_URL does not exist, and is created later',
    async arrange() {
      const dbName = `om_late_${randomBytes(4).toString('hex')}`;
      return {
        url: `postgres://postgres:${PASSWORD}@127.0.0.1:5432/${dbName}`,
        problem: 'database_missing',
        fix: async () => {
          await query(`CREATE DATABASE "${dbName}"`);
        },
        cleanUp: async () => {
          await query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
        },
      };
    },
  },
];

describe('mailer start-up without its database (real process)', () => {
  it.each(lateDatabaseCases)(
    'when $name, then it answers /readyz 503 database unavailable and consumes nothing, then becomes ready and sends',
    async ({ arrange }) => {
      // Arrange: the mailer's topology with one order waiting in its work queue, and no database
      const names = uniqueStackNames();
      const smtp = await startSmtpCatcher();
      const database = await arrange();
      const env = mailerEnv(names, smtp.url, { DATABASE_URL: database.url, LOG_LEVEL: 'info' });
      const { connection, channel } = await connectTestBroker();
      const proc = spawnService('mailer', env);
      try {
        await declareMailerTopology(channel, mailerTopologyFor(names, env));
        const event = sampleEvent({ correlationId: 'late-db', order: sampleOrder({ orderId: 'LATE-DB-1' }) });
        channel.publish(names.exchange, 'order.confirmed', Buffer.from(JSON.stringify(event)), { persistent: true });
        await eventually(() => logLines(proc).some((l) => l.msg === 'mailer listening'), 15000, 'the mailer to listen');
        const port = logLines(proc).find((l) => l.msg === 'mailer listening')!.port as number;
        await eventually(
          () => logLines(proc).some((l) => l.problem === database.problem),
          15000,
          'a failed database attempt',
        );

        // Assert: not ready, saying why, in one line that names DATABASE_URL without the password
        expect(await readiness(port)).toMatchObject({ status: 503, checks: { database: 'unavailable' } });
        const dbLines = logLines(proc).filter((l) => l.setting === 'DATABASE_URL');
        expect(dbLines).toHaveLength(1);
        expect(dbLines[0].msg).toContain(`DATABASE_URL ${database.url.replace(PASSWORD, '***')}`);
        expect(proc.stdout() + proc.stderr()).not.toContain(PASSWORD);
        expect(proc.stderr()).toBe('');
        // ... and consuming nothing: the order waits in the queue, with no consumer on it
        const queue = await channel.checkQueue(names.queue);
        expect(queue).toMatchObject({ messageCount: 1, consumerCount: 0 });
        expect(smtp.mails).toHaveLength(0);

        // Act: the database becomes reachable
        await database.fix();

        // Assert: ready, and the waiting order is sent
        await eventually(async () => (await readiness(port)).status === 200, 20000, 'the mailer to become ready');
        expect((await readiness(port)).checks).toEqual({
          broker: 'ready',
          brokerNode: '127.0.0.1:5672',
          smtp: 'ready',
          database: 'ready',
        });
        const [mail] = await smtp.waitForMails(1, 15000);
        expect(mail.subject).toBe(subjectOf('LATE-DB-1'));
        proc.child.kill('SIGTERM');
        expect(await proc.exited).toBe(0);
      } finally {
        proc.child.kill('SIGKILL');
        await proc.exited;
        await connection.close();
        await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
        await database.cleanUp();
        await smtp.close();
      }
    },
    60_000,
  );
});

describe('start-up failures a user can cause (real processes)', () => {
  const cases: {
    name: string;
    service: 'mailer' | 'order-api';
    env(port: number): Record<string, string>;
    /** What stderr says, all of it. */
    stderr(port: number): RegExp;
  }[] = [
    {
      name: "the mailer's PORT is taken",
      service: 'mailer',
      env: (port) => mailerEnv(uniqueStackNames(), 'smtp://127.0.0.1:1', { PORT: String(port) }),
      stderr: (port) =>
        new RegExp(`^mailer failed to start: PORT ${port} is already in use \\(EADDRINUSE .+:${port}\\)$`),
    },
    {
      name: "the order API's PORT is taken",
      service: 'order-api',
      env: (port) => ({
        PORT: String(port),
        AMQP_URL,
        ORDERS_EXCHANGE: uniqueName('orders'),
        LOG_LEVEL: 'silent',
        ...TEST_API_KEY_ENV,
      }),
      stderr: (port) =>
        new RegExp(`^order-api failed to start: PORT ${port} is already in use \\(EADDRINUSE .+:${port}\\)$`),
    },
    {
      name: "the mailer's DATABASE_URL is not a valid URL",
      service: 'mailer',
      env: () =>
        mailerEnv(uniqueStackNames(), 'smtp://127.0.0.1:1', {
          DATABASE_URL: `postgres://postgres:${PASSWORD}@127.0.0.1:notaport/test`,
        }),
      // The config error's format: a line per bad setting.
      stderr: () => /^mailer failed to start: Invalid configuration:\n {2}DATABASE_URL: must be a postgres:\/\/ URL$/,
    },
  ];

  it.each(cases)('when $name, then it exits 1 saying so in a line naming the setting, no stack trace', async (c) => {
    // Arrange: a port held by another socket
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, resolve));
    const port = (holder.address() as { port: number }).port;
    const env = c.env(port);
    try {
      // Act
      const proc = spawnService(c.service, env);

      // Assert
      expect(await proc.exited).toBe(1);
      expect(proc.stderr().trimEnd()).toMatch(c.stderr(port));
      expect(proc.stderr()).not.toMatch(/^\s+at /m);
      expect(proc.stderr()).not.toContain(PASSWORD);
    } finally {
      holder.close();
      if (env.ORDERS_EXCHANGE) {
        const { connection, channel } = await connectTestBroker();
        await channel.deleteExchange(env.ORDERS_EXCHANGE);
        await connection.close();
      }
    }
  });
});
