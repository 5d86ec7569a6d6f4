/**
 * The event queue: a binary min-heap ordered by (atMs, seq). seq is a global insertion counter, so
 * two events at the same virtual time run in the order they were scheduled: the order is total
 * and depends on nothing but the run's own history.
 *
 * Cancelled events stay in the heap and are skipped when they surface (cheaper than removal).
 */
/** Something whose pending events die with it (a crashed process), or wait while it is paused. */
export interface EventOwner {
  readonly alive: boolean;
  /** Until when the owner is paused (a stopped process): its events wait till then. */
  readonly pausedUntilMs: number;
}

export interface QueuedEvent {
  /** Changed only by requeue (a paused owner's event waits, the same event, so cancel still works). */
  atMs: number;
  seq: number;
  fn: (() => void) | null;
  /** The event is dropped unrun if its owner died meanwhile (null: the world owns it). */
  readonly owner: EventOwner | null;
}

export class EventQueue {
  private readonly heap: QueuedEvent[] = [];
  private nextSeq = 0;
  /** Events scheduled and not yet run or cancelled. */
  private liveCount = 0;

  get size(): number {
    return this.liveCount;
  }

  /** Heap entries, cancelled ones included (memory, not work). */
  get heapSize(): number {
    return this.heap.length;
  }

  push(atMs: number, fn: () => void, owner: EventOwner | null = null): QueuedEvent {
    return this.insert({ atMs, seq: this.nextSeq++, fn, owner });
  }

  /** Puts a popped event back at a later time, after everything already queued for that time. */
  requeue(event: QueuedEvent, atMs: number): void {
    event.atMs = atMs;
    event.seq = this.nextSeq++;
    this.insert(event);
  }

  private insert(event: QueuedEvent): QueuedEvent {
    const atMs = event.atMs;
    const heap = this.heap;
    let i = heap.length;
    heap.push(event);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as QueuedEvent;
      if (p.atMs < atMs || (p.atMs === atMs && p.seq < event.seq)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = event;
    this.liveCount += 1;
    return event;
  }

  cancel(event: QueuedEvent): void {
    if (event.fn === null) return;
    event.fn = null;
    this.liveCount -= 1;
  }

  /** Time of the earliest live event, or null. */
  peekMs(): number | null {
    this.dropCancelled();
    const top = this.heap[0];
    return top === undefined ? null : top.atMs;
  }

  /** Removes the earliest live event; null when empty. */
  pop(): QueuedEvent | null {
    this.dropCancelled();
    const top = this.popRaw();
    if (top !== null) this.liveCount -= 1;
    return top;
  }

  /**
   * Removes the earliest live event if it is due by `untilMs`, else null (nothing due, or empty):
   * the run loop's peekMs and pop in one look at the top.
   */
  popDue(untilMs: number): QueuedEvent | null {
    this.dropCancelled();
    const top = this.heap[0];
    if (top === undefined || top.atMs > untilMs) return null;
    this.popRaw();
    this.liveCount -= 1;
    return top;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && (this.heap[0] as QueuedEvent).fn === null) this.popRaw();
  }

  private popRaw(): QueuedEvent | null {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return null;
    const last = heap.pop() as QueuedEvent;
    const n = heap.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      let c = heap[left] as QueuedEvent;
      if (right < n) {
        const r = heap[right] as QueuedEvent;
        if (r.atMs < c.atMs || (r.atMs === c.atMs && r.seq < c.seq)) {
          child = right;
          c = r;
        }
      }
      if (last.atMs < c.atMs || (last.atMs === c.atMs && last.seq < c.seq)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
