// The harness kill rate (docs/TESTING.md): the same mutants of core/ as stryker.config.mjs, judged
// by the simulator alone (test/harness/: the corpus plus a bounded swarm), without the unit tests.
// `npm run mutate:harness`.
import base, { reportsUnder } from './stryker.config.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...base,
  vitest: { configFile: 'vitest.harness.config.ts', related: false },
  ...reportsUnder('reports/mutation-harness'),
  thresholds: { high: 60, low: 40, break: null },
};
