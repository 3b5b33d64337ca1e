import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  computeOrderTotals,
  minorUnitDigits,
  type OrderConfirmedEvent,
  type OrderInput,
} from '@order-mail/shared/contract';
import { sampleEvent as parsedSampleEvent, sampleFullOrder, sampleOrder } from '@test/helpers/orders';
import { compileCatalogues, LOCALES_DIR, loadMessageCatalogues } from '../../src/adapters/i18n/message-catalogues';
import { formatMoney } from '../../src/domain/money';
import {
  buildOrderConfirmationEmail,
  ORDER_CONFIRMATION_TEMPLATE,
  type OrderEmail,
  type OrderEmailSettings,
  type ShopIdentity,
} from '../../src/domain/order-email';
import type { Localizer } from '../../src/domain/ports';

const EVENT_ID = '3f6c1b2a-9d4e-4c7a-8b1f-2e5d6a7c8b9d';
const NBSP = '\u00a0';

/**
 * The helpers' parsed sample event (defaults such as the locale applied exactly as the worker sees them),
 * with a fixed id and time, so the Message-ID is known.
 */
function sampleEvent(order: OrderInput = sampleOrder(), schemaVersion: 1 | 2 = 2): OrderConfirmedEvent {
  return parsedSampleEvent({
    schemaVersion,
    eventId: EVENT_ID,
    acceptedAt: '2024-05-01T12:00:00.000Z',
    correlationId: 'corr-1',
    order,
  });
}

/** The order with the customer's locale set to `locale` (name and address kept). */
function inLocale(order: OrderInput, locale: string): OrderInput {
  return { ...order, customer: { ...order.customer, locale } };
}

