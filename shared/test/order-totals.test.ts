import { MAX_AMOUNT, MAX_DISCOUNTS, MAX_ITEMS, MAX_QUANTITY, MAX_TAXES, MAX_UNIT_PRICE } from '../src/order-event';
import { computeOrderTotals, orderTotalIssues, type OrderAmounts, type OrderTotals } from '../src/order-totals';

/** Items of `[unitPrice, quantity]`, in minor units. */
function items(...lines: [unitPrice: number, quantity: number][]): OrderAmounts['items'] {
  return lines.map(([unitPrice, quantity]) => ({ unitPrice, quantity }));
}

function totals(values: Omit<OrderTotals, 'total'> & { total: number }): OrderTotals {
  return values;
}

describe('computeOrderTotals (minor units, integers)', () => {
  it.each<[string, OrderAmounts, OrderTotals]>([
    [
      'no extras: the total is the subtotal',
      { items: items([1999, 2], [500, 1]) },
      totals({ subtotal: 4498, discountTotal: 0, shippingTotal: 0, taxAdded: 0, taxIncluded: 0, total: 4498 }),
    ],
    [
      'empty extras count as none',
      { items: items([1999, 2], [500, 1]), discounts: [], taxes: [] },
      totals({ subtotal: 4498, discountTotal: 0, shippingTotal: 0, taxAdded: 0, taxIncluded: 0, total: 4498 }),
    ],
    [
      'discounts: summed and subtracted',
      { items: items([5000, 2]), discounts: [{ amount: 500 }, { amount: 250 }] },
      totals({ subtotal: 10000, discountTotal: 750, shippingTotal: 0, taxAdded: 0, taxIncluded: 0, total: 9250 }),
    ],
    [
      'shipping: added',
      { items: items([5000, 2]), shipping: { price: 495 } },
      totals({ subtotal: 10000, discountTotal: 0, shippingTotal: 495, taxAdded: 0, taxIncluded: 0, total: 10495 }),
    ],
    [
      'free shipping adds nothing',
      { items: items([5000, 2]), shipping: { price: 0 } },
      totals({ subtotal: 10000, discountTotal: 0, shippingTotal: 0, taxAdded: 0, taxIncluded: 0, total: 10000 }),
    ],
    [
      'added tax (US sales tax 8.875% on 100.00): added',
      { items: items([10000, 1]), taxes: [{ amount: 888, included: false }] },
      totals({ subtotal: 10000, discountTotal: 0, shippingTotal: 0, taxAdded: 888, taxIncluded: 0, total: 10888 }),
    ],
    [
      'a tax without "included" (as posted) counts as added',
      { items: items([10000, 1]), taxes: [{ amount: 888 }] },
      totals({ subtotal: 10000, discountTotal: 0, shippingTotal: 0, taxAdded: 888, taxIncluded: 0, total: 10888 }),
    ],
    [
      'included tax (German VAT 19% inside 119.00): shown, not added',
      { items: items([11900, 1]), taxes: [{ amount: 1900, included: true }] },
      totals({ subtotal: 11900, discountTotal: 0, shippingTotal: 0, taxAdded: 0, taxIncluded: 1900, total: 11900 }),
    ],
    [
      'all together: discount, shipping, an added and an included tax',
      {
        items: items([1999, 2], [5952, 1]),
        discounts: [{ amount: 500 }],
        shipping: { price: 1000 },
        taxes: [
          { amount: 1596, included: true },
          { amount: 100, included: false },
        ],
      },
      totals({
        subtotal: 9950,
        discountTotal: 500,
        shippingTotal: 1000,
        taxAdded: 100,
        taxIncluded: 1596,
        total: 10550,
      }),
    ],
    [
      'zero-decimal JPY (¥1,500 × 3, ¥500 off, ¥800 shipping, 10% consumption tax included)',
      {
        items: items([1500, 3]),
        discounts: [{ amount: 500 }],
        shipping: { price: 800 },
        taxes: [{ amount: 436, included: true }],
      },
      totals({ subtotal: 4500, discountTotal: 500, shippingTotal: 800, taxAdded: 0, taxIncluded: 436, total: 4800 }),
    ],
    [
      'three-decimal KWD (12.345 KWD × 2, 1.500 KWD shipping, 0.250 KWD added tax)',
      { items: items([12345, 2]), shipping: { price: 1500 }, taxes: [{ amount: 250, included: false }] },
      totals({ subtotal: 24690, discountTotal: 0, shippingTotal: 1500, taxAdded: 250, taxIncluded: 0, total: 26440 }),
    ],
    [
      'discounts larger than the order: a negative total (the order API refuses it)',
      { items: items([500, 1]), discounts: [{ amount: 800 }] },
      totals({ subtotal: 500, discountTotal: 800, shippingTotal: 0, taxAdded: 0, taxIncluded: 0, total: -300 }),
    ],
  ])('when the order has %s, then the totals are as computed by hand', (_label, order, expected) => {
    // Act
    const result = computeOrderTotals(order);

    // Assert
    expect(result).toEqual(expected);
  });

  it('when every amount is at its limit, then every result is an exact safe integer', () => {
    // Arrange: the largest sums the contract allows (see MAX_AMOUNT)
    const order: OrderAmounts = {
      items: Array.from({ length: MAX_ITEMS }, () => ({ unitPrice: MAX_UNIT_PRICE, quantity: MAX_QUANTITY })),
      shipping: { price: MAX_UNIT_PRICE },
      taxes: Array.from({ length: MAX_TAXES }, (_, i) => ({ amount: MAX_AMOUNT, included: i % 2 === 0 })),
    };
    const discounted: OrderAmounts = {
      ...order,
      discounts: Array.from({ length: MAX_DISCOUNTS }, () => ({ amount: MAX_AMOUNT })),
    };

    // Act
    const largest = computeOrderTotals(order);
    const smallest = computeOrderTotals({ ...discounted, taxes: [] });

    // Assert
    expect(largest).toEqual({
      subtotal: 1e14,
      discountTotal: 0,
      shippingTotal: 1e9,
      taxAdded: 5e14,
      taxIncluded: 5e14,
      total: 6e14 + 1e9,
    });
    expect(smallest.total).toBe(1e14 + 1e9 - 1e15);
    for (const value of [...Object.values(largest), ...Object.values(smallest)]) {
      expect(Number.isSafeInteger(value)).toBe(true);
    }
  });

  it.each([
    ['a fractional price', { items: items([19.99, 1]) }],
    ['an unsafe amount', { items: items([1, 1]), discounts: [{ amount: 2 ** 53 }] }],
  ])('when an unvalidated order has %s, then it throws a RangeError', (_label, order) => {
    expect(() => computeOrderTotals(order)).toThrow(RangeError);
  });
});

