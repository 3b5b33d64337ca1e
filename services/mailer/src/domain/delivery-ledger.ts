import type { RecipientRejection } from './suppression';
import type { AttemptOutcome, DeliveryStatus } from './vocabulary';

export { DELIVERY_STATUSES, type AttemptOutcome, type DeliveryStatus } from './vocabulary';

export interface DeliveryRecord {
  id: number;
  eventKind: string;
  orderId: string;
  /** The event that last claimed the delivery. */
  eventId: string;
  correlationId: string;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  lastErrorClass: string | null;
  smtpCode: number | null;
  smtpResponse: string | null;
  messageId: string | null;
  workerId: string | null;
  /** Resends after an unknown outcome; at most one is made. */
  unknownOutcomeResends: number;
  createdAt: Date;
  updatedAt: Date;
  sendingStartedAt: Date | null;
  sentAt: Date | null;
  /**
   * Who the email is for and what it is, as of the latest claim: the recipient's address, its
   * subject, template and the customer's locale. Null on rows written before these were recorded
   * and once the retention job removed the personal ones (recipient, subject).
   */
  recipient: string | null;
  subject: string | null;
  template: string | null;
  locale: string | null;
}

export interface DeliveryAttempt {
  attempt: number;
  eventId: string;
  workerId: string;
  startedAt: Date;
  finishedAt: Date | null;
  /** Null while the attempt is under way (or its worker died). */
  outcome: AttemptOutcome | null;
  smtpCode: number | null;
  smtpResponse: string | null;
  error: string | null;
}

/** What a worker may do with an event, given the ledger row of its order. */
export type ClaimDecision =
  | { kind: 'send' }
  /** The row was left `sending` past the grace period: the outcome of that send is unknown. */
  | { kind: 'resend-unknown' }
  | { kind: 'skip-sent' }
  /** The order is dead-lettered: only a replay of its dead letter sends it again. */
  | { kind: 'skip-dead' }
  /** Another send of this order may be under way right now: look again later. */
  | { kind: 'wait'; remainingMs: number }
  /** An unknown outcome was already resent once and is unknown again: an operator decides. */
  | { kind: 'give-up-unknown' }
  /** The recipient is on the suppression list: the delivery ends `suppressed`, nobody is contacted. */
  | { kind: 'suppress' }
  /** The delivery already ended `suppressed`: a redelivered event changes nothing. */
  | { kind: 'skip-suppressed' };

/**
 * What a worker may do with an event, from the order's ledger row (read under its lock), the
 * database's clock `now`, the unknown-outcome grace period `graceMs`, whether the message is a
 * replayed dead letter, and whether its recipient is suppressed (on the list and not overridden
 * by a forced replay). Pure. A suppressed recipient turns every decision to contact them
 * (`send`, `resend-unknown`) into `suppress`; a send that may still be under way is waited for
 * as usual, and a `sent` order stays sent.
 */
export function decideClaim(
  row: Pick<DeliveryRecord, 'status' | 'sendingStartedAt' | 'unknownOutcomeResends'>,
  now: Date,
  graceMs: number,
  replayed = false,
  suppressed = false,
): ClaimDecision {
  const decision = decideByStatus(row, now, graceMs, replayed);
  const contacts = decision.kind === 'send' || decision.kind === 'resend-unknown';
  return contacts && suppressed ? { kind: 'suppress' } : decision;
}

function decideByStatus(
  row: Pick<DeliveryRecord, 'status' | 'sendingStartedAt' | 'unknownOutcomeResends'>,
  now: Date,
  graceMs: number,
  replayed: boolean,
): ClaimDecision {
  switch (row.status) {
    case 'sent':
      return { kind: 'skip-sent' };
    case 'suppressed':
      return { kind: 'skip-suppressed' };
    case 'pending':
    case 'retrying':
      return { kind: 'send' };
    case 'dead':
      // An operator decides about dead orders (replaying the dead letter), not a stray duplicate event.
      return replayed ? { kind: 'send' } : { kind: 'skip-dead' };
    case 'sending': {
      const elapsed = row.sendingStartedAt ? now.getTime() - row.sendingStartedAt.getTime() : Infinity;
      if (elapsed < graceMs) return { kind: 'wait', remainingMs: graceMs - elapsed };
      return row.unknownOutcomeResends >= 1 ? { kind: 'give-up-unknown' } : { kind: 'resend-unknown' };
    }
  }
}

