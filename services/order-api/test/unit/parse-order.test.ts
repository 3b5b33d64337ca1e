import { AppError, ErrorCodes, MAX_UNIT_PRICE } from '@order-mail/shared/contract';
import { parseOrder } from '@order-mail/shared/contract';

type Json = Record<string, unknown>;

function validItem(overrides: Json = {}): Json {
  return { sku: 'SKU-1', name: 'Widget', quantity: 2, unitPrice: 1999, ...overrides };
}

function validCustomer(overrides: Json = {}): Json {
  return { email: 'ada@example.com', name: 'Ada Lovelace', locale: 'en', ...overrides };
}

function validOrder(overrides: Json = {}): Json {
  return {
    orderId: 'A-1001',
    customer: validCustomer(),
    items: [validItem(), validItem({ sku: 'SKU-2', name: 'Gadget', quantity: 1, unitPrice: 500 })],
    currency: 'EUR',
    ...overrides,
  };
}

function withoutKey(object: Json, key: string): Json {
  const copy = { ...object };
  delete copy[key];
  return copy;
}

function items(count: number): Json[] {
  return Array.from({ length: count }, (_, i) => validItem({ sku: `SKU-${i}` }));
}

/** Runs parseOrder expecting it to throw; returns the error so the test can assert on it. */
function parseOrderError(body: unknown): unknown {
  try {
    parseOrder(body);
  } catch (err) {
    return err;
  }
  throw new Error('expected parseOrder to throw, but it returned');
}

/** Asserts the body is rejected with VALIDATION_FAILED and a detail at `path`. */
function expectRejectedAt(body: unknown, path: string): AppError {
  const err = parseOrderError(body);

  expect(err).toBeInstanceOf(AppError);
  const appError = err as AppError;
  expect(appError.code).toBe(ErrorCodes.VALIDATION_FAILED);
  expect(appError.details.map((d) => d.path)).toContain(path);
  return appError;
}

