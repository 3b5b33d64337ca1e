import type { DeadLetterState } from '../../src/domain/dead-letters';
import {
  decideReplayStep,
  isReplayJobId,
  pendingLetters,
  readStoredReplayFilter,
  replayFilterRecord,
  replayPauseMs,
  replayRecipientKey,
  storedReplayFilter,
  suppressedReport,
  toReplayJobView,
  type ReplayJobRecord,
  type ReplayLetterState,
  type ReplayStep,
} from '../../src/domain/replay-job';

const JOB = '0b6d7e3c-8a55-4e0e-9c59-3c1f2b1a9d01';
const OTHER_JOB = '5f0e4e52-3b7f-4d1c-8f5e-0a7c2d9b6e11';

describe('decideReplayStep', () => {
  it.each<[string, Omit<ReplayLetterState, 'recipientSuppressed'> | null, ReplayStep]>([
    ['dead and taken on by the job', { state: 'dead', replayJobId: JOB }, { action: 'move' }],
    [
      'left replaying by the job (its mailer stopped)',
      { state: 'replaying', replayJobId: JOB },
      { action: 'republish' },
    ],
    ['purged after the job took it on', { state: 'purged', replayJobId: JOB }, { action: 'skip', reason: 'purged' }],
    ['purged and let go of', { state: 'purged', replayJobId: null }, { action: 'skip', reason: 'purged' }],
    ['no longer recorded (retention deleted it)', null, { action: 'skip', reason: 'purged' }],
    ['already replayed by the job', { state: 'replayed', replayJobId: JOB }, { action: 'skip', reason: 'not_dead' }],
    ['replayed by another job', { state: 'replayed', replayJobId: OTHER_JOB }, { action: 'skip', reason: 'not_dead' }],
    [
      'dead but taken on by another job',
      { state: 'dead', replayJobId: OTHER_JOB },
      { action: 'skip', reason: 'not_dead' },
    ],
    ['dead and no job', { state: 'dead', replayJobId: null }, { action: 'skip', reason: 'not_dead' }],
    [
      'replaying for another job',
      { state: 'replaying', replayJobId: OTHER_JOB },
      { action: 'skip', reason: 'not_dead' },
    ],
  ])(
    'when the dead letter is %s (recipient not suppressed), then the step is as expected',
    (_case, letter, expected) => {
      // Arrange
      const state = letter && { ...letter, recipientSuppressed: false };

      // Act
      const step = decideReplayStep(state, { id: JOB, force: false });

      // Assert
      expect(step).toEqual(expected);
    },
  );

  it.each<[string, DeadLetterState, string | null, boolean, ReplayStep]>([
    ['dead and taken on by the job, no force', 'dead', JOB, false, { action: 'skip', reason: 'suppressed' }],
    ['dead and taken on by the job, with force', 'dead', JOB, true, { action: 'move' }],
    // Its copy may be in the work queue already; the worker applies the list to it.
    ['left replaying by the job, no force', 'replaying', JOB, false, { action: 'republish' }],
    ['left replaying by the job, with force', 'replaying', JOB, true, { action: 'republish' }],
    ['purged after the job took it on, with force', 'purged', JOB, true, { action: 'skip', reason: 'purged' }],
    ['already replayed by the job, no force', 'replayed', JOB, false, { action: 'skip', reason: 'not_dead' }],
    ['dead but taken on by another job, no force', 'dead', OTHER_JOB, false, { action: 'skip', reason: 'not_dead' }],
    ['dead but taken on by another job, with force', 'dead', OTHER_JOB, true, { action: 'skip', reason: 'not_dead' }],
  ])(
    'when the recipient is suppressed and the dead letter is %s, then the step is as expected',
    (_case, state, replayJobId, force, expected) => {
      // Arrange
      const letter: ReplayLetterState = { state, replayJobId, recipientSuppressed: true };

      // Act
      const step = decideReplayStep(letter, { id: JOB, force });

      // Assert
      expect(step).toEqual(expected);
    },
  );

  it('when the recipient is not suppressed and the job forces, then a dead letter is moved as without force', () => {
    // Act
    const step = decideReplayStep(
      { state: 'dead', replayJobId: JOB, recipientSuppressed: false },
      { id: JOB, force: true },
    );

    // Assert
    expect(step).toEqual({ action: 'move' });
  });
});

