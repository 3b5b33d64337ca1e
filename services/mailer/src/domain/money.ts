import { minorUnitDigits } from '@order-mail/shared/contract';

/** Formats an integer amount of minor units (ISO 4217) for a currency and the customer's locale. */
export function formatMoney(minorUnits: number, currency: string, locale: string): string {
  const digits = minorUnitDigits(currency);
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(minorUnits / 10 ** digits);
}
