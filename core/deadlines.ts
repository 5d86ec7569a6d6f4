/**
 * Deadlines keyed by string, with the earliest one found in O(log n): the timers of a machine.
 *
 * A key has at most one deadline. Re-arming a key later (a heartbeat pushing a TTL out) only
 * updates a map; the heap entry is fixed up lazily when it surfaces, so the heap holds about one
 * entry per key however often keys are re-armed.
 */
export class Deadlines<K extends string = string> {
  /** The real deadline of each armed key. */
  private readonly due = new Map<K, number>();
  /** Min-heap of [atMs, key]; an entry is stale when `due` says otherwise. */
  private readonly heap: Array<[number, K]> = [];
  /** The earliest deadline each key has in the heap, so re-arming later pushes nothing. */
  private readonly queuedAt = new Map<K, number>();

  get size(): number {
    return this.due.size;
  }

  has(key: K): boolean {
    return this.due.has(key);
  }

  atMs(key: K): number | undefined {
    return this.due.get(key);
  }

  arm(key: K, atMs: number): void {
    this.due.set(key, atMs);
    const queued = this.queuedAt.get(key);
    if (queued !== undefined && queued <= atMs) return;
    this.queuedAt.set(key, atMs);
    this.push([atMs, key]);
  }

  disarm(key: K): void {
    this.due.delete(key);
  }

  /** The earliest armed deadline, or null when none is armed. */
  nextMs(): number | null {
    this.dropStale();
    const top = this.heap[0];
    return top === undefined ? null : top[0];
  }

  /** Removes and returns one key whose deadline is at or before nowMs, or null. */
  popDue(nowMs: number): K | null {
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (top === undefined || top[0] > nowMs) return null;
      this.pop();
      const [, key] = top;
      this.due.delete(key);
      this.queuedAt.delete(key);
      return key;
    }
  }

  /** Pops entries whose key was disarmed or re-armed later, re-queuing the latter. */
  private dropStale(): void {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined) return;
      const [atMs, key] = top;
      const due = this.due.get(key);
      if (due === atMs) return;
      this.pop();
      if (due === undefined) {
        this.queuedAt.delete(key);
      } else {
        this.queuedAt.set(key, due);
        this.push([due, key]);
      }
    }
  }

  private push(entry: [number, K]): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p[0] <= entry[0]) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]![0] < heap[left]![0] ? right : left;
      if (heap[child]![0] >= last[0]) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}
