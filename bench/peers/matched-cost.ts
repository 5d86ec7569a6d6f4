/**
 * "Our hash cost matched to theirs": the scrypt cost whose one derivation takes about as long on
 * this machine as one PBKDF2-SHA1 derivation of the peer's default scheme (4096 iterations for
 * ejabberd, 10,000 for Prosody). Both are timed here with node:crypto (OpenSSL, as both peers use
 * it too), r and p stay at the server's own, and N is the power of two nearest in time.
 */
import { pbkdf2Sync, randomBytes, scryptSync } from 'node:crypto';
import { SCRYPT_PARAMS, type ScryptParams } from '../../cli/server/password.ts';

/** Timings per candidate: the median of this many runs (one is noise on a shared machine). */
const TIMING_RUNS = 5;
/** scrypt's smallest cost (N must be a power of two above 1). */
const SCRYPT_N_MIN = 2;

export interface CostTiming {
  readonly N: number;
  readonly ms: number;
}

/**
 * The candidate whose time is nearest the target's, on a log scale (twice as slow is as far as
 * half as slow); the cheaper one on a tie. Throws on no candidates.
 */
export function nearestCost(targetMs: number, candidates: readonly CostTiming[]): CostTiming {
  if (candidates.length === 0) throw new Error('no scrypt cost to choose from');
  const distance = (c: CostTiming): number => Math.abs(Math.log(Math.max(c.ms, 1e-6) / Math.max(targetMs, 1e-6)));
  return [...candidates].sort((a, b) => distance(a) - distance(b) || a.N - b.N)[0] as CostTiming;
}

function medianMs(run: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < TIMING_RUNS; i++) {
    const startMs = performance.now();
    run();
    times.push(performance.now() - startMs);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)] as number;
}

export interface MatchedCost {
  readonly params: ScryptParams;
  readonly pbkdf2Ms: number;
  readonly scryptMs: number;
}

/** Times PBKDF2-SHA1 with `iterations` and scrypt from N=2 up to the server's own N; picks the nearest. */
export function matchScryptCost(iterations: number): MatchedCost {
  const salt = randomBytes(16);
  const pbkdf2Ms = medianMs(() => pbkdf2Sync('benchmark password', salt, iterations, 20, 'sha1'));
  const candidates: CostTiming[] = [];
  for (let N = SCRYPT_N_MIN; N <= SCRYPT_PARAMS.N; N *= 2) {
    const params = { N, r: SCRYPT_PARAMS.r, p: SCRYPT_PARAMS.p };
    candidates.push({ N, ms: medianMs(() => scryptSync('benchmark password', salt, 32, { ...params, maxmem: 256 * N * params.r + 1024 * 1024 })) });
    // Past twice the target the next ones only get further away.
    if ((candidates.at(-1)?.ms ?? 0) > 2 * pbkdf2Ms) break;
  }
  const chosen = nearestCost(pbkdf2Ms, candidates);
  return { params: { N: chosen.N, r: SCRYPT_PARAMS.r, p: SCRYPT_PARAMS.p }, pbkdf2Ms, scryptMs: chosen.ms };
}
