import { createHash } from 'node:crypto';
import { apiKeyOf, findApiKey, keyIdOf, parseApiKeys } from '../../src/domain/api-keys';

const KEY_A = 'a'.repeat(32);
const KEY_B = 'B-key_with.all~the+b64token/chars==';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('API keys', () => {
  describe('key ids', () => {
    it('when a key is given raw or as its SHA-256, then its id is the same: the first 8 hex digits of the SHA-256', () => {
      // Act
      const raw = parseApiKeys(KEY_A);
      const hashed = parseApiKeys(`sha256:${sha256(KEY_A)}`);

      // Assert
      expect(raw).toEqual({ keys: [{ id: sha256(KEY_A).slice(0, 8), digest: Buffer.from(sha256(KEY_A), 'hex') }] });
      expect(hashed).toEqual(raw);
      expect(keyIdOf(Buffer.from(sha256(KEY_A), 'hex'))).toBe(sha256(KEY_A).slice(0, 8));
    });
  });

  describe('findApiKey', () => {
    const keys = [apiKeyOf(KEY_A), apiKeyOf(KEY_B)];

    it.each([
      ['the first key', KEY_A, 0],
      ['the second key', KEY_B, 1],
    ])('when the token is %s, then that key is found', (_what, token, index) => {
      expect(findApiKey(keys, token)).toBe(keys[index]);
    });

    it.each([
      ['empty', ''],
      ['one character short', KEY_A.slice(1)],
      ['one character long', `${KEY_A}a`],
      ['much longer than any key', 'a'.repeat(10_000)],
      ['a key in another case', KEY_B.toUpperCase()],
      ["a key's SHA-256", sha256(KEY_A)],
    ])('when the token is %s, then no key is found (and nothing throws on a length mismatch)', (_what, token) => {
      expect(findApiKey(keys, token)).toBeUndefined();
    });

    it('when no key is configured, then no token is found', () => {
      expect(findApiKey([], KEY_A)).toBeUndefined();
    });
  });

  describe('parseApiKeys', () => {
    it('when a key uses every character of RFC 6750 b64token, then it is accepted', () => {
      expect(parseApiKeys(KEY_B)).toEqual({ keys: [apiKeyOf(KEY_B)] });
    });

    it.each([
      ['a space inside', `${'k'.repeat(20)} ${'k'.repeat(20)}`],
      ['a quote', `${'k'.repeat(32)}"`],
      ['a non-ASCII letter', `${'k'.repeat(32)}é`],
      ['an = not at the end', `${'k'.repeat(16)}=${'k'.repeat(16)}`],
    ])('when a key holds %s, then it is refused as no Bearer token can carry it', (_what, entry) => {
      expect(parseApiKeys(entry)).toEqual({
        problems: [expect.stringMatching(/^entry 1 of 1 holds characters a Bearer token cannot carry/)],
      });
    });
  });
});
