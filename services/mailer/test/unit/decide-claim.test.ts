import { decideClaim, type DeliveryRecord, type DeliveryStatus } from '../../src/domain/delivery-ledger';

type ClaimRow = Pick<DeliveryRecord, 'status' | 'sendingStartedAt' | 'unknownOutcomeResends'>;

const GRACE_MS = 600_000;
const NOW = new Date('2024-05-01T12:00:00.000Z');
const msAgo = (ms: number) => new Date(NOW.getTime() - ms);

function row(overrides: Partial<ClaimRow>): ClaimRow {
  return { status: 'pending', sendingStartedAt: null, unknownOutcomeResends: 0, ...overrides };
}

describe('decideClaim', () => {
  it('when the email was already sent, then the event is skipped', () => {
    // Act
    const decision = decideClaim(row({ status: 'sent', sendingStartedAt: msAgo(1000) }), NOW, GRACE_MS);

    // Assert
    expect(decision).toEqual({ kind: 'skip-sent' });
  });

  it('when the email was sent after an unknown outcome was resent, then the event is still skipped', () => {
    // Act
    const decision = decideClaim(row({ status: 'sent', unknownOutcomeResends: 1 }), NOW, GRACE_MS);

    // Assert
    expect(decision).toEqual({ kind: 'skip-sent' });
  });

  it.each<DeliveryStatus>(['pending', 'retrying'])('when the delivery is %s, then the worker sends', (status) => {
    // Act
    const decision = decideClaim(row({ status }), NOW, GRACE_MS);

    // Assert
    expect(decision).toEqual({ kind: 'send' });
  });

  it('when the delivery is dead and the message is not a replay (a stray duplicate event), then the worker skips it', () => {
    // Act
    const decision = decideClaim(row({ status: 'dead', unknownOutcomeResends: 1 }), NOW, GRACE_MS, false);

    // Assert
    expect(decision).toEqual({ kind: 'skip-dead' });
  });

  it('when the delivery is dead and the message is a replayed dead letter, then the worker sends, even after an unknown-outcome resend', () => {
    // Act
    const decision = decideClaim(row({ status: 'dead', unknownOutcomeResends: 1 }), NOW, GRACE_MS, true);

    // Assert
    expect(decision).toEqual({ kind: 'send' });
  });

  describe('when the delivery is sending', () => {
    it('when the send started just now, then the worker waits the whole grace period', () => {
      // Act
      const decision = decideClaim(row({ status: 'sending', sendingStartedAt: NOW }), NOW, GRACE_MS);

      // Assert
      expect(decision).toEqual({ kind: 'wait', remainingMs: GRACE_MS });
    });

    it('when the send is younger than the grace period, then the worker waits the remaining time', () => {
      // Arrange
      const sending = row({ status: 'sending', sendingStartedAt: msAgo(240_000) });

      // Act
      const decision = decideClaim(sending, NOW, GRACE_MS);

      // Assert
      expect(decision).toEqual({ kind: 'wait', remainingMs: 360_000 });
    });

    it('when the send is one millisecond short of the grace period, then the worker waits 1 ms', () => {
      // Act
      const decision = decideClaim(row({ status: 'sending', sendingStartedAt: msAgo(GRACE_MS - 1) }), NOW, GRACE_MS);

      // Assert
      expect(decision).toEqual({ kind: 'wait', remainingMs: 1 });
    });

    it('when the send is exactly as old as the grace period, then it is stale and resent once', () => {
      // Act
      const decision = decideClaim(row({ status: 'sending', sendingStartedAt: msAgo(GRACE_MS) }), NOW, GRACE_MS);

      // Assert
      expect(decision).toEqual({ kind: 'resend-unknown' });
    });

    it('when the send is older than the grace period and was never resent, then it is resent once', () => {
      // Act
      const decision = decideClaim(
        row({ status: 'sending', sendingStartedAt: msAgo(GRACE_MS + 1), unknownOutcomeResends: 0 }),
        NOW,
        GRACE_MS,
      );

      // Assert
      expect(decision).toEqual({ kind: 'resend-unknown' });
    });

    it.each([1, 2])(
      'when the send is older than the grace period and was resent %i time(s), then the worker gives up',
      (resends) => {
        // Act
        const decision = decideClaim(
          row({ status: 'sending', sendingStartedAt: msAgo(GRACE_MS + 1), unknownOutcomeResends: resends }),
          NOW,
          GRACE_MS,
        );

        // Assert
        expect(decision).toEqual({ kind: 'give-up-unknown' });
      },
    );

    it('when a resent send is still younger than the grace period, then the worker waits rather than gives up', () => {
      // Act
      const decision = decideClaim(
        row({ status: 'sending', sendingStartedAt: msAgo(1000), unknownOutcomeResends: 1 }),
        NOW,
        GRACE_MS,
      );

      // Assert
      expect(decision).toEqual({ kind: 'wait', remainingMs: GRACE_MS - 1000 });
    });

    it('when the start time is missing and nothing was resent, then it is treated as stale and resent', () => {
      // Act
      const decision = decideClaim(row({ status: 'sending', sendingStartedAt: null }), NOW, GRACE_MS);

      // Assert
      expect(decision).toEqual({ kind: 'resend-unknown' });
    });

    it('when the start time is missing and it was already resent, then the worker gives up', () => {
      // Act
      const decision = decideClaim(
        row({ status: 'sending', sendingStartedAt: null, unknownOutcomeResends: 1 }),
        NOW,
        GRACE_MS,
      );

      // Assert
      expect(decision).toEqual({ kind: 'give-up-unknown' });
    });

    it('when the grace period is zero, then any sending row is stale at once', () => {
      // Act
      const decision = decideClaim(row({ status: 'sending', sendingStartedAt: NOW }), NOW, 0);

      // Assert
      expect(decision).toEqual({ kind: 'resend-unknown' });
    });
  });

  describe('when the recipient is suppressed', () => {
    // [row, replayed, expected]: every decision that would contact the recipient becomes `suppress`.
    it.each<[string, Partial<ClaimRow>, boolean, string]>([
      ['a pending delivery', { status: 'pending' }, false, 'suppress'],
      ['a retrying delivery', { status: 'retrying' }, false, 'suppress'],
      ['a dead delivery replayed', { status: 'dead' }, true, 'suppress'],
      [
        'a stale send (unknown outcome)',
        { status: 'sending', sendingStartedAt: msAgo(GRACE_MS + 1) },
        false,
        'suppress',
      ],
      ['a send still under way', { status: 'sending', sendingStartedAt: msAgo(1000) }, false, 'wait'],
      ['an unknown outcome already resent', { status: 'sending', unknownOutcomeResends: 1 }, false, 'give-up-unknown'],
      ['a sent delivery', { status: 'sent' }, false, 'skip-sent'],
      ['a dead delivery, not replayed', { status: 'dead' }, false, 'skip-dead'],
      ['a suppressed delivery', { status: 'suppressed' }, false, 'skip-suppressed'],
    ])('when it is %s, then the decision is %s', (_name, fields, replayed, expected) => {
      // Act
      const decision = decideClaim(row(fields), NOW, GRACE_MS, replayed, true);

      // Assert
      expect(decision.kind).toBe(expected);
    });
  });

  it('when a delivery already ended suppressed and the recipient is no longer suppressed, then a redelivered event still sends nothing', () => {
    // Act
    const decision = decideClaim(row({ status: 'suppressed' }), NOW, GRACE_MS, false, false);

    // Assert
    expect(decision).toEqual({ kind: 'skip-suppressed' });
  });
});
