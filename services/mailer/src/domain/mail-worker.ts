import { ORDER_CONFIRMED_EVENT_TYPE, type OrderConfirmedEvent } from '@order-mail/shared/contract';
import { maskEmail } from '@order-mail/shared/diagnostics';
import type { Logger } from '@order-mail/shared/logger';
import { isSendClaim, type DeliveryLedger, type SendClaim, type WithoutSendClaim } from './delivery-ledger';
import type { DeliveryIds, DeliveryOutcome, MessageHistory } from './delivery-outcome';
import {
  buildOrderConfirmationEmail,
  ORDER_CONFIRMATION_TEMPLATE,
  type OrderEmail,
  type OrderEmailSettings,
} from './order-email';
import type { MailTransport, SendRateLimiter, TemplateRenderer, WorkerMetrics } from './ports';
import type { RetrySchedule } from './retry-policy';
import { recipientKeyOf } from './suppression';
import { renderEmail, sendAndRecord, type SendJob, type SendStepResult } from './send-steps';
import { createSendPause, DEFAULT_RATE_LIMIT_PAUSE_MS, MAX_RATE_LIMIT_PAUSE_MS, type SendPause } from './send-pause';
import { createSendSlots, type SendSlots } from './send-slots';

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
  /**
   * The shop, the message catalogues, the Message-ID domain and `Reply-To:` the emails are built
   * with: the same value `POST /preview` composes with (`composeDepsFromConfig`).
   */
  email: OrderEmailSettings;
  /** Test-only fault injection: pause between the SMTP server's acceptance and the ledger's record. */
  faultPauseBeforeRecordMs?: number;
  /**
   * Most messages between claim and record at once (default: no limit). The service sets twice
   * SMTP_POOL_SIZE: one send per connection and one more claiming or recording. Messages beyond
   * it wait before their claim, so a worker that dies leaves at most this many orders `sending`
   * (each an unknown outcome, resent after the grace period), not its whole prefetch.
   */
  maxClaimed?: number;
  /**
   * The cap on sends per second shared by all mailers (SMTP_MAX_RATE); none, no cap. A token is
   * taken before each claim (see `waitForTurn`).
   */
  rateLimiter?: SendRateLimiter;
  /**
   * The first pause of this worker's sends after the SMTP server turned one away for our rate
   * (SMTP_RATE_LIMIT_PAUSE_MS, default 5 s); it doubles while such replies keep coming, up to
   * `MAX_RATE_LIMIT_PAUSE_MS` (or this, if longer).
   */
  rateLimitPauseMs?: number;
}

export interface MailWorker {
  /**
   * Takes one parsed order-confirmed event through claim → render → send → record and says what
   * the queue should do with its message. `history` comes from the message's headers; `log` is
   * the caller's logger for this message (e.g. bound to its AMQP `messageId`), to which the
   * worker adds the order's ids. Rejects only on errors it did not expect (the ledger's database
   * is down, a bug): the caller decides about those (`decideAfterInternalError`).
   */
  process(event: OrderConfirmedEvent, history: MessageHistory, log?: Logger): Promise<DeliveryOutcome>;
}

/**
 * Turns one order-confirmed event into exactly one sent email, or says why not. The ledger row
 * of the order decides whether to send at all: a `sent` order is never sent again.
 */
export function createMailWorker(deps: MailWorkerDeps): MailWorker {
  const slots: SendSlots | null = deps.maxClaimed ? createSendSlots(deps.maxClaimed) : null;
  const baseMs = deps.rateLimitPauseMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS;
  const pause = createSendPause({ baseMs, maxMs: Math.max(baseMs, MAX_RATE_LIMIT_PAUSE_MS) });
  return {
    async process(event, history, messageLog = deps.logger) {
      const ids = idsOf(event);
      const log = messageLog.child(ids);
      const email = buildOrderConfirmationEmail(event, deps.email);
      const claimToRecord = () => sendUntilSettled(deps, { event, email, ids, history, log, pause });
      return slots ? slots.run(claimToRecord) : claimToRecord();
    },
  };
}

type MessageJob = Omit<SendJob, 'claim' | 'rendered' | 'rateLimitedBefore'>;

/**
 * Claims and sends the message until it has an outcome for the queue: a send the SMTP server
 * turned away for our rate is recorded, waits for the worker's pause and is claimed and sent again
 * (with the same Message-ID), at most `RATE_LIMITED_TRIES` times in a row (`decideNextStep`).
 */
async function sendUntilSettled(deps: MailWorkerDeps, job: MessageJob): Promise<DeliveryOutcome> {
  let email = job.email;
  for (let rateLimitedBefore = 0; ; rateLimitedBefore++) {
    await waitForTurn(deps, job.pause);
    const result = await claimAndSend(deps, { ...job, email }, rateLimitedBefore);
    if (result.action !== 'resend-after-pause') return result;
    // The next claim asks for the Message-ID this try went out with (a resend after an unknown
    // outcome keeps the first one, even one a re-posted event's claim found).
    email = { ...email, messageId: result.messageId };
  }
}

