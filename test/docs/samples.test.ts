import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { minorUnitDigits, parseOrder, type Order } from '@order-mail/shared/contract';

// samples/ (README, "Preview"): order bodies as POST /orders takes them, rendered by
// `npm run preview` and by test/browser/email-rendering.test.ts.

const SAMPLES_DIR = path.join(__dirname, '..', '..', 'samples');
const LOCALES_DIR = path.join(__dirname, '..', '..', 'services', 'mailer', 'locales');

/** The languages issue #11 ships, each with a sample `lang-<language>.json`. */
const SHIPPED_LANGUAGES = ['en', 'de', 'fr', 'es', 'it', 'nl', 'pt', 'pl', 'sv', 'ja', 'zh', 'ar', 'he'];

/** The script a language's sample writes its names in (checked on the customer's and the first item's name). */
const SCRIPTS: Record<string, RegExp> = {
  ja: /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u,
  zh: /\p{Script=Han}/u,
  ar: /\p{Script=Arabic}/u,
  he: /\p{Script=Hebrew}/u,
};

const files = readdirSync(SAMPLES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const raw = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(SAMPLES_DIR, file), 'utf8')) as Record<string, unknown>;
const order = (file: string): Order => parseOrder(raw(file));
const language = (o: Order) => new Intl.Locale(o.customer.locale).language;

describe('samples/', () => {
  it.each(files)('%s is an order POST /orders accepts (schema and total)', (file) => {
    expect(() => order(file)).not.toThrow();
  });

  it('minimal.json has version-1 fields only', () => {
    const body = raw('minimal.json');
    expect(Object.keys(body).sort()).toEqual(['currency', 'customer', 'items', 'orderId']);
    for (const item of body.items as Record<string, unknown>[]) {
      expect(Object.keys(item).sort()).toEqual(['name', 'quantity', 'sku', 'unitPrice']);
    }
  });

  it('full.json has every version-2 field, taxes both added and included, and https images on every item', () => {
    const full = order('full.json');
    for (const field of [
      'placedAt',
      'orderUrl',
      'shippingAddress',
      'billingAddress',
      'shipping',
      'discounts',
      'taxes',
      'paymentMethod',
      'total',
    ] as const) {
      expect(full[field]).toBeDefined();
    }
    expect(full.taxes?.map((t) => t.included).sort()).toEqual([false, true]);
    expect(full.billingAddress).toEqual(expect.objectContaining({ region: expect.any(String) }));
    expect(full.shippingAddress).toEqual(expect.objectContaining({ postalCode: expect.any(String) }));
    for (const item of full.items) {
      expect(item.variant).toBeDefined();
      expect(item.imageUrl).toMatch(/^https:\/\//);
    }
  });

  it('long.json has 100 items with long names', () => {
    const long = order('long.json');
    expect(long.items).toHaveLength(100);
    expect(Math.min(...long.items.map((i) => i.name.length))).toBeGreaterThanOrEqual(100);
  });

  it.each(SHIPPED_LANGUAGES)('lang-%s.json is in that language, with names in its script', (lang) => {
    const o = order(`lang-${lang}.json`);
    expect(language(o)).toBe(lang);
    const script = SCRIPTS[lang];
    if (script) {
      expect(o.customer.name).toMatch(script);
      expect(o.items[0].name).toMatch(script);
    }
  });

  it('every language with a catalogue has a sample, and the right-to-left ones are among them', () => {
    const catalogues = readdirSync(LOCALES_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length));
    const sampled = files.filter((f) => f.startsWith('lang-')).map((f) => language(order(f)));
    expect(sampled).toEqual(expect.arrayContaining([...catalogues, 'ar', 'he']));
  });

  it('a zero-decimal (JPY) and a three-decimal (KWD) currency are covered', () => {
    const currencies = files.map((f) => order(f).currency);
    expect(currencies).toEqual(expect.arrayContaining(['JPY', 'KWD']));
    expect([minorUnitDigits('JPY'), minorUnitDigits('KWD')]).toEqual([0, 3]);
  });

  it('every image is https (the browser test answers them without the network)', () => {
    for (const f of files) {
      for (const item of order(f).items) if (item.imageUrl) expect(item.imageUrl).toMatch(/^https:\/\//);
    }
  });
});
