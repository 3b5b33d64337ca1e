import type { FailureClass } from './vocabulary';

export type { FailureClass } from './vocabulary';

/**
 * How far one message got through its SMTP transaction when the send failed, seen from the
 * client. RFC 5321 §4.1.1.4: the client sends the content only after the server answered DATA
 * with 354, and the terminating `<CRLF>.<CRLF>` (the "final dot") is what makes the server
 * process the message; its reply to the final dot says whether it took responsibility (§6.1).
 * - `before-data`: no 354 yet: connecting, the greeting, EHLO, STARTTLS, AUTH, MAIL FROM,
 *   RCPT TO, DATA, or still waiting for a pooled connection. The server holds no message.
 * - `content`: 354 came and the content was being written, but the final dot had not been
 *   written to the socket. A server whose connection is lost mid-transaction must cancel it
 *   (§4.1.1.10), so nothing can have been accepted.
 * - `after-final-dot`: the final dot had been written to the socket; only the reply was missing.
 *   This is the window RFC 1047 ("Duplicate messages and SMTP") describes: the server may have
 *   accepted the message.
 */
export type SendStage = 'before-data' | 'content' | 'after-final-dot';

/** What the SMTP adapter knows about a failed send, without transport types. */
export interface SendErrorFacts {
  /** Transport error code, e.g. ECONNECTION, ETIMEDOUT, EABORT, EDNS, EAUTH, EENVELOPE, EMESSAGE. */
  code?: string;
  /** SMTP reply code, when the server replied. */
  responseCode?: number;
  /** The server's whole reply, e.g. `421 4.7.0 rate limit exceeded`, when it replied. */
  response?: string;
  /** True when the transport says the reply code is a permanent rejection (5xx but 503). */
  permanentReply: boolean;
  /** How far the message got when the send failed. */
  stage: SendStage;
}

const AUTH_CODES = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2']);
const AUTH_REPLIES = new Set([530, 534, 535, 538]);

/**
 * The reply codes a relay turns a send away with when we send too fast: 421 (service not
 * available, closing), 451 (local error, aborted) and 454 (temporary failure; Amazon SES answers
 * `454 Throttling failure: Maximum sending rate exceeded.`). Issue #15 names these three.
 */
const RATE_LIMIT_REPLIES = new Set([421, 451, 454]);

// RFC 3463 §2: `class.subject.detail` right after the reply code (RFC 2034 §4: "550 5.1.1 …").
const ENHANCED_STATUS = /^\d{3}[ -]([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)/;

/** An RFC 3463 enhanced status code, e.g. `5.1.1` as `{ klass: 5, subject: 1, detail: 1 }`. */
export interface EnhancedStatus {
  klass: number;
  subject: number;
  detail: number;
}

/** The enhanced status code right after the reply code of `response` (`421 4.7.0 …`), or null when it has none. */
export function enhancedStatusOf(response: string | undefined): EnhancedStatus | null {
  const match = response === undefined ? null : ENHANCED_STATUS.exec(response.trimStart());
  return match ? { klass: Number(match[1]), subject: Number(match[2]), detail: Number(match[3]) } : null;
}

// "rate" as a word (`rate limit`, `Rate-limited`, `sending rate exceeded`, `rates`, `ratelimit…`),
// never inside another word (`generate`, `separate`, `moderated`).
const RATE_WORD = /\brate(s|limit\w*)?\b/i;

// Greylisting asks for a retry in minutes, for one recipient's domain: not a reason to pause every send.
const GREYLISTING = /\bgr[ae]y-?list/i;

/**
 * Whether a reply says the relay turns us away for our sending rate: a 421, 451 or 454 whose text
 * says "rate" (as a word, any case) or whose enhanced status code is `4.7.x` (RFC 3463 §3.8,
 * "security or policy status": the class relays throttle with, e.g. `421 4.7.0 Too many
 * connections`, `451 4.7.500 Server busy`), unless the text says greylisting (`451 4.7.1
 * Greylisted, come back later` asks for minutes, for one domain; it stays an ordinary transient
 * failure on the retry schedule). Pure; `test/unit/classify-failure.test.ts` is its table.
 */
export function isRateLimitReply(responseCode: number | undefined, response: string | undefined): boolean {
  if (responseCode === undefined || !RATE_LIMIT_REPLIES.has(responseCode)) return false;
  const text = response ?? '';
  if (GREYLISTING.test(text)) return false;
  const enhanced = enhancedStatusOf(text);
  return (enhanced?.klass === 4 && enhanced.subject === 7) || RATE_WORD.test(text);
}

/**
 * The class of a failed send, from its facts alone (pure; the SMTP adapter gathers the facts).
 * Order matters: a refused login first, then a rate-limit reply (`isRateLimitReply`), then any
 * 4xx/5xx reply (a decision the server made, even one that closes the connection, like 421), then
 * the stage: without a reply, only a send whose final dot was written can have been accepted.
 */
export function classifyFailure(facts: SendErrorFacts): FailureClass {
  if ((facts.code !== undefined && AUTH_CODES.has(facts.code)) || AUTH_REPLIES.has(facts.responseCode ?? 0)) {
    return 'auth';
  }
  // A 4xx reply: the server took nothing, so sending again after a pause cannot duplicate.
  if (isRateLimitReply(facts.responseCode, facts.response)) return 'rate_limited';
  if (facts.responseCode !== undefined && facts.responseCode >= 400) {
    return facts.permanentReply ? 'permanent' : 'transient';
  }
  // After the final dot, whatever ended the wait (a lost connection, a socket timeout, the send
  // deadline's EABORT, a garbled reply) leaves the server's decision unknown.
  if (facts.stage === 'after-final-dot') return 'unknown_outcome';
  return 'transient';
}
