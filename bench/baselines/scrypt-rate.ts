/**
 * The login_rate baseline: raw crypto.scrypt with the server's own parameters (imported from the
 * server, never copied), `concurrency` calls in flight on libuv's pool, as many as fit in the
 * window. The server's login costs exactly one such call, so the ratio shows what the server adds.
 */
import { randomBytes } from 'node:crypto';
import { SCRYPT_PARAMS, scryptKey } from '../../cli/server/password.ts';

export interface ScryptRateResult {
  readonly hashes: number;
  readonly wallMs: number;
  readonly hashesPerSec: number;
}

export async function measureScryptRate(concurrency: number, durationMs: number): Promise<ScryptRateResult> {
  const salt = randomBytes(16);
  await scryptKey('warm-up password', salt, SCRYPT_PARAMS);
  const startedMs = performance.now();
  const endMs = startedMs + durationMs;
  let hashes = 0;
  const lane = async (): Promise<void> => {
    while (performance.now() < endMs) {
      await scryptKey('benchmark password', salt, SCRYPT_PARAMS);
      // Counted like the logins: only what completes inside the window.
      if (performance.now() <= endMs) hashes += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { hashes, wallMs: durationMs, hashesPerSec: (hashes * 1000) / durationMs };
}
