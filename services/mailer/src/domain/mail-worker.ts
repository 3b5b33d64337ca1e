import {
  AppError,
  ErrorCodes,
  isAppError,
  isWellFormedUtf8,
  maskEmail,
  ORDER_CONFIRMED_EVENT_TYPE,
  orderConfirmedEventSchema,
  toFieldIssues,
  type Logger,
  type OrderConfirmedEvent,
} from '@order-mail/shared';
import { classifyFailure } from './classify-failure';
import { idsFromBody } from './message-ids';
import type { DeliveryLedger } from './delivery-ledger';
import { buildOrderConfirmationEmail, ORDER_CONFIRMATION_TEMPLATE } from './order-email';
import { SendFailureError, type WorkerMetrics, type MailTransport, type TemplateRenderer } from './ports';
import { decideNextStep, type RetrySchedule } from './retry-policy';
import type { DeadLetterReason, ProblemClass } from './vocabulary';

export type { DeadLetterReason } from './vocabulary';

export interface FailureInfo {
  failureClass: ProblemClass;
  message: string;
  responseCode?: number;
  response?: string;
}

interface Ids {
  /** The template the message was for, once known. */
  template?: string;
  orderId?: string;
  eventId?: string;
  correlationId?: string;
}

/** What the queue entry point should do with a message once the worker is done with it. */
export type DeliveryOutcome = Ids &
  (
    | { action: 'ack'; result: 'sent' | 'duplicate_skipped'; smtpResponse?: string }
    | { action: 'retry'; delayMs: number; failures: number; failure: FailureInfo }
    | { action: 'hold'; delayMs: number; reason: 'in_progress' | 'unknown_outcome'; failure?: FailureInfo }
    | { action: 'dead-letter'; reason: DeadLetterReason; failures: number; failure: FailureInfo }
  );

/** Where a message stands, from its headers. */
export interface MessageHistory {
  /** Failed sends of this message so far (reset by a replay). */
  failures: number;
  /** The message is a replayed dead letter. */
  replayed: boolean;
}

export interface MailWorkerDeps {
  transport: MailTransport;
  templates: TemplateRenderer;
  ledger: DeliveryLedger;
  metrics: WorkerMetrics;
  logger: Logger;
  schedule: RetrySchedule;
  workerId: string;
  /** `From:` of every email, e.g. `Shop <orders@shop.example>`. */
  mailFrom: string;
  /** Right-hand side of generated Message-IDs. */
  messageIdDomain: string;
  /** Test-only fault injection: pause between the SMTP server's acceptance and the ledger's record. */
  faultPauseBeforeRecordMs?: number;
}

export interface MailWorker {
  /**
   * `log` is the caller's logger for this message (e.g. bound to its AMQP `messageId`); the
   * worker adds the order's ids to it. An invalid event's outcome carries whatever ids its body
   * has (`idsFromBody`), so its dead-letter log line joins to it.
   */
  process(content: Buffer, history: MessageHistory, log?: Logger): Promise<DeliveryOutcome>;
}

const secondsSince = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

