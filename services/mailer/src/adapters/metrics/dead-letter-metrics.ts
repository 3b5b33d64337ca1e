import { Counter, Gauge, type Registry } from 'prom-client';
import { DEAD_LETTER_REASON_DESCRIPTIONS } from '../../domain/dead-letter-reasons';
import { sharedRead } from './shared-read';

/** What the gauges read from the `dead_letters` table at each scrape (`DeadLetterRecords.stats`). */
export interface DeadLetterStats {
  /** `dead` records (waiting for an operator) per reason; reasons without any may be left out. */
  waitingByReason: Record<string, number>;
  /** When the oldest `dead` record was dead-lettered; null when none waits. */
  oldestWaitingAt: Date | null;
}

export interface DeadLetterMetrics {
  /** `count` dead letters were recorded from the dead-letter queue (a whole number, 0 or more). */
  recorded(count: number): void;
  /** A replay job ended so. */
  jobFinished(state: 'succeeded' | 'failed'): void;
}

/** The `outcome` label values of `mailer_replay_jobs_total`, created at zero. */
const JOB_OUTCOMES = ['succeeded', 'failed'] as const;

/**
 * Registers the dead-letter metrics on `registry` (infra/METRICS.md):
 * - `mailer_dead_letters_waiting{reason}` (gauge): `dead` records per reason, every reason of
 *   `DEAD_LETTER_REASON_DESCRIPTIONS` at least at 0, plus any other reason the table holds;
 * - `mailer_dead_letter_oldest_waiting_age_seconds` (gauge): seconds since the oldest `dead`
 *   record was dead-lettered, 0 when none waits;
 * - `mailer_dead_letters_recorded_total` (counter), `mailer_replay_jobs_total{outcome}` (counter,
 *   `succeeded` and `failed` at 0 from the start).
 * The gauges call `options.stats()` once per scrape (both share the call). Every mailer reads the
 * same table, so they all report the same values: aggregate with `max`, never `sum`. When
 * `stats()` rejects (PostgreSQL away, tables not migrated yet) the scrape still succeeds: the
 * counts keep their last values and the age keeps growing from the last oldest time known (0 if
 * none was ever read). Never throws.
 */
export function createDeadLetterMetrics(
  registry: Registry,
  options: { stats: () => Promise<DeadLetterStats> },
): DeadLetterMetrics {
  const registers = [registry];
  let last: DeadLetterStats | null = null;
  // One stats() per scrape: the registry collects the two gauges concurrently, so both await one read.
  const refresh = sharedRead(options.stats, (stats) => {
    last = stats;
  });

  const waiting = new Gauge({
    name: 'mailer_dead_letters_waiting',
    help: 'Dead letters recorded and waiting for an operator (state dead), by reason; every mailer reports the same table, so aggregate with max.',
    labelNames: ['reason'] as const,
    registers,
    async collect() {
      await refresh();
      if (last) setWaiting(this, last.waitingByReason);
    },
  });
  for (const reason of Object.keys(DEAD_LETTER_REASON_DESCRIPTIONS)) waiting.set({ reason }, 0);

  new Gauge({
    name: 'mailer_dead_letter_oldest_waiting_age_seconds',
    help: 'Seconds since the oldest dead letter still waiting (state dead) was dead-lettered; 0 when none waits.',
    registers,
    async collect() {
      await refresh();
      const oldest = last?.oldestWaitingAt ?? null;
      this.set(oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0);
    },
  });

  const recorded = new Counter({
    name: 'mailer_dead_letters_recorded_total',
    help: 'Dead letters this mailer recorded from the dead-letter queue into PostgreSQL.',
    registers,
  });
  const jobs = new Counter({
    name: 'mailer_replay_jobs_total',
    help: 'Replay jobs this mailer finished, by outcome.',
    labelNames: ['outcome'] as const,
    registers,
  });
  for (const outcome of JOB_OUTCOMES) jobs.inc({ outcome }, 0);

  return {
    recorded: (count) => recorded.inc(count),
    jobFinished: (state) => jobs.inc({ outcome: state }),
  };
}

/** Sets the waiting gauge to `byReason`: a reason no longer counted drops to 0 (a known one) or goes (another). */
function setWaiting(gauge: Gauge<'reason'>, byReason: Record<string, number>): void {
  gauge.reset();
  for (const reason of Object.keys(DEAD_LETTER_REASON_DESCRIPTIONS)) gauge.set({ reason }, 0);
  for (const [reason, count] of Object.entries(byReason)) gauge.set({ reason }, count);
}
