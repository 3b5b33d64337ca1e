import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, isAppError, type OrderConfirmedEvent } from '@order-mail/shared/contract';
import { maskEmail, maskEmailsIn } from '@order-mail/shared/diagnostics';
import type { Logger } from '@order-mail/shared/logger';
import { classifyFailure } from './classify-failure';
import type { SendClaim } from './delivery-ledger';
import type { DeliveryIds, DeliveryOutcome, FailureInfo, MessageHistory } from './delivery-outcome';
import type { MailWorkerDeps } from './mail-worker';
import type { OrderEmail } from './order-email';
import { SendFailureError, type RenderedEmail, type SendFailure } from './ports';
import { isRecipientRejection } from './recipient-rejection';
import type { RecipientRejection } from './suppression';
import { decideNextStep, type NextStep } from './retry-policy';
import type { SendPause } from './send-pause';

/** Everything the send step needs about one claimed delivery. */
export interface SendJob {
  event: OrderConfirmedEvent;
  email: OrderEmail;
  rendered: RenderedEmail;
  claim: SendClaim;
  ids: Required<DeliveryIds>;
  history: MessageHistory;
  log: Logger;
  /** The worker's pause after rate-limit replies: a send starts it, an accepted one ends the row. */
  pause: SendPause;
  /** Rate-limit replies this processing of the message got in a row before this send. */
  rateLimitedBefore: number;
}

/**
 * The SMTP server turned the send away for our rate, and the message is to be claimed and sent
 * again once the worker's pause is over, with `messageId` (the attempt is recorded, quietly).
 */
export interface ResendAfterPause {
  action: 'resend-after-pause';
  messageId: string;
}

/** What a send step leads to: the message's outcome for the queue, or another try after the pause. */
export type SendStepResult = DeliveryOutcome | ResendAfterPause;

/**
 * Fills the email's template. A template that fails cannot succeed on a retry: the attempt is
 * recorded `render_failed`, the delivery `dead`, and the message dead-lettered (`unknown_template`
 * when there is no such template, `render_failed` otherwise).
 */
export async function renderEmail(
  deps: Pick<MailWorkerDeps, 'templates' | 'metrics' | 'ledger'>,
  email: OrderEmail,
  claim: SendClaim,
  ids: DeliveryIds,
  log: Logger,
): Promise<{ ok: true; rendered: RenderedEmail } | { ok: false; outcome: DeliveryOutcome }> {
  const stopTimer = deps.metrics.startRender();
  try {
    const rendered = deps.templates.render(email.template, email.model);
    stopTimer();
    return { ok: true, rendered };
  } catch (err) {
    const message = (err as Error).message;
    const reason = isAppError(err, ErrorCodes.TEMPLATE_NOT_FOUND) ? 'unknown_template' : 'render_failed';
    await deps.ledger.recordFailure(claim.record.id, claim.attempt, {
      status: 'dead',
      outcome: 'render_failed',
      error: message,
      reason,
    });
    log.error({ err, template: email.template }, 'cannot render email');
    return {
      ok: false,
      outcome: {
        ...ids,
        action: 'dead-letter',
        reason,
        failure: { failureClass: 'render_failed', message },
        counts: { ledgerAttempts: claim.attempt },
      },
    };
  }
}

/**
 * Sends the rendered email and records the result in the ledger: `ack` once the SMTP server
 * accepted it and the ledger says `sent`; after a failed send, what the retry policy decides.
 * Rejects with whatever the transport throws that is not a `SendFailureError` (a bug).
 */
