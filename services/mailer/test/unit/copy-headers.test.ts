import type { DeliveryOutcome, FailureInfo, MessageHistory } from '../../src/domain/delivery-outcome';
import { copyHeaders, historyFromHeaders } from '../../src/entry-points/queue/copy-headers';

type CopyOutcome = Exclude<DeliveryOutcome, { action: 'ack' }>;
type Headers = Record<string, unknown>;

const WORKER = 'worker-7';
const NOW = new Date('2024-05-01T12:00:00.000Z');
const EARLIER = '2024-05-01T11:00:00.000Z';

const TRANSIENT: FailureInfo = {
  failureClass: 'transient',
  message: 'Greylisted',
  responseCode: 451,
  response: '451 4.7.1 Greylisted, try later',
};

/** The headers every copy that carries `TRANSIENT` gets, stamped `NOW` by `WORKER`. */
const TRANSIENT_HEADERS = {
  'x-last-error': 'Greylisted',
  'x-last-error-class': 'transient',
  'x-first-failure-at': NOW.toISOString(),
  'x-last-failure-at': NOW.toISOString(),
  'x-worker-id': WORKER,
  'x-smtp-code': 451,
  'x-smtp-response': '451 4.7.1 Greylisted, try later',
};

const RETRY: CopyOutcome = {
  action: 'retry',
  delayMs: 1000,
  failure: TRANSIENT,
  counts: { sendFailures: 1, ledgerAttempts: 1 },
  retryNumber: 1,
};
const HOLD_IN_PROGRESS: CopyOutcome = { action: 'hold', delayMs: 600_000, reason: 'in_progress' };
const HOLD_UNKNOWN: CopyOutcome = {
  action: 'hold',
  delayMs: 600_000,
  reason: 'unknown_outcome',
  failure: { failureClass: 'unknown_outcome', message: 'Timeout' },
};
const DEAD_LETTER: CopyOutcome = {
  action: 'dead-letter',
  reason: 'smtp_rejected',
  failure: {
    failureClass: 'permanent',
    message: 'No such user',
    responseCode: 550,
    response: '550 5.1.1 No such user',
  },
  counts: { sendFailures: 3, ledgerAttempts: 4 },
};

/** What RabbitMQ writes about a message's past deliveries and dead-letterings. */
const BROKER_HISTORY: Headers = {
  'x-death': [{ queue: 'mailer.retry.1s', reason: 'expired', count: 1 }],
  'x-delivery-count': 2,
  'x-first-death-exchange': '',
  'x-first-death-queue': 'mailer.retry.1s',
  'x-first-death-reason': 'expired',
  'x-last-death-exchange': '',
  'x-last-death-queue': 'mailer.retry.1s',
  'x-last-death-reason': 'expired',
};

