/**
 * sim_events_rate: the simulator runs a 10,000-peer world in a process of its own (it is CPU-bound
 * and must not share an event loop with the orchestrator), then its bare heap loop runs the same
 * number of events at the same pending count in that same process. The figure is the storm as
 * scenarios/storms/presence-storm-10k.yaml runs it (light protocol clients); the same world with the real
 * peer machine as every user is run too and kept in the details.
 */
import { startBaselineProcess } from '../baselines.ts';
import { progress } from '../progress.ts';
import type { SimRateFigures } from '../sim-rate.ts';
import type { PhaseContext } from './context.ts';

/** The storm's seed: fixed, so every run simulates the very same world (same trace hash). */
const SIM_SEED = 1;
const SIM_TIMEOUT_MS = 180_000;

export async function runSimPhase(ctx: PhaseContext): Promise<void> {
  const c = ctx.config;
  await ctx.phase('sim', ['sim_events_rate'], async () => {
    progress(`simulator: ${c.simPeers} peers, ${c.simVirtualMs / 1000} s of virtual time, seed ${SIM_SEED}`);
    const child = startBaselineProcess('simulator');
    try {
      const sim = await child.call<SimRateFigures>('sim', { peers: c.simPeers, virtualMs: c.simVirtualMs, seed: SIM_SEED }, SIM_TIMEOUT_MS);
      const violations = sim.violations + sim.peerMachine.violations;
      ctx.record('sim_events_rate', {
        value: sim.eventsPerSec,
        baseline: sim.baselineEventsPerSec,
        details: {
          driver: 'protocol-client',
          peers: sim.peers,
          events: sim.events,
          baselineEvents: sim.baselineEvents,
          wallMs: Math.round(sim.wallMs),
          virtualMs: sim.virtualMs,
          pendingMax: sim.pendingMax,
          seed: SIM_SEED,
          peerMachineEventsPerSec: Math.round(sim.peerMachine.eventsPerSec),
          peerMachineEvents: sim.peerMachine.events,
        },
        ...(violations > 0 ? { note: `${violations} invariant violations in the simulated runs` } : {}),
      });
    } finally {
      await child.stop();
    }
  });
}
