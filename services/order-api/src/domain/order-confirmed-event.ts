import {
  EVENT_SCHEMA_VERSION,
  ORDER_CONFIRMED_EVENT_TYPE,
  orderSchema,
  parseOrThrow,
  type Order,
  type OrderConfirmedEvent,
} from '@order-mail/shared/contract';

/** Validates a request body as an order; throws VALIDATION_FAILED with one detail per problem. */
export function parseOrder(body: unknown): Order {
  return parseOrThrow(orderSchema, body, 'The order is not valid');
}

export function buildOrderConfirmedEvent(
  order: Order,
  meta: { eventId: string; correlationId: string; acceptedAt: Date },
): OrderConfirmedEvent {
  return {
    schemaVersion: EVENT_SCHEMA_VERSION,
    type: ORDER_CONFIRMED_EVENT_TYPE,
    eventId: meta.eventId,
    acceptedAt: meta.acceptedAt.toISOString(),
    correlationId: meta.correlationId,
    order,
  };
}