export async function sendAndRecord(deps: MailWorkerDeps, job: SendJob): Promise<SendStepResult> {
  const { email, rendered, claim, ids } = job;
  // A resend after an unknown outcome repeats the first Message-ID, even from a re-posted event,
  // so that receivers that deduplicate on it show one email.
  const messageId = claim.record.messageId ?? email.messageId;
  const stopTimer = deps.metrics.startSmtpSend();
  const mark = job.pause.mark();
  try {
    const receipt = await deps.transport.send({
      from: deps.mailFrom,
      to: email.to,
      replyTo: email.replyTo,
      subject: email.subject,
      messageId,
      html: rendered.html,
      text: rendered.text,
      headers: { 'X-Order-Id': ids.orderId, 'X-Correlation-Id': ids.correlationId },
    });
    stopTimer(receipt.responseCode);
    job.pause.accepted(mark);
    deps.metrics.delivered((Date.now() - Date.parse(job.event.acceptedAt)) / 1000);
    return await recordSent(deps, job, messageId, receipt);
  } catch (err) {
    if (!(err instanceof SendFailureError)) throw err;
    stopTimer(err.failure.responseCode);
    return recordFailedSend(deps, job, err.failure, { messageId, mark });
  }
}

async function recordSent(
  deps: MailWorkerDeps,
  { claim, email, ids, log }: SendJob,
  messageId: string,
  receipt: { response: string; responseCode: number | undefined },
): Promise<DeliveryOutcome> {
  const { attempt } = claim;
  if (deps.faultPauseBeforeRecordMs) {
    log.warn({ pauseMs: deps.faultPauseBeforeRecordMs }, 'fault injection: pausing before recording the send');
    await sleep(deps.faultPauseBeforeRecordMs);
  }
  const { alreadySent } = await deps.ledger.recordSent(claim.record.id, attempt, {
    smtpResponse: receipt.response,
    smtpCode: receipt.responseCode,
    messageId,
  });
  if (alreadySent) {
    // Only possible when this send outlived the grace period and another attempt resent it.
    log.error({ attempt }, 'another attempt had already sent this order: a duplicate email went out');
  }
  log.info(
    { recipient: maskEmail(email.to.address), attempt, smtpResponse: maskEmailsIn(receipt.response) },
    'email sent',
  );
  return { ...ids, action: 'ack', result: 'sent', smtpResponse: receipt.response };
}

/**
 * The ledger status after a failed attempt: `retrying` for a retry, on the schedule or after the
 * pause (the order waits to be claimed again); `sending` for a hold (the send may have gone
 * through); `dead` for a dead letter.
 */
function statusAfter(action: NextStep['action']): 'retrying' | 'sending' | 'dead' {
  if (action === 'retry' || action === 'resend-after-pause') return 'retrying';
  return action === 'hold' ? 'sending' : 'dead';
}

/** The suppression a permanent failure asks for, when it refused the recipient for good (`isRecipientRejection`). */
function rejectionOf(
  deps: Pick<MailWorkerDeps, 'workerId'>,
  { email, ids }: Pick<SendJob, 'email' | 'ids'>,
  failure: SendFailure,
): RecipientRejection | undefined {
  if (!isRecipientRejection(failure)) return undefined;
  return {
    address: email.to.address,
    orderId: ids.orderId,
    smtpCode: failure.responseCode,
    smtpResponse: failure.response,
    createdBy: `mailer:${deps.workerId}`,
  };
}

/** The failed send's log lines; the reply may quote the recipient, so no line carries a whole address. */
function logFailedSend(
  { log, claim, email }: Pick<SendJob, 'log' | 'claim' | 'email'>,
  failureClass: FailureInfo['failureClass'],
  sendFailure: SendFailure,
  suppressing: boolean,
): void {
  const fields = {
    attempt: claim.attempt,
    failureClass,
    smtpCode: sendFailure.responseCode,
    error: maskEmailsIn(sendFailure.message),
  };
  if (suppressing) {
    log.warn({ recipient: maskEmail(email.to.address) }, 'recipient refused for good; suppressing the address');
  }
  if (failureClass === 'auth') log.error(fields, 'SMTP authentication failed; retrying slowly');
  else log.warn(fields, 'send failed');
}

