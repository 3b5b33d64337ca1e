import { findForbiddenCharacter, normalizeEmailAddress } from '@order-mail/shared/contract';

/**
 * How the suppression list names an address, so that `Ada@Example.COM` typed by an operator and
 * `Ada@example.com` in an order are the same entry while `ada@example.com` is another:
 * - the domain is compared case-insensitively (RFC 5321 §2.4), in its ASCII form (`bücher.example`
 *   and `xn--bcher-kva.example` are one domain: UTS #46, as the order API normalises addresses);
 * - the local part is compared as given, case included: RFC 5321 §2.4 leaves its meaning to the
 *   receiving host, and a list that merged `Ada` and `ada` could silence a different person.
 *
 * `key` is what the database hashes (`address_hash(key)`), `domain` the ASCII domain in lower case.
 */
export interface SuppressionKey {
  key: string;
  domain: string;
}

/**
 * The suppression key of `address` (see {@link SuppressionKey}), or why the address is refused:
 * the same rules as an order's customer email (`normalizeEmailAddress`: a bare address, ASCII
 * local part, a hostname for a domain). Never throws.
 *
 * - `Ada@Bücher.Example` → `{ ok: true, key: 'Ada@xn--bcher-kva.example', domain: 'xn--bcher-kva.example' }`
 * - `not an address` → `{ ok: false, message: 'Invalid email address: …' }`
 */
export function suppressionKeyOf(address: string): ({ ok: true } & SuppressionKey) | { ok: false; message: string } {
  const normalized = normalizeEmailAddress(address);
  if (!normalized.ok) return normalized;
  const at = normalized.address.lastIndexOf('@');
  return { ok: true, key: normalized.address, domain: normalized.address.slice(at + 1) };
}

/**
 * A domain as the suppression list stores it (`SuppressionKey.domain`: ASCII, lower case), for
 * filtering by domain, or why it is refused (the domain rules of `suppressionKeyOf`). Never throws.
 *
 * - `Bücher.Example` → `{ ok: true, domain: 'xn--bcher-kva.example' }`
 * - `ada@example.com` → `{ ok: false, message: 'Invalid domain: give the domain alone, …' }`
 */
export function suppressionDomainOf(domain: string): { ok: true; domain: string } | { ok: false; message: string } {
  if (domain.includes('@')) {
    return {
      ok: false,
      message: 'Invalid domain: give the domain alone, without a local part and "@" (e.g. example.com)',
    };
  }
  const key = suppressionKeyOf(`postmaster@${domain}`);
  if (key.ok) return { ok: true, domain: key.domain };
  return { ok: false, message: key.message.replace(/^Invalid email address: /, 'Invalid domain: ') };
}

/** Longest reason of a manual entry, in characters (UTF-16 code units, as JSON and JavaScript count them). */
export const MAX_SUPPRESSION_REASON_LENGTH = 500;

/**
 * Why `reason` cannot be a manual entry's reason, or null: it must say something (not empty or
 * blank), in at most `MAX_SUPPRESSION_REASON_LENGTH` characters, on one line (`findForbiddenCharacter`:
 * no control, line-break or bidirectional override characters, so it cannot forge a log line).
 * The admin API and the CLI check the same rule.
 */
export function suppressionReasonProblem(reason: string): string | null {
  if (reason.trim() === '') return 'must not be empty or blank: say why the address is suppressed';
  if (reason.length > MAX_SUPPRESSION_REASON_LENGTH) {
    return `must be at most ${MAX_SUPPRESSION_REASON_LENGTH} characters, got ${reason.length}`;
  }
  const forbidden = findForbiddenCharacter(reason);
  return forbidden ? `must be one line of text: ${forbidden.message}` : null;
}

/**
 * The suppression key of a recipient the mailer sends to (`suppressionKeyOf`), never refused: the
 * order API normalised the address already, and should one ever not parse it is keyed as it is
 * (its domain the text after the last "@", in lower case), so it can still be suppressed and
 * found. The worker's claim, a rejection's suppression and a replay's check all key so.
 */
export function recipientKeyOf(address: string): SuppressionKey {
  const key = suppressionKeyOf(address);
  if (key.ok) return { key: key.key, domain: key.domain };
  return { key: address, domain: address.slice(address.lastIndexOf('@') + 1).toLowerCase() };
}

/** Where a suppression came from: the SMTP server refused the recipient, or an operator added it. */
export const SUPPRESSION_ORIGINS = ['smtp_rejection', 'manual'] as const;
export type SuppressionOrigin = (typeof SUPPRESSION_ORIGINS)[number];

/** One address on the suppression list, as the admin API shows it. */
export interface Suppression {
  /** Paging cursor: entries are listed by it, oldest first. */
  id: number;
  /** The address as it was added (its domain in ASCII); null once erased (only the hash is kept). */
  address: string | null;
  domain: string;
  origin: SuppressionOrigin;
  /** The operator's reason, or for an SMTP rejection a sentence naming the reply. */
  reason: string;
  smtpCode: number | null;
  smtpResponse: string | null;
  /** The order whose send was refused (SMTP rejections only). */
  orderId: string | null;
  /** `mailer:<worker id>` or `admin:<token id>`. */
  createdBy: string;
  createdAt: Date;
}

/** What a permanent rejection of the recipient adds to the suppression list (in the ledger's transaction). */
export interface RecipientRejection {
  /** The recipient's address as sent (`normalizeEmailAddress`'s form). */
  address: string;
  orderId: string;
  smtpCode: number | undefined;
  smtpResponse: string | undefined;
  /** `mailer:<worker id>`. */
  createdBy: string;
}

/** Which entries `SuppressionList.list` returns: at most `limit`, with `id` above `after`, oldest first. */
export interface SuppressionQuery {
  /** Only this address (compared by `suppressionKeyOf`'s rule). */
  address?: string;
  /** Only addresses at this domain (ASCII, lower case; a Unicode domain is converted). */
  domain?: string;
  /** Paging cursor: the `nextCursor` of the previous page. */
  after?: number;
  limit: number;
}

/**
 * The suppression list as the admin API, the CLI and the replay job use it; the PostgreSQL
 * adapter implements it (`adapters/db/suppressions-pg.ts`). The worker does not call it: the
 * ledger's claim reads the list in its own transaction. Addresses are compared by
 * `suppressionKeyOf`'s rule; methods reject with `asDatabaseError`'s errors when the database is away.
 */
export interface SuppressionList {
  /** One page, oldest first; `nextCursor` is null on the last page. */
  list(query: SuppressionQuery): Promise<{ suppressions: Suppression[]; nextCursor: number | null }>;
  /**
   * Adds `address` by hand (`origin` `manual`). An address already on the list keeps its entry:
   * `created` is false and `suppression` is the existing entry.
   */
  add(entry: {
    address: string;
    reason: string;
    createdBy: string;
  }): Promise<{ suppression: Suppression; created: boolean }>;
  /** Removes `address` from the list (reactivates it); resolves false when it was not on it. */
  remove(address: string): Promise<boolean>;
  /** Which of `addresses` are on the list, as given in `addresses`. */
  suppressedAmong(addresses: readonly string[]): Promise<Set<string>>;
}