describe('replayRecipientKey', () => {
  const body = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');

  it.each<[string, Buffer, string | null]>([
    [
      'an event with a normalised address',
      body({ order: { customer: { email: 'ada@example.com' } } }),
      'ada@example.com',
    ],
    [
      'an address with an upper-case domain (the local part keeps its case)',
      body({ order: { customer: { email: 'Ada@EXAMPLE.com' } } }),
      'Ada@example.com',
    ],
    [
      'an address with a Unicode domain',
      body({ order: { customer: { email: 'ada@bücher.example' } } }),
      'ada@xn--bcher-kva.example',
    ],
    [
      'an address that does not parse (its own key, as the worker keys it)',
      body({ order: { customer: { email: 'not an address' } } }),
      'not an address',
    ],
    ['an empty address', body({ order: { customer: { email: '' } } }), null],
    ['an address that is not a string', body({ order: { customer: { email: 42 } } }), null],
    ['no customer', body({ order: { orderId: 'A-1' } }), null],
    ['an order that is not an object', body({ order: 'A-1' }), null],
    ['a body that is JSON null', body('null'), null],
    ['a body that is a JSON number', body('5'), null],
    ['a body that is not JSON', body('not json'), null],
    ['a body that is not UTF-8', Buffer.from([0xff, 0xfe, 0x00]), null],
  ])('when the body is %s, then the key is %p', (_case, content, expected) => {
    // Act
    const key = replayRecipientKey(content);

    // Assert
    expect(key).toBe(expected);
  });
});

describe('suppressedReport', () => {
  it.each<[string, string[], { count: number; deadLetterIds: string[] }]>([
    ['none', [], { count: 0, deadLetterIds: [] }],
    ['two', ['4', '9'], { count: 2, deadLetterIds: ['4', '9'] }],
    [
      '150 (only the first 100 listed)',
      Array.from({ length: 150 }, (_, i) => String(i + 1)),
      { count: 150, deadLetterIds: Array.from({ length: 100 }, (_, i) => String(i + 1)) },
    ],
  ])(
    'when the suppressed dead letters are %s, then the report counts all and lists the first 100',
    (_case, ids, expected) => {
      // Act
      const report = suppressedReport(ids);

      // Assert
      expect(report).toEqual(expected);
    },
  );
});

function job(overrides: Partial<ReplayJobRecord> = {}): ReplayJobRecord {
  return {
    id: JOB,
    state: 'running',
    filter: { reason: 'smtp_rejected' },
    limit: 100,
    force: false,
    requestedBy: 'admin:abc',
    matched: 10,
    moved: 0,
    skipped: {},
    failed: 0,
    republished: 0,
    resumes: 0,
    runningOn: 'worker-a',
    error: null,
    createdAt: new Date('2026-01-02T03:04:05.000Z'),
    updatedAt: new Date('2026-01-02T03:04:06.000Z'),
    finishedAt: null,
    ...overrides,
  };
}

describe('pendingLetters', () => {
  it.each<[string, Partial<ReplayJobRecord>, number]>([
    ['running, nothing done yet', {}, 10],
    ['running, some moved and skipped', { moved: 4, skipped: { purged: 1, not_dead: 2 } }, 3],
    ['running, everything accounted for', { moved: 9, skipped: { purged: 1 } }, 0],
    ['running, counts over matched (never negative)', { moved: 11 }, 0],
    ['succeeded', { state: 'succeeded', moved: 10 }, 0],
    ['failed half-way (the rest stay dead)', { state: 'failed', moved: 3, failed: 1 }, 0],
  ])('when the job is %s, then pending is %d', (_case, overrides, expected) => {
    // Act
    const pending = pendingLetters(job(overrides));

    // Assert
    expect(pending).toBe(expected);
  });
});

