// The simulator alone (test/harness/), for the harness kill rate: stryker.harness.config.mjs.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/harness/**/*.harness.ts'],
    testTimeout: 120_000,
  },
});
