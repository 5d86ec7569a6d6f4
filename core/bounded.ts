/**
 * Bounded collections kept in insertion order: past its bound the oldest entry goes first. Every
 * map or set the machines keep per user, per request or per address is bounded this way, so that
 * no peer can grow it without end (a caller re-inserts a key it touches to make it the newest).
 */

/**
 * Drops the oldest entry of `entries` once it holds more than `sizeMax`, and says which: callers
 * add one entry at a time, so one drop brings it back to its bound. Undefined when within it.
 */
export function dropOldestPast<K>(entries: Map<K, unknown> | Set<K>, sizeMax: number): K | undefined {
  if (entries.size <= sizeMax) return undefined;
  // More entries than a bound of at least zero: there is a first one.
  const [oldest] = entries.keys() as Iterable<K>;
  entries.delete(oldest as K);
  return oldest;
}
