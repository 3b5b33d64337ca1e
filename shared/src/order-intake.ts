import { AppError, ErrorCodes } from './errors';
import {
  EVENT_SCHEMA_VERSION,
  ORDER_CONFIRMED_EVENT_TYPE,
  orderSchema,
  type Order,
  type OrderConfirmedEvent,
} from './order-event';
import { orderTotalIssues } from './order-totals';
import { parseOrThrow } from './validation';

/** The message of the 400 for an invalid order (`POST /orders`, and `POST /preview` in the mailer). */
export const INVALID_ORDER = 'The order is not valid';

/**
 * Validates a request body as an order: first every field (`orderSchema`), then its amounts
 * (`orderTotalIssues`: a negative total, at path `discounts`; a `total` that differs from
 * `computeOrderTotals`, at path `total`, naming both amounts). Pure; the one check both the order
 * API and the mailer's preview run, so a preview refuses exactly what the API refuses. Returns the
 * normalised order; throws AppError VALIDATION_FAILED (HTTP 400) with one `{ path, message }`
 * detail per problem.
 */
export function parseOrder(body: unknown): Order {
  const order = parseOrThrow(orderSchema, body, INVALID_ORDER);
  const issues = orderTotalIssues(order);
  if (issues.length > 0) throw new AppError(ErrorCodes.VALIDATION_FAILED, INVALID_ORDER, { details: issues });
  return order;
}

/**
 * The `order.confirmed` event for a validated order, at schema version EVENT_SCHEMA_VERSION (2):
 * `acceptedAt` is `meta.acceptedAt` in ISO 8601 UTC, and `order.placedAt` is the client's, or
 * that same acceptance time when the client did not send one.
 */
export function buildOrderConfirmedEvent(
  order: Order,
  meta: { eventId: string; correlationId: string; acceptedAt: Date },
): OrderConfirmedEvent {
  const acceptedAt = meta.acceptedAt.toISOString();
  return {
    schemaVersion: EVENT_SCHEMA_VERSION,
    type: ORDER_CONFIRMED_EVENT_TYPE,
    eventId: meta.eventId,
    acceptedAt,
    correlationId: meta.correlationId,
    order: { ...order, placedAt: order.placedAt ?? acceptedAt },
  };
}
