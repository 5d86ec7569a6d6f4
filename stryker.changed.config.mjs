// The incremental mutation pass over the lines of core/ a change touched (scripts/mutate-changed.ts,
// `npm run mutate:changed`, run by CI): the same mutants and tests as stryker.config.mjs, judged
// afresh each time (no incremental file: CI starts from a clean clone) into a report of its own.
import base from './stryker.config.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...base,
  incremental: false,
  reporters: ['clear-text', 'progress-append-only', 'json'],
  // The survivors with their code, without the list of every test (hundreds of lines per run).
  clearTextReporter: { reportTests: false },
  jsonReporter: { fileName: 'reports/mutation-changed/mutation.json' },
};
