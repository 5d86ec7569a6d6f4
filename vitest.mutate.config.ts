// The unit suite Stryker runs against each mutant of core/ (stryker.config.mjs): the tests that
// drive core's machines directly, without sockets, child processes or scrypt.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/core/**/*.test.ts', 'test/peer/**/*.test.ts'],
    exclude: ['test/core/purity.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