const FSI = '\u2068';
const PDI = '\u2069';

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

  it.each([
    ['GBP', 'ar', 8900, 'UK£'],
    ['USD', 'ar', -2670, 'US$'],
    ['GBP', 'he', 8900, null],
    ['ILS', 'he', 8900, null],
    ['AED', 'ar', 8900, null],
    ['GBP', 'en', 8900, null],
  ])(
    'when %s is formatted for %s, then a Latin currency symbol in a right-to-left locale is a left-to-right isolate',
    (currency, locale, minor, latinSymbol) => {
      // Arrange
      const plain = new Intl.NumberFormat(locale, { style: 'currency', currency }).format(minor / 100);

      // Act
      const result = formatMoney(minor, currency, locale);

      // Assert
      if (latinSymbol === null) expect(result).toBe(plain);
      else expect(result).toBe(plain.replace(latinSymbol, `\u2066${latinSymbol}\u2069`));
    },
  );

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
  const SHOP: ShopIdentity = { name: 'Test Shop', brandColor: '#1f5fa8' };
  let localizer: Localizer;

  beforeAll(async () => {
    // The real catalogues (locales/*.json), as the mailer loads them.
    localizer = await loadMessageCatalogues();
  });

  function build(event: OrderConfirmedEvent, overrides: Partial<OrderEmailSettings> = {}): OrderEmail {
    return buildOrderConfirmationEmail(event, { shop: SHOP, localizer, messageIdDomain: 'shop.example', ...overrides });
  }

  describe('identity', () => {
    it('when an event is given, then the subject is "Your order <orderId> is confirmed"', () => {
      // Act
      const email = build(sampleEvent());

      // Assert
      expect(email.subject).toBe('Your order A-1001 is confirmed');
      expect(email.model.t.subject).toBe(email.subject);
    });

    it('when an event is given, then the Message-ID is "<eventId@domain>"', () => {
      // Act
      const email = build(sampleEvent());

      // Assert
      expect(email.messageId).toBe(`<${EVENT_ID}@shop.example>`);
    });

    it('when the same event is built twice, then the Message-ID is the same (stable across resends)', () => {
      // Arrange
      const event = sampleEvent();

      // Act
      const first = build(event);
      const second = build(structuredClone(event));

      // Assert
      expect(second.messageId).toBe(first.messageId);
    });

    it('when an event is given, then it is addressed to the customer by name, with the confirmation template', () => {
      // Act
      const email = build(sampleEvent());

      // Assert
      expect(email.to).toEqual({ name: 'Ada Lovelace', address: 'ada@example.com' });
      expect(email.template).toBe(ORDER_CONFIRMATION_TEMPLATE);
      expect(email.template).toBe('order-confirmation');
      expect(email.model.orderId).toBe('A-1001');
      expect(email.model.customerName).toBe('Ada Lovelace');
    });

    it.each([
      ['REPLY_TO is set', 'Shop Support <help@shop.example>', 'Shop Support <help@shop.example>'],
      ['REPLY_TO is not set', undefined, undefined],
    ])('when %s, then Reply-To is %p', (_case, replyTo, expected) => {
      // Act
      const email = build(sampleEvent(), { replyTo });

      // Assert
      expect(email.replyTo).toBe(expected);
    });
  });

  describe("in the customer's language", () => {
    it.each([
      ['en', 'en', 'ltr'],
      ['en-US', 'en', 'ltr'],
      ['de', 'de', 'ltr'],
      ['de-CH', 'de', 'ltr'],
      ['fr-CA', 'fr', 'ltr'],
      ['ja-JP', 'ja', 'ltr'],
      ['ar', 'ar', 'rtl'],
      ['ar-EG', 'ar', 'rtl'],
      ['he-IL', 'he', 'rtl'],
      ['ko', 'en', 'ltr'],
      ['sw-KE', 'en', 'ltr'],
    ])("when the customer's locale is %s, then the copy is in %s and the direction %s", (locale, language, dir) => {
      // Arrange
      const event = sampleEvent(inLocale(sampleFullOrder(), locale));

      // Act
      const email = build(event);

      // Assert
      expect(email.language).toBe(language);
      expect(email.model).toMatchObject({ lang: language, dir });
      expect(email.subject).toBe(localizer.localize(language).t('subject', { orderId: 'A-1001' }));
    });

    it.each(['de-CH', 'fr', 'ar', 'he', 'ja', 'zh'])(
      'when the locale is %s, then the subject is translated (not the English one)',
      (locale) => {
        // Act
        const email = build(sampleEvent(inLocale(sampleOrder(), locale)));

        // Assert
        expect(email.subject).not.toBe('Your order A-1001 is confirmed');
        expect(email.subject).toContain('A-1001');
      },
    );

    it.each([
      ['en-GB', 'en-GB'],
      ['de-CH', 'de-CH'],
      ['fr', 'fr'],
      ['ar', 'ar'],
      ['ja', 'ja'],
      // No Korean catalogue: the copy is English, so dates and amounts are English too.
      ['ko', 'en'],
    ])('when the locale is %s, then the date and every amount are formatted for %s', (locale, formatting) => {
      // Arrange: placed at 19:03 on 25 November at +01:00
      const order = inLocale(sampleFullOrder(), locale);
      const totals = computeOrderTotals(order);
      const date = new Intl.DateTimeFormat(formatting, { dateStyle: 'long', timeZone: '+01:00' });

      // Act
      const { model } = build(sampleEvent(order));

      // Assert
      expect(model.placedAt).toBe(date.format(new Date('2026-11-25T19:03:51+01:00')));
      expect(model.total).toBe(formatMoney(totals.total, 'EUR', formatting));
      expect(model.items.map((i) => i.unitPrice)).toEqual([
        formatMoney(1999, 'EUR', formatting),
        formatMoney(5952, 'EUR', formatting),
      ]);
    });

    it('when the copy is right-to-left, then user values inside sentences are isolated (FSI … PDI)', () => {
      // Act
      const { model } = build(sampleEvent(inLocale(sampleFullOrder(), 'ar')));

      // Assert
      expect(model.t.greeting).toContain(`${FSI}Ada Lovelace${PDI}`);
      expect(model.t.footer).toContain(`${FSI}Test Shop${PDI}`);
      expect(model.summary.find((row) => row.label.includes('DHL Express'))?.label).toContain(
        `${FSI}DHL Express${PDI}`,
      );
    });

    it.each([
      ['a Latin name', 'Ada Lovelace', 'Hi Ada Lovelace,'],
      ['a Hebrew name', 'דוד לוי', `Hi ${FSI}דוד לוי${PDI},`],
      ['an Arabic name', 'فاطمة الزهراء', `Hi ${FSI}فاطمة الزهراء${PDI},`],
    ])('when English copy greets %s, then the greeting is %p', (_case, name, greeting) => {
      // Arrange
      const order = sampleOrder({ customer: { email: 'ada@example.com', name, locale: 'en' } });

      // Act
      const { model } = build(sampleEvent(order));

      // Assert
      expect(model.t.greeting).toBe(greeting);
      expect(model.customerName).toBe(name);
    });

    it('when the locale is en, then every text of the layout is the English catalogue’s', () => {
      // Act
      const { model } = build(sampleEvent(sampleFullOrder()), { shop: { ...SHOP, supportEmail: 'help@shop.example' } });

      // Assert
      expect(model.t).toEqual({
        subject: 'Your order A-1001 is confirmed',
        preheader: 'Thank you, Ada Lovelace: 3 items, €104.50 in total.',
        heading: 'Order confirmed',
        greeting: 'Hi Ada Lovelace,',
        intro: 'Thank you for your order. We have received it and will let you know as soon as it ships.',
        orderNumber: 'Order number',
        orderDate: 'Order date',
        itemCount: '3 items',
        columnItem: 'Item',
        columnLineTotal: 'Total',
        total: 'Total',
        shippingAddress: 'Shipping address',
        billingAddress: 'Billing address',
        paymentMethod: 'Payment method',
        viewOrder: 'View your order',
        support: 'Questions about your order? Reply to this email or write to help@shop.example.',
        footer: 'You are receiving this email because you placed an order with Test Shop.',
      });
    });

    it.each([
      [[1], 1, '1 item'],
      [[2], 2, '2 items'],
      [[2, 1], 3, '3 items'],
    ])(
      'when the order has lines of quantities %j, then it counts %i units and reads %p (ICU plural)',
      (quantities, count, text) => {
        // Arrange
        const order = sampleOrder({
          items: quantities.map((quantity, i) => ({ sku: `S-${i}`, name: `Item ${i}`, quantity, unitPrice: 100 })),
        });

        // Act
        const { model } = build(sampleEvent(order));

        // Assert
        expect(model.t.itemCount).toBe(text);
        expect(model.itemCount).toBe(count);
      },
    );
  });

  describe('version 1 and version 2 events', () => {
    it.each([
      ['a version-2 event', 2, '2026-11-25T19:03:51+01:00', 'November 25, 2026'],
      [
        'a version-2 event placed at 00:30 at +01:00 (23:30 UTC the day before)',
        2,
        '2026-11-26T00:30:00+01:00',
        'November 26, 2026',
      ],
      ['a version-2 event placed in UTC', 2, '2026-11-25T23:59:59Z', 'November 25, 2026'],
      ['a version-1 event (no placedAt: the acceptance time)', 1, undefined, 'May 1, 2024'],
    ] as const)('when %s, then the order date is %p', (_case, version, placedAt, expected) => {
      // Arrange
      const event = sampleEvent(sampleOrder({ placedAt }), version);

      // Act
      const { model } = build(event);

      // Assert
      expect(model.placedAt).toBe(expected);
    });

    it('when a version-1 event has only items, then the summary is the subtotal and every optional section is absent', () => {
      // Act
      const { model } = build(sampleEvent(sampleOrder(), 1));

      // Assert
      expect(model.summary).toEqual([{ label: 'Subtotal', amount: '€44.98' }]);
      expect(model.includedTaxes).toEqual([]);
      expect(model.total).toBe('€44.98');
      expect(model).toMatchObject({ hasImages: false, hasAddresses: false });
      for (const field of ['shippingAddress', 'billingAddress', 'paymentMethod', 'orderUrl'] as const) {
        expect(model[field]).toBeUndefined();
      }
    });
  });

  describe('optional sections', () => {
    const full = () => sampleFullOrder();
    it.each([
      ['orderUrl', { orderUrl: 'https://shop.example/orders/A-1001' }, 'https://shop.example/orders/A-1001'],
      ['paymentMethod', { paymentMethod: 'Visa •••• 4242' }, 'Visa •••• 4242'],
      [
        'shippingAddress',
        { shippingAddress: full().shippingAddress },
        ['Ada Lovelace', 'Friedrichstraße 123', '3. OG', '10117 Berlin', 'Berlin', 'Germany'],
      ],
      [
        'billingAddress',
        { billingAddress: full().billingAddress },
        ['Ada Lovelace', '12 St James’s Square', 'SW1Y 4JH London', 'United Kingdom'],
      ],
    ] as const)('when the order has %s, then the model has it; without, it is absent', (field, given, expected) => {
      // Act
      const withIt = build(sampleEvent(sampleOrder(given))).model;
      const without = build(sampleEvent(sampleOrder())).model;

      // Assert
      expect(withIt[field]).toEqual(expected);
      expect(without[field]).toBeUndefined();
    });

    it.each([
      ['no address', {}, false],
      ['a shipping address only', { shippingAddress: sampleFullOrder().shippingAddress }, true],
      ['a billing address only', { billingAddress: sampleFullOrder().billingAddress }, true],
    ])('when the order has %s, then hasAddresses is %p', (_case, given, expected) => {
      // Act
      const { model } = build(sampleEvent(sampleOrder(given)));

      // Assert
      expect(model.hasAddresses).toBe(expected);
    });

    it('when items have a variant and an image, then each item line carries them; hasImages says the table needs the column', () => {
      // Act
      const { model } = build(sampleEvent(sampleFullOrder()));

      // Assert
      expect(model.hasImages).toBe(true);
      expect(model.items).toEqual([
        {
          sku: 'SKU-1',
          name: 'Widget',
          variant: 'Colour: blue',
          imageUrl: 'https://shop.example/images/widget.png',
          quantity: 2,
          unitPrice: '€19.99',
          lineTotal: '€39.98',
          quantityTimesPrice: '2 × €19.99',
          unitLine: [{ text: '2', quantity: true }, { text: ' × ' }, { text: '€19.99', amount: true }],
        },
        {
          sku: 'SKU-2',
          name: 'Gadget',
          variant: 'Size M',
          imageUrl: 'https://shop.example/images/gadget.png',
          quantity: 1,
          unitPrice: '€59.52',
          lineTotal: '€59.52',
          quantityTimesPrice: '1 × €59.52',
          unitLine: [{ text: '1', quantity: true }, { text: ' × ' }, { text: '€59.52', amount: true }],
        },
      ]);
    });

    it('when only one item has an image, then hasImages is true and the other has none', () => {
      // Arrange
      const [first, second] = sampleFullOrder().items;
      const order = sampleOrder({ items: [first, { ...second, imageUrl: undefined }] });

      // Act
      const { model } = build(sampleEvent(order));

      // Assert
      expect(model.hasImages).toBe(true);
      expect(model.items.map((i) => i.imageUrl)).toEqual(['https://shop.example/images/widget.png', undefined]);
    });
  });

  describe('summary and totals (computeOrderTotals)', () => {
    it('when the full order is built in en, then the rows are the subtotal, the discount (negative) and shipping with its method; included VAT is apart', () => {
      // Act
      const { model } = build(sampleEvent(sampleFullOrder()));

      // Assert
      expect(model.summary).toEqual([
        { label: 'Subtotal', amount: '€99.50' },
        { label: 'WELCOME5', amount: '-€5.00' },
        { label: 'Shipping (DHL Express)', amount: '€10.00' },
      ]);
      expect(model.total).toBe('€104.50');
      expect(model.includedTaxes).toEqual([{ label: 'Includes VAT 19%', amount: '€16.68' }]);
    });

    it('when taxes are added and included, then added ones are summary rows in the total, included ones "Includes …" lines outside it', () => {
      // Arrange
      const order = sampleFullOrder({
        discounts: [
          { label: 'WELCOME5', amount: 500 },
          { label: 'Loyalty', amount: 250 },
        ],
        taxes: [
          { label: 'Sales tax', amount: 800, included: false },
          { label: 'City tax', amount: 100, included: false },
          { label: 'VAT 19%', amount: 1668, included: true },
        ],
      });
      const totals = computeOrderTotals(order);

      // Act
      const { model } = build(sampleEvent(order));

      // Assert
      expect(model.summary).toEqual([
        { label: 'Subtotal', amount: '€99.50' },
        { label: 'WELCOME5', amount: '-€5.00' },
        { label: 'Loyalty', amount: '-€2.50' },
        { label: 'Shipping (DHL Express)', amount: '€10.00' },
        { label: 'Sales tax', amount: '€8.00' },
        { label: 'City tax', amount: '€1.00' },
      ]);
      expect(model.total).toBe(formatMoney(totals.total, 'EUR', 'en'));
      expect(model.total).toBe('€111.00');
      expect(model.includedTaxes).toEqual([{ label: 'Includes VAT 19%', amount: '€16.68' }]);
    });

    it('when shipping is free, then its row shows zero', () => {
      // Act
      const { model } = build(sampleEvent(sampleOrder({ shipping: { method: 'Pickup', price: 0 } })));

      // Assert
      expect(model.summary).toContainEqual({ label: 'Shipping (Pickup)', amount: '€0.00' });
    });
  });

  describe('the shop', () => {
    it.each([
      [
        'SUPPORT_EMAIL is set',
        'help@shop.example',
        'Questions about your order? Reply to this email or write to help@shop.example.',
      ],
      ['SUPPORT_EMAIL is not set', undefined, 'Questions about your order? Just reply to this email.'],
    ])('when %s, then the support line is %p', (_case, supportEmail, expected) => {
      // Act
      const { model } = build(sampleEvent(), { shop: { ...SHOP, supportEmail } });

      // Assert
      expect(model.t.support).toBe(expected);
    });

    it('when every shop setting is given, then the layout gets the name, links, colour and company address', () => {
      // Arrange
      const shop: ShopIdentity = {
        name: 'Fine Teas',
        url: 'https://tea.example',
        logoUrl: 'https://tea.example/logo.png',
        brandColor: '#aa3300',
        supportEmail: 'help@tea.example',
        companyAddress: 'Fine Teas Ltd, 1 Leaf Lane, London',
      };

      // Act
      const { model } = build(sampleEvent(), { shop });

      // Assert
      expect(model.shop).toEqual({
        name: 'Fine Teas',
        url: 'https://tea.example',
        logoUrl: 'https://tea.example/logo.png',
        brandColor: '#aa3300',
        companyAddress: 'Fine Teas Ltd, 1 Leaf Lane, London',
      });
      expect(model.t.footer).toBe('You are receiving this email because you placed an order with Fine Teas.');
    });
  });

  describe('amounts', () => {
    it('when an EUR order is in "en", then unit prices, line totals and the total are correct', () => {
      // Act
      const { model } = build(sampleEvent());

      // Assert
      expect(
        model.items.map(({ sku, name, quantity, unitPrice, lineTotal }) => ({
          sku,
          name,
          quantity,
          unitPrice,
          lineTotal,
        })),
      ).toEqual([
        { sku: 'SKU-1', name: 'Widget', quantity: 2, unitPrice: '€19.99', lineTotal: '€39.98' },
        { sku: 'SKU-2', name: 'Gadget', quantity: 1, unitPrice: '€5.00', lineTotal: '€5.00' },
      ]);
      expect(model.total).toBe('€44.98');
    });

    it('when an EUR order is in "de-DE", then amounts use German formatting', () => {
      // Act
      const { model } = build(sampleEvent(inLocale(sampleOrder(), 'de-DE')));

      // Assert
      expect(model.items.map((i) => i.lineTotal)).toEqual([`39,98${NBSP}€`, `5,00${NBSP}€`]);
      expect(model.total).toBe(`44,98${NBSP}€`);
    });

    it('when the customer has no locale, then amounts are formatted for "en"', () => {
      // Arrange
      const event = sampleEvent(sampleOrder({ customer: { email: 'ada@example.com', name: 'Ada' } }));

      // Act
      const { model } = build(event);

      // Assert
      expect(model.total).toBe('€44.98');
      expect(model.lang).toBe('en');
    });

    it('when a quantity is 1000 in "en", then it is shown with a grouping separator', () => {
      // Arrange
      const order = sampleOrder({ items: [{ sku: 'SKU-1', name: 'Screw', quantity: 1000, unitPrice: 5 }] });

      // Act
      const { model } = build(sampleEvent(order));

      // Assert
      expect(model.items[0]).toMatchObject({
        quantity: 1000,
        quantityTimesPrice: '1,000 × €0.05',
        lineTotal: '€50.00',
      });
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
      const { model } = build(event);

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
      const { model } = build(event);

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
      const { model } = build(event);

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
      const { model } = build(event);

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
      const { model } = build(event);

      // Assert
      expect(model.customerName).toBe(raw);
      expect(model.items[0].name).toBe(raw);
      expect(model.t.greeting).toBe(`Hi ${raw},`);
    });
  });
});

describe('buildOrderConfirmationEmail with a catalogue of its own', () => {
  it.each([
    [
      'puts the price first',
      '{unitPrice} × {quantity}',
      [{ text: '€19.99', amount: true }, { text: ' × ' }, { text: '2', quantity: true }],
    ],
    [
      'leaves the quantity out',
      '{unitPrice} each',
      [{ text: '2', quantity: true }, { text: ' × ' }, { text: '€19.99', amount: true }],
    ],
  ])(
    'when the quantityTimesPrice message %s, then the item line follows it or falls back to "quantity × price"',
    (_case, message, expected) => {
      // Arrange
      const en = JSON.parse(readFileSync(path.join(LOCALES_DIR, 'en.json'), 'utf8')) as Record<string, string>;
      const localizer = compileCatalogues(new Map([['en', { ...en, quantityTimesPrice: message }]]));

      // Act
      const { model } = buildOrderConfirmationEmail(sampleEvent(), {
        shop: { name: 'Shop', brandColor: '#1f5fa8' },
        localizer,
        messageIdDomain: 'shop.example',
      });

      // Assert
      expect(model.items[0].unitLine).toEqual(expected);
    },
  );
});
