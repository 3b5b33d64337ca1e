import { setTimeout as sleep } from 'node:timers/promises';

/** SMTP_RATE_LIMIT_PAUSE_MS's default: the first pause after a rate-limit reply. */
export const DEFAULT_RATE_LIMIT_PAUSE_MS = 5000;
/** The longest pause after rate-limit replies in a row (the pause doubles up to it), and SMTP_RATE_LIMIT_PAUSE_MS's maximum. */
export const MAX_RATE_LIMIT_PAUSE_MS = 60_000;

/**
 * One worker's pause of its sends after the SMTP relay turned a send away for our rate (a
 * `rate_limited` failure). Every send of the worker waits for the pause to end before its claim;
 * the pause is this worker's only (another mailer learns of the relay's limit from its own
 * replies), and it doubles while rate-limit replies keep coming.
 */
export interface SendPause {
  /** Resolves once no pause is on (at once when none is); a pause lengthened meanwhile is waited for too. */
  whenOver(): Promise<void>;
  /** Whether a pause is on now. */
  isOn(): boolean;
  /** Taken as a send starts: which pause it started after, for `rateLimited` and `accepted`. */
  mark(): number;
  /**
   * A send that started at `mark` was turned away for our rate: starts a pause and returns its
   * length, or returns null when a pause started since that send began (the sends in flight when a
   * relay starts limiting are turned away together: they start one pause, not one each, and do
   * not lengthen it).
   */
  rateLimited(mark: number): number | null;
  /** A send that started at `mark` was accepted: when it began after the latest pause, the next pause is the first length again. */
  accepted(mark: number): void;
}

export interface SendPauseOptions {
  /** The first pause (SMTP_RATE_LIMIT_PAUSE_MS); each pause in a row doubles it. */
  baseMs: number;
  /** The longest pause (at least `baseMs`). */
  maxMs: number;
  /** The clock (milliseconds); `Date.now` by default. */
  now?: () => number;
  /** Waits `ms`; a timer by default. */
  wait?: (ms: number) => Promise<void>;
}

/**
 * A pause of `baseMs`, `2 × baseMs`, `4 × baseMs` … (at most `maxMs`) for each rate-limit reply in a
 * row, the row ending with a send that started after the latest pause and was accepted. No I/O
 * but its timer.
 */
export function createSendPause(options: SendPauseOptions): SendPause {
  const now = options.now ?? Date.now;
  const wait = options.wait ?? ((ms: number) => sleep(ms));
  let until = 0;
  /** Pauses started so far: a send's mark is the count when it started. */
  let generation = 0;
  /** Pauses in a row without an accepted send since. */
  let inARow = 0;
  return {
    async whenOver() {
      for (let left = until - now(); left > 0; left = until - now()) await wait(left);
    },
    isOn: () => until > now(),
    mark: () => generation,
    rateLimited(mark) {
      if (mark !== generation) return null;
      generation += 1;
      inARow += 1;
      const ms = Math.min(options.baseMs * 2 ** Math.min(inARow - 1, 30), Math.max(options.maxMs, options.baseMs));
      until = Math.max(until, now() + ms);
      return ms;
    },
    accepted(mark) {
      if (mark === generation) inARow = 0;
    },
  };
}
