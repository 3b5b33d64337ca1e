import type { FailureClass } from './classify-failure';

export type NextStep =
  /** Rate-limited: the worker pauses its sends, then sends this message again itself (no retry queue, no count). */
  | { action: 'resend-after-pause' }
  | { action: 'retry'; delayMs: number; failures: number }
  | { action: 'hold'; delayMs: number }
  | { action: 'dead-letter'; reason: 'smtp_rejected' | 'retries_exhausted' };

export interface RetrySchedule {
  /** Delay before each retry: the n-th failure waits delaysMs[n-1]; one more failure dead-letters. */
  delaysMs: readonly number[];
  /** How long an outcome-unknown send waits before its one resend. */
  unknownOutcomeGraceMs: number;
}

/**
 * Rate-limit replies one message may get in a row, each resent after the worker's pause, before
 * the last of them takes the retry schedule like a transient failure: a relay that keeps turning
 * us away cannot keep a message (and its worker's slot) going round in place for ever.
 */
export const RATE_LIMITED_TRIES = 3;

/**
 * What to do after a failed send, given how many times this message had failed before (and, for
 * a rate-limit reply, how many of them in a row this processing of the message got, this one
 * included). Authentication failures do not count against the message and wait the longest delay;
 * rate-limit replies do not count either, until the `RATE_LIMITED_TRIES`th in a row, which is
 * retried on the schedule as a transient failure.
 */
export function decideNextStep(
  failureClass: FailureClass,
  failuresBefore: number,
  schedule: RetrySchedule,
  rateLimitedInARow = 1,
): NextStep {
  switch (failureClass) {
    case 'rate_limited':
      if (rateLimitedInARow < RATE_LIMITED_TRIES) return { action: 'resend-after-pause' };
      return decideNextStep('transient', failuresBefore, schedule);
    case 'permanent':
      return { action: 'dead-letter', reason: 'smtp_rejected' };
    case 'unknown_outcome':
      return { action: 'hold', delayMs: schedule.unknownOutcomeGraceMs };
    case 'auth':
      return { action: 'retry', delayMs: Math.max(...schedule.delaysMs), failures: failuresBefore };
    case 'transient': {
      const failures = failuresBefore + 1;
      if (failures > schedule.delaysMs.length) return { action: 'dead-letter', reason: 'retries_exhausted' };
      return { action: 'retry', delayMs: schedule.delaysMs[failures - 1], failures };
    }
  }
}
