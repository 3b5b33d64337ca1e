import type { Address } from '@order-mail/shared/contract';
import { memoize } from './memo';
import type { TextDirection } from './ports';

const SEP = '\u0000';

/**
 * The locale dates, amounts and country names are formatted for: the customer's locale when the
 * email's copy is in its language (`de-CH` with German copy: Swiss formats), otherwise the copy's
 * language, so that an email never mixes languages (a `ko` customer gets English copy while no
 * Korean catalogue exists, and English dates with it). A locale Intl does not know counts as the
 * copy's language too.
 */
export function formattingLocale(customerLocale: string, copyLanguage: string): string {
  return formattingLocales(`${customerLocale}${SEP}${copyLanguage}`);
}

const formattingLocales = memoize((key) => {
  const [customerLocale, copyLanguage] = key.split(SEP);
  try {
    const sameLanguage = new Intl.Locale(customerLocale).language === new Intl.Locale(copyLanguage).language;
    const known = Intl.DateTimeFormat.supportedLocalesOf([customerLocale]).length === 1;
    return sameLanguage && known ? customerLocale : copyLanguage;
  } catch {
    return copyLanguage;
  }
});

/**
 * An ISO 8601 date-time as a long date (`dateStyle: 'long'`: "28 November 2025",
 * "28. November 2025") in `locale`, on the calendar day of the offset it was written with
 * (`…T00:30:00+01:00` is the 28th even where the server's clock says the 27th), UTC for `Z`.
 */
export function formatPlacedAt(isoDateTime: string, locale: string): string {
  const offset = /([+-]\d{2}:\d{2})$/.exec(isoDateTime)?.[1];
  return longDates(`${locale}${SEP}${offset ?? 'UTC'}`).format(new Date(isoDateTime));
}

const longDates = memoize((key) => {
  const [locale, timeZone] = key.split(SEP);
  return new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone });
});

/**
 * An address as printed in the email, one entry a line: the name, the street lines, the postal
 * code and city on one line, the region, and the country's name in `locale` (`Intl.DisplayNames`:
 * `DE` → "Germany", "Deutschland", "ألمانيا").
 */
export function addressLines(address: Address, locale: string): string[] {
  const country = regionNames(locale).of(address.country) ?? address.country;
  const cityLine = address.postalCode ? `${address.postalCode} ${address.city}` : address.city;
  return [address.name, ...address.lines, cityLine, ...(address.region ? [address.region] : []), country];
}

const regionNames = memoize((locale) => new Intl.DisplayNames([locale], { type: 'region' }));

/** Letters of the right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko, …). */
const RIGHT_TO_LEFT =
  /[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}]/u;

const FIRST_STRONG_ISOLATE = '\u2068';
const POP_DIRECTIONAL_ISOLATE = '\u2069';

/**
 * A user-supplied value (a name, a shipping method) for a place inside translated copy
 * ("Hi {customerName},"): wrapped in Unicode's FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE
 * (UAX #9) when its direction could disturb the sentence around it, i.e. in right-to-left copy
 * or when the value has right-to-left letters, so that "Hi דוד," and "مرحبا Ada،" lay out
 * correctly. Left-to-right values in left-to-right copy, where nothing can go wrong, stay as they are.
 */
export function isolate(value: string, copyDirection: TextDirection): string {
  if (copyDirection === 'ltr' && !RIGHT_TO_LEFT.test(value)) return value;
  return `${FIRST_STRONG_ISOLATE}${value}${POP_DIRECTIONAL_ISOLATE}`;
}

/** Writing direction of a language or locale, from CLDR (`Intl.Locale#getTextInfo`): `rtl` for `ar`, `he`, `ar-EG`. */
export function directionOf(language: string): TextDirection {
  return directions(language);
}

const directions = memoize((language): TextDirection => {
  const locale = new Intl.Locale(language) as Intl.Locale & { getTextInfo?: () => { direction?: string } };
  return locale.getTextInfo?.().direction === 'rtl' ? 'rtl' : 'ltr';
});
