import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { match } from '@formatjs/intl-localematcher';
import { IntlMessageFormat } from 'intl-messageformat';
import { directionOf } from '../../domain/locale-formats';
import type { LocalizedCopy, Localizer, MessageValues } from '../../domain/ports';

/** The service's `locales/`, one `<language>.json` per language (read at run time, as the templates are). */
export const LOCALES_DIR = path.resolve(__dirname, '../../../locales');

/** The language of customers whose locale no catalogue fits, and of any message a catalogue lacks. */
export const DEFAULT_LANGUAGE = 'en';

/** One catalogue as written: message key → ICU MessageFormat message. */
export type Catalogue = Readonly<Record<string, string>>;

/**
 * The kind of value an ICU message argument takes: a number (`plural`, `selectordinal`, `number`),
 * a date (`date`, `time`) or a text (a plain `{name}`, `select`).
 */
export type ArgumentKind = 'number' | 'date' | 'text';

/** How many locales `localize` remembers its answer for (customers' locales are few; a bound keeps odd ones from piling up). */
const MATCH_CACHE_SIZE = 500;

/**
 * Reads every `<language>.json` in `dir` (default: the service's `locales/`), each an object of
 * message strings; the file name is the language (a BCP 47 tag: `de`, `pt-BR`). Rejects naming the
 * file when it is not JSON, not such an object, or its name is not a language tag.
 */
export async function readCatalogues(dir: string = LOCALES_DIR): Promise<Map<string, Catalogue>> {
  const catalogues = new Map<string, Catalogue>();
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()) {
    const where = path.join(dir, file);
    const language = canonicalLanguage(file.slice(0, -'.json'.length));
    if (!language) throw new Error(`Message catalogue ${where}: the file name is not a language tag such as "de.json"`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(where, 'utf8'));
    } catch (err) {
      throw new Error(`Message catalogue ${where} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    catalogues.set(language, catalogueIn(parsed, where));
  }
  return catalogues;
}

/**
 * Compiles every message of `catalogues` once (intl-messageformat, ICU MessageFormat) and returns
 * the Localizer that picks one for a customer's locale (intl-localematcher's `match`, CLDR's
 * "best fit": `de-CH` → `de`, else `DEFAULT_LANGUAGE`). The default language's catalogue must
 * exist; a message another catalogue lacks falls back to it (the catalogue test lists those).
 * Throws naming the file (`source(language)`) and key of a message that does not compile or uses
 * an argument the default language's message does not have (it could never be given a value).
 */
export function compileCatalogues(
  catalogues: ReadonlyMap<string, Catalogue>,
  source: (language: string) => string = (language) => `${language}.json`,
): Localizer {
  const base = catalogues.get(DEFAULT_LANGUAGE);
  if (!base) throw new Error(`Message catalogue ${source(DEFAULT_LANGUAGE)} is missing: it is the default language`);
  const fallback = compileCatalogue(DEFAULT_LANGUAGE, base, undefined, source);
  const baseArguments = new Map([...fallback].map(([key, format]) => [key, argumentsIn(format)]));
  const copies = new Map<string, LocalizedCopy>();
  for (const [language, catalogue] of catalogues) {
    const own = language === DEFAULT_LANGUAGE ? fallback : compileCatalogue(language, catalogue, baseArguments, source);
    copies.set(language, localizedCopy(language, own, fallback));
  }
  const languages = [DEFAULT_LANGUAGE, ...[...copies.keys()].filter((l) => l !== DEFAULT_LANGUAGE)];
  const cache = new Map<string, LocalizedCopy>();
  return {
    languages,
    localize(locale) {
      let copy = cache.get(locale);
      if (!copy) {
        copy = copies.get(matchLanguage(locale, languages)) as LocalizedCopy;
        if (cache.size >= MATCH_CACHE_SIZE) cache.clear();
        cache.set(locale, copy);
      }
      return copy;
    },
  };
}

/** Reads and compiles the catalogues in `dir` (default: the service's `locales/`); see `compileCatalogues`. */
export async function loadMessageCatalogues(dir: string = LOCALES_DIR): Promise<Localizer> {
  return compileCatalogues(await readCatalogues(dir), (language) => path.join(dir, `${language}.json`));
}

/**
 * The arguments an ICU message uses, by name, with the kind of value each takes (`{count, plural,
 * …}` a number, `{customerName}` a text), found in its syntax tree, nested ones included. Throws
 * intl-messageformat's syntax error when the message does not compile.
 */
export function messageArguments(message: string, locale: string = DEFAULT_LANGUAGE): Map<string, ArgumentKind> {
  return argumentsIn(new IntlMessageFormat(message, locale, undefined, { ignoreTag: true }));
}

function argumentsIn(format: IntlMessageFormat): Map<string, ArgumentKind> {
  const found = new Map<string, ArgumentKind>();
  collectArguments(format.getAst() as AstNode[], found);
  return found;
}

/** The language of `locale` that has a catalogue: CLDR's best fit among `languages`, else the default. */
function matchLanguage(locale: string, languages: readonly string[]): string {
  try {
    return match([locale], languages, DEFAULT_LANGUAGE);
  } catch {
    // Not a locale intl-localematcher can read (events are validated, so only a bug gets here).
    return DEFAULT_LANGUAGE;
  }
}

type Compiled = Map<string, IntlMessageFormat>;

function compileCatalogue(
  language: string,
  catalogue: Catalogue,
  baseArguments: ReadonlyMap<string, ReadonlyMap<string, ArgumentKind>> | undefined,
  source: (language: string) => string,
): Compiled {
  const compiled: Compiled = new Map();
  for (const [key, message] of Object.entries(catalogue)) {
    const where = `Message catalogue ${source(language)}, key "${key}"`;
    let format: IntlMessageFormat;
    try {
      format = new IntlMessageFormat(message, language, undefined, { ignoreTag: true });
    } catch (err) {
      throw new Error(`${where}: the message does not compile: ${(err as Error).message}`, { cause: err });
    }
    const known = baseArguments?.get(key);
    const unknown = [...argumentsIn(format).keys()].filter((name) => known && !known.has(name));
    if (unknown.length > 0) {
      const expected = known && known.size > 0 ? [...known.keys()].map((n) => `{${n}}`).join(', ') : 'none';
      throw new Error(
        `${where}: the message uses ${unknown.map((n) => `{${n}}`).join(', ')}, which ${DEFAULT_LANGUAGE} ` +
          `does not (arguments: ${expected})`,
      );
    }
    compiled.set(key, format);
  }
  return compiled;
}

function localizedCopy(language: string, own: Compiled, fallback: Compiled): LocalizedCopy {
  return {
    language,
    dir: directionOf(language),
    t(key: string, values?: MessageValues): string {
      const format = own.get(key) ?? fallback.get(key);
      if (!format) throw new Error(`No message "${key}" in the message catalogues`);
      try {
        const text = format.format(values);
        return Array.isArray(text) ? text.join('') : String(text);
      } catch (err) {
        throw new Error(`Message "${key}" (${language}) cannot be formatted: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
  };
}

