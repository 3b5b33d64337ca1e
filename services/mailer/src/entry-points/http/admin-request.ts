import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AppError, ErrorCodes, orderSchema, parseOrThrow } from '@order-mail/shared/contract';

/**
 * Parses `input` with `schema`; throws AppError VALIDATION_FAILED (400) with one
 * `details[]` entry per broken rule, each naming its field by `path`.
 */
export const parse = <S extends z.ZodType>(schema: S, input: unknown): z.output<S> =>
  parseOrThrow(schema, input, 'The request is not valid');

/**
 * Parses a query string (`req.query`). No admin query value is a list, so a key given twice
 * (`?limit=1&limit=2`, which express reads as an array) is refused by name first: 400
 * validation_failed with `{ path: key, message: '"key" is given more than once' }`.
 */
export function parseQuery<S extends z.ZodType>(schema: S, query: Record<string, unknown>): z.output<S> {
  const repeated = Object.keys(query).filter((key) => Array.isArray(query[key]));
  if (repeated.length > 0) {
    throw new AppError(ErrorCodes.VALIDATION_FAILED, 'The request is not valid', {
      details: repeated.map((key) => ({ path: key, message: `"${key}" is given more than once` })),
    });
  }
  return parse(schema, query);
}

/**
 * An order id in a path or query: the order schema's own rule (1-64 of `A-Za-z0-9_-`), so
 * nothing the API could not have accepted (a NUL byte, say) ever reaches PostgreSQL.
 */
export const orderIdSchema = orderSchema.shape.orderId;

/**
 * A whole number in a query string, `min`-`max`. Decimal digits only: `z.coerce.number` would
 * take `''` as 0, `1e2` as 100 and `0x10` as 16, and a repeated key (an array) is not a number either.
 */
export const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,9}$/, { message: 'must be a whole number' })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** `queryInt`, `fallback` when the key is absent. */
export const queryIntOr = (min: number, max: number, fallback: number) => queryInt(min, max).default(fallback);

/** Routes that take no query: an unknown key is refused rather than silently ignored. */
export const noQuery = z.strictObject({});

/**
 * The id the admin token goes by in logs and records (`requestedBy`, `purgedBy`: `admin:<id>`):
 * the first 8 hex digits of the SHA-256 of its UTF-8 bytes, the scheme of the order API's key ids
 * (`keyIdOf(keyDigest(key))` in services/order-api/src/domain/api-keys.ts). Not secret: it cannot
 * be turned back into the token, yet tells a rotated token from the previous one.
 */
export function adminTokenId(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest().subarray(0, 4).toString('hex');
}

/**
 * A point in time, ISO 8601 with seconds and a zone (`2026-11-25T18:00:00Z`, `…+01:00`, with
 * fractions or not), as a Date. A date alone or a local time is refused: which day or hour it
 * means would depend on the mailer's time zone.
 */
export const dateTimeSchema = z.iso
  .datetime({
    offset: true,
    error: 'must be an ISO 8601 date-time with seconds and a zone, e.g. 2026-11-25T18:00:00Z',
  })
  .transform((value) => new Date(value));
