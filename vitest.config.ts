import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration suites start real servers on port 0; two cores is what CI has.
    pool: 'forks',
    maxWorkers: 2,
  },
});
