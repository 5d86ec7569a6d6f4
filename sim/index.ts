/**
 * sim/: the deterministic simulator. What it offers to the CLI, bench and tests:
 * - runScenario(scenario, {seed}) → RunReport (CONTRACTS.md section 2), and the loader that
 *   turns a YAML file into a validated Scenario with positioned errors;
 * - runSwarm / shrinkScenario: random seeds and faults, deletion shrinking;
 * - the bench entry (presence storm, bare event loop, sim_events_rate);
 * - the `--html` page: SimRunRecorder watches a run (pass its attach/sample to runScenario) and
 *   writeSimHtml draws the finished runs;
 * - the world's parts (PRNG, event queue, clock, network, drivers) for tests that build their own.
 * docs/SIMULATOR.md explains how it works; scenarios/README.md documents the scenario schema.
 */
export { runScenario, livenessMsOf, type RunOptions } from './command/run-scenario.ts';
export { loadScenarioFile, parseScenario, ScenarioError, type LoadedScenario } from './scenarios/scenario-loader.ts';
export { scenarioSchema, CHECKER_NAMES, DRIVERS, SCENARIO_VERSION, type Scenario, type ScenarioInput, type Step, type Fault, type CheckerName } from './scenarios/scenario-schema.ts';
export { scenarioToYaml } from './scenarios/scenario-writer.ts';
export { summarize, type RunReport, type Expectation } from './command/sim-report.ts';
export type { Violation } from './checkers/checkers.ts';
export { runSwarm, randomFaults, pinFaultTargets, type SwarmResult, type SwarmFailure } from './swarm/swarm.ts';
export { shrinkScenario, scenarioSize } from './swarm/shrink.ts';
export { SimRunRecorder, type SimRunPage } from './report-html/sim-timeline.ts';
export { simHtml, writeSimHtml } from './report-html/sim-html.ts';
export { presenceStormScenario, measureSimEventsRate, runBareLoop, type SimRate, type LoopRate } from './events-rate/bench-api.ts';
export { Prng } from './world/prng.ts';
export { TraceHash, fnv1a32 } from './world/trace-hash.ts';
export { EventQueue } from './world/event-queue.ts';
export { SimClock, Scope } from './world/sim-clock.ts';
export { SimNetwork, type LinkProfile } from './world/network.ts';
export type { PeerDriver, PeerObserver } from './drivers/peer-driver.ts';
