import {
  codePointLength,
  describeCodePoint,
  findForbiddenCharacter,
  isWellFormedUtf8,
  normalizeSingleLineText,
  type ForbiddenCharacterKind,
} from '../src/text-rules';

describe('findForbiddenCharacter (single-line text)', () => {
  it.each([
    ['plain ASCII', 'Ada Lovelace'],
    ['Latin with diacritics', 'Zoë Ångström-Łukasiewicz'],
    ['a single emoji', 'Ada 👩‍💻'],
    ['a family ZWJ sequence', '👨‍👩‍👧‍👦'],
    ['a flag (regional indicators)', '🇨🇭'],
    ['an emoji with a skin-tone modifier', '👋🏽'],
    ['a decomposed é (e + U+0301 COMBINING ACUTE ACCENT)', 'Rene\u0301e'],
    ['Arabic', 'أدا لوفليس'],
    ['Hebrew', 'עדה לאבלייס'],
    ['Arabic with U+061C ARABIC LETTER MARK', 'أدا\u061C 42'],
    ['Hebrew with U+200F RIGHT-TO-LEFT MARK', 'עדה\u200F (42)'],
    ['U+200E LEFT-TO-RIGHT MARK', 'abc\u200Edef'],
    ['CJK', '艾达·洛夫莱斯'],
    ['Devanagari with combining signs', 'हिन्दी'],
    ['a character outside the BMP (a surrogate pair)', '𝔄𝔡𝔞'],
    ['U+00A0 NO-BREAK SPACE inside', 'Ada\u00A0Lovelace'],
    ['the empty string', ''],
  ])('when the text is %s, then nothing is forbidden', (_label, text) => {
    // Act
    const forbidden = findForbiddenCharacter(text);

    // Assert
    expect(forbidden).toBeNull();
  });

  it.each<[string, string, ForbiddenCharacterKind, number]>([
    ['NUL', 'Ada\u0000', 'control', 0x00],
    ['TAB', 'Ada\tLovelace', 'control', 0x09],
    ['LF', 'Ada\nBcc: x@evil.example', 'control', 0x0a],
    ['CR', 'Ada\rLovelace', 'control', 0x0d],
    ['CR LF', 'Ada\r\nX-Injected: 1', 'control', 0x0d],
    ['a leading LF', '\nAda', 'control', 0x0a],
    ['a trailing TAB', 'Ada\t', 'control', 0x09],
    ['VT', 'Ada\u000bL', 'control', 0x0b],
    ['FF', 'Ada\u000cL', 'control', 0x0c],
    ['ESC (a terminal escape sequence)', 'Ada\u001b[31m', 'control', 0x1b],
    ['U+001F, the last C0 control', 'Ada\u001f', 'control', 0x1f],
    ['DEL', 'Ada\u007f', 'control', 0x7f],
    ['U+0080, the first C1 control', 'Ada\u0080', 'control', 0x80],
    ['C1 U+0085 NEXT LINE', 'Ada\u0085Lovelace', 'control', 0x85],
    ['C1 U+009B CONTROL SEQUENCE INTRODUCER', 'Ada\u009b31m', 'control', 0x9b],
    ['U+2028 LINE SEPARATOR', 'Ada\u2028Lovelace', 'line-separator', 0x2028],
    ['U+2029 PARAGRAPH SEPARATOR', 'Ada\u2029Lovelace', 'line-separator', 0x2029],
    ['U+202A LEFT-TO-RIGHT EMBEDDING', 'a\u202Ab', 'bidi-control', 0x202a],
    ['U+202B RIGHT-TO-LEFT EMBEDDING', 'a\u202Bb', 'bidi-control', 0x202b],
    ['U+202C POP DIRECTIONAL FORMATTING', 'a\u202Cb', 'bidi-control', 0x202c],
    ['U+202D LEFT-TO-RIGHT OVERRIDE', 'a\u202Db', 'bidi-control', 0x202d],
    ['U+202E RIGHT-TO-LEFT OVERRIDE', 'invoice\u202Efdp.exe', 'bidi-control', 0x202e],
    ['U+2066 LEFT-TO-RIGHT ISOLATE', 'a\u2066b', 'bidi-control', 0x2066],
    ['U+2067 RIGHT-TO-LEFT ISOLATE', 'a\u2067b', 'bidi-control', 0x2067],
    ['U+2068 FIRST STRONG ISOLATE', 'a\u2068b', 'bidi-control', 0x2068],
    ['U+2069 POP DIRECTIONAL ISOLATE', 'a\u2069b', 'bidi-control', 0x2069],
    ['a lone high surrogate', 'Ada\uD83D', 'unpaired-surrogate', 0xd83d],
    ['a lone low surrogate', '\uDC69Ada', 'unpaired-surrogate', 0xdc69],
    ['surrogates in the wrong order', 'a\uDC69\uD83Db', 'unpaired-surrogate', 0xdc69],
  ])('when the text contains %s, then it is forbidden as %s', (_label, text, kind, codePoint) => {
    // Act
    const forbidden = findForbiddenCharacter(text);

    // Assert
    expect(forbidden).toMatchObject({ kind, codePoint });
    expect(forbidden?.message).toContain(describeCodePoint(codePoint));
  });

  it('when there are several forbidden characters, then the first one is reported with its index and position', () => {
    // Act
    const forbidden = findForbiddenCharacter('Ada\u202E\u0000');

    // Assert
    expect(forbidden).toEqual({
      kind: 'bidi-control',
      codePoint: 0x202e,
      index: 3,
      position: 4,
      message: expect.stringContaining('U+202E RIGHT-TO-LEFT OVERRIDE as character 4'),
    });
  });

  it('when characters outside the BMP come first, then the position counts characters, not UTF-16 units', () => {
    // Act
    const forbidden = findForbiddenCharacter('👩\n');

    // Assert
    expect(forbidden).toMatchObject({
      index: 2,
      position: 2,
      message: expect.stringContaining('LINE FEED as character 2'),
    });
  });
});

