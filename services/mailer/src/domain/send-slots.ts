/**
 * A counting semaphore for the worker's sends: at most `size` run at once, the others wait in
 * arrival order. Pure (no I/O); the mail worker holds a slot from its claim in the ledger to the
 * record of the outcome, so no more orders are `sending` than the SMTP pool can serve.
 */
export interface SendSlots {
  /** Runs `work` once a slot is free and frees it when `work` settles; resolves or rejects as `work` does. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Slots taken now. */
  busy(): number;
  /** Calls waiting for a slot now. */
  waiting(): number;
}

/** `size` slots (a whole number ≥ 1; throws RangeError otherwise). */
export function createSendSlots(size: number): SendSlots {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`send slots: size must be a whole number ≥ 1, got ${size}`);
  let taken = 0;
  const queue: Array<() => void> = [];
  const release = () => {
    const next = queue.shift();
    // The slot passes straight to the next caller, so a late arrival cannot overtake the queue.
    if (next) next();
    else taken -= 1;
  };
  return {
    async run(work) {
      if (taken < size) taken += 1;
      else await new Promise<void>((resolve) => queue.push(resolve));
      try {
        return await work();
      } finally {
        release();
      }
    },
    busy: () => taken,
    waiting: () => queue.length,
  };
}
