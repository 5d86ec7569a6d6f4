/** file_transfer_mb_s: not built yet (needs the headless client). */
import type { PhaseContext } from './context.ts';

export async function runFilePhase(ctx: PhaseContext): Promise<void> {
  ctx.missing('file_transfer_mb_s', 'not measured yet');
}
