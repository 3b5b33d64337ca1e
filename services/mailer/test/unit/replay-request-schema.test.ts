import { replayRequestSchema } from '../../src/entry-points/http/app';

describe('replayRequestSchema', () => {
  describe('when the request is valid', () => {
    it.each([
      ['a reason', { reason: 'smtp_rejected' }],
      ['a reason the broker gives', { reason: 'delivery_limit' }],
      ['an smtpCode', { smtpCode: 550 }],
      ['all: true', { all: true }],
      ['a reason and an smtpCode', { reason: 'smtp_rejected', smtpCode: 550 }],
      ['the lowest smtpCode', { smtpCode: 100 }],
      ['the highest smtpCode', { smtpCode: 599 }],
      ['an orderId', { orderId: 'A-1001' }],
      ['an orderId and a reason', { orderId: 'A-1001', reason: 'smtp_rejected' }],
    ])('when the filter is %s, then it is accepted with dryRun false, force false and limit 10000', (_name, input) => {
      // Act
      const result = replayRequestSchema.safeParse(input);

      // Assert
      expect(result.success).toBe(true);
      expect(result.data).toEqual({ ...input, dryRun: false, force: false, limit: 10_000 });
    });

    it('when dryRun and limit are given, then they are kept', () => {
      // Act
      const result = replayRequestSchema.safeParse({ reason: 'retries_exhausted', dryRun: true, limit: 1 });

      // Assert
      expect(result.success).toBe(true);
      expect(result.data).toEqual({ reason: 'retries_exhausted', dryRun: true, force: false, limit: 1 });
    });

    it.each([
      ['force: true', { all: true, force: true }, true],
      ['force: false', { all: true, force: false }, false],
      ['force: true with a dry run', { smtpCode: 550, dryRun: true, force: true }, true],
    ])('when the request says %s, then force is kept', (_name, input, force) => {
      // Act
      const result = replayRequestSchema.safeParse(input);

      // Assert
      expect(result.success).toBe(true);
      expect(result.data?.force).toBe(force);
    });

    it.each([
      ['from alone', { from: '2026-11-25T18:00:00Z' }, { from: new Date('2026-11-25T18:00:00Z') }],
      ['to alone, with an offset', { to: '2026-11-25T19:00:00+01:00' }, { to: new Date('2026-11-25T18:00:00Z') }],
      [
        'from and to, with fractions',
        { from: '2026-11-25T18:00:00.250Z', to: '2026-11-26T00:00:00Z' },
        { from: new Date('2026-11-25T18:00:00.250Z'), to: new Date('2026-11-26T00:00:00Z') },
      ],
    ])('when the filter is %s, then it is accepted and the times come out as Dates', (_name, input, times) => {
      // Act
      const result = replayRequestSchema.safeParse(input);

      // Assert
      expect(result.success).toBe(true);
      expect(result.data).toEqual({ ...times, dryRun: false, force: false, limit: 10_000 });
    });

    it('when the limit is the maximum, then it is accepted', () => {
      // Act
      const result = replayRequestSchema.safeParse({ all: true, limit: 100_000 });

      // Assert
      expect(result.success).toBe(true);
    });
  });

  describe('when the request is not valid', () => {
    it.each([
      ['there is no filter at all', {}],
      ['there is only dryRun and limit', { dryRun: true, limit: 5 }],
      ['all is combined with a reason', { all: true, reason: 'smtp_rejected' }],
      ['all is combined with an smtpCode', { all: true, smtpCode: 550 }],
      ['all is combined with an orderId', { all: true, orderId: 'A-1' }],
      ['all is combined with from', { all: true, from: '2026-11-25T18:00:00Z' }],
      ['the orderId holds a space', { orderId: 'A 1' }],
      ['the orderId is empty', { orderId: '' }],
      ['from is a date without a time', { from: '2026-11-25' }],
      ['from is a local time without a zone', { from: '2026-11-25T18:00:00' }],
      ['to is a number', { to: 1_795_629_600_000 }],
      ['to is not a day of the calendar', { to: '2026-02-30T00:00:00Z' }],
      ['to is not later than from', { from: '2026-11-25T18:00:00Z', to: '2026-11-25T18:00:00Z' }],
      ['a state is given (a replay takes only dead ones)', { all: true, state: 'any' }],
      ['all is false', { all: false }],
      ['an unknown key is given', { reason: 'smtp_rejected', queue: 'mailer.order.confirmed' }],
      ['smtpCode is 99', { smtpCode: 99 }],
      ['smtpCode is 600', { smtpCode: 600 }],
      ['smtpCode is not an integer', { smtpCode: 550.5 }],
      ['smtpCode is a string', { smtpCode: '550' }],
      ['the reason is empty', { reason: '' }],
      ['the reason is not a documented one', { reason: 'smtp_rejectd' }],
      ['the reason differs only in case', { reason: 'SMTP_REJECTED' }],
      ['limit is 0', { all: true, limit: 0 }],
      ['limit is above the maximum', { all: true, limit: 100_001 }],
      ['dryRun is a string', { all: true, dryRun: 'yes' }],
      ['force is a string', { all: true, force: 'true' }],
      ['force is a number', { all: true, force: 1 }],
      ['force is null', { all: true, force: null }],
      ['force alone (still no filter)', { force: true }],
    ])('when %s, then it is rejected', (_name, input) => {
      // Act
      const result = replayRequestSchema.safeParse(input);

      // Assert
      expect(result.success).toBe(false);
    });

    it('when there is no filter, then the issue says to give one', () => {
      // Act
      const result = replayRequestSchema.safeParse({});

      // Assert
      expect(result.error?.issues).toEqual([
        expect.objectContaining({
          path: [],
          message: 'give a filter: "reason", "smtpCode", "orderId", "from", "to", or "all": true',
        }),
      ]);
    });

    it('when all is combined with a reason, then the issue is reported on "all"', () => {
      // Act
      const result = replayRequestSchema.safeParse({ all: true, reason: 'smtp_rejected' });

      // Assert
      expect(result.error?.issues).toEqual([
        expect.objectContaining({
          path: ['all'],
          message: '"all" cannot be combined with "reason", "smtpCode", "orderId", "from" or "to"',
        }),
      ]);
    });

    it.each([
      ['from', { from: 'yesterday' }],
      ['to', { from: '2026-11-26T00:00:00Z', to: '2026-11-25T00:00:00Z' }],
      ['orderId', { orderId: 'A 1' }],
    ])('when %s is not valid, then the issue is reported on it', (field, input) => {
      // Act
      const result = replayRequestSchema.safeParse(input);

      // Assert
      expect(result.error?.issues.map((issue) => issue.path)).toContainEqual([field]);
    });

    it('when the reason is not a documented one, then the issue names the value given and the documented ones', () => {
      // Act
      const result = replayRequestSchema.safeParse({ reason: 'smtp_rejectd' });

      // Assert
      expect(result.error?.issues).toEqual([
        expect.objectContaining({
          path: ['reason'],
          message: expect.stringMatching(
            /^unknown reason "smtp_rejectd": expected one of invalid_event, .*smtp_rejected/,
          ),
        }),
      ]);
    });

    it('when an unknown key is given, then the issue names it', () => {
      // Act
      const result = replayRequestSchema.safeParse({ all: true, override: true });

      // Assert
      expect(result.error?.issues).toEqual([
        expect.objectContaining({ code: 'unrecognized_keys', keys: ['override'] }),
      ]);
    });
  });
});
