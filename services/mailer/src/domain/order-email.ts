import { computeOrderTotals, orderPlacedAt, type OrderConfirmedEvent } from '@order-mail/shared/contract';
import { addressLines, formatPlacedAt, formattingLocale, isolate } from './locale-formats';
import { moneyFormatter } from './money';
import { memoize } from './memo';
import type { LocalizedCopy, Localizer, MailAddress, TextDirection } from './ports';

export const ORDER_CONFIRMATION_TEMPLATE = 'order-confirmation';

/**
 * Who the email comes from, as the customer sees it: the mailer's shop settings (`SHOP_NAME`,
 * `SHOP_URL`, `SHOP_LOGO_URL`, `BRAND_COLOR`, `SUPPORT_EMAIL`, `COMPANY_ADDRESS`).
 */
export interface ShopIdentity {
  /** Shown in the header (as the logo's `alt` when there is a logo) and in the footer line. */
  name: string;
  /** https link of the header's logo or name. */
  url?: string;
  /** https URL of the logo image; without it the header shows the name. */
  logoUrl?: string;
  /** `#rrggbb`: the heading's rule and the button. */
  brandColor: string;
  /** Named in the support line ("… or write to support@shop.example"). */
  supportEmail?: string;
  /** One line, in the footer. */
  companyAddress?: string;
}

/** What the email builder needs besides the event. */
export interface OrderEmailSettings {
  shop: ShopIdentity;
  /** The message catalogues: all copy of the email comes from them. */
  localizer: Localizer;
  /** Right-hand side of the Message-ID. */
  messageIdDomain: string;
  /** `Reply-To:` of every email (an address or `Name <address>`); none when unset. */
  replyTo?: string;
}

/**
 * The copy the layout shows, in the customer's language, with the order's values filled in. Every
 * text of the email comes from here (the template has no copy of its own).
 */
export interface EmailCopy {
  subject: string;
  preheader: string;
  heading: string;
  greeting: string;
  intro: string;
  orderNumber: string;
  orderDate: string;
  /** "3 items". */
  itemCount: string;
  columnItem: string;
  columnLineTotal: string;
  total: string;
  shippingAddress: string;
  billingAddress: string;
  paymentMethod: string;
  viewOrder: string;
  /** The support line, naming SUPPORT_EMAIL when it is set. */
  support: string;
  footer: string;
}

/**
 * A piece of the "2 × €19.99" line under an item's name, in the order the catalogue's
 * `quantityTimesPrice` puts them: the quantity, the unit price, or the text between them.
 */
export interface UnitLinePart {
  text: string;
  /** This part is the quantity (the layout marks it `data-quantity`). */
  quantity?: boolean;
  /** This part is the unit price (the layout marks it `data-amount`). */
  amount?: boolean;
}

/** One row of the items table; amounts formatted for the customer's locale. */
export interface ItemLine {
  sku: string;
  name: string;
  variant?: string;
  imageUrl?: string;
  quantity: number;
  /** `quantity` formatted for the customer's locale ("1,000"). */
  unitPrice: string;
  /** unitPrice × quantity. */
  lineTotal: string;
  /** "2 × €19.99". */
  quantityTimesPrice: string;
  /** `quantityTimesPrice` in its parts, so the layout can mark the quantity and the price. */
  unitLine: UnitLinePart[];
}

/** One row of the summary under the items: a label and a formatted amount. */
export interface SummaryLine {
  label: string;
  amount: string;
}

/** The shop as the layout shows it. */
export type ShopView = Omit<ShopIdentity, 'supportEmail'>;

