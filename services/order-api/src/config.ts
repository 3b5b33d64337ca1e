import { z } from 'zod';
import {
  amqpNameSchema,
  amqpUrlSchema,
  durationMsSchema,
  logLevelSchema,
  parseConfig,
  portSchema,
} from '@order-mail/shared';

/** Every setting of the order API, read from the environment. `.env.example` mirrors this list. */
export const orderApiConfigSchema = z.object({
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
  /** pino log level. */
  LOG_LEVEL: logLevelSchema.default('info'),
});

export type OrderApiConfig = z.output<typeof orderApiConfigSchema>;

export function loadOrderApiConfig(env: NodeJS.ProcessEnv = process.env): OrderApiConfig {
  return parseConfig(orderApiConfigSchema, env);
}
