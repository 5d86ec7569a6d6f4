/** sim_events_rate: not built yet (needs the simulator). */
import type { PhaseContext } from './context.ts';

export async function runSimPhase(ctx: PhaseContext): Promise<void> {
  ctx.missing('sim_events_rate', 'not measured yet');
}
