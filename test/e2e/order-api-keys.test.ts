import { MISSING_KEYS_MESSAGE } from '../../services/order-api/src/config';
import { AMQP_URL, connectTestBroker, eventually } from '@test/helpers/broker';
import { bearer, sampleOrder, TEST_API_KEY, TEST_API_KEY_ENV } from '@test/helpers/orders';
import { uniqueName } from '@test/helpers/names';
import { spawnService, type ServiceProcess } from '@test/helpers/processes';

/** The order API's keys at start-up, as a real process started the way production starts it. */

const parseLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string; level: number });

describe('the order API process and its keys', () => {
  const exchange = uniqueName('orders');

  afterAll(async () => {
    const { connection, channel } = await connectTestBroker();
    await channel.deleteExchange(exchange);
    await connection.close();
  });

  it('when ORDER_API_KEYS is not set (and ORDER_API_AUTH is not off), then it exits 1 with one line naming ORDER_API_KEYS', async () => {
    // Act
    const proc = spawnService('order-api', { PORT: '0', AMQP_URL, ORDERS_EXCHANGE: exchange });

    // Assert
    expect(await proc.exited).toBe(1);
    expect(proc.stderr()).toBe(`order-api failed to start: ${MISSING_KEYS_MESSAGE}\n`);
    expect(proc.stderr()).toMatch(/^order-api failed to start: ORDER_API_KEYS is not set: /);
    expect(proc.stdout()).toBe('');
  });

  it('when an entry of ORDER_API_KEYS is too short, then it exits 1 naming ORDER_API_KEYS and the entry, never the secret', async () => {
    // Act
    const proc = spawnService('order-api', {
      PORT: '0',
      AMQP_URL,
      ORDERS_EXCHANGE: exchange,
      ORDER_API_KEYS: `${TEST_API_KEY},too-short-secret`,
    });

    // Assert
    expect(await proc.exited).toBe(1);
    expect(proc.stderr().trimEnd()).toBe(
      'order-api failed to start: Invalid configuration:\n' +
        '  ORDER_API_KEYS: entry 2 of 2 is a key of 16 characters; a key needs at least 32 (or give its SHA-256 as sha256:<64 hex digits>)',
    );
    expect(proc.stderr()).not.toContain('too-short-secret');
    expect(proc.stderr()).not.toContain(TEST_API_KEY);
  });

  it('when ORDER_API_AUTH=off, then it starts with a warning, /readyz says auth: off, orders need no key, and SIGTERM stops it', async () => {
    let proc: ServiceProcess | undefined;
    try {
      // Act
      proc = spawnService('order-api', { PORT: '0', AMQP_URL, ORDERS_EXCHANGE: exchange, ORDER_API_AUTH: 'off' });
      const running = proc;
      await eventually(() => running.stdout().includes('broker connected'), 15000, 'order API connected');

      // Assert: the warning, before the API listens
      const lines = parseLines(running.stdout());
      const warning = lines.findIndex((l) => l.level === 40);
      expect(lines[warning]).toMatchObject({ auth: 'off', msg: expect.stringContaining('authentication is off') });
      const listening = lines.findIndex((l) => l.msg === 'order API listening');
      expect(warning).toBeLessThan(listening);
      // Assert: readiness and an order without a key (no queue is bound: 503, past authentication)
      const url = `http://127.0.0.1:${String(lines[listening].port)}`;
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({
        status: 'ready',
        checks: { broker: 'ready', brokerNode: '127.0.0.1:5672', auth: 'off' },
      });
      const order = await fetch(`${url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(sampleOrder()),
      });
      expect(order.status).toBe(503);
      running.child.kill('SIGTERM');
      expect(await running.exited).toBe(0);
      expect(running.stderr()).toBe('');
    } finally {
      proc?.child.kill('SIGKILL');
    }
  });

  it('when a key is set, then it starts logging the key ids it accepts, not the keys, and refuses an order without one', async () => {
    let proc: ServiceProcess | undefined;
    try {
      // Act
      proc = spawnService('order-api', { PORT: '0', AMQP_URL, ORDERS_EXCHANGE: exchange, ...TEST_API_KEY_ENV });
      const running = proc;
      await eventually(() => running.stdout().includes('broker connected'), 15000, 'order API connected');

      // Assert
      const lines = parseLines(running.stdout());
      expect(lines.filter((l) => l.level >= 40)).toEqual([]);
      expect(lines.find((l) => l.msg === 'POST /orders requires a key')).toMatchObject({
        keyIds: [expect.stringMatching(/^[0-9a-f]{8}$/)],
        rateLimitPerMinute: 600,
      });
      const url = `http://127.0.0.1:${String(lines.find((l) => l.msg === 'order API listening')?.port)}`;
      const post = (headers: Record<string, string>) =>
        fetch(`${url}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(sampleOrder()),
        });
      expect((await post({})).status).toBe(401);
      // With the key: past authentication and the rate limit; no queue is bound, so 503.
      expect((await post(bearer())).status).toBe(503);
      expect(running.stdout()).not.toContain(TEST_API_KEY);
      running.child.kill('SIGTERM');
      expect(await running.exited).toBe(0);
    } finally {
      proc?.child.kill('SIGKILL');
    }
  });
});
