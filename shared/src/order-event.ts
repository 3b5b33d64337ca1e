import { z } from 'zod';
import { normalizeEmailAddress } from './email-address';
import { codePointLength, findForbiddenCharacter, normalizeSingleLineText } from './text-rules';

/**
 * The event contract between the order API and the mailer. Both import it from here;
 * any change to the payload shape bumps EVENT_SCHEMA_VERSION.
 *
 * Version 2 (issue #11) added the optional order fields `placedAt`, `orderUrl`, `shippingAddress`,
 * `billingAddress`, `shipping`, `discounts`, `taxes`, `paymentMethod`, `total` and per item
 * `variant` and `imageUrl`, and makes `order.placedAt` present in every version-2 event. The order API
 * publishes version 2; the mailer reads 1 and 2 (`SUPPORTED_EVENT_SCHEMA_VERSIONS`), since
 * version-1 events may still wait in its queues.
 */
export const EVENT_SCHEMA_VERSION = 2;

/** The `schemaVersion`s `orderConfirmedEventSchema` accepts: 1 (before issue #11) and 2 (now). */
export const SUPPORTED_EVENT_SCHEMA_VERSIONS = [1, EVENT_SCHEMA_VERSION] as const;

/** An event schema version the mailer reads: 1 or 2. */
export type EventSchemaVersion = (typeof SUPPORTED_EVENT_SCHEMA_VERSIONS)[number];

export const ORDER_CONFIRMED_EVENT_TYPE = 'order.confirmed';

/** AMQP header names carried on every order event. */
export const EventHeaders = {
  correlationId: 'x-correlation-id',
  schemaVersion: 'x-schema-version',
} as const;

const SUPPORTED_CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

/** The most locales `canonicalLocaleOf` remembers; clients send few distinct ones, anyone may send many. */
const LOCALE_CACHE_LIMIT = 1000;
/** Locale as sent → its canonical form, or `null` if it is no BCP 47 tag (see `canonicalLocaleOf`). */
const canonicalLocales = new Map<string, string | null>();

/**
 * The canonical form of a BCP 47 tag (`Intl.getCanonicalLocales`), or `null` if `value` is not one.
 * Remembered per value: ICU's parsing costs microseconds on every order, and the same few locales
 * come again and again. Once `LOCALE_CACHE_LIMIT` values are remembered the memory starts afresh,
 * so a client sending ever new tags cannot make it grow.
 */
function canonicalLocaleOf(value: string): string | null {
  let canonical = canonicalLocales.get(value);
  if (canonical !== undefined) return canonical;
  try {
    const locales = Intl.getCanonicalLocales(value);
    canonical = locales.length === 1 ? locales[0] : null;
  } catch {
    canonical = null;
  }
  if (canonicalLocales.size >= LOCALE_CACHE_LIMIT) canonicalLocales.clear();
  canonicalLocales.set(value, canonical);
  return canonical;
}

function isValidLocale(value: string): boolean {
  return canonicalLocaleOf(value) !== null;
}

/** Items per order, at most. */
export const MAX_ITEMS = 100;
/** Quantity of one item, at most. */
export const MAX_QUANTITY = 1000;
/** An item's `unitPrice`, and the `shipping.price`, at most, in minor units (10,000,000.00 EUR). */
export const MAX_UNIT_PRICE = 1_000_000_000;
/**
 * One discount's or tax's `amount`, at most, in minor units: the largest subtotal an order can
 * have (MAX_ITEMS × MAX_QUANTITY × MAX_UNIT_PRICE = 10^14). With at most MAX_DISCOUNTS discounts
 * and MAX_TAXES taxes, every sum `computeOrderTotals` makes stays below 1.2 × 10^15, well inside
 * Number.MAX_SAFE_INTEGER (2^53 − 1 ≈ 9.007 × 10^15), so the arithmetic on numbers is exact.
 */
export const MAX_AMOUNT = MAX_ITEMS * MAX_QUANTITY * MAX_UNIT_PRICE;
/** Entries of `discounts`, at most. */
export const MAX_DISCOUNTS = 10;
/** Entries of `taxes`, at most. */
export const MAX_TAXES = 10;
/** `orderUrl` and `items[].imageUrl`, at most, in characters (of the normalised URL). */
export const MAX_URL_LENGTH = 2000;

/**
 * A single-line text field (a name, a SKU): refused if it contains a character that
 * `findForbiddenCharacter` names (C0/C1 controls, U+2028/U+2029, bidi overrides and isolates,
 * unpaired surrogates), otherwise normalised to NFC and trimmed (`normalizeSingleLineText`), and
 * then `min`-`max` Unicode code points long. Output: the normalised string. Rules and sources in
 * `text-rules.ts`; one issue per field, at the field's path.
 */
