// The unit suite narrowed to the test files a run names (MUTATE_TESTS, comma-separated globs), for
// stryker.focused.config.mjs: a file used by every test (the codec) then costs its own tests per
// mutant instead of the whole suite. The score it gives is a lower bound on `npm run mutate`'s,
// since fewer tests can only find fewer mutants.
import { defineConfig } from 'vitest/config';
import base from './vitest.mutate.config.ts';

const named = (process.env.MUTATE_TESTS ?? '').split(',').filter((glob) => glob !== '');
if (named.length === 0) throw new Error('vitest.mutate-focused.config.ts: set MUTATE_TESTS to the test files to run');

export default defineConfig({ test: { ...base.test, include: named } });
