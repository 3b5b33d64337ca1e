import type { FailureClass } from './classify-failure';

export type NextStep =
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
 * What to do after a failed send, given how many times this message had failed before.
 * Authentication failures do not count against the message and wait the longest delay.
 */
export function decideNextStep(failureClass: FailureClass, failuresBefore: number, schedule: RetrySchedule): NextStep {
  switch (failureClass) {
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