describe('toReplayJobView', () => {
  it('when a job is shown, then its times are ISO 8601 and pending is computed', () => {
    // Arrange
    const record = job({ moved: 2, skipped: { purged: 1, suppressed: 1 }, republished: 1, resumes: 1, force: true });

    // Act
    const view = toReplayJobView(record);

    // Assert
    expect(view).toEqual({
      id: JOB,
      state: 'running',
      filter: { reason: 'smtp_rejected' },
      limit: 100,
      force: true,
      requestedBy: 'admin:abc',
      createdAt: '2026-01-02T03:04:05.000Z',
      updatedAt: '2026-01-02T03:04:06.000Z',
      finishedAt: null,
      matched: 10,
      moved: 2,
      skipped: { purged: 1, suppressed: 1 },
      failed: 0,
      pending: 6,
      republished: 1,
      resumes: 1,
      runningOn: 'worker-a',
      error: null,
    });
  });
});

describe('replayFilterRecord', () => {
  it.each<[string, Parameters<typeof replayFilterRecord>[0], Record<string, unknown>]>([
    ['empty', {}, { all: true }],
    ['only a state (replays take dead ones anyway)', { state: 'any' }, { all: true }],
    [
      'a reason and an SMTP code',
      { reason: 'smtp_rejected', smtpCode: 550 },
      { reason: 'smtp_rejected', smtpCode: 550 },
    ],
    [
      'an order and a time range',
      { orderId: 'O-1', from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-01-02T00:00:00Z') },
      { orderId: 'O-1', from: '2026-01-01T00:00:00.000Z', to: '2026-01-02T00:00:00.000Z' },
    ],
  ])('when the filter is %s, then the job stores it as expected', (_case, filter, expected) => {
    // Act
    const stored = replayFilterRecord(filter);

    // Assert
    expect(stored).toEqual(expected);
  });
});

describe('storedReplayFilter and readStoredReplayFilter', () => {
  it.each<[string, Parameters<typeof storedReplayFilter>[0], boolean, Record<string, unknown>]>([
    ['every dead letter, no force', {}, false, { all: true }],
    ['every dead letter, with force', {}, true, { all: true, force: true }],
    ['a reason, with force', { reason: 'smtp_rejected' }, true, { reason: 'smtp_rejected', force: true }],
    ['an SMTP code, no force', { smtpCode: 550 }, false, { smtpCode: 550 }],
  ])(
    'when the request is %s, then the job stores it as expected and reads it back',
    (_case, filter, force, expected) => {
      // Act
      const stored = storedReplayFilter(filter, force);
      const read = readStoredReplayFilter(stored);

      // Assert
      expect(stored).toEqual(expected);
      expect(read).toEqual({ filter: replayFilterRecord(filter), force });
    },
  );

  it.each<[string, Record<string, unknown>, boolean]>([
    ['a job from before force (no member)', { reason: 'smtp_rejected' }, false],
    ['force: false', { all: true, force: false }, false],
    ['force that is not a boolean', { all: true, force: 'yes' }, false],
  ])(
    'when the stored filter has %s, then the job does not force and the filter shows no force',
    (_case, stored, force) => {
      // Act
      const read = readStoredReplayFilter(stored);

      // Assert
      expect(read.force).toBe(force);
      expect(read.filter).not.toHaveProperty('force');
    },
  );
});

describe('isReplayJobId', () => {
  it.each<[string, boolean]>([
    [JOB, true],
    [JOB.toUpperCase(), true],
    ['not-a-uuid', false],
    ['', false],
    [`${JOB}x`, false],
    ["0'; DROP TABLE replay_jobs; --", false],
  ])('when the id is %p, then it names a job: %p', (id, expected) => {
    // Act
    const valid = isReplayJobId(id);

    // Assert
    expect(valid).toBe(expected);
  });
});

describe('replayPauseMs', () => {
  it.each<[number, number]>([
    [50, 20],
    [1000, 1],
    [0, 0],
  ])('when the rate is %d a second, then the pause after each publish is %d ms', (rate, expected) => {
    // Act
    const pause = replayPauseMs(rate);

    // Assert
    expect(pause).toBe(expected);
  });
});
