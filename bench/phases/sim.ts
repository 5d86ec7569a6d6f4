/**
 * sim_events_rate: the simulator runs a 10,000-peer world in a process of its own (it is CPU-bound
 * and must not share an event loop with the orchestrator), then its bare heap loop runs the same
 * number of events at the same pending count in that same process. The figure is the storm as
 * scenarios/storms/presence-storm-10k.yaml runs it (light protocol clients); the same world with the real
 * peer machine as every user is run too and kept in the details.
 */
import { startBaselineProcess } from '../baselines.ts';
import { progress } from '../progress.ts';
import type { SimRateFigures, SimScaleFigures } from '../sim-rate.ts';
import type { PhaseContext } from './context.ts';

/** The storm's seed: fixed, so every run simulates the very same world (same trace hash). */
const SIM_SEED = 1;
const SIM_TIMEOUT_MS = 180_000;
/** The million-peer storm takes tens of minutes on two cores (docs/SIMULATOR.md). */
const SIM_SCALE_TIMEOUT_MS = 45 * 60_000;
/** Its process's heap: the million-peer storm peaked at 11 GiB of RSS (docs/SIMULATOR.md); V8's default (~4 GB) ends it early. */
const SIM_SCALE_HEAP_MB = 20_000;

export async function runSimPhase(ctx: PhaseContext): Promise<void> {
  const c = ctx.config;
  await ctx.phase('sim', ['sim_events_rate', 'sim_peers_max'], async () => {
    progress(`simulator: ${c.simPeers} peers, ${c.simVirtualMs / 1000} s of virtual time, seed ${SIM_SEED}`);
    const child = startBaselineProcess('simulator');
    try {
      const sim = await child.call<SimRateFigures>('sim', { peers: c.simPeers, virtualMs: c.simVirtualMs, seed: SIM_SEED }, SIM_TIMEOUT_MS);
      ctx.charts.throughputOf('simulator', `simulated events processed (${sim.peers}-peer storm)`, sim.overTime);
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
      recordPeersMax(ctx, sim, c.simPeersMax > sim.peers ? await measureScale(c.simPeersMax) : null);
    } finally {
      await child.stop();
    }
  });
}

/** The full run's storm at simPeersMax peers, in a process of its own with a large heap; null if it could not run. */
async function measureScale(peers: number): Promise<SimScaleFigures | { error: string }> {
  progress(`simulator: the ${peers}-peer storm (long)`);
  const child = startBaselineProcess('simulator-scale', { NODE_OPTIONS: `--max-old-space-size=${SIM_SCALE_HEAP_MB}` });
  try {
    return await child.call<SimScaleFigures>('simScale', { peers, seed: SIM_SEED }, SIM_SCALE_TIMEOUT_MS);
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  } finally {
    await child.stop();
  }
}

/**
 * sim_peers_max: peers in the largest run that converged. The sim_events_rate storm (10,000 peers,
 * every user on the shipped server-link machine) counts when it held every invariant; the full
 * run's scale storm, when it passed, replaces it.
 */
function recordPeersMax(ctx: PhaseContext, rate: SimRateFigures, scale: SimScaleFigures | { error: string } | null): void {
  const rateConverged = rate.violations === 0;
  const scaleConverged = scale !== null && 'passed' in scale && scale.passed;
  const value = scaleConverged ? scale.peers : rateConverged ? rate.peers : 0;
  const note =
    scale === null ? undefined : 'error' in scale ? `the ${ctx.config.simPeersMax}-peer storm did not finish: ${scale.error}` : scale.passed ? undefined : `the ${scale.peers}-peer storm did not converge (${scale.violations} violations)`;
  ctx.record('sim_peers_max', {
    value,
    details: {
      driver: 'protocol-client',
      tried: scale === null ? rate.peers : ctx.config.simPeersMax,
      ...(scale !== null && 'passed' in scale ? { events: scale.events, wallMs: scale.wallMs, peakRssBytes: scale.peakRssBytes, bytesPerPeer: scale.bytesPerPeer } : {}),
    },
    ...(note === undefined ? {} : { note }),
  });
}
