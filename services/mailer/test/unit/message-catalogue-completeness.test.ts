import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { IntlMessageFormat } from 'intl-messageformat';
import {
  DEFAULT_LANGUAGE,
  LOCALES_DIR,
  messageArguments,
  type ArgumentKind,
  type Catalogue,
} from '../../src/adapters/i18n/message-catalogues';

/** The languages issue #11 says the mailer ships. */
const SHIPPED_LANGUAGES = ['en', 'de', 'fr', 'es', 'it', 'nl', 'pt', 'pl', 'sv', 'ja', 'zh', 'ar', 'he'];

const files = readdirSync(LOCALES_DIR)
  .filter((file) => file.endsWith('.json'))
  .sort();
const read = (file: string) => JSON.parse(readFileSync(path.join(LOCALES_DIR, file), 'utf8')) as Catalogue;
const english = read(`${DEFAULT_LANGUAGE}.json`);
const englishArguments = new Map(Object.entries(english).map(([key, message]) => [key, messageArguments(message)]));

/** Values for every argument of `key`'s English message: `count` numbers, dates, and texts. */
function sampleValues(key: string, count: number): Record<string, string | number | Date> {
  const sample: Record<ArgumentKind, string | number | Date> = {
    number: count,
    date: new Date('2026-11-25T19:03:51Z'),
    text: 'Sample «text»',
  };
  return Object.fromEntries([...(englishArguments.get(key) ?? [])].map(([name, kind]) => [name, sample[kind]]));
}

describe('message catalogues (services/mailer/locales)', () => {
  it('when the folder is listed, then every shipped language has a catalogue', () => {
    // Act
    const languages = files.map((file) => file.slice(0, -'.json'.length));

    // Assert
    expect(SHIPPED_LANGUAGES.filter((language) => !languages.includes(language))).toEqual([]);
  });

  it.each(files)(
    'when %s is compared with en.json, then it has exactly its keys (missing and extra listed)',
    (file) => {
      // Act
      const keys = Object.keys(read(file));

      // Assert
      expect({
        file,
        missing: Object.keys(english).filter((key) => !keys.includes(key)),
        extra: keys.filter((key) => !(key in english)),
      }).toEqual({ file, missing: [], extra: [] });
    },
  );

  it.each(files)(
    'when every message of %s is compiled (intl-messageformat) and formatted with sample values, then none fails and none uses an argument en.json does not give',
    (file) => {
      // Arrange
      const language = file.slice(0, -'.json'.length);
      const problems: string[] = [];

      // Act
      for (const [key, message] of Object.entries(read(file))) {
        try {
          const format = new IntlMessageFormat(message, language, undefined, { ignoreTag: true });
          const unknown = [...messageArguments(message, language).keys()].filter(
            (name) => !englishArguments.get(key)?.has(name),
          );
          if (unknown.length > 0) problems.push(`${key}: uses ${unknown.join(', ')}, which en.json does not`);
          for (const count of [0, 1, 2, 5, 21]) {
            const text = format.format(sampleValues(key, count));
            if (typeof text !== 'string' || text.trim() === '') problems.push(`${key}: formats to ${String(text)}`);
          }
        } catch (err) {
          problems.push(`${key}: ${(err as Error).message}`);
        }
      }

      // Assert
      expect({ file, problems }).toEqual({ file, problems: [] });
    },
  );

  it.each(files)('when %s says "quantity × unit price", then it has both values (an item line shows them)', (file) => {
    // Act
    const found = [...messageArguments(read(file).quantityTimesPrice ?? '').keys()].sort();

    // Assert
    expect({ file, found }).toEqual({ file, found: ['quantity', 'unitPrice'] });
  });

  it("when the English subject is formatted, then it is exactly 'Your order <orderId> is confirmed' (clients rely on it)", () => {
    // Act
    const subject = new IntlMessageFormat(english.subject, 'en').format({ orderId: 'A-1001' });

    // Assert
    expect(subject).toBe('Your order A-1001 is confirmed');
  });
});
