import { z } from 'zod';
import {
  buildOrderConfirmedEvent,
  orderConfirmedEventSchema,
  orderSchema,
  parseOrder,
  parseOrThrow,
  type Order,
  type OrderConfirmedEvent,
} from '@order-mail/shared/contract';
import { composeOrderEmail, type ComposeOrderEmailDeps } from './compose-order-email';

/** A language tag by the rule of `customer.locale` (BCP 47, canonicalised: `de-ch` → `de-CH`). */
export const localeSchema = orderSchema.shape.customer.shape.locale.unwrap();

/**
 * `POST /preview`'s body: `{ order, locale? }`. Only its shape is checked here (`order` present,
 * `locale` a language tag, no other key); the order is then validated by `parseOrder`, so its
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
  return { order: parseOrder(request.order), locale: request.locale };
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
  const { order, locale } = request;
  const withLocale = { ...order, customer: { ...order.customer, locale: locale ?? order.customer.locale } };
  const event = buildOrderConfirmedEvent(withLocale, meta);
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
