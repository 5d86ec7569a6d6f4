/**
 * fast-check parameters that replay one failing run: fast-check prints a failure's seed and path;
 * pass them back as FC_SEED and FC_PATH (e.g. `FC_SEED=<seed> FC_PATH=<path> npx vitest run FILE`).
 * Spread into a property's parameters: `{ numRuns: 300, ...replay }`.
 */
import type fc from 'fast-check';

export const replay: fc.Parameters<unknown> = {
  ...(process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) }),
  ...(process.env.FC_PATH === undefined ? {} : { path: process.env.FC_PATH }),
};