function catalogueIn(parsed: unknown, where: string): Catalogue {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`Message catalogue ${where} must be a JSON object of messages ("key": "message")`);
  }
  for (const [key, message] of Object.entries(parsed)) {
    if (typeof message !== 'string') throw new Error(`Message catalogue ${where}, key "${key}": must be a string`);
  }
  return parsed as Catalogue;
}

function canonicalLanguage(name: string): string | undefined {
  try {
    return Intl.getCanonicalLocales(name)[0];
  } catch {
    return undefined;
  }
}

/** An ICU syntax tree node, as far as finding its arguments needs. */
interface AstNode {
  type: number;
  value?: string;
  options?: Record<string, { value: AstNode[] }>;
  children?: AstNode[];
}

/**
 * The argument elements of intl-messageformat's syntax tree (`TYPE` of
 * @formatjs/icu-messageformat-parser: 1 argument, 2 number, 3 date, 4 time, 5 select, 6 plural)
 * and the kind of value each takes.
 */
const ARGUMENT_KINDS = new Map<number, ArgumentKind>([
  [1, 'text'],
  [2, 'number'],
  [3, 'date'],
  [4, 'date'],
  [5, 'text'],
  [6, 'number'],
]);

function collectArguments(nodes: readonly AstNode[], found: Map<string, ArgumentKind>): void {
  for (const node of nodes) {
    const kind = ARGUMENT_KINDS.get(node.type);
    // A plain use of an argument a plural also uses (`{n} … {n, plural, …}`) keeps it a number.
    if (kind && node.value !== undefined && found.get(node.value) !== 'number') found.set(node.value, kind);
    for (const option of Object.values(node.options ?? {})) collectArguments(option.value, found);
    if (node.children) collectArguments(node.children, found);
  }
}