function parseEvent(content: Buffer): OrderConfirmedEvent {
  // Decoding leniently would turn each invalid sequence into U+FFFD and mail that; a publisher
  // that sent such bytes must be fixed, so the event is dead-lettered as it is (RFC 3629).
  if (!isWellFormedUtf8(content)) {
    throw new AppError(ErrorCodes.INVALID_EVENT, 'Message body is not valid UTF-8');
  }
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

/**
 * Turns one order-confirmed message into exactly one sent email, or says why not. The ledger
 * row of the order decides whether to send at all: a `sent` order is never sent again.
 */
export function createMailWorker(deps: MailWorkerDeps): MailWorker {
  const { logger, ledger, schedule } = deps;

  return {
    async process(content, history, messageLog = logger) {
      let event: OrderConfirmedEvent;
      try {
        event = parseEvent(content);
      } catch (err) {
        const message = (err as Error).message;
        return {
          ...idsFromBody(content),
          action: 'dead-letter',
          reason: 'invalid_event',
          failures: history.failures,
          failure: { failureClass: 'invalid', message },
        };
      }
      const ids = {
        template: ORDER_CONFIRMATION_TEMPLATE,
        orderId: event.order.orderId,
        eventId: event.eventId,
        correlationId: event.correlationId,
      };
      const log = messageLog.child(ids);

      const email = buildOrderConfirmationEmail(event, deps.messageIdDomain);
      const claim = await ledger.claim({
        eventKind: ORDER_CONFIRMED_EVENT_TYPE,
        orderId: ids.orderId,
        eventId: ids.eventId,
        correlationId: ids.correlationId,
        workerId: deps.workerId,
        graceMs: schedule.unknownOutcomeGraceMs,
        messageId: email.messageId,
        replayed: history.replayed,
      });
      switch (claim.decision.kind) {
        case 'skip-sent':
          log.info({ sentAt: claim.record.sentAt }, 'already sent, acking without sending');
          return { ...ids, action: 'ack', result: 'duplicate_skipped' };
        case 'skip-dead':
          log.warn('order is dead-lettered; acking without sending (replay its dead letter to send it)');
          return { ...ids, action: 'ack', result: 'duplicate_skipped' };
        case 'wait':
          log.info({ remainingMs: claim.decision.remainingMs }, 'a send of this order may be under way, holding');
          return { ...ids, action: 'hold', delayMs: schedule.unknownOutcomeGraceMs, reason: 'in_progress' };
        case 'give-up-unknown': {
          const message = 'Outcome of the send stayed unknown after one resend';
          await ledger.markDead(claim.record.id, message);
          log.error('outcome unknown twice, dead-lettering for an operator to decide');
          return {
            ...ids,
            action: 'dead-letter',
            reason: 'outcome_unknown',
            // The dead letter's x-attempts is the ledger's count, so that both views of the order agree.
            failures: claim.record.attempts,
            failure: { failureClass: 'unknown_outcome', message },
          };
        }
        case 'send':
        case 'resend-unknown':
          break;
      }
      if (!('attempt' in claim)) throw new Error('unreachable: a send decision always has an attempt');
      const { attempt, record } = claim;
      if (claim.decision.kind === 'resend-unknown') {
        // A worker that died mid-send left no failure behind: this is where the unknown outcome is found.
        if (record.lastErrorClass !== 'unknown_outcome') deps.metrics.outcomeUnknown();
        log.warn({ attempt }, 'outcome of an earlier send is unknown; resending once with the same Message-ID');
      }

      // A resend after an unknown outcome repeats the first Message-ID, even from a re-posted event,
      // so that receivers that deduplicate on it show one email.
      const messageId = record.messageId ?? email.messageId;
      let rendered;
      const renderStarted = process.hrtime.bigint();
      try {
        rendered = deps.templates.render(email.template, email.model);
        deps.metrics.rendered(secondsSince(renderStarted));
      } catch (err) {
        const reason = isAppError(err, ErrorCodes.TEMPLATE_NOT_FOUND) ? 'unknown_template' : 'render_failed';
        const message = (err as Error).message;
        await ledger.recordFailure(record.id, attempt, { status: 'dead', outcome: 'render_failed', error: message });
        log.error({ err, template: email.template }, 'cannot render email');
        return {
          ...ids,
          action: 'dead-letter',
          reason,
          failures: attempt,
          failure: { failureClass: 'render_failed', message },
        };
      }

      const sendStarted = process.hrtime.bigint();
      try {
        const receipt = await deps.transport.send({
          from: deps.mailFrom,
          to: email.to,
          subject: email.subject,
          messageId,
          html: rendered.html,
          text: rendered.text,
          headers: { 'X-Order-Id': ids.orderId, 'X-Correlation-Id': ids.correlationId },
        });
        deps.metrics.smtpSend(secondsSince(sendStarted), receipt.responseCode);
        deps.metrics.delivered((Date.now() - Date.parse(event.acceptedAt)) / 1000);
        if (deps.faultPauseBeforeRecordMs) {
          log.warn({ pauseMs: deps.faultPauseBeforeRecordMs }, 'fault injection: pausing before recording the send');
          await new Promise((r) => setTimeout(r, deps.faultPauseBeforeRecordMs));
        }
        const { alreadySent } = await ledger.recordSent(record.id, attempt, {
          smtpResponse: receipt.response,
          smtpCode: receipt.responseCode,
          messageId,
        });
        if (alreadySent) {
          // Only possible when this send outlived the grace period and another attempt resent it.
          log.error({ attempt }, 'another attempt had already sent this order: a duplicate email went out');
        }
        log.info({ recipient: maskEmail(email.to), attempt, smtpResponse: receipt.response }, 'email sent');
        return { ...ids, action: 'ack', result: 'sent', smtpResponse: receipt.response };
      } catch (err) {
        if (!(err instanceof SendFailureError)) throw err;
        const sendFailure = err.failure;
        deps.metrics.smtpSend(secondsSince(sendStarted), sendFailure.responseCode);
        const failureClass = classifyFailure(sendFailure.facts);
        const failure: FailureInfo = {
          failureClass,
          message: sendFailure.message,
          responseCode: sendFailure.responseCode,
          response: sendFailure.response,
        };
        const step = decideNextStep(failureClass, history.failures, schedule);
        const status = step.action === 'retry' ? 'retrying' : step.action === 'hold' ? 'sending' : 'dead';
        const { claimLost } = await ledger.recordFailure(record.id, attempt, {
          status,
          outcome: failureClass,
          error: sendFailure.message,
          smtpCode: sendFailure.responseCode,
          smtpResponse: sendFailure.response,
        });
        const fields = { attempt, failureClass, smtpCode: sendFailure.responseCode, error: sendFailure.message };
        if (failureClass === 'auth') log.error(fields, 'SMTP authentication failed; retrying slowly');
        else log.warn(fields, 'send failed');
        if (claimLost) {
          // Another attempt owns the delivery now: look again after it has had its chance.
          log.warn({ attempt }, 'this attempt no longer holds the delivery; holding the message');
          return { ...ids, action: 'hold', delayMs: schedule.unknownOutcomeGraceMs, reason: 'in_progress', failure };
        }
        switch (step.action) {
          case 'retry':
            return { ...ids, action: 'retry', delayMs: step.delayMs, failures: step.failures, failure };
          case 'hold':
            deps.metrics.outcomeUnknown();
            return { ...ids, action: 'hold', delayMs: step.delayMs, reason: 'unknown_outcome', failure };
          case 'dead-letter':
            return { ...ids, action: 'dead-letter', reason: step.reason, failures: attempt, failure };
        }
      }
    },
  };
}
