import { decideNextStep, RATE_LIMITED_TRIES, type RetrySchedule } from '../../src/domain/retry-policy';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** The mailer's default schedule (RETRY_DELAYS and UNKNOWN_OUTCOME_GRACE_MS defaults). */
const DEFAULT_SCHEDULE: RetrySchedule = {
  delaysMs: [30 * SECOND, 2 * MINUTE, 10 * MINUTE, 1 * HOUR, 6 * HOUR],
  unknownOutcomeGraceMs: 10 * MINUTE,
};

describe('decideNextStep', () => {
  describe('when the failure is permanent', () => {
    it.each([0, 1, 4, 5])('then, with %i failures before, the message is dead-lettered as smtp_rejected', (before) => {
      // Act
      const step = decideNextStep('permanent', before, DEFAULT_SCHEDULE);

      // Assert
      expect(step).toEqual({ action: 'dead-letter', reason: 'smtp_rejected' });
    });
  });

  describe('when the failure is transient, on the default schedule', () => {
    it.each([
      [0, 1, 30 * SECOND],
      [1, 2, 2 * MINUTE],
      [2, 3, 10 * MINUTE],
      [3, 4, 1 * HOUR],
      [4, 5, 6 * HOUR],
    ])('then, with %i failures before, failure %i waits %i ms', (before: number, failures: number, delayMs: number) => {
      // Act
      const step = decideNextStep('transient', before, DEFAULT_SCHEDULE);

      // Assert
      expect(step).toEqual({ action: 'retry', delayMs, failures });
    });

    it('then the failure after the last delay dead-letters the message as retries_exhausted', () => {
      // Act
      const step = decideNextStep('transient', DEFAULT_SCHEDULE.delaysMs.length, DEFAULT_SCHEDULE);

      // Assert
      expect(step).toEqual({ action: 'dead-letter', reason: 'retries_exhausted' });
    });

    it('then a message that somehow failed more often than the schedule allows is dead-lettered too', () => {
      // Act
      const step = decideNextStep('transient', 42, DEFAULT_SCHEDULE);

      // Assert
      expect(step).toEqual({ action: 'dead-letter', reason: 'retries_exhausted' });
    });

    it('then walking the schedule from the first failure retries once per delay, then dead-letters', () => {
      // Arrange
      const steps = [];
      let failures = 0;

      // Act: feed each step's failure count into the next decision, as the consumer does via x-attempts.
      for (;;) {
        const step = decideNextStep('transient', failures, DEFAULT_SCHEDULE);
        steps.push(step);
        if (step.action !== 'retry') break;
        failures = step.failures;
      }

      // Assert
      expect(steps).toEqual([
        ...DEFAULT_SCHEDULE.delaysMs.map((delayMs, i) => ({ action: 'retry', delayMs, failures: i + 1 })),
        { action: 'dead-letter', reason: 'retries_exhausted' },
      ]);
    });
  });

  describe('when the failure is transient, on a custom schedule', () => {
    const schedule: RetrySchedule = { delaysMs: [250, 1500], unknownOutcomeGraceMs: 5000 };

    it('then the n-th failure waits delaysMs[n-1]', () => {
      // Act
      const first = decideNextStep('transient', 0, schedule);
      const second = decideNextStep('transient', 1, schedule);

      // Assert
      expect(first).toEqual({ action: 'retry', delayMs: 250, failures: 1 });
      expect(second).toEqual({ action: 'retry', delayMs: 1500, failures: 2 });
    });

    it('then the failure after the last delay is dead-lettered as retries_exhausted', () => {
      // Act
      const step = decideNextStep('transient', 2, schedule);

      // Assert
      expect(step).toEqual({ action: 'dead-letter', reason: 'retries_exhausted' });
    });

    it('then an empty schedule dead-letters at the first failure', () => {
      // Act
      const step = decideNextStep('transient', 0, { delaysMs: [], unknownOutcomeGraceMs: 5000 });

      // Assert
      expect(step).toEqual({ action: 'dead-letter', reason: 'retries_exhausted' });
    });
  });

  describe('when the failure is an authentication failure', () => {
    it.each([0, 3, 5, 9])('then, with %i failures before, it waits the longest delay without counting', (before) => {
      // Act
      const step = decideNextStep('auth', before, DEFAULT_SCHEDULE);

      // Assert
      expect(step).toEqual({ action: 'retry', delayMs: 6 * HOUR, failures: before });
    });

    it('then the longest delay is used even when the schedule is not sorted', () => {
      // Arrange
      const schedule: RetrySchedule = { delaysMs: [5000, 90_000, 1000], unknownOutcomeGraceMs: 1000 };

      // Act
      const step = decideNextStep('auth', 1, schedule);

      // Assert
      expect(step).toEqual({ action: 'retry', delayMs: 90_000, failures: 1 });
    });
  });

  describe('when the outcome is unknown', () => {
    it.each([0, 2, 5])('then, with %i failures before, the message is held for the grace period', (before) => {
      // Act
      const step = decideNextStep('unknown_outcome', before, DEFAULT_SCHEDULE);

      // Assert
      expect(step).toEqual({ action: 'hold', delayMs: 10 * MINUTE });
    });

    it('then the hold follows the configured grace period', () => {
      // Act
      const step = decideNextStep('unknown_outcome', 0, { ...DEFAULT_SCHEDULE, unknownOutcomeGraceMs: 123_000 });

      // Assert
      expect(step).toEqual({ action: 'hold', delayMs: 123_000 });
    });
  });

  describe('when the SMTP server turned the send away for our rate', () => {
    it('then a message gets three rate-limit replies in a row at most before the schedule takes over', () => {
      expect(RATE_LIMITED_TRIES).toBe(3);
    });

    it.each([
      [1, 0],
      [2, 0],
      [1, 4],
      [2, 5],
    ])(
      'then the %ith in a row (with %i failures before) is sent again after the pause, without a place in the schedule',
      (inARow, before) => {
        // Act
        const step = decideNextStep('rate_limited', before, DEFAULT_SCHEDULE, inARow);

        // Assert
        expect(step).toEqual({ action: 'resend-after-pause' });
      },
    );

    it.each([
      [3, 0, { action: 'retry', delayMs: 30 * SECOND, failures: 1 }],
      [3, 3, { action: 'retry', delayMs: 1 * HOUR, failures: 4 }],
      [4, 1, { action: 'retry', delayMs: 2 * MINUTE, failures: 2 }],
      [3, 5, { action: 'dead-letter', reason: 'retries_exhausted' }],
    ])(
      'then the %ith in a row (with %i failures before) takes the schedule like a transient failure: %j',
      (inARow, before, expected) => {
        // Act
        const step = decideNextStep('rate_limited', before, DEFAULT_SCHEDULE, inARow);

        // Assert
        expect(step).toEqual(expected);
      },
    );

    it('then a caller that does not say how many in a row gets the first one’s step', () => {
      expect(decideNextStep('rate_limited', 0, DEFAULT_SCHEDULE)).toEqual({ action: 'resend-after-pause' });
    });
  });
});
