import { z } from 'zod';

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

export const orderItemSchema = z.strictObject({
  sku: z.string().trim().min(1).max(64),
  name: z.string().trim().min(1).max(200),
  quantity: z.number().int().min(1).max(1000),
  unitPrice: z.number().int().min(0).max(MAX_UNIT_PRICE),
});

export const customerSchema = z.strictObject({
  email: z.email().max(254),
  name: z.string().trim().min(1).max(200),
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
  correlationId: z.string().min(1).max(200),
  order: orderSchema,
});

export type OrderConfirmedEvent = z.output<typeof orderConfirmedEventSchema>;
