import { computeOrderTotals, type OrderInput } from '@order-mail/shared/contract';
import type { AddressObject, ParsedMail } from 'mailparser';
import { sampleFullOrder } from '@test/helpers/orders';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { startTestStack, type TestStack } from '@test/helpers/stack';
import { loadMessageCatalogues } from '../../services/mailer/src/adapters/i18n/message-catalogues';
import { formatMoney } from '../../services/mailer/src/domain/money';
import type { Localizer } from '../../services/mailer/src/domain/ports';

/** The shop settings the mailer runs with in this test. */
const SHOP_ENV = {
  SHOP_NAME: 'Fine Teas',
  SHOP_URL: 'https://tea.example',
  SHOP_LOGO_URL: 'https://tea.example/logo.png',
  BRAND_COLOR: '#AA3300',
  SUPPORT_EMAIL: 'help@tea.example',
  COMPANY_ADDRESS: 'Fine Teas Ltd, 1 Leaf Lane, London EC1A 1AA',
};

/** A version-2 order with every field, in `locale`. */
function fullOrder(orderId: string, locale: string, name: string): OrderInput {
  return sampleFullOrder({ orderId, customer: { email: `${orderId.toLowerCase()}@example.com`, name, locale } });
}

/** The text of the element marked `data-total`. */
function shownTotal(html: string): string | undefined {
  return /<span [^>]*\bdata-total\b[^>]*>([^<]*)<\/span>/.exec(html)?.[1];
}

function addresses(field: AddressObject | AddressObject[] | undefined): { name: string; address?: string }[] {
  return (Array.isArray(field) ? field : field ? [field] : []).flatMap((a) => a.value);
}

