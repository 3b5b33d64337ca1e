import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  AppError,
  computeOrderTotals,
  ErrorCodes,
  type OrderConfirmedEvent,
  type OrderInput,
} from '@order-mail/shared/contract';
import { sampleEvent, sampleFullOrder, sampleOrder } from '@test/helpers/orders';
import { loadMessageCatalogues } from '../../src/adapters/i18n/message-catalogues';
import { compileTemplates, mirrorable } from '../../src/adapters/templates/template-renderer';
import { displayWidth, TEXT_WIDTH } from '../../src/adapters/templates/text-layout';
import { formattingLocale } from '../../src/domain/locale-formats';
import { formatMoney } from '../../src/domain/money';
import {
  buildOrderConfirmationEmail,
  ORDER_CONFIRMATION_TEMPLATE,
  type OrderConfirmationModel,
  type OrderEmail,
  type ShopIdentity,
} from '../../src/domain/order-email';
import type { Localizer, RenderedEmail, TemplateRenderer } from '../../src/domain/ports';

const HOSTILE = '<script>alert(1)</script> &"\'';
/** How Handlebars escapes HOSTILE for HTML. */
const HOSTILE_ESCAPED = '&lt;script&gt;alert(1)&lt;/script&gt; &amp;&quot;&#x27;';
/** Gmail clips an HTML part larger than 102 KB (read strictly: 102,000 bytes). */
const GMAIL_CLIP_BYTES = 102_000;
const SHOP: ShopIdentity = { name: 'Test Shop', brandColor: '#1f5fa8' };
const FULL_SHOP: ShopIdentity = {
  name: 'Fine Teas',
  url: 'https://tea.example',
  logoUrl: 'https://tea.example/logo.png',
  brandColor: '#aa3300',
  supportEmail: 'help@tea.example',
  companyAddress: 'Fine Teas Ltd, 1 Leaf Lane, London EC1A 1AA',
};

