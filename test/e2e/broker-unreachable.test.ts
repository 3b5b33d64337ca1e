import { eventually } from '@test/helpers/broker';
import { dropSchema } from '@test/helpers/database';
import { spawnService, type ServiceProcess } from '@test/helpers/processes';
import { mailerEnv, uniqueStackNames } from '@test/helpers/stack';
import { closedPort } from '@test/helpers/ports';
import { TEST_API_KEY_ENV } from '@test/helpers/orders';

const parseLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string; level: number });

describe('a broker that cannot be reached at start-up, both services as real processes', () => {
  const names = uniqueStackNames();

  afterAll(async () => {
    await dropSchema(names.schema);
  });

  it.each(['order-api', 'mailer'] as const)(
    'when the %s is started with AMQP_URL at a closed port, then it keeps running and logs one warn line naming AMQP_URL, the password masked, the cause, no stack',
    async (service) => {
      // Arrange
      const port = await closedPort();
      const amqpUrl = `amqp://guest:s3cret-pass@127.0.0.1:${port}`;
      const env =
        service === 'mailer'
          ? { ...mailerEnv(names, 'smtp://127.0.0.1:1'), AMQP_URL: amqpUrl, LOG_LEVEL: 'info' }
          : { PORT: '0', AMQP_URL: amqpUrl, LOG_LEVEL: 'info', ...TEST_API_KEY_ENV };
      let proc: ServiceProcess | undefined;

      try {
        // Act
        proc = spawnService(service, env);
        const running = proc;
        await eventually(
          () => parseLines(running.stdout()).some((l) => l.msg.startsWith('broker not reachable')),
          20000,
          'a "broker not reachable" line',
        );

        // Assert
        const failure = parseLines(running.stdout()).find((l) => l.msg.startsWith('broker not reachable'));
        expect(failure).toMatchObject({
          level: 40,
          amqpUrl: `amqp://guest:***@127.0.0.1:${port}`,
          cause: `ECONNREFUSED 127.0.0.1:${port}`,
          msg: `broker not reachable at AMQP_URL amqp://guest:***@127.0.0.1:${port} (ECONNREFUSED 127.0.0.1:${port}); retrying`,
        });
        expect(failure).not.toHaveProperty('err');
        expect(running.stdout() + running.stderr()).not.toContain('s3cret-pass');
        expect(running.child.exitCode).toBeNull();
      } finally {
        proc?.child.kill('SIGTERM');
        await proc?.exited;
      }
    },
  );
});
