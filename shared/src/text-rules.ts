import { isUtf8 } from 'node:buffer';

/**
 * Rules for the text an order carries, so that no field can forge a line in an email or a log,
 * hide or reorder what a reader sees, or arrive as bytes nobody can decode. Pure functions, shared
 * by the order API (validating requests) and the mailer (re-validating events).
 *
 * Sources:
 * - RFC 3629 (UTF-8): the only byte sequences that are text; overlong forms, encoded surrogates
 *   and code points above U+10FFFF are not.
 * - RFC 5198 (Unicode format for network interchange): text is NFC, and control characters
 *   (general category Cc) have no place in it, except line breaks in multi-line text.
 * - Unicode Standard Annex #9 (TR #9, the bidirectional algorithm), §2.1-2.2: the explicit
 *   embedding, override and isolate formatting characters U+202A-U+202E and U+2066-U+2069 reorder
 *   the display of the text around them ("Trojan Source", CVE-2021-42574). The implicit marks
 *   LRM, RLM and ALM (U+200E, U+200F, U+061C) only nudge neutral characters and stay valid.
 * - Unicode Standard Annex #15: normalization form C.
 */

/** Why a character is refused in a single-line field. */
export type ForbiddenCharacterKind = 'control' | 'line-separator' | 'bidi-control' | 'unpaired-surrogate';

/** The first character of a string that a single-line field refuses. */
export interface ForbiddenCharacter {
  kind: ForbiddenCharacterKind;
  /** The code point, e.g. 0x0a. */
  codePoint: number;
  /** Index of the character in the string, in UTF-16 code units (what JavaScript's `String` counts). */
  index: number;
  /** Its position for people: the how-manieth character (code point) it is, counting from 1. */
  position: number;
  /** A sentence for API clients: which character, and why it is refused. */
  message: string;
}

const NAMES: Readonly<Record<number, string>> = {
  0x00: 'NULL',
  0x09: 'CHARACTER TABULATION',
  0x0a: 'LINE FEED',
  0x0b: 'LINE TABULATION',
  0x0c: 'FORM FEED',
  0x0d: 'CARRIAGE RETURN',
  0x1b: 'ESCAPE',
  0x7f: 'DELETE',
  0x85: 'NEXT LINE',
  0x2028: 'LINE SEPARATOR',
  0x2029: 'PARAGRAPH SEPARATOR',
  0x202a: 'LEFT-TO-RIGHT EMBEDDING',
  0x202b: 'RIGHT-TO-LEFT EMBEDDING',
  0x202c: 'POP DIRECTIONAL FORMATTING',
  0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE',
  0x2066: 'LEFT-TO-RIGHT ISOLATE',
  0x2067: 'RIGHT-TO-LEFT ISOLATE',
  0x2068: 'FIRST STRONG ISOLATE',
  0x2069: 'POP DIRECTIONAL ISOLATE',
};

/** `U+000A LINE FEED`, or just `U+0001` for characters without a well-known name here. */
export function describeCodePoint(codePoint: number): string {
  const hex = `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
  const name = NAMES[codePoint];
  return name ? `${hex} ${name}` : hex;
}

// One alternation, so a single scan finds the first offender of any kind. With the `u` flag a lone
// surrogate is matched as a code point of its own (\p{Cs}); a well-formed pair never is.
// C0 (U+0000-U+001F), DEL and C1 (U+007F-U+009F) are exactly general category Cc.
const FORBIDDEN = /(\p{Cc})|([\u2028\u2029])|([\u202A-\u202E\u2066-\u2069])|(\p{Cs})/u;

/**
 * Finds the first character a single-line field refuses, or `null` if there is none:
 * - `control`: a C0 or C1 control character or DEL (general category Cc), e.g. NUL, TAB, LF, CR,
 *   ESC, U+0085 NEXT LINE; they break lines in emails, headers and logs or are invisible (RFC 5198 §2);
 * - `line-separator`: U+2028 and U+2029, which break lines as well;
 * - `bidi-control`: the explicit bidirectional formatting characters U+202A-U+202E and U+2066-U+2069
 *   (Unicode TR #9 §2.1, §2.2), which can make a text display as something else;
 * - `unpaired-surrogate`: half of a UTF-16 surrogate pair (JSON's `"\ud800"`), which is not a
 *   Unicode scalar value and cannot be encoded as UTF-8 (RFC 3629 §3), so it would reach the
 *   email as U+FFFD.
 *
 * Everything else is allowed, in particular emoji and their zero-width joiners (U+200D), combining
 * marks, right-to-left scripts and the implicit direction marks U+200E, U+200F and U+061C.
 */
export function findForbiddenCharacter(value: string): ForbiddenCharacter | null {
  const match = FORBIDDEN.exec(value);
  if (!match) return null;
  const codePoint = match[0].codePointAt(0) as number;
  const described = describeCodePoint(codePoint);
  const position = [...value.slice(0, match.index)].length + 1;
  const found = (kind: ForbiddenCharacterKind, why: string): ForbiddenCharacter => ({
    kind,
    codePoint,
    index: match.index,
    position,
    message: `Contains ${described} as character ${position}: ${why}`,
  });
  if (match[1] !== undefined)
    return found('control', 'control characters (line breaks, tabs, NUL, ESC, C1 controls) are not allowed');
  if (match[2] !== undefined) return found('line-separator', 'line breaks are not allowed');
  if (match[3] !== undefined)
    return found('bidi-control', 'bidirectional override and isolate characters are not allowed (Unicode TR #9)');
  return found('unpaired-surrogate', 'an unpaired surrogate is not a Unicode character and cannot be encoded as UTF-8');
}

/**
 * The canonical form of a single-line text: Unicode normalization form C (UAX #15, as RFC 5198
 * asks), then leading and trailing white space removed (`String.prototype.trim`: spaces and
 * Unicode space separators such as U+00A0 and U+3000). Only meant for text that
 * `findForbiddenCharacter` accepted. `"e\u0301"` becomes `"é"` (U+00E9).
 */
export function normalizeSingleLineText(value: string): string {
  return value.normalize('NFC').trim();
}

/** Length in Unicode code points, the unit of the API's length limits (`"👩‍💻"` is 3: 👩, ZWJ, 💻). */
export function codePointLength(value: string): number {
  return Array.from(value).length;
}

/**
 * True if `bytes` is well-formed UTF-8 (RFC 3629 §3-4): no stray continuation bytes, truncated
 * sequences, overlong forms, encoded surrogates (ED A0-BF xx) or code points above U+10FFFF.
 * Latin-1 text such as the single byte E9 (é) is not. An empty buffer is.
 */
export function isWellFormedUtf8(bytes: Uint8Array): boolean {
  return isUtf8(bytes);
}
