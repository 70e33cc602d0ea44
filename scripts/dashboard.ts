// npm run dashboard: a read-only monitoring page on localhost (docs/monitoring.md "The
// dashboard"), connected as querybudget_monitor. With DATABASE_URL: that database (as the
// monitoring role: MONITOR_DATABASE_URL, or DATABASE_URL with its user replaced). Without: a
// throwaway server, seeded and given a short demo load, removed when the dashboard stops.
import { join } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { prepareDemo } from "./lib/dashboard/demo.ts";
import { monitorUrlOf } from "./lib/dashboard/queries.ts";
import { startDashboard, type Dashboard } from "./lib/dashboard/server.ts";
import { log } from "./lib/log.ts";
import { MAX_ROWS, MIN_ROWS } from "./lib/seed.ts";
import { provisionServer } from "./lib/server.ts";
import type { Server } from "./lib/server-contract.ts";
import { ROOT } from "./lib/sql-files.ts";

function integer(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value.replace(/_/g, ""));
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(
        `${name} must be an integer from ${min} to ${max}`,
      );
    return n;
  };
}

const opts = new Command()
  .name("dashboard")
  .description(
    "Read-only monitoring pages on localhost, connected as querybudget_monitor: what needs attention, " +
      "api routines against their budgets, slow queries, indexes, tables, connections, jobs.",
  )
  .option(
    "--port <n>",
    "the port to listen on (0: any free one)",
    integer("--port", 0, 65535),
    3000,
  )
  .option(
    "--rows <n>",
    `without DATABASE_URL: rows to seed the throwaway server with, ${MIN_ROWS}..${MAX_ROWS}`,
    integer("--rows", MIN_ROWS, MAX_ROWS),
    10_000,
  )
  .option(
    "--rounds <n>",
    "without DATABASE_URL: rounds of the demo api workload",
    integer("--rounds", 0, 100),
    3,
  )
  .option(
    "--reports <dir>",
    "where npm start and npm run analyze-indexes wrote their reports",
    join(ROOT, "reports"),
  )
  .parse()
  .opts<{ port: number; rows: number; rounds: number; reports: string }>();

let server: Server | undefined;
let dashboard: Dashboard | undefined;
const stop = async (code: number) => {
  await dashboard?.close().catch(() => {});
  if (server && server.kind !== "external") await server.stop().catch(() => {});
  process.exit(code);
};
process.once("SIGINT", () => void stop(130));
process.once("SIGTERM", () => void stop(143));

try {
  // Given a database, the dashboard opens no connection but the monitor's (not even a check of
  // the server as DATABASE_URL's user); without one, the demo server is set up as its owner.
  let monitorUrl =
    process.env.MONITOR_DATABASE_URL ||
    (process.env.DATABASE_URL
      ? monitorUrlOf(process.env.DATABASE_URL)
      : undefined);
  if (!monitorUrl) {
    server = await provisionServer();
    await prepareDemo(server.url, {
      rows: opts.rows,
      rounds: opts.rounds,
      callsPerRound: 5,
    });
    monitorUrl = monitorUrlOf(server.url);
  }
  dashboard = await startDashboard({
    monitorUrl,
    port: opts.port,
    reportsDir: opts.reports,
  });
  log(
    `dashboard of ${dashboard.monitor.database} as querybudget_monitor, read-only; Ctrl-C stops it`,
  );
  console.log(dashboard.url);
} catch (error) {
  console.error(`dashboard: ${(error as Error).message}`);
  await stop(1);
}
