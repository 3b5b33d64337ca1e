import { isIP } from 'node:net';
import { z } from 'zod';
import { AppError, ErrorCodes } from './errors';

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
export const hostSchema = z.string().refine((v) => isIP(v) !== 0, {
  message: 'must be an IP address such as 127.0.0.1 (this host only), 0.0.0.0 or :: (every interface)',
});

export const logLevelSchema = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** An AMQP URL (amqp:// or amqps://). */
export const amqpUrlSchema = z
  .string()
  .refine((v) => /^amqps?:\/\/[^\s]+$/.test(v), { message: 'must be an amqp:// or amqps:// URL' });

/** A RabbitMQ exchange or queue name (no spaces, at most 255 bytes, not reserved `amq.`). */
export const amqpNameSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9_.:-]+$/, { message: 'may only contain letters, digits, ".", "_", ":" and "-"' })
  .refine((v) => !v.startsWith('amq.'), { message: 'names starting with "amq." are reserved by RabbitMQ' });

/** A positive integer of milliseconds. */
export const durationMsSchema = z.coerce.number().int().min(1);
