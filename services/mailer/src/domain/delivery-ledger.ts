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
  | { kind: 'give-up-unknown' };

export function decideClaim(
  row: Pick<DeliveryRecord, 'status' | 'sendingStartedAt' | 'unknownOutcomeResends'>,
  now: Date,
  graceMs: number,
  replayed = false,
): ClaimDecision {
  switch (row.status) {
    case 'sent':
      return { kind: 'skip-sent' };
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
}

/** The delivery ledger as the worker needs it; the PostgreSQL adapter implements it. */
export interface DeliveryLedger {
  /** Atomically reads (creating if needed) the order's row and, if the decision is to send, marks it `sending`. */
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /** `alreadySent`: another attempt had recorded `sent` first (a duplicate went out). */
  recordSent(
    deliveryId: number,
    attempt: number,
    receipt: { smtpResponse: string; smtpCode: number | undefined; messageId: string },
  ): Promise<{ alreadySent: boolean }>;
  /** `claimLost`: another attempt holds the delivery now (or sent it); only the attempt was recorded. */
  recordFailure(deliveryId: number, attempt: number, failure: FailureRecord): Promise<{ claimLost: boolean }>;
  /** Marks a delivery dead without a new attempt (e.g. an unknown outcome that stayed unknown). */
  markDead(deliveryId: number, error: string): Promise<void>;
}
