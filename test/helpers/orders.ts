import { randomBytes, randomUUID } from 'node:crypto';
import {
  computeOrderTotals,
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
 * An order with every optional field of event schema version 2 set: `sampleOrder()`'s customer,
 * two items with `variant` and `imageUrl`, `placedAt` (with an offset), `orderUrl`, both
 * addresses, shipping 10.00, a 5.00 discount, German VAT 19% included in the prices (16.68),
 * `paymentMethod` and `total`: subtotal 9950 − 500 + 1000 = 10450 (EUR, minor units).
 * `overrides` replace whole fields; unless they give a `total`, it is recomputed with
 * `computeOrderTotals`, so the order stays consistent (it is not re-validated).
 */
export function sampleFullOrder(overrides: Partial<OrderInput> = {}): OrderInput {
  const order: OrderInput = {
    ...sampleOrder(),
    items: [
      {
        sku: 'SKU-1',
        name: 'Widget',
        variant: 'Colour: blue',
        quantity: 2,
        unitPrice: 1999,
        imageUrl: 'https://shop.example/images/widget.png',
      },
      {
        sku: 'SKU-2',
        name: 'Gadget',
        variant: 'Size M',
        quantity: 1,
        unitPrice: 5952,
        imageUrl: 'https://shop.example/images/gadget.png',
      },
    ],
    placedAt: '2026-11-25T19:03:51+01:00',
    orderUrl: 'https://shop.example/orders/A-1001',
    shippingAddress: {
      name: 'Ada Lovelace',
      lines: ['Friedrichstraße 123', '3. OG'],
      postalCode: '10117',
      city: 'Berlin',
      region: 'Berlin',
      country: 'DE',
    },
    billingAddress: {
      name: 'Ada Lovelace',
      lines: ['12 St James’s Square'],
      postalCode: 'SW1Y 4JH',
      city: 'London',
      country: 'GB',
    },
    shipping: { method: 'DHL Express', price: 1000 },
    discounts: [{ label: 'WELCOME5', amount: 500 }],
    taxes: [{ label: 'VAT 19%', amount: 1668, included: true }],
    paymentMethod: 'Visa •••• 4242',
    ...overrides,
  };
  return { ...order, total: overrides.total ?? computeOrderTotals(order).total };
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
 * An order-confirmed event as the order API publishes it and the mailer parses it: schema version
 * EVENT_SCHEMA_VERSION (2), `sampleOrder()`, a fresh `eventId`, accepted now, correlation id
 * `corr-<orderId>`, and `order.placedAt` the order's own or, as the order API does, `acceptedAt`.
 * `overrides` replace whole fields, as `sampleOrder`'s do (`order` is an order as posted, e.g.
 * `sampleOrder({ orderId })` or `sampleFullOrder()`); with `schemaVersion: 1` the order is left as
 * given (a version-1 event has no placedAt). The result is parsed by the event schema, so defaults
 * are applied and an invalid override throws (build an event the mailer must refuse by hand instead).
 */
export function sampleEvent(
  overrides: Partial<Omit<OrderConfirmedEvent, 'order'>> & { order?: OrderInput } = {},
): OrderConfirmedEvent {
  const order = overrides.order ?? sampleOrder();
  const acceptedAt = overrides.acceptedAt ?? new Date().toISOString();
  const schemaVersion = overrides.schemaVersion ?? EVENT_SCHEMA_VERSION;
  return orderConfirmedEventSchema.parse({
    schemaVersion,
    type: ORDER_CONFIRMED_EVENT_TYPE,
    eventId: randomUUID(),
    acceptedAt,
    correlationId: `corr-${order.orderId}`,
    ...overrides,
    order: schemaVersion === 1 ? order : { ...order, placedAt: order.placedAt ?? acceptedAt },
  });
}

/**
 * The body of an order-confirmed event for `orderId` (`sampleEvent`'s, as JSON), ready to put on
 * a queue or hand to the worker.
 */
export function sampleEventBody(orderId: string, correlationId = `corr-${orderId}`): Buffer {
  return Buffer.from(JSON.stringify(sampleEvent({ order: sampleOrder({ orderId }), correlationId })));
}
