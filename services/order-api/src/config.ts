import { z } from 'zod';
import {
  DEFAULT_HTTP_LIMITS,
  HEADERS_WITHIN_REQUEST_TIMEOUT,
  amqpNameSchema,
  amqpUrlSchema,
  durationMsSchema,
  logLevelSchema,
  parseConfig,
  portSchema,
} from '@order-mail/shared';

/** Every setting of the order API, read from the environment. `.env.example` mirrors this list. */
export const orderApiConfigSchema = z
  .object({
    /** HTTP port for the API, health, readiness and metrics. */
    PORT: portSchema.default(3000),
    /** RabbitMQ connection URL. */
    AMQP_URL: amqpUrlSchema.default('amqp://guest:guest@127.0.0.1:5672'),
    /** Durable topic exchange that order events are published to. */
    ORDERS_EXCHANGE: amqpNameSchema.default('orders'),
    /** Routing key of the order-confirmed event. */
    ORDER_CONFIRMED_ROUTING_KEY: amqpNameSchema.default('order.confirmed'),
    /** How long to wait for RabbitMQ's publisher confirm before answering 503. */
    PUBLISH_CONFIRM_TIMEOUT_MS: durationMsSchema.default(5000),
    /** Seconds sent in `Retry-After` with a 503. */
    RETRY_AFTER_SECONDS: z.coerce.number().int().min(1).default(5),
    /** How long a graceful stop may wait for in-flight requests before closing anyway. */
    SHUTDOWN_TIMEOUT_MS: durationMsSchema.default(10000),
    /** Milliseconds a client has to send a request's headers; then a JSON 408 and the connection is closed. */
    HTTP_HEADERS_TIMEOUT_MS: durationMsSchema.default(DEFAULT_HTTP_LIMITS.headersTimeoutMs),
    /**
     * Milliseconds a client has to send a whole request, headers and body; then a JSON 408 and the
     * connection is closed. At least HTTP_HEADERS_TIMEOUT_MS.
     */
    HTTP_REQUEST_TIMEOUT_MS: durationMsSchema.default(DEFAULT_HTTP_LIMITS.requestTimeoutMs),
    /** pino log level. */
    LOG_LEVEL: logLevelSchema.default('info'),
  })
  .refine((c) => c.HTTP_HEADERS_TIMEOUT_MS <= c.HTTP_REQUEST_TIMEOUT_MS, HEADERS_WITHIN_REQUEST_TIMEOUT);

export type OrderApiConfig = z.output<typeof orderApiConfigSchema>;

export function loadOrderApiConfig(env: NodeJS.ProcessEnv = process.env): OrderApiConfig {
  return parseConfig(orderApiConfigSchema, env);
}
