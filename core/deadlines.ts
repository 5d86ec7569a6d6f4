/**
 * Deadlines keyed by string, with the earliest one found in O(log n): the timers of a machine.
 *
 * A key has at most one deadline. Re-arming a key later (a heartbeat pushing a TTL out) only
 * updates a map; the heap entry is fixed up lazily when it surfaces, so the heap holds about one
 * entry per key however often keys are re-armed.
 */
/** What is known of one key: its real deadline and the earliest one it has in the heap. */
interface KeyState {
  /** The real deadline, or undefined once disarmed. */
  due: number | undefined;
  /** The earliest deadline this key has in the heap, so re-arming later pushes nothing. */
  queued: number | undefined;
}

export class Deadlines<K extends string = string> {
  /**
   * One record per key with a deadline or a heap entry: one map lookup per operation (a
   * heartbeat re-arms its TTL on every frame), where two maps (due, queued) took two or three.
   */
  private readonly keys = new Map<K, KeyState>();
  /** Keys whose `due` is set. */
  private armed = 0;
  /** Min-heap of [atMs, key]; an entry is stale when the key's `due` says otherwise. */
  private readonly heap: Array<[number, K]> = [];

  get size(): number {
    return this.armed;
  }

  has(key: K): boolean {
    return this.keys.get(key)?.due !== undefined;
  }

  atMs(key: K): number | undefined {
    return this.keys.get(key)?.due;
  }

  arm(key: K, atMs: number): void {
    let state = this.keys.get(key);
    if (state === undefined) {
      state = { due: undefined, queued: undefined };
      this.keys.set(key, state);
    }
    if (state.due === undefined) this.armed += 1;
    state.due = atMs;
    if (state.queued !== undefined && state.queued <= atMs) return;
    state.queued = atMs;
    this.push([atMs, key]);
  }

  disarm(key: K): void {
    const state = this.keys.get(key);
    if (state === undefined || state.due === undefined) return;
    state.due = undefined;
    this.armed -= 1;
    if (state.queued === undefined) this.keys.delete(key);
  }

  /** The earliest armed deadline, or null when none is armed. */
  nextMs(): number | null {
    this.dropStale();
    const top = this.heap[0];
    return top === undefined ? null : top[0];
  }

  /** Removes and returns one key whose deadline is at or before nowMs, or null. */
  popDue(nowMs: number): K | null {
    this.dropStale();
    const top = this.heap[0];
    if (top === undefined || top[0] > nowMs) return null;
    this.pop();
    const key = top[1];
    // dropStale left a top whose key is armed at exactly this time.
    this.keys.delete(key);
    this.armed -= 1;
    return key;
  }

  /** Pops entries whose key was disarmed or re-armed later, re-queuing the latter. */
  private dropStale(): void {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined) return;
      const key = top[1];
      const state = this.keys.get(key);
      const due = state?.due;
      if (due === top[0]) return;
      this.pop();
      if (state === undefined) continue;
      if (due === undefined) {
        state.queued = undefined;
        this.keys.delete(key);
      } else {
        state.queued = due;
        // The popped entry, re-used: the same push as a fresh [due, key], one allocation less.
        top[0] = due;
        this.push(top);
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
