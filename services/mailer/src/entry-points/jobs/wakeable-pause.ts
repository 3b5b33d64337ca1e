/**
 * The pause between two rounds of a background job (the outbox relay, the webhook dispatcher):
 * `wait(ms)` resolves after `ms`, sooner on `wake()` (after `wakeDelayMs`, so that wakes close
 * together end one pause) or at once on `stop()`. A wake that comes while no pause runs (the
 * job is in the middle of a round) is kept for the next `wait`, so it is never lost; after
 * `stop()` every `wait` resolves at once.
 */
export interface WakeablePause {
  wait(ms: number): Promise<void>;
  wake(): void;
  stop(): void;
}

/** A `WakeablePause`; `wakeDelayMs` 0 ends a pause at the wake itself. */
export function createWakeablePause(wakeDelayMs = 0): WakeablePause {
  let stopped = false;
  let woken = false;
  let running: { until: number; timer: NodeJS.Timeout; done: () => void } | null = null;

  function shortenTo(delayMs: number): void {
    if (!running) return;
    if (delayMs === 0) return running.done();
    if (running.until - Date.now() <= delayMs) return;
    clearTimeout(running.timer);
    running.until = Date.now() + delayMs;
    running.timer = setTimeout(running.done, delayMs);
  }

  return {
    wait(ms) {
      if (stopped) return Promise.resolve();
      const wokenMeanwhile = woken;
      woken = false;
      const length = wokenMeanwhile ? Math.min(ms, wakeDelayMs) : ms;
      if (length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(pause.timer);
          if (running === pause) running = null;
          resolve();
        };
        const pause = { until: Date.now() + length, timer: setTimeout(done, length), done };
        running = pause;
      });
    },
    wake() {
      if (running) shortenTo(wakeDelayMs);
      else woken = true;
    },
    stop() {
      stopped = true;
      running?.done();
    },
  };
}

/** A loop that runs in the background, one round after another, with a `WakeablePause` between. */
export interface BackgroundJob {
  /** Starts the loop (once). */
  start(): void;
  /** Ends the current pause (after `wakeDelayMs`), or the next one if a round is under way. */
  wake(): void;
  /** Lets the round under way finish, runs `finish`; resolves once the loop has ended. */
  stop(): Promise<void>;
  /** True once `stop` was called. */
  stopping(): boolean;
}

/**
 * The loop of a background job (the outbox relay, the webhook dispatcher): `round` resolves with
 * how long to wait before the next (0: at once); a round that rejects is handed to `failed`,
 * which resolves with how long to wait then; after `stop`, `finish` runs once. Never rejects:
 * `failed` and `finish` must not.
 */
export function createBackgroundJob(steps: {
  round(): Promise<number>;
  failed(err: unknown): Promise<number>;
  finish(): Promise<void>;
  wakeDelayMs?: number;
}): BackgroundJob {
  const pause = createWakeablePause(steps.wakeDelayMs);
  let stopping = false;
  let loop: Promise<void> | null = null;
  async function run(): Promise<void> {
    while (!stopping) {
      let waitMs: number;
      try {
        waitMs = await steps.round();
      } catch (err) {
        waitMs = await steps.failed(err);
      }
      await pause.wait(waitMs);
    }
    await steps.finish();
  }
  return {
    start() {
      loop ??= run();
    },
    wake: () => pause.wake(),
    async stop() {
      stopping = true;
      pause.stop();
      await loop;
    },
    stopping: () => stopping,
  };
}
