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

export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  messageId: string;
  html: string;
  text: string;
  headers: Record<string, string>;
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
}
