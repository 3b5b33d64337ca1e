import { createLogger, type Logger } from '@order-mail/shared/logger';
import { listenHttp } from '@order-mail/shared/http';
import { createMetricsRegistry, createUpGauge } from '@order-mail/shared/metrics';
import { createOrderApiMetrics, NO_KEY_ID } from './adapters/metrics/order-api-metrics';
import type { OrderApiConfig } from './config';
import { createOrderEventPublisher } from './adapters/broker/order-event-publisher';
import { createOrderApiApp } from './entry-points/http/app';

export interface RunningOrderApi {
  port: number;
  isReady(): boolean;
  /** Stops accepting requests, finishes in-flight publishes, closes the broker connection. */
  stop(): Promise<void>;
}

/** Starts the order API. The HTTP server listens at once; `/readyz` says 503 until the broker is connected. */
export async function startOrderApi(
  config: OrderApiConfig,
  logger: Logger = createLogger({ service: 'order-api', level: config.LOG_LEVEL }),
): Promise<RunningOrderApi> {
  const apiKeys = config.ORDER_API_AUTH === 'off' ? null : config.ORDER_API_KEYS;
  if (apiKeys === null) {
    logger.warn(
      { auth: 'off' },
      'authentication is off (ORDER_API_AUTH=off): anyone who can reach the order API can post orders',
    );
  } else {
    // Key ids only, never a key: which keys this process accepts, e.g. during a rotation.
    logger.info(
      { keyIds: apiKeys.map((k) => k.id), rateLimitPerMinute: config.ORDER_API_RATE_LIMIT },
      'POST /orders requires a key',
    );
  }
  const registry = createMetricsRegistry('order-api');
  const metrics = createOrderApiMetrics(registry, apiKeys?.map((k) => k.id) ?? [NO_KEY_ID]);
  const publisher = await createOrderEventPublisher({
    metrics,
    amqpUrl: config.AMQP_URL,
    exchange: config.ORDERS_EXCHANGE,
    routingKey: config.ORDER_CONFIRMED_ROUTING_KEY,
    confirmTimeoutMs: config.PUBLISH_CONFIRM_TIMEOUT_MS,
    logger,
  });
  createUpGauge(
    registry,
    'broker_connected',
    'Whether the broker connection and its confirm channel are up (1) or not (0).',
    publisher.isReady,
  );
  const app = createOrderApiApp({
    publisher,
    registry,
    metrics,
    logger,
    retryAfterSeconds: config.RETRY_AFTER_SECONDS,
    apiKeys,
    rateLimitPerMinute: config.ORDER_API_RATE_LIMIT,
  });
  const http = await listenHttp(app, config.PORT, {
    limits: { headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS, requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS },
    logger,
    host: config.HOST,
  });
  // Where it listens, e.g. {"host":"127.0.0.1","port":3000,"url":"http://127.0.0.1:3000"}.
  logger.info({ host: config.HOST, port: http.port, url: http.url }, 'order API listening');
  let stopped: Promise<void> | null = null;
  return {
    port: http.port,
    isReady: publisher.isReady,
    stop() {
      stopped ??= (async () => {
        await http.close(config.SHUTDOWN_TIMEOUT_MS);
        await publisher.close();
      })();
      return stopped;
    },
  };
}