/**
 * A rate-limit reply: counted, and the worker's sends paused (unless a pause started since this
 * send began, which covers it). Logged here, at warn, with the pause.
 */
function pauseAfterRateLimit(
  deps: Pick<MailWorkerDeps, 'metrics'>,
  { pause, claim, log, rateLimitedBefore }: Pick<SendJob, 'pause' | 'claim' | 'log' | 'rateLimitedBefore'>,
  sendFailure: SendFailure,
  mark: number,
): void {
  deps.metrics.rateLimited();
  const pauseMs = pause.rateLimited(mark);
  if (pauseMs !== null) deps.metrics.paused(pauseMs / 1000);
  log.warn(
    {
      attempt: claim.attempt,
      smtpCode: sendFailure.responseCode,
      error: maskEmailsIn(sendFailure.message),
      rateLimitedInARow: rateLimitedBefore + 1,
      pauseMs: pauseMs ?? undefined,
    },
    pauseMs === null
      ? 'SMTP server limits our sending rate; this worker is already pausing its sends'
      : "SMTP server limits our sending rate; pausing this worker's sends",
  );
}

/** Classifies a failed send, records it, and turns the retry policy's step into an outcome. */
async function recordFailedSend(
  deps: MailWorkerDeps,
  job: SendJob,
  sendFailure: SendFailure,
  sent: { messageId: string; mark: number },
): Promise<SendStepResult> {
  const { claim, ids, history, log } = job;
  const { attempt } = claim;
  const failureClass = classifyFailure(sendFailure.facts);
  if (failureClass === 'rate_limited') pauseAfterRateLimit(deps, job, sendFailure, sent.mark);
  const rejection = failureClass === 'permanent' ? rejectionOf(deps, job, sendFailure) : undefined;
  const failure: FailureInfo = {
    failureClass,
    message: sendFailure.message,
    responseCode: sendFailure.responseCode,
    response: sendFailure.response,
  };
  const step = decideNextStep(failureClass, history.sendFailures, deps.schedule, job.rateLimitedBefore + 1);
  const { claimLost } = await deps.ledger.recordFailure(claim.record.id, attempt, {
    status: statusAfter(step.action),
    outcome: failureClass,
    error: sendFailure.message,
    smtpCode: sendFailure.responseCode,
    smtpResponse: sendFailure.response,
    reason: step.action === 'dead-letter' ? step.reason : failureClass,
    rejection,
    // Resent in place within seconds: no `email.retrying` for a retry that the schedule never sees.
    ...(step.action === 'resend-after-pause' ? { quiet: true } : {}),
  });
  if (step.action !== 'resend-after-pause') logFailedSend(job, failureClass, sendFailure, rejection !== undefined);
  if (claimLost) {
    // Another attempt owns the delivery now: look again after it has had its chance.
    log.warn({ attempt }, 'this attempt no longer holds the delivery; holding the message');
    return { ...ids, action: 'hold', delayMs: deps.schedule.unknownOutcomeGraceMs, reason: 'in_progress', failure };
  }
  switch (step.action) {
    case 'resend-after-pause':
      // The server took nothing (a 4xx reply), so the resend cannot make a duplicate.
      return { action: 'resend-after-pause', messageId: sent.messageId };
    case 'retry':
      return {
        ...ids,
        action: 'retry',
        delayMs: step.delayMs,
        failure,
        counts: { sendFailures: step.failures, ledgerAttempts: attempt },
        // An authentication failure does not use up its place in the schedule.
        retryNumber: failureClass === 'auth' ? step.failures + 1 : step.failures,
      };
    case 'hold':
      deps.metrics.outcomeUnknown();
      return { ...ids, action: 'hold', delayMs: step.delayMs, reason: 'unknown_outcome', failure };
    case 'dead-letter':
      return {
        ...ids,
        action: 'dead-letter',
        reason: step.reason,
        failure,
        counts: { sendFailures: history.sendFailures + 1, ledgerAttempts: attempt },
      };
  }
}
