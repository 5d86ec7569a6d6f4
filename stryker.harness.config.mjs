// The harness kill rate (docs/TESTING.md): the same mutants of core/ as stryker.config.mjs, judged
// by the simulator alone (test/harness/: the corpus plus a bounded swarm), without the unit tests.
// `npm run mutate:harness`.
import base from './stryker.config.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...base,
  vitest: { configFile: 'vitest.harness.config.ts', related: false },
  incrementalFile: 'reports/mutation-harness/stryker-incremental.json',
  htmlReporter: { fileName: 'reports/mutation-harness/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation-harness/mutation.json' },
  thresholds: { high: 60, low: 40, break: null },
};
