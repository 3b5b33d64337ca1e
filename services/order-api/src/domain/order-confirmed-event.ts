import {
  AppError,
  ErrorCodes,
  EVENT_SCHEMA_VERSION,
  ORDER_CONFIRMED_EVENT_TYPE,
  orderSchema,
  orderTotalIssues,
  parseOrThrow,
  type Order,
  type OrderConfirmedEvent,
} from '@order-mail/shared/contract';

const INVALID_ORDER = 'The order is not valid';

/**
 * Validates a request body as an order: first every field (`orderSchema`), then its amounts
 * (`orderTotalIssues`: a negative total, at path `discounts`; a `total` that differs from
 * `computeOrderTotals`, at path `total`, naming both amounts). Pure. Returns the normalised order;
 * throws AppError VALIDATION_FAILED (HTTP 400) with one `{ path, message }` detail per problem.
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
