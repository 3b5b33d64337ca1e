import type { Address } from '@order-mail/shared/contract';
import { addressLines, formatPlacedAt, formattingLocale, isolate } from '../../src/domain/locale-formats';

const FSI = '\u2068';
const PDI = '\u2069';

describe('formattingLocale', () => {
  it.each([
    ['de-CH', 'de', 'de-CH'],
    ['en-GB', 'en', 'en-GB'],
    ['en', 'en', 'en'],
    ['ar-EG', 'ar', 'ar-EG'],
    // The copy fell back to English: formats follow the copy, not the unmatched locale.
    ['ko-KR', 'en', 'en'],
    ['de-CH', 'en', 'en'],
  ])(
    "when the customer's locale is %s and the copy is %s, then dates and amounts are formatted for %s",
    (locale, copy, expected) => {
      // Act
      const result = formattingLocale(locale, copy);

      // Assert
      expect(result).toBe(expected);
    },
  );
});

describe('formatPlacedAt', () => {
  it.each([
    ['2026-11-25T19:03:51+01:00', 'en', 'November 25, 2026'],
    ['2026-11-25T19:03:51+01:00', 'de', '25. November 2026'],
    // The calendar day where the order was placed, whatever the server's time zone.
    ['2026-11-26T00:30:00+01:00', 'en', 'November 26, 2026'],
    ['2026-11-25T23:30:00-05:00', 'en', 'November 25, 2026'],
    ['2024-05-01T12:00:00.000Z', 'en-GB', '1 May 2024'],
  ])('when %s is shown in %s, then it reads %p', (iso, locale, expected) => {
    // Act
    const result = formatPlacedAt(iso, locale);

    // Assert
    expect(result).toBe(expected);
  });
});

describe('addressLines', () => {
  const address: Address = {
    name: 'Ada Lovelace',
    lines: ['Friedrichstraße 123', '3. OG'],
    postalCode: '10117',
    city: 'Berlin',
    region: 'Berlin',
    country: 'DE',
  };

  it.each([
    ['en', 'Germany'],
    ['de', 'Deutschland'],
    ['fr', 'Allemagne'],
    ['ja', 'ドイツ'],
  ])('when printed for %s, then the country is named %p and the lines keep their order', (locale, country) => {
    // Act
    const lines = addressLines(address, locale);

    // Assert
    expect(lines).toEqual(['Ada Lovelace', 'Friedrichstraße 123', '3. OG', '10117 Berlin', 'Berlin', country]);
  });

  it('when the address has no postal code and no region, then the city stands alone and no region line is printed', () => {
    // Arrange
    const bare: Address = { name: 'Fatima', lines: ['Sheikh Zayed Road'], city: 'Dubai', country: 'AE' };

    // Act
    const lines = addressLines(bare, 'en');

    // Assert
    expect(lines).toEqual(['Fatima', 'Sheikh Zayed Road', 'Dubai', 'United Arab Emirates']);
  });
});

describe('isolate', () => {
  it.each([
    ['a Latin value in left-to-right copy', 'Ada', 'ltr', 'Ada'],
    ['a Hebrew value in left-to-right copy', 'דוד', 'ltr', `${FSI}דוד${PDI}`],
    ['a mixed value in left-to-right copy', 'Ada فاطمة', 'ltr', `${FSI}Ada فاطمة${PDI}`],
    ['a Latin value in right-to-left copy', 'DHL Express', 'rtl', `${FSI}DHL Express${PDI}`],
    ['an Arabic value in right-to-left copy', 'أرامكس', 'rtl', `${FSI}أرامكس${PDI}`],
  ] as const)('when %s is inserted, then it becomes %p', (_case, value, direction, expected) => {
    // Act
    const result = isolate(value, direction);

    // Assert
    expect(result).toBe(expected);
  });
});
