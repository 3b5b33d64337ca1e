import { minorUnitDigits } from '@order-mail/shared/contract';
import { directionOf } from './locale-formats';
import { memoize } from './memo';

/** U+2066 LEFT-TO-RIGHT ISOLATE and U+2069 POP DIRECTIONAL ISOLATE (UAX #9, since Unicode 6.3). */
const LRI = '\u2066';
const PDI = '\u2069';
const LATIN_LETTER = /[A-Za-z]/;

/**
 * A formatter of integer amounts of minor units (ISO 4217) for one currency and the customer's
 * locale, made once (an email formats dozens of amounts; `Intl` objects are not free to build).
 *
 * In a right-to-left locale a currency symbol made of Latin letters and a sign (`UK£`, `US$`) is
 * wrapped in a left-to-right isolate: without it the Unicode bidi algorithm (UAX #9, rules W5-N2)
 * leaves the sign neutral after the letters and moves it to the far side (`£UK 89.00`); isolated,
 * the symbol is one left-to-right unit that sits where CLDR's pattern puts it, for positive and
 * negative amounts alike (`UK£ 89.00`, `UK£ -26.70` as an Arabic reader sees them). Nothing
 * changes for left-to-right locales or native symbols (`₪`, `د.إ.`).
 */
export function moneyFormatter(currency: string, locale: string): (minorUnits: number) => string {
  return moneyFormatters(`${currency}\u0000${locale}`);
}

const moneyFormatters = memoize((key): ((minorUnits: number) => string) => {
  const [currency, locale] = key.split('\u0000');
  const digits = minorUnitDigits(currency);
  const format = new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  const scale = 10 ** digits;
  if (directionOf(locale) !== 'rtl') return (minorUnits) => format.format(minorUnits / scale);
  return (minorUnits) =>
    format
      .formatToParts(minorUnits / scale)
      .map((part) =>
        part.type === 'currency' && LATIN_LETTER.test(part.value) ? `${LRI}${part.value}${PDI}` : part.value,
      )
      .join('');
});

/** Formats one amount of minor units: `moneyFormatter(currency, locale)(minorUnits)`. */
export function formatMoney(minorUnits: number, currency: string, locale: string): string {
  return moneyFormatter(currency, locale)(minorUnits);
}
