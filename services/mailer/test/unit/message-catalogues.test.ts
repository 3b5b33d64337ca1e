import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  compileCatalogues,
  loadMessageCatalogues,
  messageArguments,
  type Catalogue,
} from '../../src/adapters/i18n/message-catalogues';
import { directionOf } from '../../src/domain/locale-formats';

const EN: Catalogue = {
  subject: 'Your order {orderId} is confirmed',
  itemCount: '{count, plural, one {# item} other {# items}}',
  greeting: 'Hi {customerName},',
};
const DE: Catalogue = {
  subject: 'Ihre Bestellung {orderId} ist bestätigt',
  itemCount: '{count, plural, one {# Artikel} other {# Artikel}}',
};

/** Compiling `catalogues` expecting it to throw; returns the error's message. */
function compileError(catalogues: Record<string, Catalogue>): string {
  try {
    compileCatalogues(new Map(Object.entries(catalogues)));
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected compileCatalogues to throw');
}

describe('compileCatalogues', () => {
  const localizer = compileCatalogues(
    new Map([
      ['en', EN],
      ['de', DE],
      ['ar', { subject: 'تم تأكيد طلبك رقم {orderId}' }],
      ['he', { subject: 'ההזמנה {orderId} אושרה' }],
      ['pt-BR', { subject: 'Seu pedido {orderId} foi confirmado' }],
    ]),
  );

  it.each([
    ['en', 'en'],
    ['en-US', 'en'],
    ['de', 'de'],
    ['de-CH', 'de'],
    ['de-AT', 'de'],
    ['ar-EG', 'ar'],
    ['he-IL', 'he'],
    ['pt-BR', 'pt-BR'],
    ['fr', 'en'],
    ['ko-KR', 'en'],
  ])('when the locale is %s, then the catalogue used is %s', (locale, language) => {
    // Act
    const copy = localizer.localize(locale);

    // Assert
    expect(copy.language).toBe(language);
  });

  it.each([
    ['en', 'ltr'],
    ['de', 'ltr'],
    ['ar', 'rtl'],
    ['he', 'rtl'],
  ])('when the language is %s, then the direction is %s', (language, dir) => {
    // Act
    const copy = localizer.localize(language);

    // Assert
    expect(copy.dir).toBe(dir);
    expect(directionOf(language)).toBe(dir);
  });

  it('when a message is formatted, then its arguments and plurals are filled in (ICU MessageFormat)', () => {
    // Act
    const en = localizer.localize('en');
    const de = localizer.localize('de-CH');

    // Assert
    expect(en.t('subject', { orderId: 'A-1' })).toBe('Your order A-1 is confirmed');
    expect(en.t('itemCount', { count: 1 })).toBe('1 item');
    expect(en.t('itemCount', { count: 3 })).toBe('3 items');
    expect(de.t('subject', { orderId: 'A-1' })).toBe('Ihre Bestellung A-1 ist bestätigt');
  });

  it('when a catalogue lacks a message, then the default language’s is used', () => {
    // Act
    const text = localizer.localize('de').t('greeting', { customerName: 'Ada' });

    // Assert
    expect(text).toBe('Hi Ada,');
  });

  it('when a message has markup-like text, then it stays text (tags are not interpreted)', () => {
    // Arrange
    const local = compileCatalogues(new Map([['en', { note: 'Use <b>bold</b> & {x}' }]]));

    // Act
    const text = local.localize('en').t('note', { x: '<i>' });

    // Assert
    expect(text).toBe('Use <b>bold</b> & <i>');
  });

  it.each([
    ['a key no catalogue has', () => localizer.localize('en').t('nope'), 'No message "nope"'],
    ['a value the message needs is missing', () => localizer.localize('en').t('subject'), 'Message "subject" (en)'],
  ])('when asked for %s, then it throws naming the key', (_case, act, expected) => {
    // Act / Assert
    expect(act).toThrow(expected);
  });

  it('when the same locale is asked again, then the same copy is returned', () => {
    // Act / Assert
    expect(localizer.localize('de-CH')).toBe(localizer.localize('de-CH'));
  });

  it('lists the languages, the default first', () => {
    // Assert
    expect(localizer.languages).toEqual(['en', 'de', 'ar', 'he', 'pt-BR']);
  });

  describe('when a catalogue is broken, then start-up fails naming the file and the key', () => {
    it.each([
      [
        'an unclosed argument',
        { en: EN, de: { ...DE, subject: 'Ihre Bestellung {orderId ist bestätigt' } },
        'de.json, key "subject": the message does not compile',
      ],
      [
        'a plural without "other"',
        { en: EN, de: { ...DE, itemCount: '{count, plural, one {# Artikel}}' } },
        'de.json, key "itemCount"',
      ],
      [
        'an argument the default language does not have',
        { en: EN, de: { ...DE, subject: 'Bestellung {orderNumber}' } },
        'de.json, key "subject": the message uses {orderNumber}, which en does not (arguments: {orderId})',
      ],
      ['a broken default language', { en: { ...EN, greeting: 'Hi {customerName' } }, 'en.json, key "greeting"'],
      ['no default language', { de: DE }, 'en.json is missing'],
    ])('when there is %s', (_case, catalogues, expected) => {
      // Act
      const message = compileError(catalogues);

      // Assert
      expect(message).toContain(`Message catalogue ${expected}`);
    });
  });
});

describe('loadMessageCatalogues', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'catalogues-'));
    await writeFile(path.join(dir, 'en.json'), JSON.stringify(EN));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('when the folder has catalogues, then each file is a language', async () => {
    // Arrange
    await writeFile(path.join(dir, 'de.json'), JSON.stringify(DE));
    await writeFile(path.join(dir, 'README.md'), 'not a catalogue');

    // Act
    const localizer = await loadMessageCatalogues(dir);

    // Assert
    expect(localizer.languages).toEqual(['en', 'de']);
  });

  it.each([
    ['not JSON', 'de.json', '{ "subject": ', 'de.json is not valid JSON'],
    ['not an object of messages', 'de.json', '["a"]', 'de.json must be a JSON object of messages'],
    ['a message that is not a string', 'de.json', '{ "subject": 1 }', 'de.json, key "subject": must be a string'],
    ['a name that is not a language', 'de_DE.json', '{}', 'de_DE.json: the file name is not a language tag'],
    [
      'a message that does not compile',
      'de.json',
      '{ "subject": "{orderId" }',
      `${path.sep}de.json, key "subject": the message does not compile`,
    ],
  ])('when a file is %s, then loading rejects naming the file', async (_case, file, content, expected) => {
    // Arrange
    await writeFile(path.join(dir, file), content);

    // Act / Assert
    await expect(loadMessageCatalogues(dir)).rejects.toThrow(expected);
  });
});

describe('messageArguments', () => {
  it.each([
    ['Hi {customerName},', { customerName: 'text' }],
    ['{count, plural, one {# item} other {# items}}', { count: 'number' }],
    [
      'Thank you, {customerName}: {itemCount, plural, one {# item} other {# items}}, {total}.',
      { customerName: 'text', itemCount: 'number', total: 'text' },
    ],
    ['{n, plural, other {{n} × {price}}}', { n: 'number', price: 'text' }],
    ['{kind, select, a {A {x}} other {B}}', { kind: 'text', x: 'text' }],
    ['Placed {when, date, long}', { when: 'date' }],
    ['No arguments', {}],
  ])('when the message is %p, then its arguments are %p', (message, expected) => {
    // Act
    const found = messageArguments(message);

    // Assert
    expect(Object.fromEntries(found)).toEqual(expected);
  });
});