/** Text as Handlebars escaped it, decoded. */
function decode(html: string): string {
  const entities: Record<string, string> = {
    amp: '&',
    lt: '<',
    gt: '>',
    quot: '"',
    '#x27': "'",
    '#x3D': '=',
    '#x60': '`',
  };
  return html.replace(/&(amp|lt|gt|quot|#x27|#x3D|#x60);/g, (_, name: string) => entities[name]);
}

/** The text of an HTML fragment: tags dropped, entities decoded, white space collapsed. */
function textOf(html: string): string {
  return decode(html.replace(/<[^>]+>/g, ' ').replace(/&nbsp;/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();
}

/** The `<tr class="item">…</tr>` rows of the rendered HTML, each as its list of cell texts. */
function itemRows(html: string): string[][] {
  const rows = html.match(/<tr class="item"[^>]*>[\s\S]*?<\/tr>/g) ?? [];
  return rows.map((row) => [...row.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => textOf(m[1])));
}

/** The texts of every element carrying `attribute` (e.g. `data-amount`). */
function textsWith(html: string, attribute: string): string[] {
  return [...html.matchAll(new RegExp(`<span [^>]*\\b${attribute}\\b[^>]*>([^<]*)</span>`, 'g'))].map((m) =>
    decode(m[1]),
  );
}

/** Runs render expecting it to throw; returns the error so the test can assert on it. */
function renderError(renderer: TemplateRenderer, template: string, model: object): unknown {
  try {
    renderer.render(template, model);
  } catch (err) {
    return err;
  }
  throw new Error('expected render to throw, but it returned');
}

/** 200 characters of words: the longest item name the contract allows. */
const LONGEST_NAME = 'Organic cotton long-sleeve shirt with chest pocket, mother-of-pearl buttons, '.repeat(3);

/**
 * 100 items (the contract's most) with 200-character names (its longest), 60-character variants,
 * image URLs of 66 characters and 1000 units at the highest price. Longer variants (up to 100) or
 * image URLs (up to 2000) can take a 100-item email past Gmail's clipping limit: README, "Known limits".
 */
function hundredItemOrder(locale = 'en'): OrderInput {
  const items = Array.from({ length: 100 }, (_, i) => ({
    sku: `SKU-${i}`,
    name: `${String(i).padStart(4, '0')} ${LONGEST_NAME}`.slice(0, 200),
    variant: 'Colour: midnight blue / Size: XL / Fit: regular / Sleeve 34',
    quantity: 1000,
    unitPrice: 99_999_999,
    imageUrl: `https://cdn.shop.example/images/products/${String(i).padStart(5, '0')}/thumbnail-96x96.jpg`,
  }));
  return sampleFullOrder({ items, customer: { email: 'ada@example.com', name: 'Ada Lovelace', locale } });
}

describe('order-confirmation template', () => {
  let renderer: TemplateRenderer;
  let localizer: Localizer;

  beforeAll(async () => {
    [renderer, localizer] = await Promise.all([compileTemplates(), loadMessageCatalogues()]);
  });

  function emailOf(order: OrderInput, shop: ShopIdentity = SHOP, event?: OrderConfirmedEvent): OrderEmail {
    return buildOrderConfirmationEmail(event ?? sampleEvent({ order }), {
      shop,
      localizer,
      messageIdDomain: 'shop.example',
    });
  }

  function render(order: OrderInput, shop: ShopIdentity = SHOP): RenderedEmail & { email: OrderEmail } {
    const email = emailOf(order, shop);
    return { ...renderer.render(email.template, email.model), email };
  }

  function sampleModel(): OrderConfirmationModel {
    return emailOf(sampleOrder()).model;
  }

  describe('when an order is rendered', () => {
    it('then the html has one item row per item: image, name with variant and "quantity × unit price", line total', () => {
      // Arrange
      const order = sampleFullOrder();

      // Act
      const { html } = render(order);

      // Assert: the image cell (its picture has no text), the item, the line total
      expect(html.match(/class="item"/g)).toHaveLength(2);
      expect(itemRows(html)).toEqual([
        ['', 'Widget Colour: blue 2 × €19.99', '€39.98'],
        ['', 'Gadget Size M 1 × €59.52', '€59.52'],
      ]);
    });

    it.each([
      ['with images', sampleFullOrder(), ['', 'Item', 'Total']],
      ['without images', sampleOrder(), ['Item', 'Total']],
    ])('when the items are %s, then the columns are headed %p (Total: the line total)', (_case, order, expected) => {
      // Act
      const { html } = render(order);

      // Assert
      const headings = [...html.matchAll(/<th[^>]*>([\s\S]*?)<\/th>/g)].map((m) => textOf(m[1]));
      expect(headings).toEqual(expected);
    });

    it('then the text part lists every item with name, quantity, line total, variant and unit price', () => {
      // Act
      const { text } = render(sampleFullOrder());

      // Assert
      expect(text).toContain('- Widget: €39.98\n  Colour: blue\n  2 × €19.99\n');
      expect(text).toContain('- Gadget: €59.52\n  Size M\n  1 × €59.52\n');
      expect(text.match(/^- /gm)).toHaveLength(2);
    });

    it('then both parts show the order number, the date, the greeting and the total', () => {
      // Act
      const { html, text } = render(sampleFullOrder());

      // Assert
      for (const part of [html, text]) {
        expect(part).toContain('A-1001');
        expect(part).toContain('November 25, 2026');
        expect(part).toContain('Hi Ada Lovelace,');
      }
      expect(text).toContain('Total: €104.50');
    });

    it('then the html is a complete MJML-compiled document titled with the subject, without leftover template syntax', () => {
      // Act
      const { html, text } = render(sampleOrder());

      // Assert
      expect(html).toMatch(/^<!doctype html>/i);
      expect(html).toContain('<title>Your order A-1001 is confirmed</title>');
      expect(html).not.toMatch(/<mj-/);
      for (const part of [html, text]) expect(part).not.toMatch(/\{\{|\}\}/);
    });

    it('then the preheader is hidden text at the start of the body', () => {
      // Act
      const { html } = render(sampleFullOrder());

      // Assert
      const body = html.slice(html.indexOf('<body'));
      expect(body).toMatch(/<div style="display:none;[^"]*">Thank you, Ada Lovelace: 3 items, €104\.50 in total\./);
    });

    it('then a single item renders a single row', () => {
      // Act
      const { html, text } = render(sampleOrder({ items: [sampleOrder().items[0]] }));

      // Assert
      expect(itemRows(html)).toEqual([['Widget 2 × €19.99', '€39.98']]);
      expect(text.match(/^- /gm)).toHaveLength(1);
    });
  });

  describe('when the customer has a locale (lang and dir)', () => {
    it.each([
      ['en', 'en', 'ltr'],
      ['de-CH', 'de', 'ltr'],
      ['ja', 'ja', 'ltr'],
      ['ar', 'ar', 'rtl'],
      ['he-IL', 'he', 'rtl'],
      ['ko', 'en', 'ltr'],
    ])('when the locale is %s, then <html lang=%p dir=%p>', (locale, lang, dir) => {
      // Act
      const { html } = render(sampleFullOrder({ customer: { email: 'ada@example.com', name: 'Ada', locale } }));

      // Assert
      expect(html).toContain(`<html lang="${lang}" dir="${dir}"`);
    });

    it.each([
      ['ltr', 'en', 'left', 'right'],
      ['rtl', 'ar', 'right', 'left'],
    ])(
      'when the direction is %s, then text starts on the %s (%s) and amounts end on the other side',
      (_dir, locale, start, end) => {
        // Act
        const { html } = render(sampleFullOrder({ customer: { email: 'ada@example.com', name: 'Ada', locale } }));

        // Assert: the item heading and the columns MJML aligns itself follow the direction
        expect(html).toMatch(new RegExp(`<th align="${start}" width="100%"`));
        expect(html).toContain(`<td align="${end}"><span data-amount`);
        expect(html).toContain(`text-align:${start};direction:${_dir}`);
        expect(html).not.toMatch(new RegExp(`direction:${_dir === 'rtl' ? 'ltr' : 'rtl'}`));
      },
    );

    it.each(['en', 'de', 'fr', 'ar', 'ja'])(
      'when the locale is %s, then the data-total text is formatMoney(computeOrderTotals(order).total)',
      (locale) => {
        // Arrange
        const order = sampleFullOrder({ customer: { email: 'ada@example.com', name: 'Ada', locale } });
        const expected = formatMoney(computeOrderTotals(order).total, 'EUR', formattingLocale(locale, locale));

        // Act
        const { html } = render(order);

        // Assert
        expect(textsWith(html, 'data-total')).toEqual([expected]);
      },
    );
  });

  describe('when amounts, quantities and user-supplied text are shown', () => {
    it('then every amount is a data-amount element and every quantity a data-quantity element, all white-space: nowrap', () => {
      // Arrange
      const order = sampleFullOrder();

      // Act
      const { html, email } = render(order);

      // Assert
      const { model } = email;
      expect(textsWith(html, 'data-amount')).toEqual([
        ...model.items.flatMap((item) => [item.unitPrice, item.lineTotal]),
        ...model.summary.map((row) => row.amount),
        model.total,
        ...model.includedTaxes.map((row) => row.amount),
      ]);
      expect(textsWith(html, 'data-quantity')).toEqual(['2', '1']);
      const spans = html.match(/<span [^>]*data-(amount|quantity)[^>]*>/g) ?? [];
      expect(spans.length).toBeGreaterThan(0);
      for (const span of spans) expect(span).toMatch(/style="[^"]*white-space: ?nowrap/);
    });

    it('then names, variants, labels, addresses and the payment method sit in dir="auto" elements', () => {
      // Arrange
      const order = sampleFullOrder({ paymentMethod: 'בכרטיס אשראי', discounts: [{ label: 'קופון', amount: 100 }] });

      // Act
      const { html } = render(order, FULL_SHOP);

      // Assert
      const isolated = [...html.matchAll(/<(?:b|div|span|a) [^>]*dir="auto"[^>]*>([^<]*)</g)].map((m) => decode(m[1]));
      expect(isolated).toEqual(
        expect.arrayContaining([
          'Widget',
          'Colour: blue',
          'Gadget',
          'Size M',
          'קופון',
          'Shipping (DHL Express)',
          'Includes VAT 19%',
          'Friedrichstraße 123',
          '12 St James’s Square',
          'Germany',
          'בכרטיס אשראי',
          'Fine Teas Ltd, 1 Leaf Lane, London EC1A 1AA',
        ]),
      );
    });

    it('then every image has an alt: the logo the shop name, an item image an empty one (decorative beside its name, WCAG H67)', () => {
      // Act
      const { html } = render(sampleFullOrder(), FULL_SHOP);

      // Assert
      const images = html.match(/<img\s[^>]*>/g) ?? [];
      expect(images).toHaveLength(3);
      const alts = images.map((img) => /alt="([^"]*)"/.exec(img)?.[1]);
      expect(alts).toEqual(['Fine Teas', '', '']);
    });
  });

  describe('when optional parts are present or absent', () => {
    it.each([
      ['the button to orderUrl', (html: string) => html.includes('href="https://shop.example/orders/A-1001"')],
      ['the shipping address', (html: string) => html.includes('Shipping address')],
      ['the billing address', (html: string) => html.includes('Billing address')],
      ['the payment method', (html: string) => html.includes('Visa •••• 4242')],
      ['the image column', (html: string) => html.includes('<img src="https://shop.example/images/widget.png"')],
      ['the variants', (html: string) => html.includes('Colour: blue')],
      ['the included tax line', (html: string) => html.includes('Includes VAT 19%')],
      ['the discount row', (html: string) => html.includes('WELCOME5')],
    ])('then %s shows for the full order and not for a minimal one', (_part, shows) => {
      // Act
      const full = render(sampleFullOrder()).html;
      const minimal = render(sampleOrder()).html;

      // Assert
      expect(shows(full)).toBe(true);
      expect(shows(minimal)).toBe(false);
    });

    it.each([
      [
        'a logo and a URL',
        FULL_SHOP,
        /<a\s+href="https:\/\/tea\.example"[^>]*>\s*<img\s+alt="Fine Teas" src="https:\/\/tea\.example\/logo\.png"/,
      ],
      [
        'a logo without a URL',
        { ...FULL_SHOP, url: undefined },
        /<td {2}style="width:160px;">\s*<img\s+alt="Fine Teas" src="https:\/\/tea\.example\/logo\.png"/,
      ],
      [
        'a URL without a logo',
        { ...FULL_SHOP, logoUrl: undefined },
        /<a href="https:\/\/tea\.example"[^>]*>Fine Teas<\/a>/,
      ],
      ['only a name', SHOP, /<span dir="auto">Test Shop<\/span>/],
    ])('when the shop has %s, then the header shows it', (_case, shop, header) => {
      // Act
      const { html } = render(sampleOrder(), shop);

      // Assert
      expect(html).toMatch(header);
    });

    it('then the brand colour is the rule under the heading and the button, and the footer has the company address', () => {
      // Act
      const { html, text } = render(sampleFullOrder(), FULL_SHOP);

      // Assert
      expect(html.match(/#aa3300/g)?.length).toBeGreaterThanOrEqual(2);
      expect(html).toContain('write to help@tea.example.');
      expect(text).toContain('Fine Teas Ltd, 1 Leaf Lane, London EC1A 1AA');
      expect(render(sampleOrder(), SHOP).html).not.toContain('Fine Teas Ltd');
    });
  });

  describe('the layout itself', () => {
    it('then it has no copy of its own: every text comes from the model (the catalogues)', () => {
      // Arrange: the template with its comments, tags and Handlebars expressions removed
      const source = readFileSync(path.resolve(__dirname, '../../templates/order-confirmation.mjml'), 'utf8');
      const leftover = source
        .replace(/<!--[\s\S]*?-->/g, '')
        .replace(/<mj-style>[\s\S]*?<\/mj-style>/g, '')
        .replace(/\{\{[\s\S]*?\}\}/g, '')
        .replace(/<[^>]+>/g, '')
        .replace(/&nbsp;/g, '');

      // Assert
      expect(leftover.replace(/[^\p{L}]/gu, '')).toBe('');
    });

    it('when a compiled template aligns left or right, then mirrorable makes those sides logical', () => {
      // Arrange
      const html =
        '<td align="left" style="text-align:left;direction:ltr"><td align="right" style="text-align: right">';

      // Act
      const result = mirrorable(html);

      // Assert
      expect(result).toBe(
        '<td align="{{@start}}" style="text-align:{{@start}};direction:{{@dir}}"><td align="{{@end}}" style="text-align:{{@end}}">',
      );
    });
  });

  describe('when the order is as large as the contract allows in items and names (100 items, 200-character names, variants, images)', () => {
    it.each(['en', 'de', 'ar'])('then the %s HTML stays under Gmail’s 102 KB clipping limit', (locale) => {
      // Arrange
      const order = hundredItemOrder(locale);
      expect(order.items.map((item) => item.name.length)).toEqual(Array(100).fill(200));

      // Act
      const { html } = render(order);

      // Assert
      const bytes = Buffer.byteLength(html);
      console.log(
        `100-item order (${locale}): HTML ${bytes} bytes (${(bytes / 1024).toFixed(1)} KiB), limit ${GMAIL_CLIP_BYTES}`,
      );
      expect(itemRows(html)).toHaveLength(100);
      expect(bytes).toBeLessThan(GMAIL_CLIP_BYTES);
    });
  });

  describe('the text part', () => {
    it.each([
      ['the full order in en', sampleFullOrder()],
      ['the full order in de', sampleFullOrder({ customer: { email: 'ada@example.com', name: 'Ada', locale: 'de' } })],
      ['the full order in ja', sampleFullOrder({ customer: { email: 'ada@example.com', name: 'Ada', locale: 'ja' } })],
      ['the full order in ar', sampleFullOrder({ customer: { email: 'ada@example.com', name: 'Ada', locale: 'ar' } })],
      ['the 100-item order', hundredItemOrder()],
    ])('when %s is rendered, then no line is wider than 72 columns', (_case, order) => {
      // Act
      const { text } = render(order, FULL_SHOP);

      // Assert
      const wide = text.split('\n').filter((line) => displayWidth(line) > TEXT_WIDTH);
      expect(wide).toEqual([]);
    });

    it('then it carries the same information as the HTML: summary, addresses, payment, link, support and footer', () => {
      // Act
      const { text } = render(sampleFullOrder(), FULL_SHOP);

      // Assert
      for (const line of [
        'Fine Teas <https://tea.example>',
        'Order number: A-1001',
        'Order date: November 25, 2026',
        'Subtotal: €99.50',
        'WELCOME5: -€5.00',
        'Shipping (DHL Express): €10.00',
        'Total: €104.50',
        'Includes VAT 19%: €16.68',
        'Shipping address:\n  Ada Lovelace\n  Friedrichstraße 123\n  3. OG\n  10117 Berlin\n  Berlin\n  Germany',
        'Billing address:\n  Ada Lovelace\n  12 St James’s Square\n  SW1Y 4JH London\n  United Kingdom',
        'Payment method: Visa •••• 4242',
        'View your order: https://shop.example/orders/A-1001',
        'Questions about your order? Reply to this email or write to\nhelp@tea.example.',
        'You are receiving this email because you placed an order with Fine Teas.',
        'Fine Teas Ltd, 1 Leaf Lane, London EC1A 1AA',
      ]) {
        expect(text).toContain(line);
      }
    });
  });

  describe('when the customer and item names contain markup and special characters', () => {
    const hostileOrder = () =>
      sampleOrder({
        customer: { email: 'ada@example.com', name: HOSTILE, locale: 'en' },
        items: [
          { sku: 'SKU-1', name: HOSTILE, variant: HOSTILE, quantity: 2, unitPrice: 1999 },
          { sku: 'SKU-2', name: 'Gadget', quantity: 1, unitPrice: 500 },
        ],
      });

    it('then the html contains them escaped', () => {
      // Act
      const { html } = render(hostileOrder());

      // Assert
      expect(html).toContain(`Hi ${HOSTILE_ESCAPED},`);
      expect(html).toContain(`<b dir="auto">${HOSTILE_ESCAPED}</b>`);
      expect(itemRows(html)[0]).toEqual([`${HOSTILE} ${HOSTILE} 2 × €19.99`, '€39.98']);
    });

    it('then the html never contains them raw', () => {
      // Act
      const { html } = render(hostileOrder());

      // Assert
      expect(html).not.toContain('<script');
      expect(html.match(/class="item"/g)).toHaveLength(2);
    });

    it('then the text part carries them verbatim (plain text is not HTML)', () => {
      // Act
      const { text } = render(hostileOrder());

      // Assert
      expect(text).toContain(`Hi ${HOSTILE},`);
      expect(text).toContain(`- ${HOSTILE}: €39.98`);
      expect(text).not.toContain('&lt;');
      expect(text).not.toContain('&amp;');
    });
  });

  describe('when the template name is unknown', () => {
    it('then render throws AppError ERR_TEMPLATE_NOT_FOUND', () => {
      // Act
      const err = renderError(renderer, 'no-such-template', sampleModel());

      // Assert
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe(ErrorCodes.TEMPLATE_NOT_FOUND);
      expect((err as AppError).message).toContain('no-such-template');
    });
  });

  describe('when the model is missing a field', () => {
    it.each(['orderId', 'placedAt', 'total', 'lang', 't'] as const)(
      'when "%s" is missing, then render throws AppError ERR_RENDER_FAILED naming it',
      (field) => {
        // Arrange
        const model: Partial<OrderConfirmationModel> = sampleModel();
        delete model[field];

        // Act
        const err = renderError(renderer, ORDER_CONFIRMATION_TEMPLATE, model);

        // Assert
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).code).toBe(ErrorCodes.RENDER_FAILED);
        expect((err as AppError).message).toContain(field);
        expect((err as AppError).cause).toBeInstanceOf(Error);
      },
    );

    it.each([
      ['missing', undefined],
      ['null', null],
    ])(
      'when the items list is %s, then render throws ERR_RENDER_FAILED instead of an email without items',
      (_what, items) => {
        // Arrange
        const model = { ...sampleModel(), items };

        // Act
        const err = renderError(renderer, ORDER_CONFIRMATION_TEMPLATE, model);

        // Assert
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).code).toBe(ErrorCodes.RENDER_FAILED);
      },
    );

    it('when an item has no unitLine, then render throws ERR_RENDER_FAILED instead of a row without its price', () => {
      // Arrange
      const model = sampleModel();
      const broken = { ...model, items: [{ ...model.items[0], unitLine: undefined }] };

      // Act
      const err = renderError(renderer, ORDER_CONFIRMATION_TEMPLATE, broken);

      // Assert
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe(ErrorCodes.RENDER_FAILED);
    });

    it.each(['name', 'lineTotal', 'quantityTimesPrice'] as const)(
      'when an item has no "%s", then render throws AppError ERR_RENDER_FAILED naming it',
      (field) => {
        // Arrange
        const model = sampleModel();
        const item: Partial<OrderConfirmationModel['items'][number]> = { ...model.items[1] };
        delete item[field];
        const broken = { ...model, items: [model.items[0], item] };

        // Act
        const err = renderError(renderer, ORDER_CONFIRMATION_TEMPLATE, broken);

        // Assert
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).code).toBe(ErrorCodes.RENDER_FAILED);
        expect((err as AppError).message).toContain(field);
      },
    );
  });
});
