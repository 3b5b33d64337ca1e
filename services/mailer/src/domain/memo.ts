/**
 * `build` with its results kept by key: for objects that are costly to build and the same for
 * every message in one language, such as `Intl` formatters (each holds ICU data outside the
 * JavaScript heap; building one per message costs CPU and memory, see README "Benchmark").
 *
 * The keys come from events (a customer's locale), so the store is bounded: it is emptied when it
 * reaches `maxEntries` (default 500), which a shop's few dozen locales never do. A `build` that
 * throws (an unknown locale) is not remembered, and throws again next time.
 */
export function memoize<T>(build: (key: string) => T, maxEntries = 500): (key: string) => T {
  const store = new Map<string, T>();
  return (key) => {
    const known = store.get(key);
    if (known !== undefined) return known;
    const value = build(key);
    if (store.size >= maxEntries) store.clear();
    store.set(key, value);
    return value;
  };
}