describe('parseOrder', () => {
  describe('when the order is valid', () => {
    it('then it returns the parsed order unchanged', () => {
      // Arrange
      const body = validOrder();

      // Act
      const order = parseOrder(body);

      // Assert
      expect(order).toEqual(body);
    });

    it('then the locale defaults to "en" when it is missing', () => {
      // Arrange
      const body = validOrder({ customer: withoutKey(validCustomer(), 'locale') });

      // Act
      const order = parseOrder(body);

      // Assert
      expect(order.customer.locale).toBe('en');
    });

    it('then item names, skus and the customer name are trimmed of spaces', () => {
      // Arrange
      const body = validOrder({
        customer: validCustomer({ name: '  Ada  ' }),
        items: [validItem({ sku: ' SKU-1 ', name: '\u00A0Widget\u3000' })],
      });

      // Act
      const order = parseOrder(body);

      // Assert
      expect(order.customer.name).toBe('Ada');
      expect(order.items[0]).toMatchObject({ sku: 'SKU-1', name: 'Widget' });
    });
  });

  describe('when the order is invalid', () => {
    it('then the error is an AppError VALIDATION_FAILED with one detail per problem', () => {
      // Arrange
      const body = validOrder({ orderId: '', currency: 'eur', items: [validItem({ quantity: 0 })] });

      // Act
      const err = parseOrderError(body);

      // Assert
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ name: 'AppError', code: ErrorCodes.VALIDATION_FAILED });
      const paths = (err as AppError).details.map((d) => d.path);
      expect(paths).toEqual(expect.arrayContaining(['orderId', 'currency', 'items.0.quantity']));
      for (const detail of (err as AppError).details) expect(detail.message).toEqual(expect.any(String));
    });
  });

  describe('orderId (1-64 chars of [A-Za-z0-9_-])', () => {
    it.each([
      ['a single character', 'A'],
      ['64 characters', 'a'.repeat(64)],
      ['letters, digits, "_" and "-"', 'Order_2024-abc-XYZ_09'],
    ])('when it is %s, then it is accepted', (_label, orderId) => {
      // Arrange
      const body = validOrder({ orderId });

      // Act
      const order = parseOrder(body);

      // Assert
      expect(order.orderId).toBe(orderId);
    });

    it.each([
      ['empty', ''],
      ['65 characters', 'a'.repeat(65)],
      ['with a space', 'A 1001'],
      ['with a slash', 'A/1001'],
      ['with a dot', 'A.1001'],
      ['with a non-ASCII letter', 'Bestellung-Ä1'],
      ['markup', '<b>1</b>'],
      ['a number', 1001],
      ['missing', undefined],
    ])('when it is %s, then it is rejected at "orderId"', (_label, orderId) => {
      // Arrange
      const body = orderId === undefined ? withoutKey(validOrder(), 'orderId') : validOrder({ orderId });

      // Act + Assert
      expectRejectedAt(body, 'orderId');
    });
  });

  describe('customer.email', () => {
    it.each([
      ['a simple address', 'ada@example.com'],
      ['an address with dots, plus tag and subdomains', 'ada.lovelace+orders@mail.example.co.uk'],
      ['254 characters long', `a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(56)}.com`],
      ['a punycode top-level domain (.рф)', 'user@example.xn--p1ai'],
      ['punycode in every label', 'user@xn--e1afmkfd.xn--p1ai'],
      ['a punycode second-level domain', 'user@xn--bcher-kva.example'],
    ])('when it is %s, then it is accepted', (_label, email) => {
      // Arrange
      const body = validOrder({ customer: validCustomer({ email }) });

      // Act
      const order = parseOrder(body);

      // Assert
      expect(order.customer.email).toBe(email);
    });

    it.each([
      ['without an "@"', 'not-an-email'],
      ['without a domain', 'ada@'],
      ['without a local part', '@example.com'],
      ['with a space', 'ada lovelace@example.com'],
      ['without a top-level domain', 'ada@example'],
      ['empty', ''],
      ['255 characters long', `a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(57)}.com`],
      ['a label over 63 characters', `a@${'b'.repeat(64)}.com`],
      ['a display name', '"Ada" <ada@example.com>'],
      ['a list', 'a@b.example, d@e.example'],
      ['CR LF and a header', 'ada@example.com\r\nBcc: x@evil.example'],
      ['NUL', 'ada\u0000@example.com'],
      ['an invalid punycode label', 'ada@xn--zz.example'],
      ['an address literal', 'ada@[192.0.2.1]'],
      ['a number', 42],
      ['missing', undefined],
    ])('when it is %s, then it is rejected at "customer.email"', (_label, email) => {
      // Arrange
      const customer = email === undefined ? withoutKey(validCustomer(), 'email') : validCustomer({ email });
      const body = validOrder({ customer });

      // Act + Assert
      expectRejectedAt(body, 'customer.email');
    });

    it.each([
      ['user@bücher.example', 'user@xn--bcher-kva.example'],
      ['user@example.рф', 'user@example.xn--p1ai'],
      ['Ada@Bücher.EXAMPLE', 'Ada@xn--bcher-kva.example'],
    ])('when it is %s (a Unicode or mixed-case domain), then the order carries %s', (email, ascii) => {
      // Arrange
      const body = validOrder({ customer: validCustomer({ email }) });

      // Act
      const order = parseOrder(body);

      // Assert
      expect(order.customer.email).toBe(ascii);
    });

    it('when the local part is not ASCII, then it is rejected with a message naming SMTPUTF8', () => {
      // Arrange
      const body = validOrder({ customer: validCustomer({ email: 'üser@example.com' }) });

      // Act
      const err = expectRejectedAt(body, 'customer.email');

      // Assert
      expect(err.details.find((d) => d.path === 'customer.email')?.message).toContain('SMTPUTF8');
    });
  });

  describe('customer.name (1-200 characters after trimming)', () => {
    it.each([
      ['1 character', 'A'],
      ['200 characters', 'n'.repeat(200)],
    ])('when it is %s, then it is accepted', (_label, name) => {
      // Arrange
      const body = validOrder({ customer: validCustomer({ name }) });

      // Act
      const order = parseOrder(body);

      // Assert
      expect(order.customer.name).toBe(name);
    });

    it.each([
      ['empty', ''],
      ['only whitespace', '   '],
      ['201 characters', 'n'.repeat(201)],
      ['missing', undefined],
    ])('when it is %s, then it is rejected at "customer.name"', (_label, name) => {
      // Arrange
      const customer = name === undefined ? withoutKey(validCustomer(), 'name') : validCustomer({ name });
      const body = validOrder({ customer });

      // Act + Assert
      expectRejectedAt(body, 'customer.name');
    });
  });

  describe('customer.locale (optional BCP 47 tag, default "en")', () => {
    it.each([
      ['en', 'en'],
      ['de-CH', 'de-CH'],
      ['de-ch', 'de-CH'],
      ['ja', 'ja'],
      ['zh-Hant-TW', 'zh-Hant-TW'],
      ['en-US-u-ca-gregory-nu-latn-co-emoji' /* 35 chars */, 'en-US-u-ca-gregory-co-emoji-nu-latn'],
    ])('when it is "%s", then it is accepted in its canonical form "%s"', (locale, canonical) => {
      // Arrange
      const body = validOrder({ customer: validCustomer({ locale }) });

      // Act
      const order = parseOrder(body);

      // Assert
      expect(order.customer.locale).toBe(canonical);
    });

    it.each([
      ['not a locale!', 'not a locale!'],
      ['empty', ''],
      ['using an underscore', 'en_US'],
      ['a well-formed tag of 36 characters', 'en-US-u-ca-gregory-nu-latn-co-search'],
      ['a number', 49],
    ])('when it is %s, then it is rejected at "customer.locale"', (_label, locale) => {
      // Arrange
      const body = validOrder({ customer: validCustomer({ locale }) });

      // Act + Assert
      expectRejectedAt(body, 'customer.locale');
    });
  });

  describe('customer object', () => {
    it('when it is missing, then it is rejected at "customer"', () => {
      // Arrange
      const body = withoutKey(validOrder(), 'customer');

      // Act + Assert
      expectRejectedAt(body, 'customer');
    });

    it('when it has an unknown key, then it is rejected at "customer" naming the key', () => {
      // Arrange
      const body = validOrder({ customer: validCustomer({ phone: '+41 00 000 00 00' }) });

      // Act
      const err = expectRejectedAt(body, 'customer');

      // Assert
      expect(err.details.find((d) => d.path === 'customer')?.message).toContain('phone');
    });
  });

  describe('items (1-100 entries)', () => {
    it.each([1, 100])('when there are %i items, then they are accepted', (count) => {
      // Arrange
      const body = validOrder({ items: items(count) });

      // Act
      const order = parseOrder(body);

      // Assert
      expect(order.items).toHaveLength(count);
    });

    it.each([
      ['0 items', []],
      ['101 items', items(101)],
      ['not an array', { 0: validItem() }],
      ['missing', undefined],
    ])('when there are %s, then they are rejected at "items"', (_label, list) => {
      // Arrange
      const body = list === undefined ? withoutKey(validOrder(), 'items') : validOrder({ items: list });

      // Act + Assert
      expectRejectedAt(body, 'items');
    });

    it('when an item is not an object, then it is rejected at its index', () => {
      // Arrange
      const body = validOrder({ items: [validItem(), 'SKU-2'] });

      // Act + Assert
      expectRejectedAt(body, 'items.1');
    });

    it('when an item has an unknown key, then it is rejected at that item naming the key', () => {
      // Arrange
      const body = validOrder({ items: [validItem({ discount: 10 })] });

      // Act
      const err = expectRejectedAt(body, 'items.0');

      // Assert
      expect(err.details.find((d) => d.path === 'items.0')?.message).toContain('discount');
    });
  });

  describe('items[].quantity (integer 1-1000)', () => {
    it.each([1, 1000])('when it is %p, then it is accepted', (quantity) => {
      // Arrange
      const body = validOrder({ items: [validItem({ quantity })] });

      // Act
      const order = parseOrder(body);

      // Assert
      expect(order.items[0].quantity).toBe(quantity);
    });

    it.each([
      ['0', 0],
      ['1001', 1001],
      ['1.5', 1.5],
      ['negative', -1],
      ['a numeric string', '2'],
      ['missing', undefined],
    ])('when it is %s, then it is rejected at "items.0.quantity"', (_label, quantity) => {
      // Arrange
      const item = quantity === undefined ? withoutKey(validItem(), 'quantity') : validItem({ quantity });
      const body = validOrder({ items: [item] });

      // Act + Assert
      expectRejectedAt(body, 'items.0.quantity');
    });

    it('when the second item is bad, then the path names index 1', () => {
      // Arrange
      const body = validOrder({ items: [validItem(), validItem({ quantity: 0 })] });

      // Act
      const err = expectRejectedAt(body, 'items.1.quantity');

      // Assert
      expect(err.details.map((d) => d.path)).not.toContain('items.0.quantity');
    });
  });

  describe('items[].unitPrice (integer minor units 0-MAX_UNIT_PRICE)', () => {
    it.each([
      ['0', 0],
      ['1999', 1999],
      ['MAX_UNIT_PRICE', MAX_UNIT_PRICE],
    ])('when it is %s, then it is accepted', (_label, unitPrice) => {
      // Arrange
      const body = validOrder({ items: [validItem({ unitPrice })] });

      // Act
      const order = parseOrder(body);

      // Assert
      expect(order.items[0].unitPrice).toBe(unitPrice);
    });

    it.each([
      ['negative', -1],
      ['a decimal amount (19.99)', 19.99],
      ['MAX_UNIT_PRICE + 1', MAX_UNIT_PRICE + 1],
      ['a numeric string', '1999'],
      ['missing', undefined],
    ])('when it is %s, then it is rejected at "items.0.unitPrice"', (_label, unitPrice) => {
      // Arrange
      const item = unitPrice === undefined ? withoutKey(validItem(), 'unitPrice') : validItem({ unitPrice });
      const body = validOrder({ items: [item] });

      // Act + Assert
      expectRejectedAt(body, 'items.0.unitPrice');
    });
  });

  describe('items[].sku (1-64 characters after trimming)', () => {
    it.each([
      ['1 character', 'S'],
      ['64 characters', 's'.repeat(64)],
    ])('when it is %s, then it is accepted', (_label, sku) => {
      // Arrange
      const body = validOrder({ items: [validItem({ sku })] });

      // Act
      const order = parseOrder(body);

      // Assert
      expect(order.items[0].sku).toBe(sku);
    });

    it.each([
      ['empty', ''],
      ['only whitespace', '  '],
      ['65 characters', 's'.repeat(65)],
      ['a number', 42],
      ['missing', undefined],
    ])('when it is %s, then it is rejected at "items.0.sku"', (_label, sku) => {
      // Arrange
      const item = sku === undefined ? withoutKey(validItem(), 'sku') : validItem({ sku });
      const body = validOrder({ items: [item] });

      // Act + Assert
      expectRejectedAt(body, 'items.0.sku');
    });
  });

  describe('items[].name (1-200 characters after trimming)', () => {
    it.each([
      ['1 character', 'W'],
      ['200 characters', 'w'.repeat(200)],
      ['markup (escaping is the template’s job)', '<script>alert(1)</script> &"\''],
    ])('when it is %s, then it is accepted', (_label, name) => {
      // Arrange
      const body = validOrder({ items: [validItem({ name })] });

      // Act
      const order = parseOrder(body);

      // Assert
      expect(order.items[0].name).toBe(name);
    });

    it.each([
      ['empty', ''],
      ['only whitespace', ' \u3000 '],
      ['201 characters', 'w'.repeat(201)],
      ['missing', undefined],
    ])('when it is %s, then it is rejected at "items.0.name"', (_label, name) => {
      // Arrange
      const item = name === undefined ? withoutKey(validItem(), 'name') : validItem({ name });
      const body = validOrder({ items: [item] });

      // Act + Assert
      expectRejectedAt(body, 'items.0.name');
    });
  });

  describe('single-line text: customer.name, items[].name, items[].sku', () => {
    type Place = (text: string) => Json;
    const fields: [string, Place][] = [
      ['customer.name', (name) => validOrder({ customer: validCustomer({ name }) })],
      ['items.0.name', (name) => validOrder({ items: [validItem({ name })] })],
      ['items.0.sku', (sku) => validOrder({ items: [validItem({ sku })] })],
    ];
    const read: Record<string, (order: ReturnType<typeof parseOrder>) => string> = {
      'customer.name': (order) => order.customer.name,
      'items.0.name': (order) => order.items[0].name,
      'items.0.sku': (order) => order.items[0].sku,
    };

    const accepted: [string, string, string][] = [
      ['an emoji', 'Ada 👩‍💻', 'Ada 👩‍💻'],
      ['a family ZWJ sequence', 'Family 👨‍👩‍👧‍👦', 'Family 👨‍👩‍👧‍👦'],
      ['a flag and a skin tone', '🇨🇭 👋🏽', '🇨🇭 👋🏽'],
      ['e + U+0301 COMBINING ACUTE ACCENT, composed to é (NFC)', 'Rene\u0301e', 'Ren\u00e9e'],
      ['combining marks without a precomposed form', 'q\u0307\u0323', 'q\u0323\u0307'],
      ['Arabic', 'أدا لوفليس', 'أدا لوفليس'],
      ['Hebrew', 'עדה לאבלייס', 'עדה לאבלייס'],
      ['Hebrew with U+200F RIGHT-TO-LEFT MARK', 'עדה\u200F 42', 'עדה\u200F 42'],
      ['CJK', '艾达', '艾达'],
    ];
    const cases = fields.flatMap(([path, place]) =>
      accepted.map(([label, input, output]) => [path, label, place, input, output] as const),
    );
    it.each(cases)('when %s holds %s, then it is accepted in NFC', (path, _label, place, input, output) => {
      // Act
      const order = parseOrder(place(input));

      // Assert
      expect(read[path](order)).toBe(output);
    });

    const rejected: [string, string, string][] = [
      ['NUL', 'Ada\u0000', 'U+0000'],
      ['CR', 'Ada\rLovelace', 'U+000D'],
      ['LF', 'Ada\nBcc: x@evil.example', 'U+000A'],
      ['TAB', 'Ada\tLovelace', 'U+0009'],
      ['a leading TAB', '\tAda', 'U+0009'],
      ['a trailing LF', 'Ada\n', 'U+000A'],
      ['ESC', 'Ada\u001b[31m', 'U+001B'],
      ['DEL', 'Ada\u007f', 'U+007F'],
      ['C1 U+0085 NEXT LINE', 'Ada\u0085', 'U+0085'],
      ['C1 U+009B', 'Ada\u009b', 'U+009B'],
      ['U+2028 LINE SEPARATOR', 'Ada\u2028x', 'U+2028'],
      ['U+202A LEFT-TO-RIGHT EMBEDDING', 'Ada\u202A', 'U+202A'],
      ['U+202E RIGHT-TO-LEFT OVERRIDE', 'Ada\u202Efdp.exe', 'U+202E'],
      ['U+2066 LEFT-TO-RIGHT ISOLATE', 'Ada\u2066', 'U+2066'],
      ['U+2069 POP DIRECTIONAL ISOLATE', 'Ada\u2069', 'U+2069'],
      ['an unpaired surrogate', 'Ada\uD83D', 'U+D83D'],
    ];
    const rejectedCases = fields.flatMap(([path, place]) =>
      rejected.map(([label, input, codePoint]) => [path, label, place, input, codePoint] as const),
    );
    it.each(rejectedCases)(
      'when %s holds %s, then it is rejected at that path naming the character',
      (path, _label, place, input, codePoint) => {
        // Act
        const err = expectRejectedAt(place(input), path);

        // Assert
        expect(err.details.find((d) => d.path === path)?.message).toContain(codePoint);
      },
    );

    it('when a name is 200 emoji (400 UTF-16 code units), then it is accepted: limits count code points', () => {
      // Arrange
      const name = '😀'.repeat(200);

      // Act
      const order = parseOrder(validOrder({ customer: validCustomer({ name }) }));

      // Assert
      expect(order.customer.name).toBe(name);
    });

    it('when a name is decomposed, then the 200 limit counts its code points after composing (NFC)', () => {
      // 200 decomposed é (400 code points) compose to 200: the limit applies after NFC.
      expect(parseOrder(validOrder({ customer: validCustomer({ name: 'e\u0301'.repeat(200) }) })).customer.name).toBe(
        '\u00e9'.repeat(200),
      );
      expectRejectedAt(validOrder({ customer: validCustomer({ name: 'e\u0301'.repeat(201) }) }), 'customer.name');
    });
  });

  describe('currency (ISO 4217 code)', () => {
    it.each(['EUR', 'JPY', 'USD', 'BHD', 'CHF'])('when it is "%s", then it is accepted', (currency) => {
      // Arrange
      const body = validOrder({ currency });

      // Act
      const order = parseOrder(body);

      // Assert
      expect(order.currency).toBe(currency);
    });

    it.each([
      ['lowercase "eur"', 'eur'],
      ['the unknown code "EUX"', 'EUX'],
      ['"EURO"', 'EURO'],
      ['empty', ''],
      ['a number', 978],
      ['missing', undefined],
    ])('when it is %s, then it is rejected at "currency"', (_label, currency) => {
      // Arrange
      const body = currency === undefined ? withoutKey(validOrder(), 'currency') : validOrder({ currency });

      // Act + Assert
      expectRejectedAt(body, 'currency');
    });
  });

  describe('unknown keys (strict objects)', () => {
    it('when the order has an unknown top-level key, then it is rejected at the root naming the key', () => {
      // Arrange
      const body = validOrder({ coupon: 'FREE' });

      // Act
      const err = expectRejectedAt(body, '');

      // Assert
      expect(err.details.find((d) => d.path === '')?.message).toContain('coupon');
    });
  });

  // Locales and country codes are remembered once looked up (every order has them): the answer
  // for a value seen before must be the answer it got the first time, a refusal included.
  describe('the same locale or country again', () => {
    function withBillingCountry(country: string): Json {
      const billingAddress = { name: 'Ada Lovelace', lines: ['12 St James’s Square'], city: 'London', country };
      return validOrder({ billingAddress });
    }

    it('when a locale comes again, then it gets the same canonical form or refusal', () => {
      // Act + Assert
      for (let i = 0; i < 3; i++) {
        expect(parseOrder(validOrder({ customer: validCustomer({ locale: 'de-ch' }) })).customer.locale).toBe('de-CH');
        expectRejectedAt(validOrder({ customer: validCustomer({ locale: 'en_US' }) }), 'customer.locale');
      }
    });

    it('when a country code comes again, then it gets the same acceptance or refusal message', () => {
      // Arrange
      const refusal = expectRejectedAt(withBillingCountry('UK'), 'billingAddress.country').details;

      // Act + Assert
      for (let i = 0; i < 3; i++) {
        expect(parseOrder(withBillingCountry('GB')).billingAddress?.country).toBe('GB');
        expect(expectRejectedAt(withBillingCountry('UK'), 'billingAddress.country').details).toEqual(refusal);
        expectRejectedAt(withBillingCountry('de'), 'billingAddress.country');
      }
      expect(refusal.map((d) => d.message).join()).toContain('use "GB"');
    });
  });

  describe('non-object bodies', () => {
    it.each([
      ['null', null],
      ['an array', [validOrder()]],
      ['a string', JSON.stringify(validOrder())],
      ['a number', 42],
      ['undefined', undefined],
    ])('when the body is %s, then it is rejected at the root', (_label, body) => {
      // Act + Assert
      const err = expectRejectedAt(body, '');
      expect(err.details).toHaveLength(1);
    });
  });
});
