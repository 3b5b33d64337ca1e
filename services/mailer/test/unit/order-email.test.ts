import { minorUnitDigits, type OrderConfirmedEvent, type OrderInput } from '@order-mail/shared/contract';
import { formatMoney } from '../../src/domain/money';
import { sampleEvent as parsedSampleEvent, sampleOrder } from '@test/helpers/orders';
import { buildOrderConfirmationEmail, ORDER_CONFIRMATION_TEMPLATE } from '../../src/domain/order-email';

const EVENT_ID = '3f6c1b2a-9d4e-4c7a-8b1f-2e5d6a7c8b9d';
const NBSP = '\u00a0';

/**
 * The helpers' parsed sample event (defaults such as the locale applied exactly as the worker sees them),
 * with a fixed id and time, so the Message-ID is known.
 */
function sampleEvent(order: OrderInput = sampleOrder()): OrderConfirmedEvent {
  return parsedSampleEvent({
    eventId: EVENT_ID,
    acceptedAt: '2024-05-01T12:00:00.000Z',
    correlationId: 'corr-1',
    order,
  });
}

describe('minorUnitDigits', () => {
  it.each([
    ['EUR', 2],
    ['USD', 2],
    ['JPY', 0],
    ['BHD', 3],
    ['KWD', 3],
    // ICU shows these with fewer decimals than ISO 4217 counts; the contract follows ISO.
    ['HUF', 2],
    ['IQD', 3],
  ])('when the currency is %s, then it has %i minor-unit digits', (currency, digits) => {
    // Act
    const result = minorUnitDigits(currency);

    // Assert
    expect(result).toBe(digits);
  });
});

describe('formatMoney', () => {
  it.each([
    ['EUR', 'en', 1999, '€19.99'],
    ['EUR', 'de-DE', 1999, `19,99${NBSP}€`],
    ['EUR', 'en', 0, '€0.00'],
    ['EUR', 'en', 5, '€0.05'],
    ['EUR', 'en', 123456789, '€1,234,567.89'],
    ['EUR', 'de-DE', 123456789, `1.234.567,89${NBSP}€`],
    ['USD', 'en-US', 1999, '$19.99'],
    ['USD', 'en-US', 100, '$1.00'],
    ['JPY', 'en', 1999, '¥1,999'],
    ['JPY', 'en', 0, '¥0'],
  ])('when %s %s formats %i minor units, then it reads "%s"', (currency, locale, minor, expected) => {
    // Act
    const result = formatMoney(minor, currency, locale);

    // Assert
    expect(result).toBe(expected);
  });

  it('when JPY is formatted for "ja", then it shows whole yen without decimals', () => {
    // Arrange: ICU's Japanese locale uses the full-width yen sign, so compare against Intl itself.
    const expected = new Intl.NumberFormat('ja', { style: 'currency', currency: 'JPY' }).format(1999);

    // Act
    const result = formatMoney(1999, 'JPY', 'ja');

    // Assert
    expect(result).toBe(expected);
    expect(result).toContain('1,999');
    expect(result).toMatch(/^[¥￥]1,999$/);
  });

  it('when a 3-decimal currency (BHD) is formatted, then it shows three decimals', () => {
    // Arrange: the currency symbol and spacing come from CLDR, so compare against Intl itself.
    const expected = new Intl.NumberFormat('en', {
      style: 'currency',
      currency: 'BHD',
      minimumFractionDigits: 3,
      maximumFractionDigits: 3,
    }).format(1.234);

    // Act
    const result = formatMoney(1234, 'BHD', 'en');

    // Assert
    expect(result).toBe(expected);
    expect(result).toContain('1.234');
    expect(result).toContain('BHD');
  });

  it('when BHD amounts have trailing zeros, then all three decimals are kept', () => {
    // Act
    const result = formatMoney(1500, 'BHD', 'en');

    // Assert
    expect(result).toContain('1.500');
  });

  it('when the amount is the largest a valid order can total, then it is formatted without precision loss', () => {
    // Arrange: 100 items x 1000 x 1_000_000_000 minor units
    const minor = 100 * 1000 * 1_000_000_000;

    // Act
    const result = formatMoney(minor, 'EUR', 'en');

    // Assert
    expect(result).toBe('€1,000,000,000,000.00');
  });
});

