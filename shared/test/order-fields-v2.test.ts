import { MAX_AMOUNT, MAX_UNIT_PRICE, MAX_URL_LENGTH, orderSchema } from '../src/order-event';

/**
 * The order fields of event schema version 2 (issue #11), one table per field: the values each
 * accepts (and what it becomes) and the values it refuses (at which path, with what in the message).
 */

type Json = Record<string, unknown>;

function order(overrides: Json = {}): Json {
  return {
    orderId: 'A-1001',
    customer: { email: 'ada@example.com', name: 'Ada', locale: 'en' },
    items: [{ sku: 'SKU-1', name: 'Widget', quantity: 1, unitPrice: 100 }],
    currency: 'EUR',
    ...overrides,
  };
}

function address(overrides: Json = {}): Json {
  return { name: 'Ada Lovelace', lines: ['12 St James’s Square'], city: 'London', country: 'GB', ...overrides };
}

function item(overrides: Json = {}): Json {
  return { sku: 'SKU-1', name: 'Widget', quantity: 1, unitPrice: 100, ...overrides };
}

/** The issue messages at `path` when `body` is refused; fails the test if it is accepted. */
function messagesAt(body: Json, path: string): string[] {
  const result = orderSchema.safeParse(body);
  expect(result.success).toBe(false);
  const messages = (result.error?.issues ?? []).filter((i) => i.path.join('.') === path).map((i) => i.message);
  expect(messages).not.toEqual([]);
  return messages;
}

const LONG_URL_PATH = 'p'.repeat(MAX_URL_LENGTH - 'https://shop.example/'.length);

