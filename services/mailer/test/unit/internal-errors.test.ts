import type { DeliveryOutcome } from '../../src/domain/delivery-outcome';
import { decideAfterInternalError } from '../../src/domain/internal-errors';
import type { RetrySchedule } from '../../src/domain/retry-policy';
import { freshHistory as history } from './fakes/worker-ports';

const SCHEDULE: RetrySchedule = { delaysMs: [1_000, 5_000, 30_000], unknownOutcomeGraceMs: 600_000 };
const IDS = { template: 'order-confirmation', orderId: 'A-1001', eventId: 'evt-1', correlationId: 'corr-1' };
const MESSAGE = 'connect ECONNREFUSED 127.0.0.1:5432';

describe('decideAfterInternalError', () => {
  it.each([
    [0, 1, 1_000],
    [1, 2, 5_000],
    [2, 3, 30_000],
  ])(
    'when the message had %i internal errors before, then it is retried as internal error %i after %i ms',
    (before, count, delayMs) => {
      // Act
      const outcome = decideAfterInternalError(IDS, MESSAGE, history({ internalErrors: before }), SCHEDULE);

      // Assert
      expect(outcome).toEqual({
        ...IDS,
        action: 'retry',
        delayMs,
        failure: { failureClass: 'internal', message: MESSAGE },
        counts: { internalErrors: count },
        retryNumber: count,
      });
    },
  );

  it.each([3, 4, 10])(
    'when the message had %i internal errors before (the schedule used up), then it is dead-lettered as internal_error with the ledger attempts it carried and this error counted',
    (before) => {
      // Act
      const outcome = decideAfterInternalError(
        IDS,
        MESSAGE,
        history({ internalErrors: before, ledgerAttempts: 2 }),
        SCHEDULE,
      );

      // Assert
      expect(outcome).toMatchObject({
        ...IDS,
        action: 'dead-letter',
        reason: 'internal_error',
        failure: { failureClass: 'internal', message: MESSAGE },
        counts: { internalErrors: before + 1, ledgerAttempts: 2 },
      });
    },
  );

  it('when each retry copy comes back failing again, then the message walks the whole schedule and is then dead-lettered', () => {
    // Arrange
    let current = history({ ledgerAttempts: 1 });
    const outcomes: DeliveryOutcome[] = [];

    // Act
    for (let step = 0; step < 10; step++) {
      const outcome = decideAfterInternalError(IDS, MESSAGE, current, SCHEDULE);
      outcomes.push(outcome);
      if (outcome.action !== 'retry') break;
      current = { ...current, internalErrors: outcome.counts.internalErrors ?? current.internalErrors };
    }

    // Assert
    expect(
      outcomes.map((o) => (o.action === 'retry' ? o.delayMs : `${o.action} ${'reason' in o ? o.reason : ''}`)),
    ).toEqual([1_000, 5_000, 30_000, 'dead-letter internal_error']);
  });

  it.each([
    ['failed sends used up', { sendFailures: 3 }],
    ['a replayed dead letter', { replayed: true, suppressionOverride: false }],
  ])('when the message has %s, then internal errors still count apart from them', (_label, overrides) => {
    // Act
    const outcome = decideAfterInternalError(IDS, MESSAGE, history(overrides), SCHEDULE);

    // Assert
    expect(outcome).toMatchObject({ action: 'retry', delayMs: 1_000, counts: { internalErrors: 1 }, retryNumber: 1 });
  });

  it('when the message carries no ids (its body did not parse), then the outcome carries none either', () => {
    // Act
    const outcome = decideAfterInternalError({}, MESSAGE, history(), SCHEDULE);

    // Assert
    expect(outcome).toEqual({
      action: 'retry',
      delayMs: 1_000,
      failure: { failureClass: 'internal', message: MESSAGE },
      counts: { internalErrors: 1 },
      retryNumber: 1,
    });
  });
});
