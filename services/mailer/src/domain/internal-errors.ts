import type { DeliveryIds, DeliveryOutcome, MessageHistory } from './delivery-outcome';
import { decideNextStep, type RetrySchedule } from './retry-policy';

/**
 * What becomes of a message whose processing threw something we did not expect (the database is
 * down, a bug): retried on the same schedule as transient send failures, counted apart in
 * `internalErrors`, and dead-lettered as `internal_error` once the schedule is used up. The one
 * place this is decided; the queue entry point only applies it.
 */
export function decideAfterInternalError(
  ids: DeliveryIds,
  message: string,
  history: MessageHistory,
  schedule: RetrySchedule,
): DeliveryOutcome {
  const step = decideNextStep('transient', history.internalErrors, schedule);
  const failure = { failureClass: 'internal', message } as const;
  if (step.action === 'retry') {
    return {
      ...ids,
      action: 'retry',
      delayMs: step.delayMs,
      failure,
      counts: { internalErrors: step.failures },
      retryNumber: step.failures,
    };
  }
  return {
    ...ids,
    action: 'dead-letter',
    reason: 'internal_error',
    failure,
    counts: { internalErrors: history.internalErrors + 1, ledgerAttempts: history.ledgerAttempts },
  };
}