function singleLineText(limits: { min: number; max: number }) {
  return z.string().transform((raw, ctx) => {
    const forbidden = findForbiddenCharacter(raw);
    if (forbidden) {
      ctx.addIssue({ code: 'custom', message: forbidden.message, input: raw });
      return z.NEVER;
    }
    const text = normalizeSingleLineText(raw);
    const length = codePointLength(text);
    if (length < limits.min || length > limits.max) {
      ctx.addIssue({
        code: 'custom',
        message: `Must be ${limits.min}-${limits.max} characters (Unicode code points, after trimming); got ${length}`,
        input: raw,
      });
      return z.NEVER;
    }
    return text;
  });
}

/**
 * An email address, refused or turned into the ASCII form that is stored and sent to
 * (`normalizeEmailAddress`: Unicode domains to punycode by UTS #46, no SMTPUTF8 local parts).
 */
const emailAddressSchema = z.string().transform((raw, ctx) => {
  const result = normalizeEmailAddress(raw);
  if (!result.ok) {
    ctx.addIssue({ code: 'custom', message: result.message, input: raw });
    return z.NEVER;
  }
  return result.address;
});

/**
 * An https URL (a link in the email, an image it loads): refused unless it parses as a URL
 * (WHATWG URL Standard, Node's `URL`) with the scheme `https:` and a host, without user name or
 * password (`https://shop.example@evil.example` would show one host and open another), white space
 * or a character `findForbiddenCharacter` names. Output: the URL as `URL.href` serialises it
 * (host in lower case and punycode, spaces percent-encoded), at most MAX_URL_LENGTH characters;
 * parsing that again gives the same string, so the mailer's re-validation changes nothing.
 */
const httpsUrlSchema = z.string().transform((raw, ctx) => {
  const problem = httpsUrlProblem(raw);
  if (typeof problem === 'string') {
    ctx.addIssue({ code: 'custom', message: problem, input: raw });
    return z.NEVER;
  }
  return problem.href;
});

function httpsUrlProblem(raw: string): string | URL {
  const forbidden = findForbiddenCharacter(raw);
  if (forbidden) return forbidden.message;
  if (/\s/u.test(raw)) return 'Must be an https URL without white space (percent-encode spaces as %20)';
  const url = URL.parse(raw);
  if (url === null) return 'Must be an https URL such as "https://shop.example/orders/A-1001"; this is not a URL';
  if (url.protocol !== 'https:') {
    return `Must be an https URL ("https://…"); the scheme ${JSON.stringify(url.protocol)} is refused`;
  }
  if (url.hostname === '') return 'Must be an https URL with a host name';
  if (url.username !== '' || url.password !== '') return 'Must be an https URL without a user name or password';
  if (url.href.length > MAX_URL_LENGTH) {
    return `Must be at most ${MAX_URL_LENGTH} characters (as a normalised URL); got ${url.href.length}`;
  }
  return url;
}

const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });

/**
 * A country: an ISO 3166-1 alpha-2 code in upper case that ICU knows as a region, i.e.
 * `new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' }).of(code)` names it (so the
 * mailer can print its name in any language). Of the codes ICU names, also refused:
 * - ISO 3166-1's user-assigned codes (AA, QM-QZ, XA-XZ, ZZ: no country; ICU names `ZZ` "Unknown
 *   Region", `XA` "Pseudo-Accents"), except `XK`, Kosovo's code in common use;
 * - codes ICU knows only as aliases of another (Unicode CLDR's territory aliases, as `Intl.Locale`
 *   applies them: `UK` → `GB`, `AN` → `CW`, `SU` → `RU`, `DD` → `DE`); the message names the code to use.
 * ISO's "exceptionally reserved" `EU`, `EZ` and `UN`, which ICU names, pass.
 */
const countryCodeSchema = z.string().superRefine((code, ctx) => {
  const message = countryCodeProblem(code);
  if (message) ctx.addIssue({ code: 'custom', message, input: code });
});

const USER_ASSIGNED_REGION = /^(?:AA|Q[M-Z]|X[A-JL-Z]|ZZ)$/;

/**
 * `countryCodeProblem`'s answer per two-letter code (at most 26 × 26 entries): ICU's region lookup
 * and `Intl.Locale` cost microseconds, paid on every address of every order otherwise.
 */
const countryCodeProblems = new Map<string, string | undefined>();

function countryCodeProblem(code: string): string | undefined {
  // Only codes of two letters A-Z are remembered, so the map stays bounded whatever is sent.
  if (!/^[A-Z]{2}$/.test(code)) return uncachedCountryCodeProblem(code);
  if (countryCodeProblems.has(code)) return countryCodeProblems.get(code);
  const problem = uncachedCountryCodeProblem(code);
  countryCodeProblems.set(code, problem);
  return problem;
}

