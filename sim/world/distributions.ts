/** Turns a scenario distribution of milliseconds into a sampler over a seeded stream. */
import type { Prng } from './prng.ts';
import type { Dist } from '../scenarios/scenario-schema.ts';

export type Sampler = (prng: Prng) => number;

export function samplerOf(dist: Dist): Sampler {
  if (typeof dist === 'number') return () => dist;
  if ('constant' in dist) return () => dist.constant;
  if ('uniform' in dist) {
    const [min, max] = dist.uniform;
    return (prng) => prng.range(Math.min(min, max), Math.max(min, max));
  }
  if ('exponential' in dist) return (prng) => prng.exponential(dist.exponential);
  if ('normal' in dist) return (prng) => Math.max(0, dist.normal.mean + dist.normal.sd * prng.normal());
  const { median, sigma } = dist.lognormal;
  return (prng) => median * Math.exp(sigma * prng.normal());
}

export function describeDist(dist: Dist): string {
  if (typeof dist === 'number') return `${dist}ms`;
  return JSON.stringify(dist);
}
