/**
 * Builds the scenario's friend graph over peer indices: explicit pairs, a random graph with a
 * mean degree (Erdős–Rényi style, by sampling edges), and a power-law graph (Chung–Lu: each peer
 * gets a weight from a Pareto law and edges are drawn in proportion to weights), so a few peers
 * have many friends as in real social graphs. Degrees are capped at the server's friend limit.
 */
import { FRIENDS_PER_USER_MAX } from '../../core/limits.ts';
import type { Prng } from './prng.ts';
import type { Scenario } from '../scenarios/scenario-schema.ts';

export interface FriendGraph {
  /** Each friendship once, as [lower index, higher index], in the order it was drawn. */
  readonly edges: ReadonlyArray<readonly [number, number]>;
  /** Neighbours of each peer index. */
  readonly neighbours: ReadonlyArray<readonly number[]>;
}

export function buildFriendGraph(spec: Scenario['friends'], usernames: readonly string[], owners: ReadonlyMap<string, number>, prng: Prng): FriendGraph {
  const peerCount = usernames.length;
  const neighbours: number[][] = Array.from({ length: peerCount }, () => []);
  const seen = new Set<number>();
  const degreeMax = spec.maxDegree ?? FRIENDS_PER_USER_MAX;
  const edges: Array<readonly [number, number]> = [];
  const add = (a: number, b: number): void => {
    if (a === b) return;
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    const key = lo * peerCount + hi;
    if (seen.has(key)) return;
    const nlo = neighbours[lo] as number[];
    const nhi = neighbours[hi] as number[];
    if (nlo.length >= degreeMax || nhi.length >= degreeMax) return;
    seen.add(key);
    edges.push([lo, hi]);
    nlo.push(hi);
    nhi.push(lo);
  };
  for (const [a, b] of spec.pairs) {
    const ia = owners.get(a);
    const ib = owners.get(b);
    if (ia === undefined || ib === undefined) throw new RangeError(`friend pair [${a}, ${b}] names no peer`);
    add(ia, ib);
  }
  if (peerCount >= 2 && spec.random !== undefined) {
    const edgeCount = Math.round((spec.random.meanDegree * peerCount) / 2);
    for (let i = 0; i < edgeCount; i++) add(prng.int(peerCount), prng.int(peerCount));
  }
  if (peerCount >= 2 && spec.powerLaw !== undefined) addPowerLaw(spec.powerLaw, peerCount, prng, add);
  return { edges, neighbours };
}

function addPowerLaw(spec: { meanDegree: number; exponent: number }, peerCount: number, prng: Prng, add: (a: number, b: number) => void): void {
  // Pareto weights w = (1-u)^(-1/(exponent-1)); picking endpoints in proportion to weight gives
  // expected degrees proportional to weight (Chung–Lu).
  const cumulative = new Float64Array(peerCount);
  let total = 0;
  for (let i = 0; i < peerCount; i++) {
    total += Math.min(peerCount, (1 - prng.float()) ** (-1 / (spec.exponent - 1)));
    cumulative[i] = total;
  }
  const pickWeighted = (): number => {
    const target = prng.float() * total;
    let lo = 0;
    let hi = peerCount - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] as number) < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const edgeCount = Math.round((spec.meanDegree * peerCount) / 2);
  for (let i = 0; i < edgeCount; i++) add(pickWeighted(), pickWeighted());
}
