import { Registry } from 'prom-client';
import {
  createDeadLetterMetrics,
  type DeadLetterMetrics,
  type DeadLetterStats,
} from '../../src/adapters/metrics/dead-letter-metrics';
import { DEAD_LETTER_REASON_DESCRIPTIONS } from '../../src/domain/dead-letter-reasons';

/** One scrape, parsed: `name{labels}` → value, as Prometheus would read the exposition. */
async function scrape(registry: Registry): Promise<Map<string, number>> {
  const text = await registry.metrics();
  return new Map(
    text
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => {
        const at = line.lastIndexOf(' ');
        return [line.slice(0, at), Number(line.slice(at + 1))] as const;
      }),
  );
}

const KNOWN_REASONS = Object.keys(DEAD_LETTER_REASON_DESCRIPTIONS);

describe('createDeadLetterMetrics', () => {
  let registry: Registry;
  let metrics: DeadLetterMetrics;
  let stats: jest.Mock<Promise<DeadLetterStats>, []>;

  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-11-25T18:00:00Z'), doNotFake: ['nextTick', 'setImmediate'] });
    registry = new Registry();
    stats = jest.fn<Promise<DeadLetterStats>, []>();
    metrics = createDeadLetterMetrics(registry, { stats });
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('when nothing waits, then every known reason is a series at 0, the age is 0, and both job outcomes are at 0', async () => {
    // Arrange
    stats.mockResolvedValue({ waitingByReason: {}, oldestWaitingAt: null });

    // Act
    const series = await scrape(registry);

    // Assert
    for (const reason of KNOWN_REASONS) expect(series.get(`mailer_dead_letters_waiting{reason="${reason}"}`)).toBe(0);
    expect(series.get('mailer_dead_letter_oldest_waiting_age_seconds')).toBe(0);
    expect(series.get('mailer_dead_letters_recorded_total')).toBe(0);
    expect(series.get('mailer_replay_jobs_total{outcome="succeeded"}')).toBe(0);
    expect(series.get('mailer_replay_jobs_total{outcome="failed"}')).toBe(0);
  });

  it('when dead letters wait, then the gauges show them per reason and the age of the oldest in seconds, from one stats() call', async () => {
    // Arrange
    stats.mockResolvedValue({
      waitingByReason: { smtp_rejected: 19_000, invalid_event: 1000, unknown: 2 },
      oldestWaitingAt: new Date('2026-11-24T18:00:00Z'),
    });

    // Act
    const series = await scrape(registry);

    // Assert
    expect(series.get('mailer_dead_letters_waiting{reason="smtp_rejected"}')).toBe(19_000);
    expect(series.get('mailer_dead_letters_waiting{reason="invalid_event"}')).toBe(1000);
    expect(series.get('mailer_dead_letters_waiting{reason="unknown"}')).toBe(2);
    expect(series.get('mailer_dead_letters_waiting{reason="delivery_limit"}')).toBe(0);
    expect(series.get('mailer_dead_letter_oldest_waiting_age_seconds')).toBe(86_400);
    expect(stats).toHaveBeenCalledTimes(1);
  });

  it('when a reason no longer waits at the next scrape, then its series drops to 0 (known) or goes (other)', async () => {
    // Arrange
    stats.mockResolvedValueOnce({
      waitingByReason: { smtp_rejected: 3, from_a_newer_mailer: 1 },
      oldestWaitingAt: new Date('2026-11-25T17:00:00Z'),
    });
    stats.mockResolvedValueOnce({ waitingByReason: {}, oldestWaitingAt: null });
    await scrape(registry);

    // Act
    const series = await scrape(registry);

    // Assert
    expect(series.get('mailer_dead_letters_waiting{reason="smtp_rejected"}')).toBe(0);
    expect(series.has('mailer_dead_letters_waiting{reason="from_a_newer_mailer"}')).toBe(false);
    expect(series.get('mailer_dead_letter_oldest_waiting_age_seconds')).toBe(0);
  });

  it('when stats() fails, then the scrape still succeeds with the last counts, and the age keeps growing from the last oldest time', async () => {
    // Arrange
    stats.mockResolvedValueOnce({
      waitingByReason: { retries_exhausted: 7 },
      oldestWaitingAt: new Date('2026-11-25T17:00:00Z'),
    });
    stats.mockRejectedValue(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    await scrape(registry);
    jest.setSystemTime(new Date('2026-11-25T18:10:00Z'));

    // Act
    const series = await scrape(registry);

    // Assert
    expect(series.get('mailer_dead_letters_waiting{reason="retries_exhausted"}')).toBe(7);
    expect(series.get('mailer_dead_letter_oldest_waiting_age_seconds')).toBe(4200);
  });

  it('when stats() fails before any success, then the scrape succeeds with every known reason at 0 and the age 0', async () => {
    // Arrange
    stats.mockRejectedValue(new Error('relation "dead_letters" does not exist'));

    // Act
    const series = await scrape(registry);

    // Assert
    for (const reason of KNOWN_REASONS) expect(series.get(`mailer_dead_letters_waiting{reason="${reason}"}`)).toBe(0);
    expect(series.get('mailer_dead_letter_oldest_waiting_age_seconds')).toBe(0);
  });

  it.each([
    ['recorded(3) and recorded(2)', 'mailer_dead_letters_recorded_total', 5, [3, 2], []],
    ['jobFinished succeeded twice', 'mailer_replay_jobs_total{outcome="succeeded"}', 2, [], ['succeeded', 'succeeded']],
    ['jobFinished failed once', 'mailer_replay_jobs_total{outcome="failed"}', 1, [], ['failed']],
  ] as const)('when %s, then %s is %i', async (_name, series, value, recorded, finished) => {
    // Arrange
    stats.mockResolvedValue({ waitingByReason: {}, oldestWaitingAt: null });

    // Act
    for (const count of recorded) metrics.recorded(count);
    for (const state of finished) metrics.jobFinished(state);

    // Assert
    expect((await scrape(registry)).get(series)).toBe(value);
  });
});
