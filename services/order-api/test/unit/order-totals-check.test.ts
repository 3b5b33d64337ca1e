import { AppError, ErrorCodes, type FieldIssue } from '@order-mail/shared/contract';
import { buildOrderConfirmedEvent, parseOrder } from '@order-mail/shared/contract';
import { sampleFullOrder, sampleOrder } from '@test/helpers/orders';

/** The details of parseOrder's VALIDATION_FAILED for `body`, or `[]` when it accepts it. */
function detailsFor(body: unknown): FieldIssue[] {
  try {
    parseOrder(body);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe(ErrorCodes.VALIDATION_FAILED);
    return (err as AppError).details;
  }
}

describe('parseOrder: the amounts (computeOrderTotals, issue #11)', () => {
  // sampleFullOrder: items 2 × 1999 + 1 × 5952 = 9950, discount 500, shipping 1000, VAT 1668 inside the prices.
  it.each<[string, Record<string, unknown>, FieldIssue[]]>([
    ['a version-1 order (no total, no extras)', { ...sampleOrder() }, []],
    ['every field and the right total (10450)', { ...sampleFullOrder() }, []],
    ['every field and no total', { ...sampleFullOrder(), total: undefined }, []],
    [
      'a total 50 too high',
      { ...sampleFullOrder({ total: 10500 }) },
      [
        {
          path: 'total',
          message:
            'total 10500 EUR does not match the computed total 10450 EUR (subtotal 9950 − discounts 500 + ' +
            'shipping 1000 + added tax 0; included tax 1668 is already in the prices)',
        },
      ],
    ],
    [
      'a total that added the included VAT again (12118)',
      { ...sampleFullOrder({ total: 12118 }) },
      [expect.objectContaining({ path: 'total', message: expect.stringContaining('computed total 10450 EUR') })],
    ],
    [
      'a total that forgot the added tax',
      {
        ...sampleOrder({ currency: 'USD', taxes: [{ label: 'Sales tax', amount: 399 }], total: 4498 }),
      },
      [
        {
          path: 'total',
          message:
            'total 4498 USD does not match the computed total 4897 USD (subtotal 4498 − discounts 0 + shipping 0 + added tax 399)',
        },
      ],
    ],
    [
      'a zero-decimal JPY total that is right',
      {
        ...sampleOrder({
          currency: 'JPY',
          items: [{ sku: 'S', name: 'N', quantity: 3, unitPrice: 1500 }],
          total: 4500,
        }),
      },
      [],
    ],
    [
      'discounts larger than the order',
      { ...sampleOrder({ discounts: [{ label: 'Too much', amount: 5000 }] }) },
      [
        {
          path: 'discounts',
          message:
            'The discounts (5000 EUR) are more than the order: the total would be -502 EUR ' +
            "(subtotal 4498 − discounts 5000 + shipping 0 + added tax 0); an order's total cannot be negative",
        },
      ],
    ],
    [
      'discounts larger than the order and a total of 0',
      { ...sampleOrder({ discounts: [{ label: 'Too much', amount: 5000 }], total: 0 }) },
      [expect.objectContaining({ path: 'discounts' }), expect.objectContaining({ path: 'total' })],
    ],
  ])('when the order has %s, then the answer details are as listed', (_label, body, expected) => {
    // Act
    const details = detailsFor(body);

    // Assert
    expect(details).toEqual(expected);
  });

  it('when a field is invalid too, then only the field errors are answered (amounts are checked on a valid order)', () => {
    // Act
    const details = detailsFor({ ...sampleFullOrder({ total: 1 }), currency: 'EUX' });

    // Assert
    expect(details.map((d) => d.path)).toEqual(['currency']);
  });
});

describe('buildOrderConfirmedEvent', () => {
  const meta = {
    eventId: '5c0d8f0e-6a7b-4c1d-9e2f-0123456789ab',
    correlationId: 'req-1',
    acceptedAt: new Date('2026-11-25T18:03:51.135Z'),
  };

  it.each([
    ['no placedAt', '2026-11-25T18:03:51.135Z (acceptedAt)', undefined, '2026-11-25T18:03:51.135Z'],
    ['its own placedAt', 'its own', '2026-11-25T19:00:00+01:00', '2026-11-25T19:00:00+01:00'],
  ])(
    'when the order has %s, then the event is version 2 and order.placedAt is %s',
    (_label, _what, placedAt, expected) => {
      // Arrange
      const order = parseOrder(sampleOrder({ placedAt }));

      // Act
      const event = buildOrderConfirmedEvent(order, meta);

      // Assert
      expect(event).toMatchObject({ schemaVersion: 2, acceptedAt: '2026-11-25T18:03:51.135Z' });
      expect(event.order.placedAt).toBe(expected);
    },
  );
});