describe('orderTotalIssues (what the order API answers 400 with)', () => {
  const base = { currency: 'EUR', items: items([1999, 2], [5952, 1]), shipping: { price: 1000 } };

  it.each([
    ['no total sent', { ...base, discounts: [{ amount: 500 }] }, []],
    ['the right total', { ...base, discounts: [{ amount: 500 }], total: 10450 }, []],
    [
      'a total of 0 after a 100% discount',
      { ...base, shipping: undefined, discounts: [{ amount: 9950 }], total: 0 },
      [],
    ],
    [
      'a total that differs',
      { ...base, discounts: [{ amount: 500 }], total: 10500 },
      [
        {
          path: 'total',
          message:
            'total 10500 EUR does not match the computed total 10450 EUR (subtotal 9950 − discounts 500 + shipping 1000 + added tax 0)',
        },
      ],
    ],
    [
      'a total that differs, with VAT inside the prices',
      { ...base, taxes: [{ amount: 1596, included: true }], total: 12546 },
      [
        {
          path: 'total',
          message:
            'total 12546 EUR does not match the computed total 10950 EUR (subtotal 9950 − discounts 0 + shipping 1000 + ' +
            'added tax 0; included tax 1596 is already in the prices)',
        },
      ],
    ],
    [
      'a three-decimal currency',
      { currency: 'KWD', items: items([12345, 2]), total: 24691 },
      [
        {
          path: 'total',
          message:
            'total 24691 KWD does not match the computed total 24690 KWD (subtotal 24690 − discounts 0 + shipping 0 + added tax 0)',
        },
      ],
    ],
    [
      'discounts larger than the order',
      { currency: 'EUR', items: items([500, 1]), discounts: [{ amount: 800 }] },
      [
        {
          path: 'discounts',
          message:
            'The discounts (800 EUR) are more than the order: the total would be -300 EUR ' +
            "(subtotal 500 − discounts 800 + shipping 0 + added tax 0); an order's total cannot be negative",
        },
      ],
    ],
  ])('when the order has %s, then the issues are the ones listed', (_label, order, expected) => {
    // Act
    const issues = orderTotalIssues(order);

    // Assert
    expect(issues).toEqual(expected);
  });
});
