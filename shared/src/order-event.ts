import { z } from 'zod';
import { normalizeEmailAddress } from './email-address';
import { codePointLength, findForbiddenCharacter, normalizeSingleLineText } from './text-rules';

/**
 * The event contract between the order API and the mailer. Both import it from here;
 * any change to the payload shape bumps EVENT_SCHEMA_VERSION.
 */
export const EVENT_SCHEMA_VERSION = 1;
export const ORDER_CONFIRMED_EVENT_TYPE = 'order.confirmed';

/** AMQP header names carried on every order event. */
export const EventHeaders = {
  correlationId: 'x-correlation-id',
  schemaVersion: 'x-schema-version',
} as const;

const SUPPORTED_CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

function isValidLocale(value: string): boolean {
  try {
    return Intl.getCanonicalLocales(value).length === 1;
  } catch {
    return false;
  }
}

export const MAX_UNIT_PRICE = 1_000_000_000;

/**
 * A single-line text field (a name, a SKU): refused if it contains a character that
 * `findForbiddenCharacter` names (C0/C1 controls, U+2028/U+2029, bidi overrides and isolates,
 * unpaired surrogates), otherwise normalised to NFC and trimmed (`normalizeSingleLineText`), and
 * then `min`-`max` Unicode code points long. Output: the normalised string. Rules and sources in
 * `text-rules.ts`; one issue per field, at the field's path.
 */
function singleLineText(limits: { min: number; max: number }) {
  return z.string().transform((raw, ctx) => {
    const forbidden = findForbiddenCharacter(raw);
    if (forbidden) {
      ctx.addIssue({ code: 'custom', message: forbidden.message, input: raw });
      return z.NEVER;
    }
    const text = normalizeSingleLineText(raw);
    const length = codePointLength(text);
    if (length < limits.min || length > limits.max) {
      ctx.addIssue({
        code: 'custom',
        message: `Must be ${limits.min}-${limits.max} characters (Unicode code points, after trimming); got ${length}`,
        input: raw,
      });
      return z.NEVER;
    }
    return text;
  });
}

/**
 * An email address, refused or turned into the ASCII form that is stored and sent to
 * (`normalizeEmailAddress`: Unicode domains to punycode by UTS #46, no SMTPUTF8 local parts).
 */
const emailAddressSchema = z.string().transform((raw, ctx) => {
  const result = normalizeEmailAddress(raw);
  if (!result.ok) {
    ctx.addIssue({ code: 'custom', message: result.message, input: raw });
    return z.NEVER;
  }
  return result.address;
});

const orderItemSchema = z.strictObject({
  sku: singleLineText({ min: 1, max: 64 }),
  name: singleLineText({ min: 1, max: 200 }),
  quantity: z.number().int().min(1).max(1000),
  unitPrice: z.number().int().min(0).max(MAX_UNIT_PRICE),
});

const customerSchema = z.strictObject({
  email: emailAddressSchema,
  name: singleLineText({ min: 1, max: 200 }),
  locale: z
    .string()
    .max(35)
    .refine(isValidLocale, { message: 'Invalid locale: expected a BCP 47 tag such as "en" or "de-CH"' })
    .transform((v) => Intl.getCanonicalLocales(v)[0])
    .default('en'),
});

/** What a client posts to `POST /orders`. */
export const orderSchema = z.strictObject({
  orderId: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/, { message: 'orderId may only contain letters, digits, "_" and "-"' }),
  customer: customerSchema,
  items: z.array(orderItemSchema).min(1).max(100),
  currency: z.string().refine((c) => SUPPORTED_CURRENCIES.has(c), {
    message: 'Invalid currency: expected an ISO 4217 code such as "EUR"',
  }),
});

export type Order = z.output<typeof orderSchema>;
export type OrderInput = z.input<typeof orderSchema>;
export type OrderItem = z.output<typeof orderItemSchema>;

/** The message body published with routing key `order.confirmed`. */
export const orderConfirmedEventSchema = z.strictObject({
  schemaVersion: z.literal(EVENT_SCHEMA_VERSION),
  type: z.literal(ORDER_CONFIRMED_EVENT_TYPE),
  eventId: z.uuid(),
  /** ISO 8601 time at which the API accepted the order; end-to-end latency is measured from it. */
  acceptedAt: z.iso.datetime(),
  /**
   * The request id (X-Request-Id) the order came with. Stored in the ledger (PostgreSQL refuses
   * NUL in text) and sent as an email header, so it gets the single-line character rules, but is
   * kept as it is (no normalisation): it is an identifier to search for.
   */
  correlationId: z
    .string()
    .min(1)
    .max(200)
    .superRefine((value, ctx) => {
      const forbidden = findForbiddenCharacter(value);
      if (forbidden) ctx.addIssue({ code: 'custom', message: forbidden.message, input: value });
    }),
  order: orderSchema,
});

export type OrderConfirmedEvent = z.output<typeof orderConfirmedEventSchema>;
