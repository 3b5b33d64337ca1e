import { z } from 'zod';
import {
  AppError,
  ErrorCodes,
  EVENT_SCHEMA_VERSION,
  ORDER_CONFIRMED_EVENT_TYPE,
  orderConfirmedEventSchema,
  orderSchema,
  orderTotalIssues,
  parseOrThrow,
  type Order,
  type OrderConfirmedEvent,
} from '@order-mail/shared/contract';
import { composeOrderEmail, type ComposeOrderEmailDeps } from './compose-order-email';

/** The message of a 400 for an invalid order: the order API's (`POST /orders`). */
export const INVALID_ORDER = 'The order is not valid';

/**
 * Validates an order exactly as `POST /orders` does (the order API's `parseOrder`): every field
 * (`orderSchema`), then the amounts (`orderTotalIssues`). Throws AppError VALIDATION_FAILED with
 * the same message and details, so a preview refuses what the API refuses, with the same 400.
 */
export function parseOrderAsApi(body: unknown): Order {
  const order = parseOrThrow(orderSchema, body, INVALID_ORDER);
  const issues = orderTotalIssues(order);
  if (issues.length > 0) throw new AppError(ErrorCodes.VALIDATION_FAILED, INVALID_ORDER, { details: issues });
  return order;
}

/** A language tag by the rule of `customer.locale` (BCP 47, canonicalised: `de-ch` → `de-CH`). */
export const localeSchema = orderSchema.shape.customer.shape.locale.unwrap();

/**
 * `POST /preview`'s body: `{ order, locale? }`. Only its shape is checked here (`order` present,
 * `locale` a language tag, no other key); the order is then validated by `parseOrderAsApi`, so its
 * problems read exactly as `POST /orders`' (paths such as `customer.email`, not
 * `order.customer.email`; an order that is not an object too).
 */
export const previewRequestSchema = z.strictObject({
  order: z.unknown().refine((order) => order !== undefined, {
    message: 'Required: the order to preview, as POST /orders takes it',
  }),
  locale: localeSchema.optional(),
});

/** What a preview is of: a validated order, and the language to render it in instead of `customer.locale`. */
export interface PreviewRequest {
  order: Order;
  locale?: string;
}

/** Reads a `POST /preview` body; throws AppError VALIDATION_FAILED as `POST /orders` would. */
export function parsePreviewRequest(body: unknown): PreviewRequest {
  const request = parseOrThrow(previewRequestSchema, body, 'The request is not valid');
  return { order: parseOrderAsApi(request.order), locale: request.locale };
}

/** The identity a previewed event gets (no event is published: these only fill its fields). */
export interface PreviewEventMeta {
  eventId: string;
  correlationId: string;
  acceptedAt: Date;
}

/**
 * The event the order API would publish for `order` (its `buildOrderConfirmedEvent`: schema
 * version 2, `placedAt` defaulting to the acceptance time), with `locale` as `customer.locale`
 * if given, then read back as the worker reads a message (JSON, `orderConfirmedEventSchema`), so
 * the email is built from exactly what the worker would see.
 */
export function previewEvent(request: PreviewRequest, meta: PreviewEventMeta): OrderConfirmedEvent {
  const acceptedAt = meta.acceptedAt.toISOString();
  const { order, locale } = request;
  const event = {
    schemaVersion: EVENT_SCHEMA_VERSION,
    type: ORDER_CONFIRMED_EVENT_TYPE,
    eventId: meta.eventId,
    acceptedAt,
    correlationId: meta.correlationId,
    order: {
      ...order,
      customer: { ...order.customer, locale: locale ?? order.customer.locale },
      placedAt: order.placedAt ?? acceptedAt,
    },
  };
  return orderConfirmedEventSchema.parse(JSON.parse(JSON.stringify(event)));
}

/** What a preview shows: the subject and both parts, as they would be sent. */
export interface OrderEmailPreview {
  subject: string;
  html: string;
  text: string;
}

/** The confirmation email of an order, composed as the worker composes it (`composeOrderEmail`), not sent. */
export function previewOrderEmail(
  request: PreviewRequest,
  meta: PreviewEventMeta,
  deps: ComposeOrderEmailDeps,
): OrderEmailPreview {
  const email = composeOrderEmail(previewEvent(request, meta), deps);
  return { subject: email.subject, html: email.html, text: email.text };
}
