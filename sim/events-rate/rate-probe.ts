/**
 * A profiling entry, not part of the simulator: runs the sim_events_rate measurement as bench does
 * (the storm of sim/events-rate/bench-api.ts, events / wallMs of its report, then the bare loop at its peak
 * pending count for at least 3,000,000 events) and prints one JSON line with events/s, the
 * baseline, the ratio, the storm's CPU time and peak RSS. Wall figures swing
 * with whatever else runs on the machine; `cpuMs` and `eventsPerCpuSec` much less so.
 *
 *   node --import tsx sim/events-rate/rate-probe.ts [peers=10000] [durationMs=60000] [seed=1]
 *   node --import tsx --cpu-prof --cpu-prof-dir=prof sim/events-rate/rate-probe.ts   (then read prof/*.cpuprofile)
 */
import { resourceUsage } from 'node:process';
import { presenceStormScenario, runBareLoop, runScenario } from './bench-api.ts';

/** What bench/sim-rate.ts runs the bare loop for at least (its storm-length run is too short to time). */
const BARE_LOOP_EVENTS_MIN = 3_000_000;

const [peers = 10_000, durationMs = 60_000, seed = 1] = process.argv.slice(2).map(Number);
const cpuStart = process.cpuUsage();
const report = runScenario(presenceStormScenario(peers, durationMs), { seed });
const cpu = process.cpuUsage(cpuStart);
const eventsPerSec = report.events / Math.max(report.wallMs / 1000, 1e-9);
const pendingMax = report.metrics.queue_pending_max ?? peers;
const baseline = runBareLoop(pendingMax, Math.max(BARE_LOOP_EVENTS_MIN, report.events), seed);
process.stdout.write(
  `${JSON.stringify({
    peers: report.peers,
    events: report.events,
    wallMs: report.wallMs,
    eventsPerSec: Math.round(eventsPerSec),
    baselineEventsPerSec: Math.round(baseline.eventsPerSec),
    ratio: Number((eventsPerSec / baseline.eventsPerSec).toFixed(4)),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    eventsPerCpuSec: Math.round(report.events / ((cpu.user + cpu.system) / 1e6)),
    pendingMax,
    peakRssMb: Math.round(resourceUsage().maxRSS / 1024),
    traceHash: report.traceHash,
    violations: report.violations.length,
  })}\n`,
);
