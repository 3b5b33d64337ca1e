import type * as amqp from 'amqplib';
import { EVENT_SCHEMA_VERSION, orderConfirmedEventSchema } from '@order-mail/shared/contract';
import { loadOrderApiConfig } from '../../src/config';
import { startOrderApi, type RunningOrderApi } from '../../src/service';
import { AMQP_URL, connectTestBroker, eventually } from '@test/helpers/broker';
import { uniqueName } from '@test/helpers/names';
import { bearer, postJson, sampleFullOrder, sampleOrder, TEST_API_KEY_ENV } from '@test/helpers/orders';

const ROUTING_KEY = 'order.confirmed';

describe('order API with a real RabbitMQ', () => {
  let exchange: string;
  let queue: string;
  let api: RunningOrderApi;
  let baseUrl: string;
  let broker: { connection: amqp.ChannelModel; channel: amqp.Channel };

  beforeAll(async () => {
    exchange = uniqueName('orders');
    queue = uniqueName('orders-tap');
    broker = await connectTestBroker();
    await broker.channel.assertExchange(exchange, 'topic', { durable: true });
    await broker.channel.assertQueue(queue, { durable: false });
    await broker.channel.bindQueue(queue, exchange, ROUTING_KEY);
    api = await startOrderApi(
      loadOrderApiConfig({
        PORT: '0',
        AMQP_URL,
        ORDERS_EXCHANGE: exchange,
        LOG_LEVEL: 'silent',
        RETRY_AFTER_SECONDS: '7',
        ...TEST_API_KEY_ENV,
      }),
    );
    baseUrl = `http://127.0.0.1:${api.port}`;
    await eventually(() => api.isReady(), 10000, 'order API ready');
  });

  afterAll(async () => {
    await api.stop();
    await broker.channel.deleteQueue(queue);
    await broker.channel.deleteExchange(exchange);
    await broker.connection.close();
  });

  async function drainQueue(): Promise<amqp.GetMessage[]> {
    const messages: amqp.GetMessage[] = [];
    for (;;) {
      const msg = await broker.channel.get(queue, { noAck: true });
      if (!msg) return messages;
      messages.push(msg);
    }
  }

  /** Posts a valid order as a marker: once it arrives, anything published before it has arrived too. */
  async function messagesUpToMarker(): Promise<amqp.GetMessage[]> {
    const marker = `marker-${Date.now()}`;
    const res = await postJson(baseUrl, '/orders', sampleOrder({ orderId: marker }));
    expect(res.status).toBe(202);
    const seen: amqp.GetMessage[] = [];
    await eventually(async () => {
      seen.push(...(await drainQueue()));
      return seen.some((m) => JSON.parse(m.content.toString()).order.orderId === marker);
    });
    return seen.filter((m) => JSON.parse(m.content.toString()).order.orderId !== marker);
  }

  beforeEach(async () => {
    await broker.channel.purgeQueue(queue);
  });

  it('when a valid order is posted, then it answers 202 and publishes exactly one confirmed, well-formed event', async () => {
    // Arrange
    const order = sampleOrder({ orderId: 'A-1001' });

    // Act
    const before = Date.now();
    const res = await postJson(baseUrl, '/orders', order, { 'X-Request-Id': 'req-abc-123' });

    // Assert: the answer
    expect(res.status).toBe(202);
    expect(res.headers.get('x-request-id')).toBe('req-abc-123');
    const body = (await res.json()) as { orderId: string; eventId: string; status: string };
    expect(body).toEqual({ orderId: 'A-1001', eventId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'accepted' });

    // Assert: exactly one message, with the contract's properties
    const messages = await messagesUpToMarker();
    expect(messages).toHaveLength(1);
    const [msg] = messages;
    expect(msg.fields.exchange).toBe(exchange);
    expect(msg.fields.routingKey).toBe(ROUTING_KEY);
    expect(msg.properties.deliveryMode).toBe(2);
    expect(msg.properties.contentType).toBe('application/json');
    expect(msg.properties.messageId).toBe(body.eventId);
    expect(msg.properties.correlationId).toBe('req-abc-123');
    expect(msg.properties.headers).toMatchObject({
      'x-correlation-id': 'req-abc-123',
      'x-schema-version': EVENT_SCHEMA_VERSION,
    });
    expect(msg.properties.timestamp).toBeGreaterThanOrEqual(Math.floor(before / 1000));
    const event = orderConfirmedEventSchema.parse(JSON.parse(msg.content.toString()));
    expect(event.eventId).toBe(body.eventId);
    expect(event.schemaVersion).toBe(EVENT_SCHEMA_VERSION);
    expect(Date.parse(event.acceptedAt)).toBeGreaterThanOrEqual(before);
    // A version-1-shaped order: the API adds only placedAt, the acceptance time.
    expect(event.order).toEqual({ ...order, customer: { ...order.customer }, placedAt: event.acceptedAt });
  });

  it('when a version-2 order with every field is posted, then it answers 202 and its event is schemaVersion 2 with the order as sent', async () => {
    // Arrange: placedAt, orderUrl, both addresses, shipping, a discount, included VAT, paymentMethod, a matching total
    const order = sampleFullOrder({ orderId: 'A-full' });

    // Act
    const res = await postJson(baseUrl, '/orders', order);

    // Assert
    expect(res.status).toBe(202);
    const [msg] = await messagesUpToMarker();
    expect(msg.properties.headers).toMatchObject({ 'x-schema-version': 2 });
    const json = JSON.parse(msg.content.toString());
    expect(json).toMatchObject({ schemaVersion: 2, order: { placedAt: '2026-11-25T19:03:51+01:00', total: 10450 } });
    expect(orderConfirmedEventSchema.parse(json).order).toEqual(order);
  });

  it.each([
    ['a total that does not match', sampleFullOrder({ total: 10500 }), 'total', 'computed total 10450 EUR'],
    [
      'discounts larger than the order',
      sampleOrder({ discounts: [{ label: 'Too much', amount: 9999 }] }),
      'discounts',
      'cannot be negative',
    ],
    ['an http orderUrl', sampleFullOrder({ orderUrl: 'http://shop.example/o/1' }), 'orderUrl', 'https'],
    ['a card number', sampleFullOrder({ paymentMethod: '4242 4242 4242 4242' }), 'paymentMethod', 'PCI DSS'],
  ])(
    'when a version-2 order has %s, then it answers 400 validation_failed at that path and publishes nothing',
    async (_what, body, path, named) => {
      const res = await postJson(baseUrl, '/orders', body);

      expect(res.status).toBe(400);
      const json = (await res.json()) as { error: string; details: { path: string; message: string }[] };
      expect(json.error).toBe('validation_failed');
      expect(json.details).toEqual([{ path, message: expect.stringContaining(named) }]);
      expect(await messagesUpToMarker()).toHaveLength(0);
    },
  );

  it('when no X-Request-Id is sent, then one is generated, echoed and used as the correlation id', async () => {
    const res = await postJson(baseUrl, '/orders', sampleOrder({ orderId: 'A-gen-id' }));
    expect(res.status).toBe(202);
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const [msg] = await messagesUpToMarker();
    expect(msg.properties.correlationId).toBe(requestId);
  });

  it.each([
    ['a missing orderId', { ...sampleOrder(), orderId: undefined }, 'orderId'],
    ['an orderId with spaces', sampleOrder({ orderId: 'A 1' }), 'orderId'],
    ['a bad email', sampleOrder({ customer: { email: 'nope', name: 'Ada' } }), 'customer.email'],
    ['no items', sampleOrder({ items: [] }), 'items'],
    [
      'a fractional price',
      sampleOrder({ items: [{ sku: 'S', name: 'N', quantity: 1, unitPrice: 19.99 }] }),
      'items.0.unitPrice',
    ],
    ['quantity 0', sampleOrder({ items: [{ sku: 'S', name: 'N', quantity: 0, unitPrice: 1 }] }), 'items.0.quantity'],
    ['an unknown currency', sampleOrder({ currency: 'EUX' }), 'currency'],
    ['an array body', [sampleOrder()], ''],
  ])('when the order has %s, then it answers 400 with details and publishes nothing', async (_what, body, path) => {
    const res = await postJson(baseUrl, '/orders', body);

    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: string; details: { path: string; message: string }[] };
    expect(json.error).toBe('validation_failed');
    expect(json.details.map((d) => d.path)).toContain(path);
    expect(json.details.every((d) => typeof d.message === 'string' && d.message.length > 0)).toBe(true);
    expect(await messagesUpToMarker()).toHaveLength(0);
  });

  it('when the body is not JSON, then it answers 400 validation_failed and publishes nothing', async () => {
    const res = await postJson(baseUrl, '/orders', '{"orderId": ');
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: string; details: unknown[] };
    expect(json.error).toBe('validation_failed');
    expect(json.details).toHaveLength(1);
    expect(await messagesUpToMarker()).toHaveLength(0);
  });

  it('when the content type is not JSON, then it answers 415', async () => {
    const res = await fetch(`${baseUrl}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', ...bearer() },
      body: JSON.stringify(sampleOrder()),
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: 'unsupported_media_type' });
    expect(await messagesUpToMarker()).toHaveLength(0);
  });

  it('when the body is over 64 KiB, then it answers 413', async () => {
    const big = sampleOrder({ customer: { email: 'ada@example.com', name: 'x'.repeat(70 * 1024) } });
    const res = await postJson(baseUrl, '/orders', big);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'payload_too_large' });
    expect(await messagesUpToMarker()).toHaveLength(0);
  });

  it('when an unknown route is called, then it answers 404 with a JSON body', async () => {
    const res = await fetch(`${baseUrl}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
  });

  it('when no queue is bound to the routing key, then it answers 503 rather than accepting an order that would be dropped', async () => {
    await broker.channel.unbindQueue(queue, exchange, ROUTING_KEY);
    try {
      const res = await postJson(baseUrl, '/orders', sampleOrder({ orderId: 'A-unroutable' }));
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('7');
      expect(await res.json()).toMatchObject({
        error: 'service_unavailable',
        message: expect.stringMatching(/Order "A-unroutable" was not stored .* same orderId is safe/),
      });
    } finally {
      await broker.channel.bindQueue(queue, exchange, ROUTING_KEY);
    }
  });

  it('when readiness and health are asked, then both answer 200 while the broker is connected', async () => {
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { broker: 'ready', brokerNode: '127.0.0.1:5672' } });
    const metrics = await fetch(`${baseUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('process_cpu_user_seconds_total');
  });

  describe('bytes, characters and addresses', () => {
    const postBytes = (body: Buffer, contentType: string) =>
      fetch(`${baseUrl}/orders`, { method: 'POST', headers: { 'content-type': contentType, ...bearer() }, body });
    const orderWithName = (name: string) =>
      JSON.stringify(sampleOrder({ orderId: 'A-bytes', customer: { email: 'ada@example.com', name } }));

    it.each([
      ['Latin-1 bytes (é as E9) without a charset', Buffer.from(orderWithName('Zoë'), 'latin1'), 'application/json'],
      [
        'Latin-1 bytes declared as UTF-8',
        Buffer.from(orderWithName('Zoë'), 'latin1'),
        'application/json; charset=utf-8',
      ],
      [
        'an encoded surrogate (CESU-8)',
        Buffer.concat([Buffer.from(orderWithName('Ada').slice(0, 20)), Buffer.from([0xed, 0xa0, 0x80])]),
        'application/json',
      ],
    ])(
      'when the body is %s, then it answers 400 validation_failed naming UTF-8 and publishes nothing',
      async (_what, body, contentType) => {
        // Act
        const res = await postBytes(body, contentType);

        // Assert
        expect(res.status).toBe(400);
        const json = (await res.json()) as { error: string; details: { path: string; message: string }[] };
        expect(json.error).toBe('validation_failed');
        expect(json.details).toEqual([{ path: '', message: expect.stringContaining('UTF-8') }]);
        expect(await messagesUpToMarker()).toHaveLength(0);
      },
    );

    it.each([
      ['utf-16le', Buffer.from(orderWithName('Ada'), 'utf16le')],
      ['iso-8859-1', Buffer.from(orderWithName('Zoë'), 'latin1')],
    ])('when the body declares charset=%s, then it answers 415 and publishes nothing', async (charset, body) => {
      // Act
      const res = await postBytes(body, `application/json; charset=${charset}`);

      // Assert
      expect(res.status).toBe(415);
      expect(await res.json()).toMatchObject({ error: 'unsupported_media_type' });
      expect(await messagesUpToMarker()).toHaveLength(0);
    });

    it.each([
      ['NUL', 'Ada\u0000'],
      ['CR LF', 'Ada\r\nBcc: x@evil.example'],
      ['U+202E RIGHT-TO-LEFT OVERRIDE', 'Ada\u202E'],
    ])(
      'when the customer name holds %s, then it answers 400 at customer.name and publishes nothing',
      async (_what, name) => {
        // Act
        const res = await postJson(baseUrl, '/orders', sampleOrder({ customer: { email: 'ada@example.com', name } }));

        // Assert
        expect(res.status).toBe(400);
        const json = (await res.json()) as { details: { path: string }[] };
        expect(json.details.map((d) => d.path)).toEqual(['customer.name']);
        expect(await messagesUpToMarker()).toHaveLength(0);
      },
    );

    it('when the address has a Unicode domain and the name is decomposed, then the event carries punycode and NFC', async () => {
      // Arrange: UTF-8 bytes of a Unicode domain, an emoji and e + U+0301
      const order = sampleOrder({
        orderId: 'A-unicode',
        customer: { email: 'ada@bücher.example', name: 'Rene\u0301e 👩‍💻 أدا', locale: 'de-CH' },
      });

      // Act
      const res = await postJson(baseUrl, '/orders', order);

      // Assert
      expect(res.status).toBe(202);
      const [msg] = await messagesUpToMarker();
      const event = orderConfirmedEventSchema.parse(JSON.parse(msg.content.toString()));
      expect(event.order.customer).toEqual({
        email: 'ada@xn--bcher-kva.example',
        name: 'Ren\u00e9e 👩‍💻 أدا',
        locale: 'de-CH',
      });
    });
  });
});

describe('order API without a reachable broker', () => {
  it('when the broker cannot be reached, then orders get 503 with Retry-After quickly and readiness is 503', async () => {
    // Arrange: nothing listens on port 1
    const api = await startOrderApi(
      loadOrderApiConfig({
        PORT: '0',
        AMQP_URL: 'amqp://guest:guest@127.0.0.1:1',
        LOG_LEVEL: 'silent',
        ...TEST_API_KEY_ENV,
      }),
    );
    const baseUrl = `http://127.0.0.1:${api.port}`;
    try {
      // Act
      const res = await postJson(baseUrl, '/orders', sampleOrder());

      // Assert
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await res.json()).toMatchObject({
        error: 'service_unavailable',
        message: expect.stringMatching(/not connected to RabbitMQ\. Order "A-1001" was not published .* is safe/),
      });
      expect((await fetch(`${baseUrl}/readyz`)).status).toBe(503);
      expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
    } finally {
      await api.stop();
    }
  });
});
