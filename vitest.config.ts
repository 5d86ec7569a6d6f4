import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Bounds, not waits (tests wait for events): on a loaded two-core machine (load 15) starting
    // a few node processes in a beforeAll took over 30 s.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites start real servers on port 0; two cores is what CI has.
    pool: 'forks',
    maxWorkers: 2,
  },
});
