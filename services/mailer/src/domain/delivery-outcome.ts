import type { DeadLetterReason, HoldReason, ProblemClass } from './vocabulary';

/** The ids a message's outcome, log lines and metrics carry, as far as they are known. */
export interface DeliveryIds {
  /** The template the message was for, once known (the `template` label of the email metrics). */
  template?: string;
  orderId?: string;
  eventId?: string;
  correlationId?: string;
}

/** What went wrong, as the copy's headers and the log lines report it. */
export interface FailureInfo {
  failureClass: ProblemClass;
  message: string;
  /** The SMTP reply code, when the server replied. */
  responseCode?: number;
  /** The SMTP reply, when the server replied. */
  response?: string;
}

/** Where a message stands, from the headers its earlier copies carried (all 0 for a fresh message). */
export interface MessageHistory {
  /** Failed sends of this message so far, the retry schedule's counter (a replay resets it). */
  sendFailures: number;
  /** Unexpected errors (e.g. the database was down) so far; they follow the retry schedule too. */
  internalErrors: number;
  /** The ledger's attempts for the order when the last copy was made. */
  ledgerAttempts: number;
  /** The message is a replayed dead letter: it may send a `dead` order again. */
  replayed: boolean;
  /** A replay forced past the suppression list (`x-suppression-override`): it may send to a suppressed address. */
  suppressionOverride: boolean;
}

/**
 * The counts a copy of the message (retry or dead letter) carries forward; each is written only
 * when given, otherwise the copy keeps what the message carried.
 */
export interface CopyCounts {
  sendFailures?: number;
  internalErrors?: number;
  ledgerAttempts?: number;
}

/** What the queue entry point should do with a message once the worker is done with it. */
export type DeliveryOutcome = DeliveryIds &
  /** `suppressed`: the recipient is on the suppression list; nobody was contacted. */
  (
    | { action: 'ack'; result: 'sent' | 'duplicate_skipped' | 'suppressed'; smtpResponse?: string }
    | {
        action: 'retry';
        delayMs: number;
        failure: FailureInfo;
        counts: CopyCounts;
        /**
         * The retry's place in the schedule, 1 for the first (the `attempt` label of the retry
         * metric): an authentication failure waits to repeat the next place without using it up.
         */
        retryNumber: number;
      }
    | { action: 'hold'; delayMs: number; reason: HoldReason; failure?: FailureInfo }
    | { action: 'dead-letter'; reason: DeadLetterReason; failure: FailureInfo; counts: CopyCounts }
  );

/** A message whose body is not an order-confirmed event: dead-lettered at once, it can never be sent. */
export function invalidEventOutcome(ids: DeliveryIds, message: string, history: MessageHistory): DeliveryOutcome {
  return {
    ...ids,
    action: 'dead-letter',
    reason: 'invalid_event',
    failure: { failureClass: 'invalid', message },
    counts: { ledgerAttempts: history.ledgerAttempts },
  };
}
