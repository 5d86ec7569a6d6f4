/**
 * When each peer starts: arrival phases of a given duration and rate (peers per second), with an
 * optional linear ramp to another rate. Peers start in index order; without phases all start at
 * once; peers left over when the phases end start at their end.
 */
import type { Scenario } from '../scenarios/scenario-schema.ts';

export function arrivalTimes(phases: Scenario['arrivals'], peerCount: number): Float64Array {
  const times = new Float64Array(peerCount);
  if (phases === undefined || phases.length === 0) return times;
  let index = 0;
  let phaseStartMs = 0;
  for (const phase of phases) {
    const from = phase.rate;
    const to = phase.rampTo ?? phase.rate;
    const durationS = phase.durationMs / 1000;
    // Peers arrived by t seconds into the phase: from*t + (to-from)*t^2/(2*duration).
    const expected = (from + to) * durationS / 2;
    let arrivedInPhase = 0;
    while (index < peerCount && arrivedInPhase + 1 <= expected + 1e-9) {
      arrivedInPhase += 1;
      times[index] = phaseStartMs + 1000 * timeOfArrival(arrivedInPhase, from, to, durationS);
      index += 1;
    }
    phaseStartMs += phase.durationMs;
  }
  for (; index < peerCount; index++) times[index] = phaseStartMs;
  return times;
}

/** Solves from*t + (to-from)*t^2/(2d) = n for t in [0, d]. */
function timeOfArrival(n: number, from: number, to: number, d: number): number {
  const a = (to - from) / (2 * d);
  if (Math.abs(a) < 1e-12) return from === 0 ? d : Math.min(d, n / from);
  const disc = from * from + 4 * a * n;
  const t = (-from + Math.sqrt(Math.max(0, disc))) / (2 * a);
  return Math.min(d, Math.max(0, t));
}
