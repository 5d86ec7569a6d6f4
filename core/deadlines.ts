/**
 * Deadlines keyed by string, with the earliest one found in O(log n): the timers of a machine.
 *
 * A key has at most one deadline and exactly one heap entry while it has one. Re-arming a key
 * later (a heartbeat pushing a TTL out) only updates a field; the entry is moved down lazily, when
 * it surfaces at the top. Disarming removes the entry at once (each entry knows its heap index): a
 * server disarms every connection's login idle timer on login, and a held connection should not
 * keep a dead timer (its key, its map slot, its heap entry) until the old deadline would have come.
 */
interface Entry<K> {
  readonly key: K;
  /** The real deadline. */
  due: number;
  /** The deadline the heap is ordered by: never later than `due` (re-arming later leaves it). */
  queued: number;
  /** Position in the heap array. */
  index: number;
}

export class Deadlines<K extends string = string> {
  /** One entry per armed key. */
  private readonly keys = new Map<K, Entry<K>>();
  /** Min-heap of entries by `queued`. */
  private readonly heap: Array<Entry<K>> = [];

  get size(): number {
    return this.keys.size;
  }

  has(key: K): boolean {
    return this.keys.has(key);
  }

  atMs(key: K): number | undefined {
    return this.keys.get(key)?.due;
  }

  arm(key: K, atMs: number): void {
    const entry = this.keys.get(key);
    if (entry === undefined) {
      const fresh: Entry<K> = { key, due: atMs, queued: atMs, index: this.heap.length };
      this.keys.set(key, fresh);
      this.heap.push(fresh);
      this.siftUp(fresh.index);
      return;
    }
    entry.due = atMs;
    if (atMs >= entry.queued) return;
    entry.queued = atMs;
    this.siftUp(entry.index);
  }

  disarm(key: K): void {
    const entry = this.keys.get(key);
    if (entry === undefined) return;
    this.keys.delete(key);
    this.removeAt(entry.index);
  }

  /** The earliest armed deadline, or null when none is armed. */
  nextMs(): number | null {
    this.settleTop();
    const top = this.heap[0];
    return top === undefined ? null : top.due;
  }

  /** Removes and returns one key whose deadline is at or before nowMs, or null. */
  popDue(nowMs: number): K | null {
    this.settleTop();
    const top = this.heap[0];
    if (top === undefined || top.due > nowMs) return null;
    this.keys.delete(top.key);
    this.removeAt(0);
    return top.key;
  }

  /**
   * Moves entries re-armed later down to where their real deadline belongs, until the top's is
   * real. Bounded: each round settles one entry, which stays settled until it is re-armed.
   */
  private settleTop(): void {
    for (let top = this.heap[0]; top !== undefined && top.queued !== top.due; top = this.heap[0]) {
      top.queued = top.due;
      this.siftDown(0);
    }
  }

  private removeAt(index: number): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || index === heap.length) return;
    heap[index] = last;
    last.index = index;
    this.siftDown(index);
    this.siftUp(last.index);
  }

  private siftUp(start: number): void {
    const heap = this.heap;
    const entry = heap[start]!;
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.queued <= entry.queued) break;
      heap[i] = p;
      p.index = i;
      i = parent;
    }
    heap[i] = entry;
    entry.index = i;
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    const entry = heap[start]!;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.queued < heap[left]!.queued ? right : left;
      const c = heap[child]!;
      if (c.queued >= entry.queued) break;
      heap[i] = c;
      c.index = i;
      i = child;
    }
    heap[i] = entry;
    entry.index = i;
  }
}
