/**
 * How a failed send is treated:
 * - `transient`: retry on the schedule (4xx replies, 503, connection refused/reset/timeout before
 *   the message was fully transmitted, DNS errors, a 421 greeting);
 * - `permanent`: dead-letter at once (5xx replies but 503);
 * - `unknown_outcome`: the connection was lost or timed out after the whole message was sent but
 *   before the server's final reply, so the server may have accepted it: never resend at once;
 * - `auth`: the server refused our credentials (535, EAUTH): not the message's fault, retry slowly.
 */
export type FailureClass = 'transient' | 'permanent' | 'unknown_outcome' | 'auth';

/** What the SMTP adapter knows about a failed send, without transport types. */
export interface SendErrorFacts {
  /** Transport error code, e.g. ECONNECTION, ETIMEDOUT, EDNS, EAUTH, EENVELOPE, EMESSAGE. */
  code?: string;
  /** SMTP reply code, when the server replied. */
  responseCode?: number;
  /** True when the transport says the reply code is a permanent rejection (5xx but 503). */
  permanentReply: boolean;
  /** True when the error ended the connection rather than answered a command. */
  connectionLost: boolean;
  /** True when every byte of the message, and so the final dot, had been handed to the socket. */
  messageTransmitted: boolean;
}

const AUTH_CODES = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2']);
const AUTH_REPLIES = new Set([530, 534, 535, 538]);

export function classifyFailure(facts: SendErrorFacts): FailureClass {
  if ((facts.code !== undefined && AUTH_CODES.has(facts.code)) || AUTH_REPLIES.has(facts.responseCode ?? 0)) {
    return 'auth';
  }
  // A reply, even one that closes the connection (421), is a decision the server made.
  if (facts.responseCode !== undefined && facts.responseCode >= 400) {
    return facts.permanentReply ? 'permanent' : 'transient';
  }
  // A send aborted at its deadline (EABORT) after the whole message went out is as unknown as a lost connection.
  if (facts.messageTransmitted && (facts.connectionLost || facts.code === 'ETIMEDOUT' || facts.code === 'EABORT')) {
    return 'unknown_outcome';
  }
  return 'transient';
}
