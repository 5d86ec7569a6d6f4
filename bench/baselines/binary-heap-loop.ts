/**
 * The sim_events_rate baseline: a bare discrete-event loop on a binary heap ordered by
 * (time, sequence), holding the same number of pending events as the simulated world has peers.
 * Each event does nothing but schedule its successor at a pseudo-random later time, so this is the
 * ceiling any simulator built on an event queue can reach on this machine.
 */

/** A min-heap of (atMs, seq) pairs kept in two parallel typed arrays: no per-event allocation. */
class EventHeap {
  private readonly times: Float64Array;
  private readonly seqs: Float64Array;
  private size = 0;

  constructor(capacity: number) {
    this.times = new Float64Array(capacity);
    this.seqs = new Float64Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  push(atMs: number, seq: number): void {
    if (this.size >= this.times.length) throw new RangeError('event heap full');
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(atMs, seq, this.times[parent] as number, this.seqs[parent] as number)) break;
      this.times[i] = this.times[parent] as number;
      this.seqs[i] = this.seqs[parent] as number;
      i = parent;
    }
    this.times[i] = atMs;
    this.seqs[i] = seq;
  }

  /** Removes the earliest event and returns its time (the caller only needs the time). */
  pop(): number {
    const top = this.times[0] as number;
    const lastTime = this.times[--this.size] as number;
    const lastSeq = this.seqs[this.size] as number;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) break;
      const right = left + 1;
      const child =
        right < this.size && this.less(this.times[right] as number, this.seqs[right] as number, this.times[left] as number, this.seqs[left] as number) ? right : left;
      if (!this.less(this.times[child] as number, this.seqs[child] as number, lastTime, lastSeq)) break;
      this.times[i] = this.times[child] as number;
      this.seqs[i] = this.seqs[child] as number;
      i = child;
    }
    this.times[i] = lastTime;
    this.seqs[i] = lastSeq;
    return top;
  }

  private less(t1: number, s1: number, t2: number, s2: number): boolean {
    return t1 < t2 || (t1 === t2 && s1 < s2);
  }
}

export interface HeapLoopResult {
  readonly events: number;
  readonly wallMs: number;
  readonly eventsPerSec: number;
}

/** Events between two clock reads: reading the clock per event would dominate the loop. */
const EVENTS_PER_CLOCK_CHECK = 8_192;

export function runBinaryHeapLoop(pending: number, durationMs: number, seed = 1): HeapLoopResult {
  const heap = new EventHeap(pending + 1);
  let state = seed >>> 0 || 1;
  const nextDelayMs = (): number => {
    // xorshift32: cheap and deterministic, like a simulator's seeded PRNG.
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return 1 + (state % 1000);
  };
  let seq = 0;
  for (let i = 0; i < pending; i++) heap.push(nextDelayMs(), seq++);
  const startedMs = performance.now();
  let events = 0;
  let elapsedMs = 0;
  while (elapsedMs < durationMs) {
    for (let i = 0; i < EVENTS_PER_CLOCK_CHECK; i++) {
      const nowMs = heap.pop();
      heap.push(nowMs + nextDelayMs(), seq++);
    }
    events += EVENTS_PER_CLOCK_CHECK;
    elapsedMs = performance.now() - startedMs;
  }
  return { events, wallMs: elapsedMs, eventsPerSec: (events * 1000) / elapsedMs };
}
