import { hash, timingSafeEqual } from 'node:crypto';

/**
 * One key that may post orders, as the order API holds it: never the key itself, only its SHA-256
 * and a short id derived from it.
 */
export interface ApiKey {
  /**
   * The first 8 hex digits of the key's SHA-256: what logs, metrics (`key_id`) and the rate limit
   * name a key by. Not secret (it cannot be turned back into the key), the same whether
   * `ORDER_API_KEYS` holds the key or its `sha256:` form.
   */
  id: string;
  /** The key's SHA-256, 32 bytes. */
  digest: Buffer;
}

/** The fewest characters a key may have: 32 random characters are far beyond guessing. */
const MIN_KEY_LENGTH = 32;

/** The prefix of an `ORDER_API_KEYS` entry that gives a key's SHA-256 instead of the key. */
const SHA256_PREFIX = 'sha256:';

/**
 * RFC 6750 §2.1's `b64token`, the only characters a Bearer credential may hold: a key outside it
 * could never be sent in `Authorization: Bearer <key>`.
 */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/**
 * SHA-256 of a key's UTF-8 bytes (32 bytes). Node's one-shot `crypto.hash`: every request to
 * `POST /orders` hashes its token, and it costs well under half of a `createHash` object's
 * update and digest.
 */
export function keyDigest(key: string): Buffer {
  return hash('sha256', key, 'buffer');
}

/** The key id of a digest: its first 8 hex digits (see `ApiKey.id`). */
export function keyIdOf(digest: Buffer): string {
  return digest.subarray(0, 4).toString('hex');
}

/** The `ApiKey` of a raw key (no length check: see `parseApiKeys`). */
export function apiKeyOf(key: string): ApiKey {
  const digest = keyDigest(key);
  return { id: keyIdOf(digest), digest };
}

/**
 * Parses `ORDER_API_KEYS`: comma-separated entries, each either a key (at least `MIN_KEY_LENGTH`
 * characters of RFC 6750's `b64token` syntax) or `sha256:<64 hex digits>`, the SHA-256 of a key's
 * UTF-8 bytes (so the environment need not hold the secret). Spaces around an entry are ignored.
 *
 * Returns the keys, or one problem per bad entry, naming it by its position (`entry 2 of 3`)
 * and never quoting it: an entry may be a secret. An empty entry, a short key, a `sha256:` entry
 * that is not 64 hex digits and a key given twice are problems.
 */
export function parseApiKeys(value: string): { keys: ApiKey[] } | { problems: string[] } {
  const entries = value.split(',').map((e) => e.trim());
  const problems: string[] = [];
  const keys: ApiKey[] = [];
  const positionOf = new Map<string, number>();
  entries.forEach((entry, index) => {
    const where = `entry ${index + 1} of ${entries.length}`;
    let key: ApiKey;
    if (entry === '') {
      problems.push(`${where} is empty`);
      return;
    } else if (entry.toLowerCase().startsWith(SHA256_PREFIX)) {
      const hex = entry.slice(SHA256_PREFIX.length);
      if (!SHA256_HEX.test(hex)) {
        problems.push(`${where} must be sha256: followed by 64 hex digits (the SHA-256 of a key)`);
        return;
      }
      const digest = Buffer.from(hex, 'hex');
      key = { id: keyIdOf(digest), digest };
    } else if (entry.length < MIN_KEY_LENGTH) {
      problems.push(
        `${where} is a key of ${entry.length} characters; a key needs at least ${MIN_KEY_LENGTH} (or give its SHA-256 as sha256:<64 hex digits>)`,
      );
      return;
    } else if (!B64TOKEN.test(entry)) {
      problems.push(
        `${where} holds characters a Bearer token cannot carry; a key may hold A-Z a-z 0-9 - . _ ~ + / and trailing = (RFC 6750 §2.1)`,
      );
      return;
    } else {
      key = apiKeyOf(entry);
    }
    const hex = key.digest.toString('hex');
    const earlier = positionOf.get(hex);
    if (earlier !== undefined) {
      problems.push(`${where} is the same key as entry ${earlier}`);
      return;
    }
    positionOf.set(hex, index + 1);
    keys.push(key);
  });
  return problems.length > 0 ? { problems } : { keys };
}

/**
 * The configured key that `token` is, if any, in constant time: the token is hashed with SHA-256
 * and its digest compared with `crypto.timingSafeEqual` against every key's digest, all of them,
 * without stopping at a match. So how long it takes does not tell whether, or which, key matched,
 * nor how much of a key a guess got right (the digests have a fixed length whatever was sent).
 */
export function findApiKey(keys: readonly ApiKey[], token: string): ApiKey | undefined {
  const presented = keyDigest(token);
  let found: ApiKey | undefined;
  for (const key of keys) {
    const same = timingSafeEqual(key.digest, presented);
    found = same && found === undefined ? key : found;
  }
  return found;
}
