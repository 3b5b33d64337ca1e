import {
  AppError,
  ErrorCodes,
  isAppError,
  maskEmail,
  orderConfirmedEventSchema,
  toFieldIssues,
  type Logger,
  type OrderConfirmedEvent,
} from '@order-mail/shared';
import { buildOrderConfirmationEmail } from './order-email';
import { SendFailureError, type MailTransport, type SendFailure, type TemplateRenderer } from './ports';

/** What the queue entry point should do with a message once the worker is done with it. */
export type DeliveryOutcome =
  | { action: 'ack'; orderId: string; eventId: string; smtpResponse: string }
  | { action: 'retry'; reason: string; failure: SendFailure; orderId: string; eventId: string }
  | {
      action: 'dead-letter';
      reason: string;
      detail: string;
      failure?: SendFailure;
      orderId?: string;
      eventId?: string;
    };

export interface MailWorkerDeps {
  transport: MailTransport;
  templates: TemplateRenderer;
  logger: Logger;
  /** `From:` of every email, e.g. `Shop <orders@shop.example>`. */
  mailFrom: string;
  /** Right-hand side of generated Message-IDs. */
  messageIdDomain: string;
}

export interface MailWorker {
  process(content: Buffer): Promise<DeliveryOutcome>;
}

/** Turns one order-confirmed message into one sent email, or says why it cannot be sent. */
export function createMailWorker(deps: MailWorkerDeps): MailWorker {
  const { logger } = deps;

  function parseEvent(content: Buffer): OrderConfirmedEvent {
    let json: unknown;
    try {
      json = JSON.parse(content.toString('utf8'));
    } catch (err) {
      throw new AppError(ErrorCodes.INVALID_EVENT, `Message body is not JSON: ${(err as Error).message}`);
    }
    const result = orderConfirmedEventSchema.safeParse(json);
    if (!result.success) {
      const details = toFieldIssues(result.error);
      const summary = details.map((d) => `${d.path || '(root)'}: ${d.message}`).join('; ');
      throw new AppError(ErrorCodes.INVALID_EVENT, `Message does not match the event schema: ${summary}`, { details });
    }
    return result.data;
  }

  return {
    async process(content) {
      let event: OrderConfirmedEvent;
      try {
        event = parseEvent(content);
      } catch (err) {
        return { action: 'dead-letter', reason: 'invalid_event', detail: (err as Error).message };
      }
      const { orderId } = event.order;
      const { eventId, correlationId } = event;
      const log = logger.child({ orderId, eventId, correlationId });

      let html: string;
      let text: string;
      const email = buildOrderConfirmationEmail(event, deps.messageIdDomain);
      try {
        ({ html, text } = deps.templates.render(email.template, email.model));
      } catch (err) {
        const reason = isAppError(err, ErrorCodes.TEMPLATE_NOT_FOUND) ? 'unknown_template' : 'render_failed';
        log.error({ err, template: email.template }, 'cannot render email');
        return { action: 'dead-letter', reason, detail: (err as Error).message, orderId, eventId };
      }

      try {
        const receipt = await deps.transport.send({
          from: deps.mailFrom,
          to: email.to,
          subject: email.subject,
          messageId: email.messageId,
          html,
          text,
          headers: { 'X-Order-Id': orderId, 'X-Correlation-Id': correlationId },
        });
        log.info({ recipient: maskEmail(email.to), smtpResponse: receipt.response }, 'email sent');
        return { action: 'ack', orderId, eventId, smtpResponse: receipt.response };
      } catch (err) {
        if (!(err instanceof SendFailureError)) throw err;
        const { failure } = err;
        log.warn({ failure }, 'send failed');
        return failure.failureClass === 'permanent'
          ? { action: 'dead-letter', reason: 'smtp_rejected', detail: failure.message, failure, orderId, eventId }
          : { action: 'retry', reason: 'smtp_transient', failure, orderId, eventId };
      }
    },
  };
}