describe('normalizeSingleLineText', () => {
  it.each([
    ['a decomposed é becomes the precomposed U+00E9', 'Rene\u0301e', 'Ren\u00e9e'],
    ['a decomposed Hangul syllable is composed', '\u1100\u1161', '\uAC00'],
    ['U+212B ANGSTROM SIGN becomes U+00C5', '\u212B', '\u00C5'],
    ['spaces around are trimmed', '  Ada  ', 'Ada'],
    ['Unicode spaces around are trimmed', '\u3000Ada\u00A0', 'Ada'],
    ['an emoji ZWJ sequence is kept', ' 👩‍💻 ', '👩‍💻'],
    ['compatibility characters are kept (NFC, not NFKC)', 'ﬁ ①', 'ﬁ ①'],
  ])('when %s', (_label, input, expected) => {
    // Act
    const text = normalizeSingleLineText(input);

    // Assert
    expect(text).toBe(expected);
  });
});

describe('codePointLength', () => {
  it.each([
    ['', 0],
    ['Ada', 3],
    ['é', 1],
    ['𝔄', 1],
    ['👩‍💻', 3],
  ])('when the text is "%s", then it has %i code points', (text, length) => {
    expect(codePointLength(text)).toBe(length);
  });
});

describe('isWellFormedUtf8 (RFC 3629)', () => {
  it.each([
    ['empty', ''],
    ['ASCII JSON', '7b2261223a317d'],
    ['é as C3 A9', 'c3a9'],
    ['€ (3 bytes)', 'e282ac'],
    ['😀 (4 bytes)', 'f09f9880'],
    ['U+10FFFF, the last code point', 'f48fbfbf'],
    ['a byte order mark', 'efbbbf'],
  ])('when the bytes are %s, then they are UTF-8', (_label, hex) => {
    expect(isWellFormedUtf8(Buffer.from(hex, 'hex'))).toBe(true);
  });

  it.each([
    ['Latin-1 é (E9)', '7b226e223a22e9227d'],
    ['Windows-1252 € (80)', '80'],
    ['a stray continuation byte', '41bf42'],
    ['a truncated 3-byte sequence', 'e282'],
    ['an overlong "/" (C0 AF)', 'c0af'],
    ['an overlong NUL (C0 80, "modified UTF-8")', 'c080'],
    ['an encoded surrogate U+D800 (ED A0 80, CESU-8)', 'eda080'],
    ['a code point above U+10FFFF', 'f4908080'],
    ['the bytes FE FF', 'feff'],
  ])('when the bytes are %s, then they are not UTF-8', (_label, hex) => {
    expect(isWellFormedUtf8(Buffer.from(hex, 'hex'))).toBe(false);
  });
});