describe('orderSchema, version-2 fields', () => {
  it('when none of them is sent (a version-1 order), then the order is valid and gains no field', () => {
    // Act
    const parsed = orderSchema.parse(order());

    // Assert
    expect(parsed).toEqual(order());
  });

  describe('placedAt (ISO 8601 date-time with a time zone)', () => {
    it.each([
      ['UTC with Z', '2026-11-25T18:03:51Z'],
      ['with milliseconds', '2026-11-25T18:03:51.135Z'],
      ['with an offset, kept as sent', '2026-11-25T19:03:51+01:00'],
      ['with a negative offset', '2026-11-25T13:03:51-05:00'],
      ['on a leap day', '2024-02-29T00:00:00Z'],
    ])('when it is %s, then it is accepted unchanged', (_label, placedAt) => {
      expect(orderSchema.parse(order({ placedAt })).placedAt).toBe(placedAt);
    });

    it.each([
      ['without a time zone', '2026-11-25T18:03:51'],
      ['a date only', '2026-11-25'],
      ['an offset without a colon', '2026-11-25T18:03:51+0100'],
      ['an impossible date', '2026-02-30T10:00:00Z'],
      ['a time of 24:00', '2026-11-25T24:00:00Z'],
      ['an RFC 2822 date', 'Wed, 25 Nov 2026 18:03:51 GMT'],
      ['a Unix time', 1795629831],
      ['empty', ''],
    ])('when it is %s, then it is refused at "placedAt" naming the time zone', (_label, placedAt) => {
      expect(messagesAt(order({ placedAt }), 'placedAt').join()).toContain('time zone');
    });
  });

  describe('orderUrl and items[].imageUrl (https URLs, at most 2000 characters)', () => {
    it.each([
      ['a plain https URL', 'https://shop.example/orders/A-1001', 'https://shop.example/orders/A-1001'],
      ['with a query and a fragment', 'https://shop.example/o?id=1&t=x#top', 'https://shop.example/o?id=1&t=x#top'],
      ['with a port', 'https://shop.example:8443/o/1', 'https://shop.example:8443/o/1'],
      ['an upper-case scheme and host (normalised)', 'HTTPS://Shop.EXAMPLE/o/1', 'https://shop.example/o/1'],
      ['a Unicode host (to punycode)', 'https://bücher.example/o', 'https://xn--bcher-kva.example/o'],
      ['without a path (gains "/")', 'https://shop.example', 'https://shop.example/'],
      ['exactly 2000 characters', `https://shop.example/${LONG_URL_PATH}`, `https://shop.example/${LONG_URL_PATH}`],
    ])('when it is %s, then it is accepted as %s', (_label, url, normalised) => {
      // Act
      const parsed = orderSchema.parse(order({ orderUrl: url, items: [item({ imageUrl: url })] }));

      // Assert
      expect(parsed.orderUrl).toBe(normalised);
      expect(parsed.items[0].imageUrl).toBe(normalised);
    });

    it.each([
      ['http:', 'http://shop.example/o/1', 'https'],
      ['javascript:', 'javascript:alert(1)', 'https'],
      ['data:', 'data:text/html,<script>alert(1)</script>', 'https'],
      ['mailto:', 'mailto:shop@example.com', 'https'],
      ['protocol-relative', '//shop.example/o/1', 'https'],
      ['a relative path', '/orders/A-1001', 'https'],
      ['with user and password', 'https://shop.example@evil.example/', 'user name'],
      ['with a space', 'https://shop.example/my order', 'white space'],
      ['with a line feed', 'https://shop.example/\n', 'U+000A'],
      ['2001 characters', `https://shop.example/${LONG_URL_PATH}p`, '2000'],
      ['empty', '', 'https'],
    ])('when it is %s, then it is refused with a message naming %s', (_label, url, named) => {
      expect(messagesAt(order({ orderUrl: url }), 'orderUrl').join()).toContain(named);
      expect(messagesAt(order({ items: [item({ imageUrl: url })] }), 'items.0.imageUrl').join()).toContain(named);
    });

    it('when a normalised URL is parsed again (the mailer re-validates), then it does not change', () => {
      const once = orderSchema.parse(order({ orderUrl: 'HTTPS://Bücher.example/a b'.replace(' ', '%20') }));

      expect(orderSchema.parse(once).orderUrl).toBe(once.orderUrl);
    });
  });

  describe('shippingAddress and billingAddress', () => {
    it.each([
      ['the minimum (name, one line, city, country)', address(), address()],
      [
        'every field, trimmed and NFC',
        address({
          name: ' Rene\u0301e ',
          lines: ['Bahnhofstrasse 1', 'c/o Muster AG', '3. Stock'],
          postalCode: '8001',
          city: 'Zürich',
          region: 'ZH',
          country: 'CH',
        }),
        address({
          name: 'Ren\u00e9e',
          lines: ['Bahnhofstrasse 1', 'c/o Muster AG', '3. Stock'],
          postalCode: '8001',
          city: 'Zürich',
          region: 'ZH',
          country: 'CH',
        }),
      ],
      ['Arabic text', address({ name: 'أحمد', lines: ['شارع الملك فهد'], city: 'الرياض', country: 'SA' }), null],
      ['Kosovo (XK)', address({ country: 'XK' }), null],
      [
        '200/200/20/100/100 characters',
        address({
          name: 'n'.repeat(200),
          lines: ['l'.repeat(200)],
          postalCode: 'p'.repeat(20),
          city: 'c'.repeat(100),
          region: 'r'.repeat(100),
        }),
        null,
      ],
    ])('when it is %s, then it is accepted', (_label, input, expected) => {
      // Act
      const parsed = orderSchema.parse(order({ shippingAddress: input, billingAddress: input }));

      // Assert
      expect(parsed.shippingAddress).toEqual(expected ?? input);
      expect(parsed.billingAddress).toEqual(expected ?? input);
    });

    it.each([
      ['no name', address({ name: undefined }), 'name'],
      ['an empty name', address({ name: ' ' }), 'name'],
      ['a 201-character name', address({ name: 'n'.repeat(201) }), 'name'],
      ['a LF in the name', address({ name: 'Ada\nBcc: x' }), 'name'],
      ['no lines', address({ lines: [] }), 'lines'],
      ['4 lines', address({ lines: ['a', 'b', 'c', 'd'] }), 'lines'],
      ['a line as a string, not a list', address({ lines: 'Main St 1' }), 'lines'],
      ['an empty line', address({ lines: ['Main St 1', ''] }), 'lines.1'],
      ['a 201-character line', address({ lines: ['l'.repeat(201)] }), 'lines.0'],
      ['a line with U+202E', address({ lines: ['Main\u202ESt'] }), 'lines.0'],
      ['a 21-character postal code', address({ postalCode: '1'.repeat(21) }), 'postalCode'],
      ['an empty postal code', address({ postalCode: '' }), 'postalCode'],
      ['a numeric postal code', address({ postalCode: 8001 }), 'postalCode'],
      ['no city', address({ city: undefined }), 'city'],
      ['a 101-character city', address({ city: 'c'.repeat(101) }), 'city'],
      ['a 101-character region', address({ region: 'r'.repeat(101) }), 'region'],
      ['an unknown key', address({ street: 'Main St' }), ''],
    ])('when it has %s, then it is refused at that field', (_label, input, field) => {
      const path = field === '' ? 'shippingAddress' : `shippingAddress.${field}`;
      messagesAt(order({ shippingAddress: input }), path);
    });

    it.each([
      ['lower case', 'de', 'got "de"'],
      ['three letters (alpha-3)', 'DEU', 'got "DEU"'],
      ['a number (numeric-3)', '276', 'got "276"'],
      ['a name', 'Germany', 'got "Germany"'],
      ['unassigned', 'AA', 'got "AA"'],
      ['"unknown region"', 'ZZ', 'got "ZZ"'],
      ['an ICU pseudo-region', 'XA', 'got "XA"'],
      ['a code nobody knows', 'QQ', 'got "QQ"'],
      ['UK (the UK is GB)', 'UK', 'use "GB"'],
      ['a former country (SU)', 'SU', 'use "RU"'],
      ['missing', undefined, ''],
    ])('when the country is %s, then it is refused naming ISO 3166-1 alpha-2 (%s)', (_label, country, named) => {
      const message = messagesAt(order({ billingAddress: address({ country }) }), 'billingAddress.country').join();

      if (country !== undefined) expect(message).toContain('ISO 3166-1 alpha-2');
      expect(message).toContain(named);
    });

    it.each(['DE', 'US', 'JP', 'GB', 'CW', 'EU'])('when the country is %s, then it is accepted', (country) => {
      expect(orderSchema.parse(order({ billingAddress: address({ country }) })).billingAddress?.country).toBe(country);
    });
  });

  describe('shipping ({ method 1-100, price 0-MAX_UNIT_PRICE minor units })', () => {
    it.each([
      ['free', { method: 'Standard', price: 0 }],
      ['paid', { method: 'DHL Express', price: 1000 }],
      ['the highest price', { method: 'Freight', price: MAX_UNIT_PRICE }],
      ['a 100-character method', { method: 'm'.repeat(100), price: 1 }],
    ])('when it is %s, then it is accepted', (_label, shipping) => {
      expect(orderSchema.parse(order({ shipping })).shipping).toEqual(shipping);
    });

    it.each([
      ['a negative price', { method: 'Standard', price: -1 }, 'shipping.price'],
      ['a fractional price', { method: 'Standard', price: 4.99 }, 'shipping.price'],
      ['a price over MAX_UNIT_PRICE', { method: 'Standard', price: MAX_UNIT_PRICE + 1 }, 'shipping.price'],
      ['a price as a string', { method: 'Standard', price: '4.99' }, 'shipping.price'],
      ['no price', { method: 'Standard' }, 'shipping.price'],
      ['an empty method', { method: '', price: 0 }, 'shipping.method'],
      ['a 101-character method', { method: 'm'.repeat(101), price: 0 }, 'shipping.method'],
      ['an unknown key', { method: 'Standard', price: 0, carrier: 'DHL' }, 'shipping'],
    ])('when it has %s, then it is refused at "%s"', (_label, shipping, path) => {
      messagesAt(order({ shipping }), path);
    });
  });

  describe('discounts (0-10 of { label 1-100, amount ≥ 1 minor units })', () => {
    it.each([
      ['none', []],
      ['one', [{ label: 'WELCOME10', amount: 500 }]],
      ['ten', Array.from({ length: 10 }, (_, i) => ({ label: `D${i}`, amount: 1 }))],
      ['the largest amount', [{ label: 'All', amount: MAX_AMOUNT }]],
    ])('when there are %s, then they are accepted', (_label, discounts) => {
      expect(orderSchema.parse(order({ discounts })).discounts).toEqual(discounts);
    });

    it.each([
      ['eleven', Array.from({ length: 11 }, (_, i) => ({ label: `D${i}`, amount: 1 })), 'discounts'],
      ['an amount of 0', [{ label: 'Nothing', amount: 0 }], 'discounts.0.amount'],
      ['a negative amount', [{ label: 'Surcharge', amount: -100 }], 'discounts.0.amount'],
      ['a fractional amount', [{ label: 'X', amount: 0.5 }], 'discounts.0.amount'],
      ['an amount over MAX_AMOUNT', [{ label: 'X', amount: MAX_AMOUNT + 1 }], 'discounts.0.amount'],
      ['no label', [{ amount: 100 }], 'discounts.0.label'],
      ['a 101-character label', [{ label: 'l'.repeat(101), amount: 100 }], 'discounts.0.label'],
      ['an unknown key', [{ label: 'X', amount: 1, percent: 10 }], 'discounts.0'],
      ['not a list', { label: 'X', amount: 1 }, 'discounts'],
    ])('when there are %s, then they are refused at "%s"', (_label, discounts, path) => {
      messagesAt(order({ discounts }), path);
    });
  });

  describe('taxes (0-10 of { label 1-100, amount ≥ 0 minor units, included default false })', () => {
    it.each([
      ['none', [], []],
      [
        'an added tax, included defaulting to false',
        [{ label: 'Sales tax', amount: 800 }],
        [{ label: 'Sales tax', amount: 800, included: false }],
      ],
      [
        'a VAT-inclusive tax',
        [{ label: 'VAT 19%', amount: 1596, included: true }],
        [{ label: 'VAT 19%', amount: 1596, included: true }],
      ],
      [
        'a zero tax',
        [{ label: 'VAT 0%', amount: 0, included: false }],
        [{ label: 'VAT 0%', amount: 0, included: false }],
      ],
      [
        'ten',
        Array.from({ length: 10 }, () => ({ label: 'T', amount: 1, included: false })),
        Array.from({ length: 10 }, () => ({ label: 'T', amount: 1, included: false })),
      ],
    ])('when there is %s, then it is accepted', (_label, taxes, expected) => {
      expect(orderSchema.parse(order({ taxes })).taxes).toEqual(expected);
    });

    it.each([
      ['eleven', Array.from({ length: 11 }, () => ({ label: 'T', amount: 1 })), 'taxes'],
      ['a negative amount', [{ label: 'T', amount: -1 }], 'taxes.0.amount'],
      ['a fractional amount', [{ label: 'T', amount: 1.5 }], 'taxes.0.amount'],
      ['an amount over MAX_AMOUNT', [{ label: 'T', amount: MAX_AMOUNT + 1 }], 'taxes.0.amount'],
      ['included as a string', [{ label: 'T', amount: 1, included: 'yes' }], 'taxes.0.included'],
      ['an empty label', [{ label: '', amount: 1 }], 'taxes.0.label'],
      ['an unknown key', [{ label: 'T', amount: 1, rate: 0.19 }], 'taxes.0'],
    ])('when there is %s, then it is refused at "%s"', (_label, taxes, path) => {
      messagesAt(order({ taxes }), path);
    });
  });

  describe('paymentMethod (display text 1-100, never a card number)', () => {
    it.each([
      ['a masked card', 'Visa •••• 4242'],
      ['a masked card with the expiry', 'Mastercard •••• 5454 (exp. 12/2030)'],
      ['a wallet', 'PayPal'],
      ['an IBAN-style mask', 'SEPA DE89 •••• •••• 3000'],
      ['11 digits in a row', 'Ref 12345678901'],
      ['100 characters', 'p'.repeat(100)],
    ])('when it is %s, then it is accepted', (_label, paymentMethod) => {
      expect(orderSchema.parse(order({ paymentMethod })).paymentMethod).toBe(paymentMethod);
    });

    it.each([
      ['a 16-digit card number', 'Visa 4242424242424242'],
      ['a card number in groups of 4 (spaces)', 'Visa 4242 4242 4242 4242'],
      ['a card number with dashes', '4242-4242-4242-4242'],
      ['a card number with dots', '4242.4242.4242.4242'],
      ['a 15-digit Amex in 4-6-5 groups', 'Amex 3782 822463 10005'],
      ['exactly 12 digits', 'Card 123456789012'],
      ['full-width digits', 'Card ４２４２４２４２４２４２４２４２'],
      ['digits with no-break spaces', 'Card 4242\u00a04242\u00a04242\u00a04242'],
      ['a card number with slashes', 'Card 4242/4242/4242/4242'],
      ['a card number with underscores', '4242_4242_4242_4242'],
      ['a card number with commas', '4242,4242,4242,4242'],
      ['a card number with middle dots', '4242\u00b74242\u00b74242\u00b74242'],
    ])('when it holds %s, then it is refused naming card numbers and PCI DSS', (_label, paymentMethod) => {
      const message = messagesAt(order({ paymentMethod }), 'paymentMethod').join();

      expect(message).toContain('card number');
      expect(message).toContain('PCI DSS');
      expect(message).not.toContain(paymentMethod); // the number is not echoed back (nor logged with the answer)
    });

    it.each([
      ['empty', ''],
      ['101 characters', 'p'.repeat(101)],
      ['a line feed', 'Visa\n•••• 4242'],
    ])('when it is %s, then it is refused at "paymentMethod"', (_label, paymentMethod) => {
      messagesAt(order({ paymentMethod }), 'paymentMethod');
    });
  });

  describe('total (optional, minor units)', () => {
    it.each([0, 1, 10450, Number.MAX_SAFE_INTEGER])('when it is %p, then the schema accepts it', (total) => {
      expect(orderSchema.parse(order({ total })).total).toBe(total);
    });

    it.each([
      ['negative', -1],
      ['fractional', 104.5],
      ['a string', '10450'],
      ['over Number.MAX_SAFE_INTEGER', 2 ** 53],
    ])('when it is %s, then it is refused at "total"', (_label, total) => {
      messagesAt(order({ total }), 'total');
    });
  });

  describe('items[].variant (1-100) and items[].imageUrl', () => {
    it.each([
      ['a size', 'Size M'],
      ['trimmed', '  Colour: blue ', 'Colour: blue'],
      ['100 characters', 'v'.repeat(100)],
    ])('when the variant is %s, then it is accepted', (_label, variant, expected = variant) => {
      expect(orderSchema.parse(order({ items: [item({ variant })] })).items[0].variant).toBe(expected);
    });

    it.each([
      ['empty', ''],
      ['101 characters', 'v'.repeat(101)],
      ['a tab', 'Size\tM'],
      ['a number', 42],
    ])('when the variant is %s, then it is refused at "items.0.variant"', (_label, variant) => {
      messagesAt(order({ items: [item({ variant })] }), 'items.0.variant');
    });
  });
});
