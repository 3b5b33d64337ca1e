import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import { listenHttp, type HttpServerHandle } from '@order-mail/shared/http';
import { jsonOf } from '@test/helpers/http';
import { postJson, sampleOrder, TEST_API_KEY } from '@test/helpers/orders';
import { explainPublishFailure, type OrderEventPublisher } from '../../src/adapters/broker/order-event-publisher';
import { createOrderApiMetrics } from '../../src/adapters/metrics/order-api-metrics';
import { createOrderApiApp } from '../../src/entry-points/http/app';
import { apiKeyOf } from '../../src/domain/api-keys';

/**
 * The HTTP answer to every cause of a failed publish. The causes a real broker produces on demand
 * (no connection, no queue bound) are also covered against RabbitMQ in orders-api.test.ts; the
 * others (a confirm timeout, a nack, a channel lost mid-confirm, a shutdown) are raised here as
 * their raisers raise them.
 */
describe('order API, every cause of a 503', () => {
  const logs: Record<string, unknown>[] = [];
  let failure: unknown;
  let http: HttpServerHandle;
  let baseUrl: string;

  beforeAll(async () => {
    const registry = new Registry();
    const publisher: OrderEventPublisher = {
      publish: (event) => Promise.reject(explainPublishFailure(failure, event.order.orderId, 5000)),
      isReady: () => true,
      node: () => '127.0.0.1:5672',
      close: () => Promise.resolve(),
    };
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line));
        done();
      },
    });
    const app = createOrderApiApp({
      publisher,
      registry,
      metrics: createOrderApiMetrics(registry),
      logger: pino({ level: 'debug' }, sink),
      retryAfterSeconds: 7,
      apiKeys: [apiKeyOf(TEST_API_KEY)],
      rateLimitPerMinute: 1000,
    });
    http = await listenHttp(app, 0);
    baseUrl = `http://127.0.0.1:${http.port}`;
  });

  afterAll(async () => {
    await http.close(1000);
  });

  it.each([
    ['shutting down', ErrorCodes.SHUTTING_DOWN, 'The service is shutting down', 'was not published'],
    ['broker unavailable', ErrorCodes.BROKER_UNAVAILABLE, 'Not connected to the broker', 'was not published'],
    ['unroutable', ErrorCodes.PUBLISH_UNROUTABLE, 'No queue is bound', 'was not stored'],
    ['nacked', ErrorCodes.PUBLISH_NACKED, 'The broker did not accept the message', 'was not accepted'],
    ['confirm timeout', ErrorCodes.PUBLISH_TIMEOUT, 'No publisher confirm within 5000 ms', 'may still store it'],
    [
      'confirm lost',
      ErrorCodes.PUBLISH_UNCONFIRMED,
      'The broker channel closed before the confirm',
      'may have stored it',
    ],
  ] as const)(
    'when the publish fails (%s), then it answers 503 with Retry-After and a message true for that cause',
    async (_cause, code, raw, says) => {
      failure = new AppError(code, raw);

      const res = await postJson(baseUrl, '/orders', sampleOrder({ orderId: 'U-503' }));

      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('7');
      const body = await jsonOf(res);
      expect(body).toEqual({
        type: `tag:order-mail,2026:error:${code}`,
        title: expect.any(String),
        status: 503,
        detail: body.message,
        error: 'service_unavailable',
        message: expect.stringContaining(says),
      });
      expect(body.message).toContain('Order "U-503"');
      expect(body.message).toContain('Retrying with the same orderId is safe');
      expect(body.message).not.toMatch(/nothing was done/i);
    },
  );

  it('when every cause was answered, then each was logged as a warning, none as an error', () => {
    expect(logs.filter((line) => line.level === 40)).toHaveLength(6);
    expect(logs.filter((line) => Number(line.level) >= 50)).toEqual([]);
  });
});