describe('buildOrderConfirmationEmail', () => {
  it('when an event is given, then the subject is "Your order <orderId> is confirmed"', () => {
    // Arrange
    const event = sampleEvent();

    // Act
    const email = buildOrderConfirmationEmail(event, 'shop.example');

    // Assert
    expect(email.subject).toBe('Your order A-1001 is confirmed');
  });

  it('when an event is given, then the Message-ID is "<eventId@domain>"', () => {
    // Arrange
    const event = sampleEvent();

    // Act
    const email = buildOrderConfirmationEmail(event, 'shop.example');

    // Assert
    expect(email.messageId).toBe(`<${EVENT_ID}@shop.example>`);
  });

  it('when the same event is built twice, then the Message-ID is the same (stable across resends)', () => {
    // Arrange
    const event = sampleEvent();

    // Act
    const first = buildOrderConfirmationEmail(event, 'shop.example');
    const second = buildOrderConfirmationEmail(structuredClone(event), 'shop.example');

    // Assert
    expect(second.messageId).toBe(first.messageId);
  });

  it('when an event is given, then it is addressed to the customer with the confirmation template', () => {
    // Arrange
    const event = sampleEvent();

    // Act
    const email = buildOrderConfirmationEmail(event, 'shop.example');

    // Assert
    expect(email.to).toBe('ada@example.com');
    expect(email.template).toBe(ORDER_CONFIRMATION_TEMPLATE);
    expect(email.template).toBe('order-confirmation');
    expect(email.model.orderId).toBe('A-1001');
    expect(email.model.customerName).toBe('Ada Lovelace');
  });

  it('when an EUR order is in "en", then unit prices, line totals and the total are correct', () => {
    // Arrange
    const event = sampleEvent();

    // Act
    const { model } = buildOrderConfirmationEmail(event, 'shop.example');

    // Assert
    expect(model.items).toEqual([
      { sku: 'SKU-1', name: 'Widget', quantity: 2, unitPrice: '€19.99', lineTotal: '€39.98' },
      { sku: 'SKU-2', name: 'Gadget', quantity: 1, unitPrice: '€5.00', lineTotal: '€5.00' },
    ]);
    expect(model.total).toBe('€44.98');
  });

  it('when an EUR order is in "de-DE", then amounts use German formatting', () => {
    // Arrange
    const event = sampleEvent(sampleOrder({ customer: { email: 'ada@example.com', name: 'Ada', locale: 'de-DE' } }));

    // Act
    const { model } = buildOrderConfirmationEmail(event, 'shop.example');

    // Assert
    expect(model.items.map((i) => i.lineTotal)).toEqual([`39,98${NBSP}€`, `5,00${NBSP}€`]);
    expect(model.total).toBe(`44,98${NBSP}€`);
  });

  it('when the customer has no locale, then amounts are formatted for "en"', () => {
    // Arrange
    const event = sampleEvent(sampleOrder({ customer: { email: 'ada@example.com', name: 'Ada' } }));

    // Act
    const { model } = buildOrderConfirmationEmail(event, 'shop.example');

    // Assert
    expect(model.total).toBe('€44.98');
  });

  it('when a JPY order is built, then amounts have no decimals', () => {
    // Arrange
    const event = sampleEvent(
      sampleOrder({
        currency: 'JPY',
        items: [
          { sku: 'SKU-1', name: 'Tea', quantity: 3, unitPrice: 1999 },
          { sku: 'SKU-2', name: 'Cup', quantity: 1, unitPrice: 500 },
        ],
      }),
    );

    // Act
    const { model } = buildOrderConfirmationEmail(event, 'shop.example');

    // Assert
    expect(model.items.map((i) => [i.unitPrice, i.lineTotal])).toEqual([
      ['¥1,999', '¥5,997'],
      ['¥500', '¥500'],
    ]);
    expect(model.total).toBe('¥6,497');
  });

  it('when a USD order is in "en-US", then amounts are in dollars', () => {
    // Arrange
    const event = sampleEvent(
      sampleOrder({
        currency: 'USD',
        customer: { email: 'ada@example.com', name: 'Ada', locale: 'en-US' },
        items: [{ sku: 'SKU-1', name: 'Widget', quantity: 1, unitPrice: 1999 }],
      }),
    );

    // Act
    const { model } = buildOrderConfirmationEmail(event, 'shop.example');

    // Assert
    expect(model.items[0].lineTotal).toBe('$19.99');
    expect(model.total).toBe('$19.99');
  });

  it('when a BHD order is built, then line totals and the total use three decimals', () => {
    // Arrange
    const event = sampleEvent(
      sampleOrder({
        currency: 'BHD',
        items: [
          { sku: 'SKU-1', name: 'Dates', quantity: 2, unitPrice: 1234 },
          { sku: 'SKU-2', name: 'Coffee', quantity: 1, unitPrice: 5 },
        ],
      }),
    );
    const bhd = (amount: number) =>
      new Intl.NumberFormat('en', {
        style: 'currency',
        currency: 'BHD',
        minimumFractionDigits: 3,
        maximumFractionDigits: 3,
      }).format(amount);

    // Act
    const { model } = buildOrderConfirmationEmail(event, 'shop.example');

    // Assert
    expect(model.items.map((i) => i.lineTotal)).toEqual([bhd(2.468), bhd(0.005)]);
    expect(model.total).toBe(bhd(2.473));
    expect(model.total).toContain('2.473');
  });

  it('when many items are ordered, then the total is the exact sum of the line totals in minor units', () => {
    // Arrange: 0.1 + 0.2 style float errors would show if the sum were done in major units
    const event = sampleEvent(
      sampleOrder({
        items: [
          { sku: 'A', name: 'A', quantity: 1, unitPrice: 10 },
          { sku: 'B', name: 'B', quantity: 1, unitPrice: 20 },
          { sku: 'C', name: 'C', quantity: 3, unitPrice: 333 },
        ],
      }),
    );

    // Act
    const { model } = buildOrderConfirmationEmail(event, 'shop.example');

    // Assert
    expect(model.items.map((i) => i.lineTotal)).toEqual(['€0.10', '€0.20', '€9.99']);
    expect(model.total).toBe('€10.29');
  });

  it('when names contain markup, then the model keeps them raw (the template escapes)', () => {
    // Arrange
    const raw = '<script>alert(1)</script> &"\'';
    const event = sampleEvent(
      sampleOrder({
        customer: { email: 'ada@example.com', name: raw, locale: 'en' },
        items: [{ sku: 'SKU-1', name: raw, quantity: 1, unitPrice: 100 }],
      }),
    );

    // Act
    const { model } = buildOrderConfirmationEmail(event, 'shop.example');

    // Assert
    expect(model.customerName).toBe(raw);
    expect(model.items[0].name).toBe(raw);
  });
});
