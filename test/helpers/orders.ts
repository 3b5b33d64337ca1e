import { randomBytes, randomUUID } from 'node:crypto';
import {
  EVENT_SCHEMA_VERSION,
  ORDER_CONFIRMED_EVENT_TYPE,
  orderConfirmedEventSchema,
  type OrderConfirmedEvent,
  type OrderInput,
} from '@order-mail/shared/contract';

/**
 * The key every order API a test starts accepts (`TEST_API_KEY_ENV` puts it in ORDER_API_KEYS),
 * random for each test file; `postJson` sends it to `/orders` unless told otherwise.
 */
export const TEST_API_KEY = randomBytes(32).toString('hex');

/** The order API's key settings for tests: ORDER_API_KEYS holding `TEST_API_KEY`. */
export const TEST_API_KEY_ENV = { ORDER_API_KEYS: TEST_API_KEY } as const;

/** `Authorization: Bearer <key>` (RFC 6750 §2.1), `TEST_API_KEY` by default. */
export function bearer(key: string = TEST_API_KEY): { authorization: string } {
  return { authorization: `Bearer ${key}` };
}

export function sampleOrder(overrides: Partial<OrderInput> = {}): OrderInput {
  return {
    orderId: 'A-1001',
    customer: { email: 'ada@example.com', name: 'Ada Lovelace', locale: 'en' },
    items: [
      { sku: 'SKU-1', name: 'Widget', quantity: 2, unitPrice: 1999 },
      { sku: 'SKU-2', name: 'Gadget', quantity: 1, unitPrice: 500 },
    ],
    currency: 'EUR',
    ...overrides,
  };
}

/**
 * POSTs `body` as JSON (a string is sent as is). To `/orders` it sends `TEST_API_KEY` as a Bearer
 * token, unless `headers` has an `Authorization` of its own (any case), so every test that posts
 * orders to an API started with `TEST_API_KEY_ENV` is authenticated without saying so.
 */
export function postJson(baseUrl: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const hasAuthorization = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
  return fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(path === '/orders' && !hasAuthorization && bearer()),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/**
 * An order-confirmed event as the order API publishes it and the mailer parses it: `sampleOrder()`,
 * a fresh `eventId`, accepted now, correlation id `corr-<orderId>`. `overrides` replace whole fields,
 * as `sampleOrder`'s do (`order` is an order as posted, e.g. `sampleOrder({ orderId })`); the result
 * is parsed by the event schema, so defaults are applied and an invalid override throws (build an
 * event the mailer must refuse by hand instead).
 */
export function sampleEvent(
  overrides: Partial<Omit<OrderConfirmedEvent, 'order'>> & { order?: OrderInput } = {},
): OrderConfirmedEvent {
  const order = overrides.order ?? sampleOrder();
  return orderConfirmedEventSchema.parse({
    schemaVersion: EVENT_SCHEMA_VERSION,
    type: ORDER_CONFIRMED_EVENT_TYPE,
    eventId: randomUUID(),
    acceptedAt: new Date().toISOString(),
    correlationId: `corr-${order.orderId}`,
    ...overrides,
    order,
  });
}

/**
 * The body of an order-confirmed event for `orderId` (`sampleEvent`'s, as JSON), ready to put on
 * a queue or hand to the worker.
 */
export function sampleEventBody(orderId: string, correlationId = `corr-${orderId}`): Buffer {
  return Buffer.from(JSON.stringify(sampleEvent({ order: sampleOrder({ orderId }), correlationId })));
}
