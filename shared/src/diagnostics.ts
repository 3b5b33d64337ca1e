/** Pieces of error messages that operators read: what failed, where, without secrets. */

/**
 * The error's code and, for a socket error, the address it was about: `ECONNREFUSED 127.0.0.1:5432`,
 * `3D000`, `ENOTFOUND db.internal`; empty when the error has no code.
 */
export function describeErrorCause(err: unknown): string {
  const e = (err instanceof AggregateError && err.errors.length > 0 ? err.errors[0] : err) as {
    code?: unknown;
    address?: unknown;
    port?: unknown;
    hostname?: unknown;
  } | null;
  if (!e || typeof e.code !== 'string') return '';
  if (typeof e.address === 'string') return `${e.code} ${e.address}${e.port !== undefined ? `:${e.port}` : ''}`;
  if (typeof e.hostname === 'string') return `${e.code} ${e.hostname}`;
  return e.code;
}

/**
 * `url` with its password (and any `password`-like query parameter) replaced by `***`, for logs;
 * host, port, user and database stay, as they are what an operator needs to fix it.
 */
export function maskUrlPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass/i.test(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    // Not parseable as a URL: mask whatever sits between `user:` and `@`.
    return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
  }
}

/**
 * Masks an address for logs: `ada@example.com` → `a***@example.com` (first character and the
 * domain kept, so an operator can tell recipients and providers apart); `***` if it has no local
 * part. Lives here rather than beside the logger because domain code calls it, and this module
 * loads nothing (the logger loads pino).
 */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${address[0]}***${address.slice(at)}`;
}

// `local@domain` inside free text (SMTP replies quote it as `<ada@example.com>`): a local part of
// characters that cannot delimit an address, then a hostname.
const ADDRESS_IN_TEXT =
  /[^\s<>"'(),;:@[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*/g;

/**
 * `text` with every address in it masked as `maskEmail` does, for log fields that carry text
 * from outside: an SMTP server's reply often quotes the recipient (Postfix: `550 5.1.1
 * <ada@example.com>: Recipient address rejected`) → `550 5.1.1 <a***@example.com>: …`.
 * `undefined` stays `undefined`.
 */
export function maskEmailsIn<T extends string | undefined>(text: T): T {
  return (text === undefined ? text : text.replace(ADDRESS_IN_TEXT, (address) => maskEmail(address))) as T;
}
