import { orderConfirmedEventSchema } from '../src/order-event';

function event(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 1,
    type: 'order.confirmed',
    eventId: '5c0d8f0e-6a7b-4c1d-9e2f-0123456789ab',
    acceptedAt: '2026-11-25T18:03:51.135Z',
    correlationId: 'req-abc-123',
    order: {
      orderId: 'A-1001',
      customer: { email: 'ada@example.com', name: 'Ada', locale: 'en' },
      items: [{ sku: 'SKU-1', name: 'Widget', quantity: 1, unitPrice: 100 }],
      currency: 'EUR',
    },
    ...overrides,
  };
}

describe('orderConfirmedEventSchema (what the mailer re-validates)', () => {
  describe('correlationId', () => {
    it.each([
      ['a request id', 'req-abc-123'],
      ['a UUID', '0f8fad5b-d9cb-469f-a165-70867728950e'],
      ['any other printable text, kept as it is', 'Bestellung é/1 (x)'],
      ['200 characters', 'r'.repeat(200)],
    ])('when it is %s, then the event is valid and the id unchanged', (_label, correlationId) => {
      // Act
      const parsed = orderConfirmedEventSchema.parse(event({ correlationId }));

      // Assert
      expect(parsed.correlationId).toBe(correlationId);
    });

    it.each([
      ['NUL (PostgreSQL cannot store it in text)', 'req\u0000x', 'U+0000'],
      ['CR LF (would forge an email header line)', 'req\r\nBcc: x@evil.example', 'U+000D'],
      ['ESC', 'req\u001b[2J', 'U+001B'],
      ['C1 U+0085', 'req\u0085', 'U+0085'],
      ['U+202E', 'req\u202E', 'U+202E'],
      ['an unpaired surrogate', 'req\uDC00', 'U+DC00'],
      ['empty', '', ''],
      ['201 characters', 'r'.repeat(201), ''],
    ])('when it holds %s, then the event is invalid at "correlationId"', (_label, correlationId, codePoint) => {
      // Act
      const result = orderConfirmedEventSchema.safeParse(event({ correlationId }));

      // Assert
      expect(result.success).toBe(false);
      const issue = result.error?.issues.find((i) => i.path.join('.') === 'correlationId');
      expect(issue?.message).toContain(codePoint);
    });
  });

  describe('the order inside', () => {
    it('when it holds a NUL in the customer name, then the event is invalid at that path', () => {
      const result = orderConfirmedEventSchema.safeParse(
        event({ order: { ...(event().order as object), customer: { email: 'ada@example.com', name: 'A\u0000' } } }),
      );

      expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual(['order.customer.name']);
    });

    it('when an event is validated twice (API, then mailer), then the second pass changes nothing', () => {
      // Arrange: what the API publishes from a Unicode domain and a decomposed name
      const first = orderConfirmedEventSchema.parse(
        event({
          order: {
            ...(event().order as object),
            customer: { email: 'Ada@Bücher.example', name: ' Rene\u0301e 👩‍💻 ', locale: 'de-ch' },
          },
        }),
      );

      // Act
      const second = orderConfirmedEventSchema.parse(JSON.parse(JSON.stringify(first)));

      // Assert
      expect(first.order.customer).toEqual({
        email: 'Ada@xn--bcher-kva.example',
        name: 'Ren\u00e9e 👩‍💻',
        locale: 'de-CH',
      });
      expect(second).toEqual(first);
    });
  });
});