/** The values a confirmation template is filled with; every string here is raw, templates escape. */
export interface OrderConfirmationModel {
  /** The HTML's `lang`: the language of the copy. */
  lang: string;
  /** The HTML's `dir`; with `rtl` the renderer mirrors the layout's alignments. */
  dir: TextDirection;
  t: EmailCopy;
  shop: ShopView;
  orderId: string;
  customerName: string;
  /** When the order was placed, a long date in the customer's locale ("28 November 2025"). */
  placedAt: string;
  itemCount: number;
  /** Whether any item has an image (the items table then has an image column). */
  hasImages: boolean;
  items: ItemLine[];
  /** Above the total: subtotal, each discount (negative), shipping (with its method), each added tax. */
  summary: SummaryLine[];
  total: string;
  /** Under the total, not added to it: "Includes VAT 20%" for each tax inside the prices. */
  includedTaxes: SummaryLine[];
  /** The addresses as printed: name, street lines, postal code and city, region, country name. */
  shippingAddress?: string[];
  billingAddress?: string[];
  /** Whether there is an address (the addresses section is shown). */
  hasAddresses: boolean;
  paymentMethod?: string;
  orderUrl?: string;
}

export interface OrderEmail {
  template: typeof ORDER_CONFIRMATION_TEMPLATE;
  /** The customer, with their name: `To: Ada Lovelace <ada@example.com>`. */
  to: MailAddress;
  replyTo?: string;
  subject: string;
  /** The language of the copy (`de` for a `de-CH` customer). */
  language: string;
  /** Stable per event, so a resend of the same event carries the same Message-ID. */
  messageId: string;
  model: OrderConfirmationModel;
}

/**
 * The confirmation email of an order-confirmed event (version 1 or 2), in the customer's language:
 * the catalogue `settings.localizer` picks for `customer.locale` gives every text, Intl formats
 * dates, amounts and country names for the customer's locale (see `formattingLocale`), and
 * `computeOrderTotals` gives every sum. Pure: the same event and settings give the same email.
 */
export function buildOrderConfirmationEmail(event: OrderConfirmedEvent, settings: OrderEmailSettings): OrderEmail {
  const { order } = event;
  const copy = settings.localizer.localize(order.customer.locale);
  const locale = formattingLocale(order.customer.locale, copy.language);
  const money = moneyFormatter(order.currency, locale);
  const totals = computeOrderTotals(order);
  const items = itemLines(order.items, copy, locale, money);
  const total = money(totals.total);
  const shippingAddress = order.shippingAddress && addressLines(order.shippingAddress, locale);
  const billingAddress = order.billingAddress && addressLines(order.billingAddress, locale);
  const { supportEmail, ...shop } = settings.shop;
  const t = emailCopy(copy, { event, total, shopName: shop.name, supportEmail });
  return {
    template: ORDER_CONFIRMATION_TEMPLATE,
    to: { name: order.customer.name, address: order.customer.email },
    replyTo: settings.replyTo,
    subject: t.subject,
    language: copy.language,
    messageId: `<${event.eventId}@${settings.messageIdDomain}>`,
    model: {
      lang: copy.language,
      dir: copy.dir,
      t,
      shop,
      orderId: order.orderId,
      customerName: order.customer.name,
      placedAt: formatPlacedAt(orderPlacedAt(event), locale),
      itemCount: unitCount(order),
      hasImages: items.some((item) => item.imageUrl !== undefined),
      items,
      ...summaryLines(order, totals, copy, money),
      total,
      shippingAddress,
      billingAddress,
      hasAddresses: shippingAddress !== undefined || billingAddress !== undefined,
      paymentMethod: order.paymentMethod,
      orderUrl: order.orderUrl,
    },
  };
}

type Order = OrderConfirmedEvent['order'];
type Money = (minor: number) => string;

const counts = memoize((locale) => new Intl.NumberFormat(locale));

function itemLines(items: Order['items'], copy: LocalizedCopy, locale: string, money: Money): ItemLine[] {
  const count = counts(locale);
  const pattern = unitLinePattern(copy);
  return items.map((item) => {
    const unitPrice = money(item.unitPrice);
    const quantityText = count.format(item.quantity);
    const unitLine = pattern.map((part) => {
      if (part === QUANTITY_SLOT) return { text: quantityText, quantity: true };
      return part === PRICE_SLOT ? { text: unitPrice, amount: true } : { text: part };
    });
    return {
      sku: item.sku,
      name: item.name,
      variant: item.variant,
      imageUrl: item.imageUrl,
      quantity: item.quantity,
      unitPrice,
      lineTotal: money(item.unitPrice * item.quantity),
      quantityTimesPrice: unitLine.map((part) => part.text).join(''),
      unitLine,
    };
  });
}

