import { normalizeEmailAddress } from '../src/email-address';

/** 254 characters: the longest address allowed, with hostname labels of at most 63 characters. */
const LONGEST = `a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(56)}.com`;

describe('normalizeEmailAddress', () => {
  describe('when the address is valid ASCII, then it is accepted as given (domain in lower case)', () => {
    it.each([
      ['a simple address', 'ada@example.com', 'ada@example.com'],
      [
        'dots, a plus tag and subdomains',
        'ada.lovelace+orders@mail.example.co.uk',
        'ada.lovelace+orders@mail.example.co.uk',
      ],
      ['all RFC 5321 atext characters', "!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com"],
      ['a mixed-case local part, kept, and domain, lowered', 'Ada.L@Mail.Example.COM', 'Ada.L@mail.example.com'],
      ['a digit-only label and an inner hyphen', 'ada@123.my-shop.example', 'ada@123.my-shop.example'],
      ['254 characters', LONGEST, LONGEST],
    ])('%s: %s', (_label, input, expected) => {
      expect(normalizeEmailAddress(input)).toEqual({ ok: true, address: expected });
    });
  });

  describe('when the domain has punycode labels (xn--) in any position, then it is accepted', () => {
    it.each([
      ['the top-level domain (.рф)', 'user@example.xn--p1ai', 'user@example.xn--p1ai'],
      ['every label (пример.рф)', 'user@xn--e1afmkfd.xn--p1ai', 'user@xn--e1afmkfd.xn--p1ai'],
      ['the second-level domain (bücher)', 'user@xn--bcher-kva.example', 'user@xn--bcher-kva.example'],
      ['a subdomain', 'user@xn--bcher-kva.shop.example', 'user@xn--bcher-kva.shop.example'],
      ['a long punycode TLD (.みんな)', 'user@example.xn--q9jyb4c', 'user@example.xn--q9jyb4c'],
      ['an upper-case A-label', 'user@XN--BCHER-KVA.example', 'user@xn--bcher-kva.example'],
    ])('%s: %s', (_label, input, expected) => {
      expect(normalizeEmailAddress(input)).toEqual({ ok: true, address: expected });
    });
  });

  describe('when the domain is in Unicode, then it is converted to punycode by UTS #46', () => {
    it.each([
      ['a German domain', 'user@bücher.example', 'user@xn--bcher-kva.example'],
      ['a Cyrillic TLD', 'user@example.рф', 'user@example.xn--p1ai'],
      ['a fully Cyrillic domain', 'user@пример.рф', 'user@xn--e1afmkfd.xn--p1ai'],
      ['upper case (case-folded)', 'user@BÜCHER.Example', 'user@xn--bcher-kva.example'],
      ['decomposed ü (u + U+0308), NFC first', 'user@bu\u0308cher.example', 'user@xn--bcher-kva.example'],
      ['ß, kept (non-transitional processing)', 'user@faß.de', 'user@xn--fa-hia.de'],
      ['full-width letters and an ideographic full stop', 'user@ｅｘａｍｐｌｅ。com', 'user@example.com'],
      ['a Japanese domain', 'user@例え.テスト', 'user@xn--r8jz45g.xn--zckzah'],
      ['an Arabic domain', 'user@مثال.إختبار', 'user@xn--mgbh0fb.xn--kgbechtv'],
    ])('%s: %s → %s', (_label, input, expected) => {
      expect(normalizeEmailAddress(input)).toEqual({ ok: true, address: expected });
    });
  });

  describe('when the address is not a bare, valid RFC 5321 mailbox, then it is refused with a reason', () => {
    it.each([
      ['a display name', '"Ada" <ada@example.com>', 'only a bare address'],
      ['a display name without quotes', 'Ada <ada@example.com>', 'only a bare address'],
      ['a list (comma)', 'a@b.example, d@e.example', 'only a bare address'],
      ['a list (semicolon)', 'a@b.example;d@e.example', 'only a bare address'],
      ['a comment', 'ada(home)@example.com', 'only a bare address'],
      ['a quoted local part', '"ada lovelace"@example.com', 'only a bare address'],
      ['an address literal', 'ada@[192.0.2.1]', 'only a bare address'],
      ['a space', 'ada lovelace@example.com', 'only a bare address'],
      ['a leading space', ' ada@example.com', 'only a bare address'],
      ['a trailing ideographic space', 'ada@example.com\u3000', 'only a bare address'],
      ['CR LF and a header', 'ada@example.com\r\nBcc: x@evil.example', 'U+000D CARRIAGE RETURN'],
      ['LF', 'ada@example.com\n', 'U+000A LINE FEED'],
      ['NUL', 'ada\u0000@example.com', 'U+0000 NULL'],
      ['ESC', 'ada\u001b@example.com', 'U+001B ESCAPE'],
      ['C1 U+0085', 'ada@example.com\u0085', 'U+0085 NEXT LINE'],
      ['U+202E RIGHT-TO-LEFT OVERRIDE', 'ada@\u202Emoc.elpmaxe', 'U+202E'],
      ['U+2066 LEFT-TO-RIGHT ISOLATE', 'ada\u2066@example.com', 'U+2066'],
      ['no "@"', 'not-an-email', 'one "@"'],
      ['two "@"', 'ada@home@example.com', 'more than one "@"'],
      ['no local part', '@example.com', 'local part'],
      ['no domain', 'ada@', 'hostname'],
      ['an empty string', '', 'one "@"'],
      ['a local part with two dots in a row', 'ada..l@example.com', 'local part'],
      ['a local part starting with a dot', '.ada@example.com', 'local part'],
      ['a 65-octet local part', `${'a'.repeat(65)}@example.com`, 'local part too long'],
      ['255 characters', `a${LONGEST}`, 'too long'],
      ['a domain without a top-level domain', 'ada@example', 'segments'],
      ['a trailing dot', 'ada@example.com.', 'empty'],
      ['an empty label', 'ada@example..com', 'empty'],
      ['a label of 64 characters', `ada@${'b'.repeat(64)}.com`, 'too long'],
      ['a label starting with a hyphen', 'ada@-example.com', 'invalid character'],
      ['a label ending with a hyphen', 'ada@example-.com', 'invalid character'],
      ['an underscore', 'ada@ex_ample.com', 'hostname'],
      ['a percent-encoding', 'ada@ex%41mple.com', 'hostname'],
      ['a numeric top-level domain', 'ada@example.123', 'domain'],
      ['an IPv4 address', 'ada@192.0.2.1', 'tld'],
      ['an invalid punycode label', 'ada@xn--zz.example', 'not a valid internationalized domain name'],
      ['an empty punycode label', 'ada@example.xn--', 'not a valid internationalized domain name'],
      ['an invalid punycode top-level domain', 'ada@example.xn--zz', 'not a valid internationalized domain name'],
      ['a punycode label of ASCII only', 'ada@xn--abc-.example', 'not a valid internationalized domain name'],
      [
        'a right-to-left label ending in Latin (RFC 5893 bidi rule)',
        'ada@\u05D0a.example',
        'not a valid internationalized domain name',
      ],
    ])('%s: %j', (_label, input, reason) => {
      // Act
      const result = normalizeEmailAddress(input);

      // Assert
      expect(result.ok).toBe(false);
      const { message } = result as { message: string };
      expect(message).toMatch(/^Invalid email address: /);
      expect(message.toLowerCase()).toContain(reason.toLowerCase());
    });
  });

  describe('when the local part is not ASCII, then it is refused, naming SMTPUTF8 (RFC 6531)', () => {
    it.each([
      ['a German local part', 'üser@example.com'],
      ['with a Unicode domain too', 'üser@bücher.example'],
      ['a Cyrillic local part', 'пользователь@example.xn--p1ai'],
      ['a decomposed ü', 'u\u0308ser@example.com'],
      ['an emoji', '👩‍💻@example.com'],
    ])('%s: %s', (_label, input) => {
      // Act
      const result = normalizeEmailAddress(input);

      // Assert
      expect(result).toEqual({ ok: false, message: expect.stringContaining('SMTPUTF8') });
    });

    it('when the non-ASCII local part is invalid anyway, then SMTPUTF8 is not blamed', () => {
      expect(normalizeEmailAddress('ü..ser@example.com')).toEqual({
        ok: false,
        message: expect.not.stringContaining('SMTPUTF8'),
      });
    });
  });
});
