import { parseAmqpNodeList } from './amqp-nodes';
import { isIP } from 'node:net';
import { z } from 'zod';
import { AppError, ErrorCodes } from './errors';
import type { HttpLimits } from './lifecycle';

/** Node's defaults (60 s for headers, 300 s for a request) leave a slow client a socket for minutes. */
export const DEFAULT_HTTP_LIMITS: HttpLimits = { headersTimeoutMs: 5000, requestTimeoutMs: 15000 };

/** The refinement both services' configs apply: Node refuses a headers timeout over the request timeout. */
export const HEADERS_WITHIN_REQUEST_TIMEOUT = {
  message: 'must not exceed HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)',
  path: ['HTTP_HEADERS_TIMEOUT_MS'],
  // Compared only once both are valid, so a bad value is named once, by its own key.
  when: (payload: { issues: readonly { path?: readonly PropertyKey[] }[] }) =>
    !payload.issues.some((i) => /^HTTP_(HEADERS|REQUEST)_TIMEOUT_MS$/.test(String(i.path?.[0]))),
};

/**
 * Parses the environment against a service's config schema. On failure the error message names
 * every bad key with its problem, so a misconfigured deployment fails fast and says why.
 */
export function parseConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  // A blank `KEY=` line in an env file means "not set": take the default rather than coercing '' to 0.
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const result = schema.safeParse(given);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const key = issue.path.map(String).join('.') || '(environment)';
    return `  ${key}: ${issue.message}`;
  });
  throw new AppError(ErrorCodes.CONFIG_INVALID, `Invalid configuration:\n${lines.join('\n')}`, {
    details: result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
  });
}

/** Env var holding a TCP port; `0` lets the OS choose (tests use it). */
export const portSchema = z.coerce.number().int().min(0).max(65535);

/**
 * Env var holding the address an HTTP server listens on: an IPv4 or IPv6 address, e.g.
 * `127.0.0.1` (this host only, the default), `0.0.0.0` or `::` (every interface, as in a
 * container). A host name is refused: it could resolve to an address nobody meant.
 */
const hostSchema = z.string().refine((v) => isIP(v) !== 0, {
  message: 'must be an IP address such as 127.0.0.1 (this host only), 0.0.0.0 or :: (every interface)',
});

/** Env var holding a pino log level. */
const logLevelSchema = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** AMQP_URL: one amqp:// or amqps:// URL, or several separated by commas (`parseAmqpNodeList`); kept as given. */
const amqpUrlSchema = z.string().superRefine((v, ctx) => {
  const nodes = parseAmqpNodeList(v);
  if (!nodes.ok) ctx.addIssue({ code: 'custom', message: nodes.message });
});

/** A RabbitMQ exchange or queue name (no spaces, at most 255 bytes, not reserved `amq.`). */
export const amqpNameSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9_.:-]+$/, { message: 'may only contain letters, digits, ".", "_", ":" and "-"' })
  .refine((v) => !v.startsWith('amq.'), { message: 'names starting with "amq." are reserved by RabbitMQ' });

/** Milliseconds in each unit a duration may be written with. */
const MS_PER_UNIT = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** The unit a bare number is read in: milliseconds, or seconds for a key named `…_SECONDS`. */
export type BareDurationUnit = 'ms' | 's';

// One whole number, then at most one unit, nothing between: `1.5s`, `1h30m`, `30 s`, `30S` and
// signs are refused rather than guessed at.
const DURATION_PATTERN = /^(\d+)(ms|s|m|h)?$/;

/**
 * The longest duration a key accepts: Node's timers hold at most 2^31-1 ms (about 24.8 days) and
 * fire at once, with a warning, when given more (Node docs, `setTimeout`).
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;
const MAX_DURATION_MESSAGE = 'must be at most 596h (2147483647 ms, the longest timer Node can set)';

/**
 * The duration format in words, as error messages and docs give it: a whole number with a unit
 * `ms`, `s`, `m` or `h`, or a bare whole number in `bare` (the unit the key's name says).
 */
