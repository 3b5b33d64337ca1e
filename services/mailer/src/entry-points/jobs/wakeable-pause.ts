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
