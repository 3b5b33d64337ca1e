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
  /** True when the transport says the reply code is a permanent rejection (5xx but 503). */
  permanentReply: boolean;
  /** How far the message got when the send failed. */
  stage: SendStage;
}

const AUTH_CODES = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2']);
const AUTH_REPLIES = new Set([530, 534, 535, 538]);

/**
 * The class of a failed send, from its facts alone (pure; the SMTP adapter gathers the facts).
 * Order matters: a refused login first, then any 4xx/5xx reply (a decision the server made,
 * even one that closes the connection, like 421), then the stage: without a reply, only a send
 * whose final dot was written can have been accepted.
 */
export function classifyFailure(facts: SendErrorFacts): FailureClass {
  if ((facts.code !== undefined && AUTH_CODES.has(facts.code)) || AUTH_REPLIES.has(facts.responseCode ?? 0)) {
    return 'auth';
  }
  if (facts.responseCode !== undefined && facts.responseCode >= 400) {
    return facts.permanentReply ? 'permanent' : 'transient';
  }
  // After the final dot, whatever ended the wait (a lost connection, a socket timeout, the send
  // deadline's EABORT, a garbled reply) leaves the server's decision unknown.
  if (facts.stage === 'after-final-dot') return 'unknown_outcome';
  return 'transient';
}