describe('a version-2 order in the customer’s language, end to end (order API → RabbitMQ → mailer → SMTP)', () => {
  let smtp: SmtpCatcher;
  let stack: TestStack;
  let localizer: Localizer;
  const german = fullOrder('L10N-DE-1', 'de-CH', 'Jürgen Größmann');
  const arabic = fullOrder('L10N-AR-1', 'ar', 'فاطمة الزهراء');
  /** One full order per shipped language (the catalogue folder's files), besides the two above. */
  const SHIPPED = ['en', 'de', 'fr', 'es', 'it', 'nl', 'pt', 'pl', 'sv', 'ja', 'zh', 'ar', 'he'];
  const perLanguage = SHIPPED.map((lang) => fullOrder(`L10N-ALL-${lang.toUpperCase()}`, lang, `Kunde ${lang}`));
  let mails: Map<string, ParsedMail>;

  beforeAll(async () => {
    localizer = await loadMessageCatalogues();
    smtp = await startSmtpCatcher();
    stack = await startTestStack({ smtpUrl: smtp.url, env: SHOP_ENV });
    const orders = [german, arabic, ...perLanguage];
    const responses = await Promise.all(orders.map((order) => stack.postOrder(order)));
    expect(responses.map((r) => r.status)).toEqual(orders.map(() => 202));
    const received = await smtp.waitForMails(orders.length, 60000);
    mails = new Map(received.map((mail) => [String(mail.headers.get('x-order-id')), mail]));
  });

  afterAll(async () => {
    await stack.dispose();
    await smtp.close();
  });

  it('when the catalogue folder is read, then it holds exactly the shipped languages', () => {
    expect([...localizer.languages].sort()).toEqual([...SHIPPED].sort());
  });

  it.each(SHIPPED)(
    'when the customer’s locale is %s, then the email arrives with that language’s subject, lang and dir, the computed total and the country names in that language',
    (lang) => {
      // Arrange
      const order = perLanguage[SHIPPED.indexOf(lang)];
      const countryName = (code: string) => new Intl.DisplayNames([lang], { type: 'region' }).of(code) as string;

      // Act
      const mail = mails.get(order.orderId);
      const html = String(mail?.html);

      // Assert
      expect(mail?.subject).toBe(localizer.localize(lang).t('subject', { orderId: order.orderId }));
      expect(html).toContain(`<html lang="${lang}" dir="${lang === 'ar' || lang === 'he' ? 'rtl' : 'ltr'}"`);
      expect(shownTotal(html)).toBe(formatMoney(computeOrderTotals(order).total, order.currency, lang));
      for (const part of [html, String(mail?.text)]) {
        expect(part).toContain(countryName('DE'));
        expect(part).toContain(countryName('GB'));
        expect(part).toContain('Friedrichstraße 123');
      }
    },
  );

  it('when the customer’s locale is de-CH, then the subject is the German catalogue’s, not the English one', () => {
    // Act
    const mail = mails.get('L10N-DE-1');

    // Assert
    expect(mail?.subject).toBe(localizer.localize('de').t('subject', { orderId: 'L10N-DE-1' }));
    expect(mail?.subject).not.toBe('Your order L10N-DE-1 is confirmed');
  });

  it('when the customer’s locale is de-CH, then the HTML says lang="de" dir="ltr"', () => {
    // Act
    const html = String(mails.get('L10N-DE-1')?.html);

    // Assert
    expect(html).toContain('<html lang="de" dir="ltr"');
  });

  it('when the German email arrives, then To: has the customer’s name and Reply-To: is SUPPORT_EMAIL', () => {
    // Act
    const mail = mails.get('L10N-DE-1');

    // Assert
    expect(addresses(mail?.to)).toEqual([{ name: 'Jürgen Größmann', address: 'l10n-de-1@example.com' }]);
    expect(addresses(mail?.replyTo)).toEqual([{ name: '', address: 'help@tea.example' }]);
  });

  it('when the German email arrives, then both addresses, with country names in German, are in the HTML and the text', () => {
    // Act
    const mail = mails.get('L10N-DE-1');

    // Assert
    for (const part of [String(mail?.html), String(mail?.text)]) {
      for (const line of [
        'Friedrichstraße 123',
        '3. OG',
        '10117 Berlin',
        'Deutschland',
        '12 St James’s Square',
        'SW1Y 4JH London',
        'Vereinigtes Königreich',
      ]) {
        expect(part).toContain(line);
      }
    }
  });

  it('when the German email arrives, then the total shown is the computed total in Swiss German format, and every other amount is there too', () => {
    // Arrange
    const totals = computeOrderTotals(german);
    const chf = (minor: number) => formatMoney(minor, 'EUR', 'de-CH');

    // Act
    const mail = mails.get('L10N-DE-1');
    const html = String(mail?.html);

    // Assert
    expect(shownTotal(html)).toBe(chf(totals.total));
    for (const amount of [
      totals.subtotal,
      -totals.discountTotal,
      totals.shippingTotal,
      totals.taxIncluded,
      1999,
      3998,
      5952,
    ]) {
      expect(html).toContain(chf(amount));
      expect(mail?.text).toContain(chf(amount));
    }
  });

  it('when the German email arrives, then it shows the shop: logo with its name, brand colour, support address and company address', () => {
    // Act
    const html = String(mails.get('L10N-DE-1')?.html);

    // Assert
    expect(html).toMatch(/<img\s+alt="Fine Teas" src="https:\/\/tea\.example\/logo\.png"/);
    expect(html).toContain('#aa3300');
    expect(html).toContain('help@tea.example');
    expect(html).toContain('Fine Teas Ltd, 1 Leaf Lane, London EC1A 1AA');
  });

  it('when the customer’s locale is ar, then the email is Arabic and right to left, with the computed total', () => {
    // Act
    const mail = mails.get('L10N-AR-1');
    const html = String(mail?.html);

    // Assert
    expect(mail?.subject).toBe(localizer.localize('ar').t('subject', { orderId: 'L10N-AR-1' }));
    expect(html).toContain('<html lang="ar" dir="rtl"');
    expect(shownTotal(html)).toBe(formatMoney(computeOrderTotals(arabic).total, 'EUR', 'ar'));
    expect(addresses(mail?.to)).toEqual([{ name: 'فاطمة الزهراء', address: 'l10n-ar-1@example.com' }]);
  });
});
