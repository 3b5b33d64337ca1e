import { z } from 'zod';
import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import {
  HEADERS_WITHIN_REQUEST_TIMEOUT,
  commonConfigSchema,
  durationSchema,
  parseConfig,
  portSchema,
} from '@order-mail/shared/config';
import { parseApiKeys, type ApiKey } from './domain/api-keys';

/**
 * `ORDER_API_KEYS` parsed into keys (see `parseApiKeys`): one issue per bad entry, by position,
 * never quoting it. Unset: no keys.
 */
const apiKeysSchema = z
  .string()
  .transform((value, ctx): ApiKey[] => {
    const parsed = parseApiKeys(value);
    if ('keys' in parsed) return parsed.keys;
    for (const message of parsed.problems) ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  })
  .default([]);

/**
 * Every setting of the order API, read from the environment: the keys both services share
 * (`commonConfigSchema`: HOST, the broker's, the timeouts, LOG_LEVEL) and the order API's own.
 * `.env.example` mirrors this list.
 */
export const orderApiConfigSchema = commonConfigSchema
  .extend({
    /** HTTP port for the API, health, readiness and metrics. */
    PORT: portSchema.default(3000),
    /**
     * Seconds sent in `Retry-After` with a 503 (whole seconds: the header's delta-seconds, RFC 9110
     * §10.2.3); a duration such as `30s` or `2m` too, a bare number being seconds.
     */
    RETRY_AFTER_SECONDS: durationSchema('s').default(5),
    /**
     * Keys that may post orders (`Authorization: Bearer <key>`), comma-separated, several at once
     * for rotation: each a key of at least 32 characters, or `sha256:<64 hex digits>`, the SHA-256
     * of one. Required unless ORDER_API_AUTH=off.
     */
    ORDER_API_KEYS: apiKeysSchema,
    /** `off` accepts orders without a key (a warning at start, `/readyz` says `auth: off`); only explicitly. */
    ORDER_API_AUTH: z.enum(['on', 'off']).default('on'),
    /** Requests to POST /orders per minute and key (each order API process counts its own). */
    ORDER_API_RATE_LIMIT: z.coerce.number().int().min(1).default(600),
  })
  .refine((c) => c.HTTP_HEADERS_TIMEOUT_MS <= c.HTTP_REQUEST_TIMEOUT_MS, HEADERS_WITHIN_REQUEST_TIMEOUT)
  .refine((c) => !(c.ORDER_API_AUTH === 'off' && c.ORDER_API_KEYS.length > 0), {
    message: 'is off, but ORDER_API_KEYS is set: unset one of them (keys would not be checked)',
    path: ['ORDER_API_AUTH'],
  });

export type OrderApiConfig = z.output<typeof orderApiConfigSchema>;

/** The one line the order API refuses to start with when it has no keys and authentication is on. */
export const MISSING_KEYS_MESSAGE =
  'ORDER_API_KEYS is not set: POST /orders needs at least one key (32+ characters, or sha256:<hex> of one); ' +
  'set ORDER_API_AUTH=off to accept orders without a key';

/**
 * Reads and validates the order API's settings from `env`.
 *
 * Throws an AppError `ERR_CONFIG_INVALID`: naming each bad key (see `parseConfig`); or, once every
 * setting is valid, if `ORDER_API_KEYS` is unset while `ORDER_API_AUTH` is not `off`, with the one
 * line `MISSING_KEYS_MESSAGE` (the API never accepts orders from anyone by default).
 */
export function loadOrderApiConfig(env: NodeJS.ProcessEnv = process.env): OrderApiConfig {
  const config = parseConfig(orderApiConfigSchema, env);
  if (config.ORDER_API_AUTH === 'on' && config.ORDER_API_KEYS.length === 0) {
    throw new AppError(ErrorCodes.CONFIG_INVALID, MISSING_KEYS_MESSAGE, {
      details: [{ path: 'ORDER_API_KEYS', message: 'not set' }],
    });
  }
  return config;
}
