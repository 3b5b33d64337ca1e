import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import { compileTemplates } from '../../src/adapters/templates/template-renderer';
import type { TemplateRenderer } from '../../src/domain/ports';
import { ORDER_CONFIRMATION_TEMPLATE, type OrderConfirmationModel } from '../../src/domain/order-email';

const HOSTILE = '<script>alert(1)</script> &"\'';
/** How Handlebars escapes HOSTILE for HTML. */
const HOSTILE_ESCAPED = '&lt;script&gt;alert(1)&lt;/script&gt; &amp;&quot;&#x27;';

function sampleModel(overrides: Partial<OrderConfirmationModel> = {}): OrderConfirmationModel {
  return {
    orderId: 'A-1001',
    customerName: 'Ada Lovelace',
    items: [
      { sku: 'SKU-1', name: 'Widget', quantity: 2, unitPrice: '€19.99', lineTotal: '€39.98' },
      { sku: 'SKU-2', name: 'Gadget', quantity: 1, unitPrice: '€5.00', lineTotal: '€5.00' },
      { sku: 'SKU-3', name: 'Sprocket', quantity: 7, unitPrice: '€1.10', lineTotal: '€7.70' },
    ],
    total: '€52.68',
    ...overrides,
  };
}

/** The `<tr class="item">…</tr>` rows of the rendered HTML, each as its list of cell texts. */
function itemRows(html: string): string[][] {
  const rows = html.match(/<tr class="item">[\s\S]*?<\/tr>/g) ?? [];
  return rows.map((row) => [...row.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1].trim()));
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

describe('order-confirmation template', () => {
  let renderer: TemplateRenderer;

  beforeAll(async () => {
    renderer = await compileTemplates();
  });

  describe('when a valid model is rendered', () => {
    it('then the html has one item row per item with name, quantity and line price', () => {
      // Arrange
      const model = sampleModel();

      // Act
      const { html } = renderer.render(ORDER_CONFIRMATION_TEMPLATE, model);

      // Assert
      expect(html.match(/class="item"/g)).toHaveLength(model.items.length);
      expect(itemRows(html)).toEqual(model.items.map((i) => [i.name, String(i.quantity), i.lineTotal]));
    });

    it('then the text part lists every item with name, quantity and line price', () => {
      // Arrange
      const model = sampleModel();

      // Act
      const { text } = renderer.render(ORDER_CONFIRMATION_TEMPLATE, model);

      // Assert
      for (const item of model.items) {
        expect(text).toContain(`- ${item.name} x ${item.quantity}: ${item.lineTotal}`);
      }
      expect(text.match(/^- /gm)).toHaveLength(model.items.length);
    });

    it('then both parts show the total, the order id and the customer name', () => {
      // Arrange
      const model = sampleModel();

      // Act
      const { html, text } = renderer.render(ORDER_CONFIRMATION_TEMPLATE, model);

      // Assert
      expect(html).toMatch(/<td[^>]*class="total"[^>]*>€52\.68<\/td>/);
      expect(text).toContain('Total: €52.68');
      for (const part of [html, text]) {
        expect(part).toContain('A-1001');
        expect(part).toContain('Thank you, Ada Lovelace!');
      }
    });

    it('then the html is a complete MJML-compiled document without leftover template syntax', () => {
      // Act
      const { html, text } = renderer.render(ORDER_CONFIRMATION_TEMPLATE, sampleModel());

      // Assert
      expect(html).toMatch(/^<!doctype html>/i);
      expect(html).toContain('<title>Your order A-1001 is confirmed</title>');
      expect(html).not.toMatch(/<mj-/);
      for (const part of [html, text]) expect(part).not.toMatch(/\{\{|\}\}/);
    });

    it('then a single item renders a single row', () => {
      // Arrange
      const model = sampleModel({
        items: [{ sku: 'SKU-1', name: 'Widget', quantity: 1, unitPrice: '€19.99', lineTotal: '€19.99' }],
        total: '€19.99',
      });

      // Act
      const { html, text } = renderer.render(ORDER_CONFIRMATION_TEMPLATE, model);

      // Assert
      expect(itemRows(html)).toEqual([['Widget', '1', '€19.99']]);
      expect(text.match(/^- /gm)).toHaveLength(1);
    });
  });

  describe('when the customer and item names contain markup and special characters', () => {
    const model = sampleModel({
      customerName: HOSTILE,
      items: [
        { sku: 'SKU-1', name: HOSTILE, quantity: 2, unitPrice: '€19.99', lineTotal: '€39.98' },
        { sku: 'SKU-2', name: 'Gadget', quantity: 1, unitPrice: '€5.00', lineTotal: '€5.00' },
      ],
      total: '€44.98',
    });

    it('then the html contains them escaped', () => {
      // Act
      const { html } = renderer.render(ORDER_CONFIRMATION_TEMPLATE, model);

      // Assert
      expect(html).toContain(`Thank you, ${HOSTILE_ESCAPED}!`);
      expect(itemRows(html)[0]).toEqual([HOSTILE_ESCAPED, '2', '€39.98']);
    });

    it('then the html never contains them raw', () => {
      // Act
      const { html } = renderer.render(ORDER_CONFIRMATION_TEMPLATE, model);

      // Assert
      expect(html).not.toContain('<script');
      expect(html).not.toContain('</script>');
      expect(html).not.toContain(HOSTILE);
      expect(html).not.toContain('&"\'');
    });

    it('then escaping does not add or remove item rows', () => {
      // Act
      const { html } = renderer.render(ORDER_CONFIRMATION_TEMPLATE, model);

      // Assert
      expect(html.match(/class="item"/g)).toHaveLength(2);
    });

    it('then the text part carries them verbatim (plain text is not HTML)', () => {
      // Act
      const { text } = renderer.render(ORDER_CONFIRMATION_TEMPLATE, model);

      // Assert
      expect(text).toContain(`Thank you, ${HOSTILE}!`);
      expect(text).toContain(`- ${HOSTILE} x 2: €39.98`);
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
    it.each(['orderId', 'customerName', 'total'] as const)(
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

    it.each(['name', 'quantity', 'lineTotal'] as const)(
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
