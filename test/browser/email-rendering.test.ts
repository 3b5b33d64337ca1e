import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { computeOrderTotals, parseOrder } from '@order-mail/shared/contract';
import { loadMailerConfig } from '../../services/mailer/src/config';
import type { ComposeOrderEmailDeps } from '../../services/mailer/src/domain/compose-order-email';
import { formatMoney } from '../../services/mailer/src/domain/money';
import {
  previewOrderEmail,
  type OrderEmailPreview,
  type PreviewRequest,
} from '../../services/mailer/src/domain/order-preview';
import { composeDepsFromConfig } from '../../services/mailer/src/service';
import { EMAIL_WIDTHS } from '../../services/mailer/src/entry-points/cli/preview-args';
import { startChromium, type Chromium } from './chromium';

// Every sample's email (composed as POST /preview and `npm run preview` compose it, i.e. as the
// worker would send it), in headless Chromium (Debian's chromium, /usr/bin/chromium, driven by
// puppeteer-core) at 375 px and 640 px, checked from the DOM. Images are answered with a
// placeholder PNG (nothing goes over the network). Screenshots: test-artifacts/screenshots/.

const ROOT = path.join(__dirname, '..', '..');
const SAMPLES_DIR = path.join(ROOT, 'samples');
const SCREENSHOTS_DIR = path.join(ROOT, 'test-artifacts', 'screenshots');
const RTL_LANGUAGES = new Set(['ar', 'he']);

/** A shop with every setting, a logo included (so the header's image is checked too). */
const SHOP_ENV = {
  SHOP_NAME: 'Northwind Goods',
  SHOP_URL: 'https://shop.example',
  SHOP_LOGO_URL: 'https://shop.example/logo.png',
  BRAND_COLOR: '#0b6e4f',
  SUPPORT_EMAIL: 'support@shop.example',
  COMPANY_ADDRESS: 'Northwind Goods Ltd, 1 Market Street, Manchester M1 1AA, United Kingdom',
};

interface Case {
  /** The sample file, and the locale it is previewed in if not its own. */
  file: string;
  locale?: string;
}

const CASES: Case[] = [
  ...readdirSync(SAMPLES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file })),
  // The sample with every field, mirrored, and in a language with long words.
  { file: 'full.json', locale: 'ar' },
  { file: 'full.json', locale: 'de' },
];

const caseName = (c: Case) => c.file.replace(/\.json$/, '') + (c.locale ? `.${c.locale}` : '');

/** What the page says about itself, collected in the browser (plain JS: this tsconfig has no DOM types). */
interface PageFacts {
  lang: string | null;
  dir: string | null;
  scrollWidth: number;
  innerWidth: number;
  /** The outermost elements reaching past the viewport's right edge (or left of 0). */
  overflowing: string[];
  /** `[data-amount]` / `[data-quantity]` elements: how many, and those whose text takes more than one line. */
  amounts: number;
  quantities: number;
  wrapped: string[];
  /** Words of item names and variants (up to UNBREAKABLE_WORD_LENGTH characters) broken across lines. */
  brokenWords: string[];
  /** `<img>`s without a non-empty `alt`. */
  imagesWithoutAlt: string[];
  images: number;
  totals: string[];
}

/** Words up to this many characters must never be broken across lines (longer ones may have to be). */
const UNBREAKABLE_WORD_LENGTH = 20;

/**
 * The script that collects `PageFacts` in the page. `userTexts`: the item names and variants, whose
 * words must wrap only between words (CJK text, which breaks between characters, is not checked).
 */
