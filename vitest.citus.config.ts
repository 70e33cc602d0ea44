// npm run test:citus: the suite that needs a real Citus cluster (test/citus/, docs/scaling.md).
// Not part of `npm test`: CI has no Citus. It uses CITUS_URL (a database on a Citus
// coordinator with at least two workers, migrated or empty, not distributed yet), or else
// starts a throwaway coordinator and two workers on this machine when Citus is installed into
// the local PostgreSQL (docs/scaling.md, "Getting Citus"); with neither it fails and says so.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/citus/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 900_000,
    reporters: ["default", "./test/harness/summary-reporter.ts"],
  },
});
