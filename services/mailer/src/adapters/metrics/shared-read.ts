/**
 * A refresh for gauges that read one source at scrape time: the registry collects gauges
 * concurrently, so every caller while a `read()` is under way awaits that same read, and each
 * scrape reads once. A value read is handed to `keep`; a read that rejects (PostgreSQL away, tables
 * not migrated yet) is ignored, so the gauges keep their last values and the scrape still succeeds.
 * The returned function never rejects.
 */
export function sharedRead<T>(read: () => Promise<T>, keep: (value: T) => void): () => Promise<void> {
  let reading: Promise<void> | null = null;
  return () =>
    (reading ??= read()
      .then(keep, () => undefined)
      .finally(() => {
        reading = null;
      }));
}
