/** The Clock of the real world: wall time and node timers. */
import type { Clock } from '../../core/transport.ts';

/** setTimeout's own limit; longer waits are re-armed in steps. */
const TIMER_DELAY_MS_MAX = 2_147_483_647;

export const realClock: Clock = {
  nowMs: () => Date.now(),
  at(atMs, fn) {
    const timer = setTimeout(fn, Math.min(TIMER_DELAY_MS_MAX, Math.max(0, atMs - Date.now())));
    return () => clearTimeout(timer);
  },
};
