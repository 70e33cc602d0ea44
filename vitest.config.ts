import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // test/citus/ needs a Citus cluster: npm run test:citus (vitest.citus.config.ts)
    exclude: ["test/citus/**", "**/node_modules/**"],
    globalSetup: ["test/harness/global-setup.ts"],
    // Each test file gets its own database; the server has 2 cores to share.
    pool: "forks",
    maxWorkers: 2,
    // A busy machine (CI beside other jobs) runs a test several times slower than an idle one.
    testTimeout: 300_000,
    hookTimeout: 600_000,
    reporters: ["default", "./test/harness/summary-reporter.ts"],
  },
});
