// Mutation testing of one file of core/ with only the tests named in MUTATE_TESTS
// (vitest.mutate-focused.config.ts), e.g.
//   MUTATE_TESTS='test/core/codec*.test.ts' npx stryker run stryker.focused.config.mjs --mutate core/codec.ts
// A lower bound on `npm run mutate`'s score, for files every test goes through (docs/TESTING.md).
import base, { reportsUnder } from './stryker.config.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...base,
  vitest: { configFile: 'vitest.mutate-focused.config.ts', related: false },
  ...reportsUnder('reports/mutation-focused'),
};
