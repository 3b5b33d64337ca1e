import { hostname } from 'node:os';
import { z } from 'zod';
import {
  amqpNameSchema,
  amqpUrlSchema,
  durationMsSchema,
  logLevelSchema,
  parseConfig,
  portSchema,
} from '@order-mail/shared';

const MAIL_FROM_PATTERN = /^(?:[^<>]*<\s*([^<>\s@]+@[^<>\s@]+)\s*>|([^<>\s@]+@[^<>\s@]+))$/;

/** Every setting of the mailer, read from the environment. `.env.example` mirrors this list. */
export const mailerConfigSchema = z
  .object({
    /** HTTP port for health, readiness and metrics. */
    PORT: portSchema.default(3001),
    /** RabbitMQ connection URL. */
    AMQP_URL: amqpUrlSchema.default('amqp://guest:guest@127.0.0.1:5672'),
    /** Durable topic exchange that order events are published to. */
    ORDERS_EXCHANGE: amqpNameSchema.default('orders'),
    /** Routing key of the order-confirmed event. */
    ORDER_CONFIRMED_ROUTING_KEY: amqpNameSchema.default('order.confirmed'),
    /** The mailer's work queue (quorum). */
    MAILER_QUEUE: amqpNameSchema.default('mailer.order.confirmed'),
    /** Exchange that failed messages are dead-lettered to. */
    DEAD_LETTER_EXCHANGE: amqpNameSchema.default('mailer.dead-letter'),
    /** Queue holding dead letters for inspection and replay. */
    DEAD_LETTER_QUEUE: amqpNameSchema.default('mailer.order.confirmed.dead'),
    /** Deliveries of one message before the broker dead-letters it (guards against crash loops). */
    DELIVERY_LIMIT: z.coerce.number().int().min(1).max(1000).default(20),
    /** Messages handled at once (AMQP prefetch); keep it at or above SMTP_POOL_SIZE. */
    PREFETCH: z.coerce.number().int().min(1).max(1000).default(10),
    /** How long a message whose send failed transiently waits before it goes back to the queue. */
    RETRY_DELAY_MS: durationMsSchema.default(5000),
    /** SMTP server, `smtp://user:pass@host:port` or `smtps://…` for implicit TLS. */
    SMTP_URL: z
      .string()
      .refine((v) => /^smtps?:\/\/[^\s]+$/.test(v), { message: 'must be an smtp:// or smtps:// URL' })
      .default('smtp://127.0.0.1:1025'),
    /** Pooled SMTP connections. */
    SMTP_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(5),
    /** Limit for opening a TCP connection to the SMTP server. */
    SMTP_CONNECTION_TIMEOUT_MS: durationMsSchema.default(10000),
    /** Limit for the server's greeting after connecting. */
    SMTP_GREETING_TIMEOUT_MS: durationMsSchema.default(10000),
    /** Limit for an idle socket during a send. */
    SMTP_SOCKET_TIMEOUT_MS: durationMsSchema.default(30000),
    /** `From:` of every email: `Name <address>` or a bare address. */
    MAIL_FROM: z
      .string()
      .regex(MAIL_FROM_PATTERN, { message: 'must be an address or "Name <address>"' })
      .default('Order Confirmations <orders@example.com>'),
    /** Domain of generated Message-IDs; defaults to MAIL_FROM's domain. */
    MESSAGE_ID_DOMAIN: z
      .string()
      .regex(/^[A-Za-z0-9.-]+$/, { message: 'must be a domain name' })
      .optional(),
    /** Identifies this worker in logs and dead-letter headers. */
    WORKER_ID: z.string().min(1).max(100).default(`${hostname()}-${process.pid}`),
    /** How long a graceful stop may wait for in-flight HTTP requests. */
    SHUTDOWN_TIMEOUT_MS: durationMsSchema.default(10000),
    /** pino log level. */
    LOG_LEVEL: logLevelSchema.default('info'),
  })
  .transform((c) => {
    const [, bracketed, bare] = MAIL_FROM_PATTERN.exec(c.MAIL_FROM) ?? [];
    const fromAddress = bracketed ?? bare;
    return { ...c, MESSAGE_ID_DOMAIN: c.MESSAGE_ID_DOMAIN ?? fromAddress.slice(fromAddress.lastIndexOf('@') + 1) };
  });

export type MailerConfig = z.output<typeof mailerConfigSchema>;

export function loadMailerConfig(env: NodeJS.ProcessEnv = process.env): MailerConfig {
  return parseConfig(mailerConfigSchema, env);
}
