// The dashboard without DATABASE_URL: a throwaway server, migrated and seeded, and a short demo
// load (rounds of the api workload, a snapshot of the statistics after each) so every page has
// something to show. Runs as the server's owner role: setting up is not the dashboard's
// business; the dashboard itself then connects as querybudget_monitor.
import postgres from "postgres";
import { apiWorkload, runWorkload } from "../advisor/workload-driver.ts";
import { elapsed, log } from "../log.ts";
import { migrateDatabase } from "../migrate.ts";
import { seedDatabase } from "../seed.ts";

export interface DemoOptions {
  rows: number;
  /** Rounds of the api workload (a snapshot of the statistics after each). */
  rounds: number;
  /** Calls per workload of scripts/lib/workload.ts in a round. */
  callsPerRound: number;
}

export async function prepareDemo(
  url: string,
  options: DemoOptions,
): Promise<void> {
  const started = performance.now();
  await migrateDatabase(url, { quiet: true });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    log(`seeding ${options.rows.toLocaleString("en-US")} rows ...`);
    await seedDatabase(sql, { rows: options.rows });
    // the history's snapshots (functions/perf/history.sql), so the charts have points
    const snapshot = () => sql`select perf.take_snapshot()`;
    await snapshot();
    const calls = await apiWorkload(sql, {
      callsPerFunction: options.callsPerRound,
      purge: false,
    });
    for (let round = 1; round <= options.rounds; round++) {
      log(
        `demo load: round ${round} of ${options.rounds} (${calls.length} api calls) ...`,
      );
      await runWorkload(url, calls);
      await snapshot();
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
  log(`demo database ready in ${elapsed(started)}`);
}