/**
 * Waits until this worker may start its next send: past its rate-limit pause, then with a token
 * of the shared cap (SMTP_MAX_RATE), before the claim. Before the claim, not after: a worker that
 * dies while it waits leaves the order as it was (not `sending`, which would read as an unknown
 * outcome and cost the grace period), and a long wait never stretches a claim towards the grace
 * period. A token taken while a pause began is dropped, and another taken after the pause, so
 * sends held up by the pause do not go out together above the cap. A token is spent even when the
 * claim then says not to send (a duplicate): the cap errs on the slow side.
 */
async function waitForTurn(deps: MailWorkerDeps, pause: SendPause): Promise<void> {
  for (;;) {
    await pause.whenOver();
    if (!deps.rateLimiter) return;
    const started = Date.now();
    // Rejects only when the shared count cannot be read: the caller's internal-error path, with
    // nothing claimed.
    await deps.rateLimiter.acquire();
    deps.metrics.waitedForSendRate((Date.now() - started) / 1000);
    if (!pause.isOn()) return;
  }
}

async function claimAndSend(deps: MailWorkerDeps, job: MessageJob, rateLimitedBefore: number): Promise<SendStepResult> {
  const { email, ids, history, log } = job;
  const claim = await claimDelivery(deps, ids, email, history, job.event.order.customer.locale);
  if (!isSendClaim(claim)) return outcomeWithoutSending(deps, claim, ids, log);
  noteResend(deps, claim, log);
  const render = await renderEmail(deps, email, claim, ids, log);
  if (!render.ok) return render.outcome;
  return sendAndRecord(deps, { ...job, rendered: render.rendered, claim, rateLimitedBefore });
}

function idsOf(event: OrderConfirmedEvent): Required<DeliveryIds> {
  return {
    template: ORDER_CONFIRMATION_TEMPLATE,
    orderId: event.order.orderId,
    eventId: event.eventId,
    correlationId: event.correlationId,
  };
}

function claimDelivery(
  deps: MailWorkerDeps,
  ids: Required<DeliveryIds>,
  email: OrderEmail,
  history: MessageHistory,
  locale: string,
): ReturnType<DeliveryLedger['claim']> {
  const recipient = email.to.address;
  return deps.ledger.claim({
    eventKind: ORDER_CONFIRMED_EVENT_TYPE,
    orderId: ids.orderId,
    eventId: ids.eventId,
    correlationId: ids.correlationId,
    workerId: deps.workerId,
    graceMs: deps.schedule.unknownOutcomeGraceMs,
    messageId: email.messageId,
    replayed: history.replayed,
    recipient,
    recipientKey: recipientKeyOf(recipient).key,
    subject: email.subject,
    template: email.template,
    locale,
    ignoreSuppression: history.suppressionOverride,
  });
}

/** The claim said not to send: the order is sent or dead already, in progress elsewhere, or given up on. */
async function outcomeWithoutSending(
  deps: MailWorkerDeps,
  claim: WithoutSendClaim,
  ids: DeliveryIds,
  log: Logger,
): Promise<DeliveryOutcome> {
  const { decision, record } = claim;
  switch (decision.kind) {
    case 'skip-sent':
      log.info({ sentAt: record.sentAt }, 'already sent, acking without sending');
      return { ...ids, action: 'ack', result: 'duplicate_skipped' };
    case 'skip-dead':
      log.warn('order is dead-lettered; acking without sending (replay its dead letter to send it)');
      return { ...ids, action: 'ack', result: 'duplicate_skipped' };
    case 'skip-suppressed':
      log.info('order already ended suppressed; acking without sending');
      return { ...ids, action: 'ack', result: 'duplicate_skipped' };
    case 'suppress':
      log.info({ recipient: maskEmail(record.recipient ?? '') }, 'recipient is suppressed; not sending');
      return { ...ids, action: 'ack', result: 'suppressed' };
    case 'wait':
      log.info({ remainingMs: decision.remainingMs }, 'a send of this order may be under way, holding');
      return { ...ids, action: 'hold', delayMs: deps.schedule.unknownOutcomeGraceMs, reason: 'in_progress' };
    case 'give-up-unknown': {
      const message = 'Outcome of the send stayed unknown after one resend';
      await deps.ledger.markDead(record.id, message);
      log.error('outcome unknown twice, dead-lettering for an operator to decide');
      return {
        ...ids,
        action: 'dead-letter',
        reason: 'outcome_unknown',
        failure: { failureClass: 'unknown_outcome', message },
        counts: { ledgerAttempts: record.attempts },
      };
    }
  }
}

function noteResend(deps: MailWorkerDeps, claim: SendClaim, log: Logger): void {
  if (claim.decision.kind !== 'resend-unknown') return;
  // A worker that died mid-send left no failure behind: this is where the unknown outcome is found.
  if (claim.record.lastErrorClass !== 'unknown_outcome') deps.metrics.outcomeUnknown();
  log.warn(
    { attempt: claim.attempt },
    'outcome of an earlier send is unknown; resending once with the same Message-ID',
  );
}