const pageFactsScript = (userTexts: string[]) => `(() => {
  const userTexts = new Set(${JSON.stringify(userTexts)});
  const describe = (el) => {
    const cls = typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
    const attrs = ['data-amount', 'data-quantity', 'data-total'].filter((a) => el.hasAttribute(a)).map((a) => '[' + a + ']').join('');
    const text = (el.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 60);
    return el.tagName.toLowerCase() + cls + attrs + (text ? ' "' + text + '"' : '');
  };
  const textNodes = (el) => {
    const nodes = [];
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) if (node.data.trim()) nodes.push(node);
    return nodes;
  };
  // How many lines a set of client rects spans: a rect that starts below the current line's bottom starts a new one.
  const lineCount = (rects) => {
    const sorted = [...rects].filter((r) => r.width > 0 && r.height > 0).sort((a, b) => a.top - b.top);
    let count = 0;
    let bottom = -Infinity;
    for (const r of sorted) {
      if (r.top >= bottom - 1) { count += 1; bottom = r.bottom; } else { bottom = Math.max(bottom, r.bottom); }
    }
    return count;
  };
  const linesOf = (el) => lineCount(textNodes(el).flatMap((node) => {
    const range = document.createRange();
    range.selectNodeContents(node);
    return [...range.getClientRects()];
  }));
  const width = window.innerWidth;
  const overflowing = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right <= width + 0.5 && r.left >= -0.5) continue;
    if (overflowing.some((o) => o.el.contains(el))) continue;
    overflowing.push({ el, text: describe(el) + ' (' + Math.round(r.left) + '..' + Math.round(r.right) + ' px)' });
  }
  const brokenWords = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.children.length > 0 || !userTexts.has((el.textContent || '').trim())) continue;
    for (const node of textNodes(el)) {
      for (const match of node.data.matchAll(/[^\\s\\-\u2010]+[\\-\u2010]?/gu)) {
        const word = match[0];
        if ([...word].length > ${UNBREAKABLE_WORD_LENGTH} || /[\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}]/u.test(word)) continue;
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + word.length);
        const lines = lineCount(range.getClientRects());
        if (lines > 1) brokenWords.push('"' + word + '" (' + lines + ' lines) in ' + describe(el));
      }
    }
  }
  const marked = [...document.querySelectorAll('[data-amount], [data-quantity]')];
  const images = [...document.querySelectorAll('img')];
  return {
    lang: document.documentElement.getAttribute('lang'),
    dir: document.documentElement.getAttribute('dir'),
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: width,
    overflowing: overflowing.slice(0, 5).map((o) => o.text),
    amounts: document.querySelectorAll('[data-amount]').length,
    quantities: document.querySelectorAll('[data-quantity]').length,
    wrapped: marked.filter((el) => linesOf(el) !== 1).map((el) => describe(el) + ' (' + linesOf(el) + ' lines)'),
    brokenWords: brokenWords.slice(0, 10),
    // An item picture sits beside its name: an empty alt marks it decorative (WCAG technique H67),
    // so a screen reader does not read the name twice; every other image needs a text alternative.
    imagesWithoutAlt: images
      .filter((img) => !img.hasAttribute('alt') || (!img.closest('tr.item') && !img.getAttribute('alt').trim()))
      .map((img) => img.outerHTML.slice(0, 120)),
    images: images.length,
    totals: [...document.querySelectorAll('[data-total]')].map((el) => el.textContent.trim()),
  };
})()`;

describe('the confirmation email in a real browser (headless Chromium)', () => {
  let chromium: Chromium;
  let deps: ComposeOrderEmailDeps;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS_DIR, { recursive: true });
    deps = await composeDepsFromConfig(loadMailerConfig(SHOP_ENV));
    chromium = startChromium();
  });

  afterAll(async () => {
    await chromium?.close();
  });

  describe.each(CASES.map((c) => [caseName(c), c] as const))('%s', (name, c) => {
    let request: PreviewRequest;
    let email: OrderEmailPreview;
    let locale: string;

    beforeAll(() => {
      const order = parseOrder(JSON.parse(readFileSync(path.join(SAMPLES_DIR, c.file), 'utf8')));
      request = { order, locale: c.locale };
      locale = c.locale ?? order.customer.locale;
      email = previewOrderEmail(
        request,
        { eventId: '00000000-0000-4000-8000-000000000000', correlationId: 'browser-test', acceptedAt: new Date() },
        deps,
      );
    });

    it.each(Object.entries(EMAIL_WIDTHS))('at %s width (%i px)', async (which, width) => {
      const facts = (await chromium.inspect(email.html, {
        width,
        script: pageFactsScript(request.order.items.flatMap((i) => [i.name, ...(i.variant ? [i.variant] : [])])),
        screenshot: path.join(SCREENSHOTS_DIR, `${name}-${which}.png`),
      })) as PageFacts;
      const { order } = request;
      const language = new Intl.Locale(locale).language;

      // No horizontal scrolling, and nothing sticking out of the viewport.
      expect({ scrollWidth: facts.scrollWidth, overflowing: facts.overflowing }).toEqual({
        scrollWidth: expect.any(Number),
        overflowing: [],
      });
      expect(facts.scrollWidth).toBeLessThanOrEqual(facts.innerWidth);
      // Every amount and quantity is marked, and on one line.
      expect(facts.amounts).toBeGreaterThanOrEqual(order.items.length + 1);
      expect(facts.quantities).toBeGreaterThanOrEqual(order.items.length);
      expect(facts.wrapped).toEqual([]);
      // Item names and variants wrap between words, never inside one that would fit on a line.
      expect(facts.brokenWords).toEqual([]);
      // Every image has an alt: the logo the shop's name, item pictures an empty (decorative) one.
      expect(facts.images).toBeGreaterThan(0);
      expect(facts.imagesWithoutAlt).toEqual([]);
      // The language of the copy, and its direction.
      expect(facts.lang).toBe(language);
      if (RTL_LANGUAGES.has(language)) expect(facts.dir).toBe('rtl');
      else expect([null, 'ltr']).toContain(facts.dir);
      // The total shown is the contract's total, formatted for the locale.
      const total = formatMoney(computeOrderTotals(order).total, order.currency, locale);
      expect(facts.totals.length).toBeGreaterThan(0);
      for (const shown of facts.totals) expect(shown).toBe(total);
    });
  });
});
