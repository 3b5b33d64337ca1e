import type { DeadLetterState } from '../../src/domain/dead-letters';
import {
  decideReplayStep,
  isReplayJobId,
  pendingLetters,
  replayFilterRecord,
  replayPauseMs,
  toReplayJobView,
  type ReplayJobRecord,
  type ReplayStep,
} from '../../src/domain/replay-job';

const JOB = '0b6d7e3c-8a55-4e0e-9c59-3c1f2b1a9d01';
const OTHER_JOB = '5f0e4e52-3b7f-4d1c-8f5e-0a7c2d9b6e11';

describe('decideReplayStep', () => {
  it.each<[string, { state: DeadLetterState; replayJobId: string | null } | null, ReplayStep]>([
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
  ])('when the dead letter is %s, then the step is as expected', (_case, letter, expected) => {
    // Act
    const step = decideReplayStep(letter, JOB);

    // Assert
    expect(step).toEqual(expected);
  });
});

function job(overrides: Partial<ReplayJobRecord> = {}): ReplayJobRecord {
  return {
    id: JOB,
    state: 'running',
    filter: { reason: 'smtp_rejected' },
    limit: 100,
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
    const record = job({ moved: 2, skipped: { purged: 1 }, republished: 1, resumes: 1 });

    // Act
    const view = toReplayJobView(record);

    // Assert
    expect(view).toEqual({
      id: JOB,
      state: 'running',
      filter: { reason: 'smtp_rejected' },
      limit: 100,
      requestedBy: 'admin:abc',
      createdAt: '2026-01-02T03:04:05.000Z',
      updatedAt: '2026-01-02T03:04:06.000Z',
      finishedAt: null,
      matched: 10,
      moved: 2,
      skipped: { purged: 1 },
      failed: 0,
      pending: 7,
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
