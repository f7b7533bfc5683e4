import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['./test/support/globalSetup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // CI asks for a JSON report too (.ci/run reads its counts); people get the default reporter.
    reporters: process.env.CB_VITEST_JSON ? ['default', 'json'] : ['default'],
    outputFile: process.env.CB_VITEST_JSON ? { json: process.env.CB_VITEST_JSON } : undefined,
  },
});
