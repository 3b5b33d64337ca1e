import { hostname } from 'node:os';
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
  hostSchema,
} from '@order-mail/shared';

const DURATION_PATTERN = /^(\d+)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `250ms`, `30s`, `2m`, `1h`, or a bare number of milliseconds. */
export function parseDuration(text: string): number | null {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) return null;
  return Number(match[1]) * UNIT_MS[match[2] ?? 'ms'];
}

const retryDelaysSchema = z.string().transform((value, ctx) => {
  const delays = value.split(',').map((part) => parseDuration(part));
  if (delays.length > 20 || delays.some((d) => d === null || d < 1)) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be a comma-separated list of 1-20 positive durations such as "30s,2m,10m,1h,6h"',
    });
    return z.NEVER;
  }
  return delays as number[];
});

const MAIL_FROM_PATTERN = /^(?:[^<>]*<\s*([^<>\s@]+@[^<>\s@]+)\s*>|([^<>\s@]+@[^<>\s@]+))$/;

/** Every setting of the mailer, read from the environment. `.env.example` mirrors this list. */
export const mailerConfigSchema = z
  .object({
    /** HTTP port for health, readiness and metrics. */
    PORT: portSchema.default(3001),
    /**
     * Address the HTTP server listens on: `127.0.0.1` (this host only) by default; `0.0.0.0` or
     * `::` for every interface (the images and the compose file set `0.0.0.0`).
     */
    HOST: hostSchema.default('127.0.0.1'),
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
    /** Delay before each retry of a transient failure; after the last one the message is dead-lettered. */
    RETRY_DELAYS: retryDelaysSchema.default([30_000, 120_000, 600_000, 3_600_000, 21_600_000]),
    /**
     * How long a send whose outcome is unknown (connection lost after the whole message went out,
     * or a redelivered event still marked `sending`) waits before its one resend. Must exceed
     * SMTP_SEND_TIMEOUT_MS.
     */
    UNKNOWN_OUTCOME_GRACE_MS: durationMsSchema.default(600_000),
    /** How long to wait for the broker's confirm when republishing to a retry, hold or dead-letter queue. */
    PUBLISH_CONFIRM_TIMEOUT_MS: durationMsSchema.default(5000),
    /** PostgreSQL holding the delivery ledger. */
    DATABASE_URL: z
      .string()
      .refine((v) => /^postgres(ql)?:\/\/[^\s]+$/.test(v) && URL.canParse(v), { message: 'must be a postgres:// URL' })
      .default('postgres://postgres@127.0.0.1:5432/test'),
    /** Schema of the ledger's tables (created by the migrations at start-up). */
    DATABASE_SCHEMA: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'must be a lower-case SQL identifier' })
      .default('mailer'),
    /** Dead letters moved back to the work queue per second during a replay. */
    REPLAY_RATE_PER_SECOND: z.coerce.number().int().min(1).max(10_000).default(50),
    /**
     * Bearer token of the admin API (/deliveries, /dead-letters): `Authorization: Bearer <token>`.
     * Unset, the admin API is off (403 `admin_api_disabled`); health, readiness and metrics stay open.
     */
    ADMIN_TOKEN: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
    /** Test-only fault injection, off unless set: pause this long between recording a sent email and acking it. */
    FAULT_PAUSE_BEFORE_ACK_MS: durationMsSchema.optional(),
    /** Test-only fault injection, off unless set: pause this long between the SMTP server's acceptance and the ledger's record of it. */
    FAULT_PAUSE_BEFORE_RECORD_MS: durationMsSchema.optional(),
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
    /**
     * Limit for one whole send, from handing it to the pool (where it may wait for a free
     * connection) to the server's final reply; a send still running then is aborted.
     */
    SMTP_SEND_TIMEOUT_MS: durationMsSchema.default(120_000),
    /**
     * How often the SMTP server is checked (connect, greet, authenticate) while it is ready, so
     * `/readyz` and `mailer_smtp_up` notice a server that went away before the next order does.
     * A check uses a connection of its own, never one of the pool's. (While it is not ready, it is
     * checked every 5 s.)
     */
    SMTP_CHECK_INTERVAL_MS: durationMsSchema.default(30_000),
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
  .refine((c) => c.HTTP_HEADERS_TIMEOUT_MS <= c.HTTP_REQUEST_TIMEOUT_MS, HEADERS_WITHIN_REQUEST_TIMEOUT)
  .refine((c) => c.UNKNOWN_OUTCOME_GRACE_MS > c.SMTP_SEND_TIMEOUT_MS, {
    // A send still running when its grace period ends could be resent while it succeeds.
    message: 'must exceed SMTP_SEND_TIMEOUT_MS, the longest a send can last',
    path: ['UNKNOWN_OUTCOME_GRACE_MS'],
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
