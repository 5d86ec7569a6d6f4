// Mutation testing of core/ (docs/TESTING.md, "Mutation testing"): `npm run mutate`.
// Not part of `npm test`: a full pass over core/ runs the unit suite once per mutant.
/**
 * Where a run keeps its incremental results and writes its reports: one folder per kind of run
 * (reports/mutation, reports/mutation-focused, ...), so runs of different kinds never reuse each
 * other's results.
 */
export function reportsUnder(dir) {
  return {
    incrementalFile: `${dir}/stryker-incremental.json`,
    htmlReporter: { fileName: `${dir}/mutation.html` },
    jsonReporter: { fileName: `${dir}/mutation.json` },
  };
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: {
    configFile: 'vitest.mutate.config.ts',
    // Only the tests that import the mutated file (directly or not) run for it.
    related: true,
  },
  // Each mutant runs only the tests that covered its code in the dry run.
  coverageAnalysis: 'perTest',
  // core/ is the pure protocol: what the machines decide. The shell in cli/ is covered by
  // integration tests that do not pay for mutation (sockets, scrypt, real processes).
  mutate: ['core/**/*.ts', '!core/**/*.d.ts'],
  checkers: [],
  // Re-use earlier results for the mutants whose code and tests did not change.
  incremental: true,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  ...reportsUnder('reports/mutation'),
  // Two cores: one mutant at a time per core.
  concurrency: 2,
  // Static code (module-level constants) would force every test for each mutant.
  ignoreStatic: true,
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