describe('copyHeaders', () => {
  it.each<[string, CopyOutcome, Headers]>([
    [
      'a retry after a failed send',
      RETRY,
      { ...TRANSIENT_HEADERS, 'x-send-failures': 1, 'x-attempts': 1, 'x-custom': 'kept' },
    ],
    [
      'a retry after an internal error',
      {
        action: 'retry',
        delayMs: 1000,
        failure: { failureClass: 'internal', message: 'connect ECONNREFUSED' },
        counts: { internalErrors: 1 },
        retryNumber: 1,
      },
      {
        'x-last-error': 'connect ECONNREFUSED',
        'x-last-error-class': 'internal',
        'x-first-failure-at': NOW.toISOString(),
        'x-last-failure-at': NOW.toISOString(),
        'x-worker-id': WORKER,
        'x-internal-errors': 1,
        'x-custom': 'kept',
      },
    ],
    [
      'a hold without a failure (in progress elsewhere)',
      HOLD_IN_PROGRESS,
      { 'x-hold-reason': 'in_progress', 'x-custom': 'kept' },
    ],
    [
      'a hold after an unknown outcome',
      HOLD_UNKNOWN,
      {
        'x-last-error': 'Timeout',
        'x-last-error-class': 'unknown_outcome',
        'x-first-failure-at': NOW.toISOString(),
        'x-last-failure-at': NOW.toISOString(),
        'x-worker-id': WORKER,
        'x-hold-reason': 'unknown_outcome',
        'x-custom': 'kept',
      },
    ],
    [
      'a dead letter',
      DEAD_LETTER,
      {
        'x-last-error': 'No such user',
        'x-last-error-class': 'permanent',
        'x-first-failure-at': NOW.toISOString(),
        'x-last-failure-at': NOW.toISOString(),
        'x-worker-id': WORKER,
        'x-smtp-code': 550,
        'x-smtp-response': '550 5.1.1 No such user',
        'x-send-failures': 3,
        'x-attempts': 4,
        'x-dead-letter-reason': 'smtp_rejected',
        'x-custom': 'kept',
      },
    ],
  ])('when the copy is %s of a fresh message, then it carries exactly these headers', (_label, outcome, expected) => {
    // Arrange
    const original = { 'x-custom': 'kept' };

    // Act
    const headers = copyHeaders(original, outcome, WORKER, NOW);

    // Assert
    expect(headers).toEqual(expected);
  });

  it.each<[string, CopyOutcome]>([
    ['a retry', RETRY],
    ['a hold without a failure', HOLD_IN_PROGRESS],
    ['a hold with a failure', HOLD_UNKNOWN],
    ['a dead letter', DEAD_LETTER],
  ])(
    'when the original carries the broker’s history, then %s drops all of it and keeps the rest',
    (_label, outcome) => {
      // Arrange
      const original = { ...BROKER_HISTORY, 'x-replay-count': 1 };

      // Act
      const headers = copyHeaders(original, outcome, WORKER, NOW);

      // Assert
      for (const name of Object.keys(BROKER_HISTORY)) expect(headers).not.toHaveProperty([name]);
      expect(headers).toHaveProperty(['x-replay-count'], 1);
    },
  );

  it.each<[string, CopyOutcome]>([
    ['a retry', RETRY],
    ['a hold with a failure', HOLD_UNKNOWN],
    ['a dead letter', DEAD_LETTER],
  ])(
    'when an earlier copy recorded the first failure, then %s keeps its time and stamps only the last one',
    (_label, outcome) => {
      // Arrange
      const original = { 'x-first-failure-at': EARLIER, 'x-last-failure-at': EARLIER };

      // Act
      const headers = copyHeaders(original, outcome, WORKER, NOW);

      // Assert
      expect(headers).toMatchObject({ 'x-first-failure-at': EARLIER, 'x-last-failure-at': NOW.toISOString() });
    },
  );

  it.each<[string, CopyOutcome, Headers]>([
    [
      'a retry with no counts',
      { ...RETRY, counts: {} } as CopyOutcome,
      { 'x-send-failures': 2, 'x-attempts': 3, 'x-internal-errors': 1 },
    ],
    [
      'a retry counting internal errors only',
      { ...RETRY, counts: { internalErrors: 2 } } as CopyOutcome,
      { 'x-send-failures': 2, 'x-attempts': 3, 'x-internal-errors': 2 },
    ],
    [
      'a retry counting zero send failures (after refused credentials)',
      { ...RETRY, counts: { sendFailures: 0, ledgerAttempts: 4 } } as CopyOutcome,
      { 'x-send-failures': 0, 'x-attempts': 4, 'x-internal-errors': 1 },
    ],
    [
      'a dead letter counting ledger attempts only',
      { ...DEAD_LETTER, counts: { ledgerAttempts: 5 } } as CopyOutcome,
      { 'x-send-failures': 2, 'x-attempts': 5, 'x-internal-errors': 1 },
    ],
    [
      'a hold (which carries no counts)',
      HOLD_UNKNOWN,
      { 'x-send-failures': 2, 'x-attempts': 3, 'x-internal-errors': 1 },
    ],
  ])('when the copy is %s, then only the counts it gives are written', (_label, outcome, expected) => {
    // Arrange
    const original = { 'x-send-failures': 2, 'x-attempts': 3, 'x-internal-errors': 1 };

    // Act
    const headers = copyHeaders(original, outcome, WORKER, NOW);

    // Assert
    expect({
      'x-send-failures': headers['x-send-failures'],
      'x-attempts': headers['x-attempts'],
      'x-internal-errors': headers['x-internal-errors'],
    }).toEqual(expected);
  });

  it.each([
    ['999 characters', 999, 999],
    ['1000 characters', 1000, 1000],
    ['1001 characters', 1001, 1000],
    ['5000 characters', 5000, 1000],
  ])('when the error and the SMTP reply are %s long, then each header keeps %i of them', (_label, length, kept) => {
    // Arrange
    const text = 'x'.repeat(length);
    const outcome: CopyOutcome = { ...RETRY, failure: { ...TRANSIENT, message: text, response: `451 ${text}` } };

    // Act
    const headers = copyHeaders(undefined, outcome, WORKER, NOW);

    // Assert
    expect(headers['x-last-error']).toBe(text.slice(0, kept));
    expect(headers['x-smtp-response']).toBe(`451 ${text}`.slice(0, 1000));
    expect((headers['x-smtp-response'] as string).length).toBe(Math.min(length + 4, 1000));
  });

  it.each<[string, Headers | undefined]>([
    ['a fresh message', undefined],
    ['a copy whose earlier failure had a 451 reply', { 'x-smtp-code': 451, 'x-smtp-response': '451 4.7.1 Greylisted' }],
  ])('when the failure had no SMTP reply (%s), then the copy carries no reply headers', (_label, original) => {
    // Arrange
    const outcome: CopyOutcome = { ...RETRY, failure: { failureClass: 'transient', message: 'connect ECONNREFUSED' } };

    // Act
    const headers = copyHeaders(original, outcome, WORKER, NOW);

    // Assert
    expect(headers).not.toHaveProperty(['x-smtp-code']);
    expect(headers).not.toHaveProperty(['x-smtp-response']);
  });

  it('when a copy is made, then the original headers are left as they were', () => {
    // Arrange
    const original = { ...BROKER_HISTORY, 'x-send-failures': 1 };
    const before = structuredClone(original);

    // Act
    copyHeaders(original, DEAD_LETTER, WORKER, NOW);

    // Assert
    expect(original).toEqual(before);
  });
});

