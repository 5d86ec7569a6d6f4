/**
 * The baseline of the sim_events_rate benchmark: the same binary-heap event queue holding the
 * same number of pending events, where each event does nothing but schedule its successor at a
 * pseudo-random later time. What the simulator adds on top (network, codec, server machine,
 * peers, checkers) is the difference.
 */
import { performance } from 'node:perf_hooks';
import { EventQueue } from '../world/event-queue.ts';
import { Prng } from '../world/prng.ts';

export interface LoopRate {
  readonly events: number;
  readonly wallMs: number;
  readonly eventsPerSec: number;
}

export function runBareLoop(pendingCount: number, eventsTotal: number, seed = 1): LoopRate {
  const queue = new EventQueue();
  const prng = new Prng(seed);
  let nowMs = 0;
  const tick = (): void => {
    queue.push(nowMs + 1 + prng.int(1_000), tick);
  };
  for (let i = 0; i < pendingCount; i++) queue.push(prng.int(1_000), tick);
  const startMs = performance.now();
  let events = 0;
  while (events < eventsTotal) {
    const event = queue.pop();
    if (event === null) break;
    nowMs = event.atMs;
    const fn = event.fn;
    event.fn = null;
    events += 1;
    fn?.();
  }
  const wallMs = performance.now() - startMs;
  return { events, wallMs, eventsPerSec: events / Math.max(wallMs / 1000, 1e-9) };
}