export function durationFormat(bare: BareDurationUnit = 'ms'): string {
  return bare === 'ms'
    ? 'a whole number with a unit ms, s, m or h (250ms, 30s, 2m, 1h), or a bare whole number of milliseconds (5000)'
    : 'a whole number with a unit ms, s, m or h that comes to whole seconds (30s, 2m, 1h), or a bare whole number of seconds (5)';
}

/**
 * Reads a duration in the one format every duration key accepts: a whole number followed by a
 * unit, `ms`, `s`, `m` or `h` (`250ms`, `30s`, `2m`, `1h`), or a bare whole number, read in
 * `bare` (milliseconds unless told otherwise). White space around it is ignored; anything else
 * (decimals, signs, upper case, other units such as `d`, a space before the unit, `1h30m`) is not
 * a duration.
 *
 * Returns milliseconds (`0` for `0`), or `null` for text that is not a duration. Never throws.
 */
export function parseDuration(text: string, bare: BareDurationUnit = 'ms'): number | null {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) return null;
  const unit = (match[2] ?? bare) as keyof typeof MS_PER_UNIT;
  return Number(match[1]) * MS_PER_UNIT[unit];
}

/**
 * Env var holding a positive duration (format: `parseDuration`), given out as a whole number of
 * `bare`, the unit the key's name says and a bare number is read in: milliseconds (`…_MS`) by
 * default, seconds (`…_SECONDS`). A duration over `MAX_DURATION_MS` gets one issue naming that
 * limit; anything else that is not a duration, less than one `bare` or not a whole number of
 * `bare` (`1500ms` for seconds) gets one issue naming the accepted forms (`parseConfig` prefixes
 * the key).
 */
export function durationSchema(bare: BareDurationUnit = 'ms') {
  const message = `must be a positive duration: ${durationFormat(bare)}`;
  return z.string().transform((text, ctx) => {
    const ms = parseDuration(text, bare);
    const value = ms === null ? NaN : ms / MS_PER_UNIT[bare];
    if (ms !== null && ms > MAX_DURATION_MS) {
      ctx.addIssue({ code: 'custom', message: MAX_DURATION_MESSAGE });
      return z.NEVER;
    }
    if (Number.isSafeInteger(value) && value >= 1) return value;
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  });
}

/** A positive duration in whole milliseconds, in the format of `parseDuration` (`durationSchema`). */
export const durationMsSchema = durationSchema('ms');

/**
 * The keys both services read with the same meaning, default and rule, declared once: each
 * service's schema extends it (`commonConfigSchema.extend({ … })`) and adds its own keys (`PORT`
 * among them: its default differs per service) and the `HEADERS_WITHIN_REQUEST_TIMEOUT` rule,
 * which must come after the extension (zod refuses to extend a refined object).
 */
export const commonConfigSchema = z.object({
  /**
   * Address the HTTP server listens on: `127.0.0.1` (this host only) by default; `0.0.0.0` or
   * `::` for every interface (the images and the compose file set `0.0.0.0`).
   */
  HOST: hostSchema.default('127.0.0.1'),
  /**
   * RabbitMQ: one node's URL, or the nodes of a cluster separated by commas; connects to the first
   * that answers and, when a connection fails or is lost, tries the next.
   */
  AMQP_URL: amqpUrlSchema.default('amqp://guest:guest@127.0.0.1:5672'),
  /** Durable topic exchange that order events are published to. Must be the same for both services. */
  ORDERS_EXCHANGE: amqpNameSchema.default('orders'),
  /** Routing key of the order-confirmed event (the mailer binds its work queue with it). */
  ORDER_CONFIRMED_ROUTING_KEY: amqpNameSchema.default('order.confirmed'),
  /**
   * How long to wait for RabbitMQ's publisher confirm: the order API answers 503 then; the mailer's
   * republish to a retry, hold or dead-letter queue fails then.
   */
  PUBLISH_CONFIRM_TIMEOUT_MS: durationMsSchema.default(5000),
  /** How long a graceful stop may wait for in-flight HTTP requests before closing anyway. */
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
});

/** The settings of `commonConfigSchema`, as both services' configs hold them. */
export type CommonConfig = z.output<typeof commonConfigSchema>;
