/**
 * Minor-unit digits per ISO 4217, which is what `unitPrice` is counted in. ICU's display digits
 * differ for some currencies (it shows HUF, IQD or YER without decimals), so the contract does
 * not rely on them. Currencies not listed have 2.
 */
const ISO_4217_MINOR_UNITS: Record<string, number> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLF: 4,
  UYW: 4,
};

/** How many minor units a currency has per ISO 4217: EUR 2 (cents), JPY 0, BHD 3. */
export function minorUnitDigits(currency: string): number {
  return ISO_4217_MINOR_UNITS[currency] ?? 2;
}
