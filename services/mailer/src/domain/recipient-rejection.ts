import { enhancedStatusOf } from './classify-failure';

/** What the SMTP adapter knows about a refusal, for deciding whether it condemns the address. */
export interface RefusalFacts {
  /** The SMTP command the server refused, as nodemailer names it: `RCPT TO`, `MAIL FROM`, `DATA`, … */
  command?: string;
  /** The reply code, e.g. 550. */
  responseCode?: number;
  /** The whole reply line, e.g. `550 5.1.1 <ada@example.com>: user unknown`. */
  response?: string;
}

/** Reply codes that refuse a recipient for good when they answer `RCPT TO` (RFC 5321 §4.2.2, §4.2.3). */
const RCPT_REJECTIONS = new Set([
  550, // mailbox unavailable (not found, no access)
  551, // user not local
  553, // mailbox name not allowed
]);

// RFC 3463 §3.2: X.1.7 and X.1.8 are about the sender's address, not the recipient's.
const SENDER_DETAILS = new Set([7, 8]);

/**
 * Whether a refusal says the recipient's address is dead, so that it goes on the suppression list
 * (Postmark's "hard bounce", SES's "permanent bounce"). Pure; the table in
 * `test/unit/recipient-rejection.test.ts` is its specification.
 *
 * - With an enhanced status code (RFC 3463), that code decides: `5.1.x` (addressing status: bad
 *   mailbox, bad system, bad syntax, moved, …) condemns the address, whatever command it
 *   answered, except `5.1.7` and `5.1.8`, which are about our sender address. Any other code
 *   does not, even as a 550 to `RCPT TO`: `550 5.7.1 relaying denied` or a block list's
 *   `550 5.7.1 client host blocked` is about us, and `552 5.2.2 mailbox full` may pass.
 * - Without one, a 550, 551 or 553 in reply to `RCPT TO` condemns it (RFC 5321 §4.2.2).
 * - Anything else does not: no reply, 4xx replies (a 4xx with a 5.x.x code too), refusals of `MAIL FROM` or `DATA` without a 5.1.x code.
 */
export function isRecipientRejection(facts: RefusalFacts): boolean {
  if ((facts.responseCode ?? 0) < 500) return false;
  const enhanced = enhancedStatusOf(facts.response);
  if (enhanced) {
    const { klass, subject, detail } = enhanced;
    return klass === 5 && subject === 1 && !SENDER_DETAILS.has(detail);
  }
  return facts.command === 'RCPT TO' && RCPT_REJECTIONS.has(facts.responseCode ?? 0);
}