/** Private-use characters: in no catalogue and no formatted number, so they mark where the values go. */
const QUANTITY_SLOT = '\u{F0000}';
const PRICE_SLOT = '\u{F0001}';

/**
 * The catalogue's `quantityTimesPrice` cut at its two values: `[QUANTITY_SLOT, ' × ', PRICE_SLOT]`
 * in English. A translation that left a value out gets that English form, so no item ever shows
 * without its quantity and unit price.
 */
function unitLinePattern(copy: LocalizedCopy): string[] {
  const message = copy.t('quantityTimesPrice', { quantity: QUANTITY_SLOT, unitPrice: PRICE_SLOT });
  const parts = message.split(/(\u{F0000}|\u{F0001})/u).filter((part) => part !== '');
  return parts.includes(QUANTITY_SLOT) && parts.includes(PRICE_SLOT) ? parts : [QUANTITY_SLOT, ' × ', PRICE_SLOT];
}

/**
 * The summary rows: the subtotal, each discount as a negative amount, shipping (named with its
 * method), each added tax; and the included taxes, shown apart because they are not added.
 */
function summaryLines(
  order: Order,
  totals: ReturnType<typeof computeOrderTotals>,
  copy: LocalizedCopy,
  money: Money,
): Pick<OrderConfirmationModel, 'summary' | 'includedTaxes'> {
  const summary: SummaryLine[] = [{ label: copy.t('subtotal'), amount: money(totals.subtotal) }];
  for (const discount of order.discounts ?? []) {
    summary.push({ label: discount.label, amount: money(-discount.amount) });
  }
  if (order.shipping) {
    const method = isolate(order.shipping.method, copy.dir);
    summary.push({ label: copy.t('shippingWithMethod', { method }), amount: money(order.shipping.price) });
  }
  const taxes = order.taxes ?? [];
  for (const tax of taxes.filter((t) => !t.included)) summary.push({ label: tax.label, amount: money(tax.amount) });
  const includedTaxes = taxes
    .filter((tax) => tax.included)
    .map((tax) => ({
      label: copy.t('taxIncluded', { label: isolate(tax.label, copy.dir) }),
      amount: money(tax.amount),
    }));
  return { summary, includedTaxes };
}

/** Every text of the layout, from the catalogue; user-supplied values isolated (see `isolate`). */
function emailCopy(
  copy: LocalizedCopy,
  values: { event: OrderConfirmedEvent; total: string; shopName: string; supportEmail?: string },
): EmailCopy {
  const { order } = values.event;
  const customerName = isolate(order.customer.name, copy.dir);
  const itemCount = unitCount(order);
  const { t } = copy;
  return {
    subject: t('subject', { orderId: order.orderId }),
    preheader: t('preheader', { customerName, itemCount, total: values.total }),
    heading: t('heading'),
    greeting: t('greeting', { customerName }),
    intro: t('intro'),
    orderNumber: t('orderNumber'),
    orderDate: t('orderDate'),
    itemCount: t('itemCount', { count: itemCount }),
    columnItem: t('columnItem'),
    columnLineTotal: t('columnLineTotal'),
    total: t('total'),
    shippingAddress: t('shippingAddress'),
    billingAddress: t('billingAddress'),
    paymentMethod: t('paymentMethod'),
    viewOrder: t('viewOrder'),
    support: values.supportEmail ? t('supportWithEmail', { supportEmail: values.supportEmail }) : t('support'),
    footer: t('footer', { shopName: isolate(values.shopName, copy.dir) }),
  };
}

/** The units ordered, not the lines: two of one product and one of another are "3 items", as a receipt counts them. */
function unitCount(order: { items: readonly { quantity: number }[] }): number {
  return order.items.reduce((sum, item) => sum + item.quantity, 0);
}
