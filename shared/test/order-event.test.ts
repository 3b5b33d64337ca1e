import { EVENT_SCHEMA_VERSION, orderConfirmedEventSchema, orderPlacedAt } from '../src/order-event';

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

  describe('schemaVersion (1 before issue #11, 2 now)', () => {
    it('when a new event is built, then EVENT_SCHEMA_VERSION is 2', () => {
      expect(EVENT_SCHEMA_VERSION).toBe(2);
    });

    it('when a version-1 event (no placedAt, none of the new fields) is parsed, then it is valid and its date falls back to acceptedAt', () => {
      // Arrange: what order APIs published before version 2, possibly still in a queue
      const v1 = event({ schemaVersion: 1 });

      // Act
      const parsed = orderConfirmedEventSchema.parse(v1);

      // Assert
      expect(parsed).toEqual(v1);
      expect(parsed.order.placedAt).toBeUndefined();
      expect(orderPlacedAt(parsed)).toBe('2026-11-25T18:03:51.135Z');
    });

    it("when a version-2 event carries placedAt, then it is valid and orderPlacedAt is the order's own", () => {
      // Arrange
      const v2 = event({
        schemaVersion: 2,
        order: { ...(event().order as object), placedAt: '2026-11-25T19:00:00+01:00' },
      });

      // Act
      const parsed = orderConfirmedEventSchema.parse(v2);

      // Assert
      expect(parsed.schemaVersion).toBe(2);
      expect(orderPlacedAt(parsed)).toBe('2026-11-25T19:00:00+01:00');
    });

    it('when a version-2 event has no placedAt, then it is invalid at "order.placedAt"', () => {
      // Act
      const result = orderConfirmedEventSchema.safeParse(event({ schemaVersion: 2 }));

      // Assert
      expect(result.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
        ['order.placedAt', expect.stringContaining('schemaVersion 2')],
      ]);
    });

    it.each([0, 3, '2', undefined])(
      'when schemaVersion is %p, then the event is invalid naming 1 and 2',
      (schemaVersion) => {
        // Act
        const result = orderConfirmedEventSchema.safeParse(event({ schemaVersion }));

        // Assert
        const issue = result.error?.issues.find((i) => i.path.join('.') === 'schemaVersion');
        expect(issue?.message).toContain('1, 2');
      },
    );
  });
});
