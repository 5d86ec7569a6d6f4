/**
 * The simulator's multi-node world (sim/world/cluster-world.ts, scenario key `cluster`): several
 * shipped server machines with the shipped cluster routing over a simulated bus and one shared
 * store. Presence holds across nodes, a node crash and a bus partition do what docs/CLUSTER.md
 * says, a planted bus bug is caught, and one-server scenarios are untouched.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { ScenarioError, loadScenarioFile, parseScenario } from '../../sim/scenarios/scenario-loader.ts';
import type { Scenario } from '../../sim/scenarios/scenario-schema.ts';
import type { World } from '../../sim/world/world.ts';

const CORPUS = 'scenarios/cluster-three-nodes.yaml';
/** A three-node run takes a few seconds on a loaded two-core machine. */
const RUN_TIMEOUT_MS = 120_000;

function failures(report: ReturnType<typeof runScenario>): unknown {
  return { failed: report.expectations.filter((e) => !e.passed), violations: report.violations.slice(0, 5) };
}

describe('a multi-node world', () => {
  it('two nodes: users on one see their friends on the other come and go, every node holds users', () => {
    const scenario = parseScenario(`
version: 1
seed: 5
durationMs: 30000
server: { ttlMs: 10000 }
cluster: { nodes: [node1, node2] }
populations:
  - { name: alice, behaviour: stays, node: node1 }
  - { name: bob, behaviour: flaps, node: node2 }
  - { name: peer, count: 20, behaviour: stays }
friends:
  pairs: [[alice, bob]]
  random: { meanDegree: 3 }
behaviours:
  stays: [login]
  flaps: [login, { think: 5000 }, logout, { think: 5000 }, login]
expect:
  metrics:
    presence_updates: { min: 20 }
    peers_online_end: { min: 22 }
`);
    let world: World | null = null;
    const report = runScenario(scenario, { seed: 5, onWorld: (w) => (world = w) });
    expect(failures(report)).toEqual({ failed: [], violations: [] });
    const nodes = (world as World | null)?.cluster?.nodes ?? [];
    expect(nodes.map((node) => node.address)).toEqual(['10.255.254.1', '10.255.254.2']);
    // Round robin puts the 20 others on both nodes; each node knows everyone online.
    for (const node of nodes) {
      let held = 0;
      node.machine?.heldUsers(() => (held += 1));
      expect(held).toBeGreaterThan(5);
      expect(node.machine?.isOnline('alice') && node.machine.isOnline('bob')).toBe(true);
    }
    expect(report.metrics.bus_messages_published).toBeGreaterThan(0);
  });

  it(
    'the corpus scenario (three nodes, a node crash, a bus partition) passes, and runs the same twice',
    () => {
      const { scenario } = loadScenarioFile(CORPUS);
      const report = runScenario(scenario, { seed: scenario.seed ?? 1, checkDeterminism: true });
      expect(failures(report)).toEqual({ failed: [], violations: [] });
      expect(report.metrics.resumes).toBeGreaterThanOrEqual(20);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'a planted bus that drops presence between nodes is caught by presence-matches-truth',
    () => {
      const { scenario } = loadScenarioFile(CORPUS);
      const planted: Scenario = { ...scenario, faults: [...scenario.faults, { kind: 'plant', atMs: 0, bug: 'bus-drops-presence' }] };
      const report = runScenario(planted, { seed: scenario.seed ?? 1 });
      expect(report.passed).toBe(false);
      expect(report.metrics.bus_items_dropped).toBeGreaterThan(0);
      expect(report.violations.some((v) => v.checker === 'presence-matches-truth')).toBe(true);
    },
    RUN_TIMEOUT_MS,
  );

  it('a node cut off the bus refuses logins with SERVER_DEGRADED, and the client logs in by itself once it is back; the others bury its users and see them again', () => {
    const scenario = parseScenario(`
version: 1
seed: 7
driver: protocol-client
durationMs: 40000
server: { ttlMs: 5000 }
cluster: { nodes: [node1, node2], clients: pinned }
populations:
  - { name: alice, behaviour: stays, node: node1 }
  - { name: bob, behaviour: stays, node: node2 }
  - { name: carol, behaviour: late, node: node2 }
friends:
  pairs: [[alice, bob], [alice, carol]]
behaviours:
  stays: [login]
  # The login at 10 s is refused while node2 is cut off (until 11 s); the client retries after
  # its backoff and the one login command ends ok.
  late: [login, { think: 3000 }, logout, { think: 2000 }, { login: { expect: ok } }]
faults:
  - { kind: bus-partition, atMs: 5000, node: node2, durationMs: 6000 }
expect:
  metrics:
    logins_refused_degraded: { min: 1, max: 6 }
    peers_online_end: { min: 3 }
`);
    let world: World | null = null;
    const report = runScenario(scenario, { seed: 7, onWorld: (w) => (world = w) });
    expect(failures(report)).toEqual({ failed: [], violations: [] });
    const [node1] = (world as World | null)?.cluster?.nodes ?? [];
    expect(node1?.machine?.isOnline('bob')).toBe(true);
  });

  it("a node paused past the others' leases (never off the bus): when it runs again every node shows the other's users online again", () => {
    const scenario = parseScenario(`
version: 1
seed: 11
durationMs: 40000
server: { ttlMs: 5000 }
cluster: { nodes: [node1, node2], clients: pinned }
populations:
  - { name: alice, behaviour: stays, node: node1 }
  - { name: bob, behaviour: stays, node: node2 }
friends:
  pairs: [[alice, bob]]
behaviours:
  stays: [login]
# node1 (target: server) stops for 8 s: node2 buries node1's users after its 5 s lease, and node1,
# when it runs again, fires its own late lease check before it reads node2's waiting beats.
faults:
  - { kind: pause, atMs: 10000, durationMs: 8000, target: server }
expect:
  metrics:
    peers_online_end: { min: 2 }
`);
    let world: World | null = null;
    const report = runScenario(scenario, { seed: 11, onWorld: (w) => (world = w) });
    expect(failures(report)).toEqual({ failed: [], violations: [] });
    const [node1, node2] = (world as World | null)?.cluster?.nodes ?? [];
    expect(node1?.machine?.isOnline('bob') && node2?.machine?.isOnline('alice')).toBe(true);
  });

  it('a node that dies for good: its users whose programs died too are shown offline elsewhere within the lease', () => {
    const scenario = parseScenario(`
version: 1
seed: 9
durationMs: 40000
server: { ttlMs: 8000 }
checks: { presenceBoundMs: 2000 }
cluster: { nodes: [node1, node2, node3] }
populations:
  - { name: watcher, count: 10, behaviour: stays, node: node1 }
  - { name: doomed, count: 5, behaviour: stays, node: node3 }
  - { name: mover, count: 5, behaviour: stays, node: node3 }
friends:
  random: { meanDegree: 6 }
# One login at a time (see the known race below).
arrivals:
  - { durationMs: 4000, rate: 5 }
behaviours:
  stays: [login]
faults:
  - { kind: node-crash, atMs: 10000, node: node3 }
  - { kind: peer-crash, atMs: 10000, peers: [doomed0, doomed1, doomed2, doomed3, doomed4] }
expect:
  metrics:
    resumes: { min: 5 }
    peers_online_end: { min: 15 }
`);
    let world: World | null = null;
    const report = runScenario(scenario, { seed: 9, onWorld: (w) => (world = w) });
    expect(failures(report)).toEqual({ failed: [], violations: [] });
    // The slowest presence change seen is the lease: within one TTL plus the bound.
    expect(report.metrics.presence_delay_max_ms).toBeLessThanOrEqual(8_000 + 2_000);
    const node1 = (world as World | null)?.cluster?.nodes[0];
    expect(node1?.machine?.isOnline('doomed0')).toBe(false);
    expect(node1?.machine?.isOnline('mover0')).toBe(true);
  });

  // Found by this world: two friends whose logins on two nodes cross on the bus never saw each
  // other online (each node fanned its login out before it heard the other's `attached`, and that
  // `attached` said the friends were told). Now each node tells the friends it holds.
  it('two friends logging in on two nodes at the same instant see each other online', () => {
    const scenario = parseScenario(`
version: 1
seed: 3
durationMs: 20000
server: { ttlMs: 10000 }
cluster: { nodes: [node1, node2], busLatency: 5 }
populations:
  - { name: alice, behaviour: stays, node: node1 }
  - { name: bob, behaviour: stays, node: node2 }
friends:
  pairs: [[alice, bob]]
behaviours:
  stays: [login]
network: { latency: 10 }
`);
    const report = runScenario(scenario, { seed: 3 });
    expect(failures(report)).toEqual({ failed: [], violations: [] });
  });

  it('the store faults scenario on two nodes sharing the store: a stall or failure hits the node that applies', () => {
    const { scenario } = loadScenarioFile('scenarios/store-faults.yaml');
    const clustered: Scenario = { ...scenario, cluster: { nodes: ['node1', 'node2'], busLatency: 1, clients: 'balanced' } };
    let world: World | null = null;
    const report = runScenario(clustered, { seed: scenario.seed ?? 1, onWorld: (w) => (world = w) });
    expect(failures(report)).toEqual({ failed: [], violations: [] });
    const cluster = (world as World | null)?.cluster;
    // One store for both nodes: every node's machine reads the same accounts.
    expect(cluster?.nodes.every((node) => node.store === cluster.store)).toBe(true);
    expect(cluster?.applyingNode).not.toBeNull();
  });

  it('a population or fault naming a node the cluster does not have is refused with its line', () => {
    const text = readFileSync(CORPUS, 'utf8').replace('node: node2, downMs', 'node: node9, downMs');
    expect(() => parseScenario(text, CORPUS)).toThrow(ScenarioError);
    expect(() => parseScenario(text, CORPUS)).toThrow(/faults\.0\.node: expected one of the nodes: node1, node2, node3/);
    const noCluster = readFileSync('scenarios/logout.yaml', 'utf8').replace('populations:\n', 'populations:\n  - { name: extra, behaviour: x, node: node1 }\n');
    expect(() => parseScenario(noCluster)).toThrow();
  });
});
