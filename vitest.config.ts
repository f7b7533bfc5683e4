import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Node loads graphql through its "main" field (the CommonJS build), and so does Apollo Server;
  // Vite would prefer its "module" field (index.mjs) for src/, giving tests a second copy of graphql
  // whose GraphQLError fails Apollo's and errors.ts's instanceof checks (every UNAUTHENTICATED and
  // BAD_USER_INPUT from GraphQL itself came back INTERNAL). Tests load the copy production loads.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
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