function uncachedCountryCodeProblem(code: string): string | undefined {
  const expected = 'Must be an ISO 3166-1 alpha-2 country code in upper case, e.g. "DE"';
  if (!/^[A-Z]{2}$/.test(code) || USER_ASSIGNED_REGION.test(code) || regionNames.of(code) === undefined) {
    return `${expected}; got ${JSON.stringify(code)}`;
  }
  // Intl.Locale applies CLDR's territory aliases: und-UK → und-GB.
  const canonical = new Intl.Locale(`und-${code}`).region;
  if (canonical !== code) return `${expected}; "${code}" is an old or informal code: use "${canonical}"`;
  return undefined;
}

/**
 * A postal address as shops print it (name, 1-3 street lines, postal code, city, region,
 * country); every text a single-line text, `country` an ISO 3166-1 alpha-2 code.
 */
const addressSchema = z.strictObject({
  name: singleLineText({ min: 1, max: 200 }),
  lines: z
    .array(singleLineText({ min: 1, max: 200 }))
    .min(1)
    .max(3),
  postalCode: singleLineText({ min: 1, max: 20 }).optional(),
  city: singleLineText({ min: 1, max: 100 }),
  region: singleLineText({ min: 1, max: 100 }).optional(),
  country: countryCodeSchema,
});

/** An amount of money in the order's currency, in minor units (cents; yen for JPY; fils for KWD). */
function minorUnits(limits: { min: number; max: number }) {
  return z.number().int().min(limits.min).max(limits.max);
}

const shippingSchema = z.strictObject({
  method: singleLineText({ min: 1, max: 100 }),
  price: minorUnits({ min: 0, max: MAX_UNIT_PRICE }),
});

const discountSchema = z.strictObject({
  label: singleLineText({ min: 1, max: 100 }),
  amount: minorUnits({ min: 1, max: MAX_AMOUNT }),
});

const taxSchema = z.strictObject({
  label: singleLineText({ min: 1, max: 100 }),
  amount: minorUnits({ min: 0, max: MAX_AMOUNT }),
  /** true: the amount is already inside the prices (VAT-inclusive), shown but not added. */
  included: z.boolean().default(false),
});

/**
 * 12 or more decimal digits (any script's, Unicode Nd) in a row, counting any 1-3 characters that
 * are neither letters nor digits between two digits (spaces, dots, dashes, slashes, underscores,
 * commas, middle dots…) as nothing: what a payment card number looks like however it is grouped
 * (ISO/IEC 7812 PANs have 8-19 digits; 12 leaves room for "•••• 4242" and dates; a mask such as
 * "•••• ••••" between digits is longer than 3 and keeps them apart).
 *
 * "Neither a letter nor a digit" is a lookahead and any code point, not the class
 * `[^\p{L}\p{Nd}]`: the same characters (every code point compared), but V8 takes ~170 ms to
 * compile that negated class, twice (bytecode, then native code), which stalled the first orders
 * after every start; this form compiles in about 1 ms and matches as fast.
 */
const CARD_NUMBER = /\p{Nd}(?:(?:(?![\p{L}\p{Nd}])[\s\S]){0,3}\p{Nd}){11,}/u;

const paymentMethodSchema = singleLineText({ min: 1, max: 100 }).refine((text) => !CARD_NUMBER.test(text), {
  message:
    'Must not contain a card number (12 or more digits in a row): send a display string such as "Visa •••• 4242"; ' +
    'card numbers must never be sent here (PCI DSS)',
});

const orderItemSchema = z.strictObject({
  sku: singleLineText({ min: 1, max: 64 }),
  name: singleLineText({ min: 1, max: 200 }),
  quantity: z.number().int().min(1).max(MAX_QUANTITY),
  unitPrice: minorUnits({ min: 0, max: MAX_UNIT_PRICE }),
  /** What the customer chose of the product, e.g. "Size M". */
  variant: singleLineText({ min: 1, max: 100 }).optional(),
  /** A picture of the item for the email. */
  imageUrl: httpsUrlSchema.optional(),
});

const customerSchema = z.strictObject({
  email: emailAddressSchema,
  name: singleLineText({ min: 1, max: 200 }),
  locale: z
    .string()
    .max(35)
    .refine(isValidLocale, { message: 'Invalid locale: expected a BCP 47 tag such as "en" or "de-CH"' })
    .transform((v) => canonicalLocaleOf(v) as string)
    .default('en'),
});

