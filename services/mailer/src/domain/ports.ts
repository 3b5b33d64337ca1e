/** What the mail worker needs from the outside world; adapters implement these. */
import type { SendErrorFacts } from './classify-failure';

export interface RenderedEmail {
  html: string;
  text: string;
}

export interface TemplateRenderer {
  /** Fills a precompiled template; throws AppError TEMPLATE_NOT_FOUND or RENDER_FAILED. */
  render(template: string, model: object): RenderedEmail;
}

/** A mailbox with a display name, e.g. `{ name: 'Ada Lovelace', address: 'ada@example.com' }`. */
export interface MailAddress {
  /** The display name (raw; the transport encodes it for the header). */
  name: string;
  address: string;
}

export interface OutgoingMail {
  from: string;
  /** The customer, with their display name: `To: Ada Lovelace <ada@example.com>`. */
  to: MailAddress;
  /** `Reply-To:` (an address or `Name <address>`); none when unset. */
  replyTo?: string;
  subject: string;
  messageId: string;
  html: string;
  text: string;
  headers: Record<string, string>;
}

/** Writing direction of a language: `rtl` for Arabic and Hebrew, `ltr` for the others shipped. */
export type TextDirection = 'ltr' | 'rtl';

/** Values a message is formatted with: texts (already formatted amounts, names) and numbers (plurals). */
export type MessageValues = Record<string, string | number>;

/** The copy of one language, as the email builder reads it (see {@link Localizer}). */
export interface LocalizedCopy {
  /** The catalogue's language, e.g. `de` for a `de-CH` customer: the HTML's `lang`. */
  language: string;
  /** The language's writing direction: the HTML's `dir`, and which side the layout starts on. */
  dir: TextDirection;
  /**
   * The message `key` of this language's catalogue formatted with `values` (ICU MessageFormat:
   * `{name}` arguments, `{count, plural, one {…} other {…}}`). Throws naming the key when the
   * catalogues have no such key or a value the message uses is missing.
   */
  t(key: string, values?: MessageValues): string;
}

/** The message catalogues (`locales/<language>.json`), compiled once; the adapter implements it. */
export interface Localizer {
  /** The languages with a catalogue, the default language first. */
  readonly languages: readonly string[];
  /**
   * The copy for a customer's BCP 47 `locale`: the best catalogue for it (`de-CH` → `de`), or the
   * default language's (`en`) when none fits.
   */
  localize(locale: string): LocalizedCopy;
}

export interface SendReceipt {
  /** The SMTP server's final reply, e.g. `250 OK: queued as 123`. */
  response: string;
  /** Its reply code, e.g. 250, if the reply starts with one. */
  responseCode: number | undefined;
}

/** A failed send as the transport saw it, with the SMTP reply if there was one. */
export interface SendFailure {
  message: string;
  responseCode?: number;
  response?: string;
  /** The SMTP command the server refused, as nodemailer names it (`RCPT TO`, `MAIL FROM`, `DATA`), if any. */
  command?: string;
  facts: SendErrorFacts;
}

export interface MailTransport {
  /** Resolves once the SMTP server accepted the message; rejects with a SendFailureError otherwise. */
  send(mail: OutgoingMail): Promise<SendReceipt>;
}

export class SendFailureError extends Error {
  constructor(readonly failure: SendFailure) {
    super(failure.message);
    this.name = 'SendFailureError';
  }
}

/**
 * The cap on sends per second shared by every mailer (SMTP_MAX_RATE): the adapter keeps the
 * count where all mailers see it (PostgreSQL). The worker takes one token before each claim.
 */
export interface SendRateLimiter {
  /**
   * Resolves once one more send fits under the cap (a token taken), waiting as long as the cap
   * needs; never sends above the cap because the count cannot be read: rejects instead when the
   * store stays unreachable (after a short wait), which the worker treats like a ledger that
   * cannot be reached (an internal error).
   */
  acquire(): Promise<void>;
}

/** What the worker measures; the metrics adapter maps it to Prometheus. */
export interface WorkerMetrics {
  /** Starts timing one render; calling the returned function records its duration. */
  startRender(): () => void;
  /**
   * Starts timing one SMTP send; calling the returned function records its duration, successful
   * or not, with the server's reply code if it replied.
   */
  startSmtpSend(): (replyCode: number | undefined) => void;
  /** An email accepted by the SMTP server, `endToEndSeconds` after the API accepted the order. */
  delivered(endToEndSeconds: number): void;
  outcomeUnknown(): void;
  /** A send the SMTP server turned away for our sending rate (a `rate_limited` failure). */
  rateLimited(): void;
  /** This worker paused its sends for `seconds` after a rate-limit reply. */
  paused(seconds: number): void;
  /** A send waited `seconds` for a token of the shared cap (SMTP_MAX_RATE). */
  waitedForSendRate(seconds: number): void;
}
