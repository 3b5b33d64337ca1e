import { domainToASCII, domainToUnicode } from 'node:url';
import { analyzeEmail } from '@hapi/address';
import { findForbiddenCharacter } from './text-rules';

/**
 * Email addresses as SMTP servers accept them in `RCPT TO`, without the SMTPUTF8 extension:
 * RFC 5321 §4.1.2 `Mailbox = Local-part "@" Domain`, with
 * - a local part of dot-atoms (`atext` characters separated by single dots; no quoted strings),
 *   at most 64 octets (RFC 5321 §4.5.3.1.1), in ASCII: a local part with other characters needs
 *   SMTPUTF8 (RFC 6531), which this service does not implement, so it is refused;
 * - a domain that is a hostname: at least two dot-separated labels of letters, digits and inner
 *   hyphens, each at most 63 characters, the last one starting with a letter. Punycode A-labels
 *   (`xn--…`) are allowed in every position, the top-level domain included (`example.xn--p1ai`),
 *   and must decode (RFC 5890 §2.3.2.1). A domain written in Unicode is converted to its ASCII form
 *   with the UTS #46 (IDNA compatibility processing) mapping of Node's `url.domainToASCII`:
 *   `bücher.example` → `xn--bcher-kva.example`, `EXAMPLE.рф` → `example.xn--p1ai`. Domains are
 *   case-insensitive (RFC 5321 §2.4) and come out in lower case; the local part keeps its case;
 * - at most 254 characters in all, after the conversion (RFC 5321 §4.5.3.1.3 path limit of 256
 *   octets, minus the angle brackets).
 *
 * Not accepted: display names (`"Ada" <ada@example.com>`), comments, lists (`a@b.c, d@e.f`),
 * address literals (`ada@[192.0.2.1]`), white space, a trailing dot, and every character that
 * `findForbiddenCharacter` refuses (CR, LF, NUL, …).
 *
 * Syntax is checked by `@hapi/address` (the joi/hapi project's RFC 5321 mailbox validator) on the
 * converted, all-ASCII address.
 */

/** The outcome of `normalizeEmailAddress`. */
export type EmailAddressResult =
  | { ok: true; /** The ASCII address to store and send to. */ address: string }
  | { ok: false; /** Why it is refused, for API clients. */ message: string };

// Inside a hostname, ASCII is limited to letters, digits, hyphens and dots; non-ASCII characters
// are left to UTS #46. Checked before `domainToASCII`, which parses a URL host and so would also
// percent-decode (`ex%41mple.com`) and read IPv4 numbers.
const NON_HOSTNAME_ASCII = /[\x00-\x2c\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]/;
const NON_ASCII = /[^\x00-\x7f]/;
// RFC 5322 §3.2.3 "specials" other than "@" and ".", and white space: what display names, comments,
// quoted strings, lists and address literals are made of. Named up front for a clearer message;
// the validator below would refuse them too.
const NOT_A_BARE_ADDRESS = /[\s"(),:;<>[\\\]]/;

/** A label that is not `xn--…`, or one that decodes to Unicode which encodes back to the same label. */
function isValidALabel(label: string): boolean {
  if (!label.startsWith('xn--')) return true;
  const unicode = domainToUnicode(label);
  return unicode !== '' && !unicode.startsWith('xn--') && domainToASCII(unicode) === label;
}

/**
 * Checks an email address and returns its normalised ASCII form (domain converted to punycode and
 * lower-cased, see above), or a message saying why it is refused. Never throws.
 *
 * - `ada@Bücher.Example` → `{ ok: true, address: 'ada@xn--bcher-kva.example' }`
 * - `üser@example.com` → `{ ok: false, message: '… needs SMTPUTF8 (RFC 6531) …' }`
 */
export function normalizeEmailAddress(input: string): EmailAddressResult {
  const refuse = (message: string): EmailAddressResult => ({ ok: false, message: `Invalid email address: ${message}` });

  const forbidden = findForbiddenCharacter(input);
  if (forbidden) return refuse(forbidden.message);
  if (NOT_A_BARE_ADDRESS.test(input)) {
    return refuse(
      'only a bare address (local-part@domain) is accepted: no display name, comment, quoted string, list, address literal or white space',
    );
  }
  const parts = input.split('@');
  if (parts.length !== 2) {
    return refuse(parts.length > 2 ? 'it contains more than one "@"' : 'it must contain one "@"');
  }
  const [local, domain] = parts;

  if (domain === '' || NON_HOSTNAME_ASCII.test(domain)) {
    return refuse('the domain must be a hostname: ASCII letters, digits, "-" and "." (or a domain name in Unicode)');
  }
  // UTS #46 processing: mapping (case folding, NFC, full-width forms), then punycode; '' if a label
  // is not valid. An `xn--` label that does not decode gives '' on Node 20 but passes unchanged on
  // Node 24, so each such label must also decode and encode back to itself.
  const asciiDomain = domainToASCII(domain);
  if (asciiDomain === '' || !asciiDomain.split('.').every(isValidALabel)) {
    return refuse(`the domain "${domain}" is not a valid internationalized domain name`);
  }

  if (NON_ASCII.test(local)) {
    const wouldBeValid = analyzeEmail(`${local}@${asciiDomain}`, { allowUnicode: true }) === null;
    return refuse(
      wouldBeValid
        ? 'the local part (before "@") contains non-ASCII characters; such addresses need the SMTPUTF8 extension (RFC 6531), which is not supported'
        : 'the local part (before "@") contains a character that is not allowed',
    );
  }

  const address = `${local}@${asciiDomain}`;
  const analysis = analyzeEmail(address, { allowUnicode: false, minDomainSegments: 2 });
  if (analysis) return refuse(analysis.error);
  return { ok: true, address };
}