/** What a client posts to `POST /orders`. */
export const orderSchema = z.strictObject({
  orderId: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/, { message: 'orderId may only contain letters, digits, "_" and "-"' }),
  customer: customerSchema,
  items: z.array(orderItemSchema).min(1).max(MAX_ITEMS),
  currency: z.string().refine((c) => SUPPORTED_CURRENCIES.has(c), {
    message: 'Invalid currency: expected an ISO 4217 code such as "EUR"',
  }),
  /**
   * When the customer placed the order: ISO 8601 with a time zone (`Z` or `+01:00`), kept as sent.
   * Optional in a request; the order API sets it to the acceptance time when missing, so it is in
   * every version-2 event (see `orderPlacedAt` for version 1).
   */
  placedAt: z.iso
    .datetime({
      offset: true,
      error: 'Must be an ISO 8601 date and time with a time zone, e.g. "2026-11-25T19:03:51+01:00" or "…Z"',
    })
    .optional(),
  /** Where the customer can see the order (an https link in the email). */
  orderUrl: httpsUrlSchema.optional(),
  shippingAddress: addressSchema.optional(),
  billingAddress: addressSchema.optional(),
  shipping: shippingSchema.optional(),
  discounts: z.array(discountSchema).max(MAX_DISCOUNTS).optional(),
  taxes: z.array(taxSchema).max(MAX_TAXES).optional(),
  /** How the customer paid, for display ("Visa •••• 4242", "PayPal"); never a card number. */
  paymentMethod: paymentMethodSchema.optional(),
  /**
   * What the client computed as the total, in minor units: if sent, the order API refuses the
   * order unless it equals `computeOrderTotals(order).total` (`orderTotalIssues`).
   */
  total: minorUnits({ min: 0, max: Number.MAX_SAFE_INTEGER }).optional(),
});

/** An order as validated (normalised texts and URLs, defaults applied): what events carry. */
export type Order = z.output<typeof orderSchema>;
/** An order as a client may post it (before defaults: `customer.locale`, `taxes[].included`). */
export type OrderInput = z.input<typeof orderSchema>;
export type OrderItem = z.output<typeof orderItemSchema>;
/** `shippingAddress` / `billingAddress`. */
export type Address = z.output<typeof addressSchema>;
/** `shipping`: the method's name and its price in minor units. */
export type Shipping = z.output<typeof shippingSchema>;
/** One entry of `discounts`: a label and a positive amount in minor units, subtracted. */
export type Discount = z.output<typeof discountSchema>;
/** One entry of `taxes`: added to the total unless `included` (VAT-inclusive prices). */
export type Tax = z.output<typeof taxSchema>;

/**
 * The message body published with routing key `order.confirmed`, version 1 or 2. Both versions
 * carry the same order schema (a version-1 order simply has none of the fields version 2 added);
 * a version-2 event must have `order.placedAt`. Consumers read the date with `orderPlacedAt`.
 */
export const orderConfirmedEventSchema = z
  .strictObject({
    schemaVersion: z.literal(SUPPORTED_EVENT_SCHEMA_VERSIONS, {
      error: `Unsupported schemaVersion: expected one of ${SUPPORTED_EVENT_SCHEMA_VERSIONS.join(', ')}`,
    }),
    type: z.literal(ORDER_CONFIRMED_EVENT_TYPE),
    eventId: z.uuid(),
    /** ISO 8601 time at which the API accepted the order; end-to-end latency is measured from it. */
    acceptedAt: z.iso.datetime(),
    /**
     * The request id (X-Request-Id) the order came with. Stored in the ledger (PostgreSQL refuses
     * NUL in text) and sent as an email header, so it gets the single-line character rules, but is
     * kept as it is (no normalisation): it is an identifier to search for.
     */
    correlationId: z
      .string()
      .min(1)
      .max(200)
      .superRefine((value, ctx) => {
        const forbidden = findForbiddenCharacter(value);
        if (forbidden) ctx.addIssue({ code: 'custom', message: forbidden.message, input: value });
      }),
    order: orderSchema,
  })
  .superRefine((event, ctx) => {
    if (event.schemaVersion >= 2 && event.order.placedAt === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['order', 'placedAt'],
        message: `Required in a schemaVersion ${event.schemaVersion} event (the order API sets it to the acceptance time)`,
        input: undefined,
      });
    }
  });

/** A parsed order-confirmed event of either version (`schemaVersion` 1 or 2). */
export type OrderConfirmedEvent = z.output<typeof orderConfirmedEventSchema>;

/**
 * When the order was placed, as ISO 8601: `order.placedAt` (always there in a version-2 event),
 * or, for a version-1 event that has none, `acceptedAt` (when the order API accepted it).
 */
export function orderPlacedAt(
  event: Pick<OrderConfirmedEvent, 'acceptedAt'> & { order: Pick<Order, 'placedAt'> },
): string {
  return event.order.placedAt ?? event.acceptedAt;
}