export interface ClaimRequest {
  eventKind: string;
  orderId: string;
  eventId: string;
  correlationId: string;
  workerId: string;
  graceMs: number;
  /** The Message-ID this event's email would carry; a resend after an unknown outcome keeps the earlier one. */
  messageId: string;
  /** The message is a replayed dead letter: it may send a `dead` order again. */
  replayed: boolean;
  /** The recipient's address as the email goes out (`To:`), recorded on the row. */
  recipient: string;
  /** `suppressionKeyOf(recipient).key`: the suppression list is looked up by its hash in the same transaction. */
  recipientKey: string;
  subject: string;
  template: string;
  /** The customer's BCP 47 locale from the order, e.g. `de-CH`. */
  locale: string;
  /** A replay forced past the suppression list (`force`): send even to a suppressed address. */
  ignoreSuppression: boolean;
}

/** A claim that marked the delivery `sending`: the worker sends, as the ledger's attempt `attempt`. */
export interface SendClaim {
  decision: { kind: 'send' } | { kind: 'resend-unknown' };
  record: DeliveryRecord;
  attempt: number;
}

/** A claim that said not to send: no attempt was started. */
export interface WithoutSendClaim {
  decision: Exclude<ClaimDecision, SendClaim['decision']>;
  record: DeliveryRecord;
}

export type ClaimResult = SendClaim | WithoutSendClaim;

/** Whether a claim started an attempt (narrows the result, so that a send always has its attempt). */
export function isSendClaim(claim: ClaimResult): claim is SendClaim {
  return claim.decision.kind === 'send' || claim.decision.kind === 'resend-unknown';
}

export interface FailureRecord {
  /** `sending` keeps the row claimed (unknown outcome: the send may have gone through). */
  status: 'retrying' | 'dead' | 'sending';
  outcome: AttemptOutcome;
  error: string;
  smtpCode?: number;
  smtpResponse?: string;
  /**
   * Why, as the delivery event (`email.retrying`, `email.dead_lettered`) says it: the failure's
   * class for a retry, the dead-letter reason (`smtp_rejected`, `retries_exhausted`, …) when `dead`.
   */
  reason?: string;
  /**
   * The server refused the recipient for good (`isRecipientRejection`): the address goes on the
   * suppression list in the same transaction (kept as it was if it is already there).
   */
  rejection?: RecipientRejection;
  /**
   * No delivery event: a rate-limited attempt that the worker sends again itself after its pause,
   * seconds later (`email.retrying` announces a retry on the schedule; the next event of the
   * order is the outcome of the resend).
   */
  quiet?: boolean;
}

/** The delivery ledger as the worker needs it; the PostgreSQL adapter implements it. */
export interface DeliveryLedger {
  /** Atomically reads (creating if needed) the order's row and, if the decision is to send, marks it `sending`. */
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /**
   * Records the SMTP server's acceptance, with the `email.sent` event in the outbox in the same
   * transaction. `alreadySent`: another attempt had recorded `sent` first (a duplicate went out;
   * no second event).
   */
  recordSent(
    deliveryId: number,
    attempt: number,
    receipt: { smtpResponse: string; smtpCode: number | undefined; messageId: string },
  ): Promise<{ alreadySent: boolean }>;
  /**
   * Records a failed attempt; a delivery that becomes `retrying` or `dead` gets its delivery event
   * (`email.retrying`, `email.dead_lettered`) in the outbox in the same transaction, unless `quiet`.
   * `claimLost`: another attempt holds the delivery now (or sent it); only the attempt was recorded.
   */
  recordFailure(deliveryId: number, attempt: number, failure: FailureRecord): Promise<{ claimLost: boolean }>;
  /** Marks a delivery dead without a new attempt (e.g. an unknown outcome that stayed unknown), with its `email.dead_lettered` event. */
  markDead(deliveryId: number, error: string): Promise<void>;
}
