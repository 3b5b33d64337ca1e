/**
 * Group commit: many callers' writes go to the database in one statement (or one transaction),
 * and each caller's promise settles only once that batch has committed.
 *
 * Batches form on their own, without a timer: a write that arrives while `maxConcurrent` batches
 * are already under way waits for one of them to finish and goes with everything else that
 * arrived meanwhile. An idle writer therefore adds no delay (its write leaves in the same turn
 * of the event loop), and a busy one makes fewer, larger round trips. This is how PostgreSQL's
 * own `commit_delay` and most write-ahead logs batch, minus the fixed wait.
 */
export interface GroupCommitOptions<In, Out> {
  /**
   * Writes `items` together; resolves with one result per item, in the same order. Rejecting
   * fails the whole batch; see `isolateAfter` for what happens next.
   */
  flush(items: readonly In[]): Promise<readonly Out[]>;
  /**
   * Items with the same key never share a batch nor run in two batches at once (e.g. two writes
   * to one ledger row, whose order inside a single statement would be undefined); a later one
   * waits until the earlier one's batch has finished, so they reach the database in order.
   */
  keyOf(item: In): string;
  /** Most items in one batch (e.g. 100). */
  maxBatch: number;
  /** Most batches under way at once (e.g. 2); at least 1. */
  maxConcurrent: number;
  /**
   * Whether a failed batch of several items should be retried item by item, so that one bad item
   * (or a deadlock between two batches) does not fail its neighbours: true for errors the server
   * answered (it is up), false when it is unreachable, where every item would fail alike.
   * The items of a retried batch settle with their own outcomes.
   */
  isolateAfter(err: unknown): boolean;
}

/** Submits one item; resolves with its result once its batch committed, rejects with its batch's error. */
export type GroupCommit<In, Out> = (item: In) => Promise<Out>;

interface Waiting<In, Out> {
  item: In;
  resolve(out: Out): void;
  reject(err: unknown): void;
}

/** Creates a group-commit writer over `options.flush` (see {@link GroupCommitOptions}). */
export function createGroupCommit<In, Out>(options: GroupCommitOptions<In, Out>): GroupCommit<In, Out> {
  const queue: Waiting<In, Out>[] = [];
  let running = 0;
  let scheduled = false;
  /** Keys of the items in batches under way. */
  const busy = new Set<string>();

  const runBatch = async (batch: Waiting<In, Out>[]): Promise<void> => {
    try {
      const results = await options.flush(batch.map((w) => w.item));
      if (results.length !== batch.length)
        throw new Error(`group commit: flush returned ${results.length} results for ${batch.length} items`);
      batch.forEach((w, i) => w.resolve(results[i]));
    } catch (err) {
      if (batch.length > 1 && options.isolateAfter(err)) {
        await Promise.all(batch.map((w) => runBatch([w])));
      } else {
        for (const w of batch) w.reject(err);
      }
    }
  };

  const takeBatch = (): Waiting<In, Out>[] => {
    const batch: Waiting<In, Out>[] = [];
    const keys = new Set<string>();
    for (let i = 0; i < queue.length && batch.length < options.maxBatch;) {
      const key = options.keyOf(queue[i].item);
      if (keys.has(key) || busy.has(key)) {
        i += 1;
        continue;
      }
      keys.add(key);
      batch.push(...queue.splice(i, 1));
    }
    return batch;
  };

  const pump = (): void => {
    scheduled = false;
    while (running < Math.max(1, options.maxConcurrent) && queue.length > 0) {
      const batch = takeBatch();
      // Every queued item waits for a batch under way that holds its key.
      if (batch.length === 0) return;
      const keys = batch.map((w) => options.keyOf(w.item));
      for (const key of keys) busy.add(key);
      running += 1;
      void runBatch(batch).finally(() => {
        for (const key of keys) busy.delete(key);
        running -= 1;
        pump();
      });
    }
  };

  return (item) =>
    new Promise<Out>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      // Writes submitted in the same turn of the event loop leave together.
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(pump);
      }
    });
}