describe('historyFromHeaders', () => {
  it.each<[string, Headers | undefined, MessageHistory]>([
    [
      'no headers at all',
      undefined,
      { sendFailures: 0, internalErrors: 0, ledgerAttempts: 0, replayed: false, suppressionOverride: false },
    ],
    [
      'no mailer headers',
      { 'x-custom': 'a' },
      { sendFailures: 0, internalErrors: 0, ledgerAttempts: 0, replayed: false, suppressionOverride: false },
    ],
    [
      'every count',
      { 'x-send-failures': 2, 'x-internal-errors': 1, 'x-attempts': 5 },
      { sendFailures: 2, internalErrors: 1, ledgerAttempts: 5, replayed: false, suppressionOverride: false },
    ],
    [
      'only the legacy x-attempts (a copy by an older mailer, which counted failed sends in it)',
      { 'x-attempts': 3 },
      { sendFailures: 3, internalErrors: 0, ledgerAttempts: 3, replayed: false, suppressionOverride: false },
    ],
    [
      'x-send-failures 0 beside x-attempts',
      { 'x-send-failures': 0, 'x-attempts': 3 },
      { sendFailures: 0, internalErrors: 0, ledgerAttempts: 3, replayed: false, suppressionOverride: false },
    ],
    [
      'counts as strings',
      { 'x-send-failures': '2', 'x-internal-errors': '1', 'x-attempts': '4' },
      { sendFailures: 2, internalErrors: 1, ledgerAttempts: 4, replayed: false, suppressionOverride: false },
    ],
    [
      'unreadable counts',
      { 'x-send-failures': 'many', 'x-internal-errors': null, 'x-attempts': {} },
      { sendFailures: 0, internalErrors: 0, ledgerAttempts: 0, replayed: false, suppressionOverride: false },
    ],
    [
      'the replay stamp',
      { 'x-replayed-at': '2024-05-01T12:00:00.000Z', 'x-replay-count': 1 },
      { sendFailures: 0, internalErrors: 0, ledgerAttempts: 0, replayed: true, suppressionOverride: false },
    ],
    [
      'a forced replay (x-suppression-override: true)',
      { 'x-replayed-at': '2024-05-01T12:00:00.000Z', 'x-suppression-override': true },
      { sendFailures: 0, internalErrors: 0, ledgerAttempts: 0, replayed: true, suppressionOverride: true },
    ],
    [
      'an override that is not the boolean true',
      { 'x-suppression-override': 'true' },
      { sendFailures: 0, internalErrors: 0, ledgerAttempts: 0, replayed: false, suppressionOverride: false },
    ],
  ])('when the message carries %s, then its history is read as given', (_label, headers, expected) => {
    // Act
    const history = historyFromHeaders(headers);

    // Assert
    expect(history).toEqual(expected);
  });

  it('when a retry copy is read back, then its history continues where the copy left it', () => {
    // Arrange
    const copy = copyHeaders({ ...BROKER_HISTORY }, RETRY, WORKER, NOW);

    // Act
    const history = historyFromHeaders(copy);

    // Assert
    expect(history).toEqual({
      sendFailures: 1,
      internalErrors: 0,
      ledgerAttempts: 1,
      replayed: false,
      suppressionOverride: false,
    });
  });
});
