// npm run analyze-indexes: the index advisor (docs/monitoring.md "Index advisor").
//
// With DATABASE_URL: analyses that database, its workload taken from pg_stat_statements as it
// is (or --workload api / --queries FILE). Without: a throwaway server, a database migrated and
// seeded with --rows rows, the api workload run on it, then the advice. Report on stdout
// (--json for JSON), progress on stderr.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import postgres from "postgres";
import {
  adviseIndexes,
  readQueryFile,
  renderReport,
  type WorkloadSource,
} from "./lib/advisor/index.ts";
import { elapsed, log } from "./lib/log.ts";
import { migrateDatabase } from "./lib/migrate.ts";
import { MAX_ROWS, MIN_ROWS, seedDatabase } from "./lib/seed.ts";
import { provisionServer } from "./lib/server.ts";
import { withDatabase, type Server } from "./lib/server-contract.ts";
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

function percent(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n >= 100)
    throw new InvalidArgumentError(
      "a percentage between 0 and 100 (exclusive)",
    );
  return n;
}

const ADVISOR_DATABASE = "querybudget_advisor";

const program = new Command()
  .name("analyze-indexes")
  .description(
    "Index advisor: candidates from the workload's generic plans, costed with hypopg, recommended when a statement's planner cost drops by " +
      "at least --min-cost-drop, validated by building them on a throwaway copy and measuring; plus the unused and duplicate indexes to drop.",
  )
  .addOption(
    new Option(
      "--workload <kind>",
      "statements: pg_stat_statements as it is; api: run the api workload driver first (default without DATABASE_URL)",
    ).choices(["statements", "api"]),
  )
  .option(
    "--queries <file>",
    "a file of queries (separated by ';' at line ends) to run and analyse instead",
  )
  .option(
    "--rows <n>",
    `rows to seed the throwaway server with (no DATABASE_URL), ${MIN_ROWS}..${MAX_ROWS}`,
    integer("--rows", MIN_ROWS, MAX_ROWS),
    100_000,
  )
  .option(
    "--calls <n>",
    "api workload: calls per workload of scripts/lib/workload.ts (its argument sets in turn)",
    integer("--calls", 1, 100_000),
    20,
  )
  .option(
    "--min-cost-drop <percent>",
    "recommend an index only when it lowers a statement's planner cost by this much",
    percent,
    50,
  )
  .option(
    "--min-cost <cost>",
    "leave statements whose generic plan costs less than this alone",
    integer("--min-cost", 0, 1e12),
    50,
  )
  .option(
    "--max-indexes <n>",
    "at most this many recommendations",
    integer("--max-indexes", 1, 100),
    10,
  )
  .option(
    "--min-calls <n>",
    "--workload statements: leave statements called fewer times aside",
    integer("--min-calls", 1, 1e12),
    1,
  )
  .option(
    "--no-validate",
    "do not build the recommendations on a copy to measure them",
  )
  .option(
    "--repeat <n>",
    "validation: replays of the affected workload per measurement",
    integer("--repeat", 1, 100),
    3,
  )
  .option(
    "--insert-rows <n>",
    "validation: rows per insert-slowdown measurement",
    integer("--insert-rows", 1, 1_000_000),
    2000,
  )
  .option("--json", "print the report as JSON")
  .option(
    "--report-dir <dir>",
    "where to write advisor.json, the report the dashboard's indexes page reads",
    join(ROOT, "reports"),
  )
  .parse();

const opts = program.opts<{
  workload?: "statements" | "api";
  queries?: string;
  rows: number;
  calls: number;
  minCostDrop: number;
  minCost: number;
  maxIndexes: number;
  minCalls: number;
  validate: boolean;
  repeat: number;
  insertRows: number;
  json?: boolean;
  reportDir: string;
}>();

const external = !!process.env.DATABASE_URL;
let server: Server | undefined;
let exitCode = 0;
const stopServer = async () => {
  if (server && server.kind !== "external") await server.stop();
};
process.once("SIGINT", () => void stopServer().then(() => process.exit(130)));

try {
  server = await provisionServer();
  let url = server.url;
  if (!external) {
    // A database of its own: the main one hosts pg_cron, whose launcher stays connected, and a
    // database with sessions cannot be the template of the validation copy.
    const started = performance.now();
    const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(
      `drop database if exists ${ADVISOR_DATABASE} with (force)`,
    );
    await admin.unsafe(`create database ${ADVISOR_DATABASE}`);
    await admin.end();
    url = withDatabase(server.url, ADVISOR_DATABASE);
    await migrateDatabase(url, { quiet: true });
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    log(`seeding ${opts.rows.toLocaleString("en-US")} rows ...`);
    await seedDatabase(sql, { rows: opts.rows, progress: false });
    await sql.end();
    log(
      `database ${ADVISOR_DATABASE} migrated and seeded in ${elapsed(started)}`,
    );
  }
  const workload: WorkloadSource = opts.queries
    ? { kind: "queries", queries: readQueryFile(opts.queries) }
    : (opts.workload ?? (external ? "statements" : "api")) === "api"
      ? { kind: "api", options: { callsPerFunction: opts.calls } }
      : { kind: "statements", minCalls: opts.minCalls };
  log(
    `analysing ${new URL(url).pathname.slice(1)} with the ${workload.kind} workload ...`,
  );
  const report = await adviseIndexes({
    url,
    adminUrl: server.adminUrl,
    workload,
    minCostDrop: opts.minCostDrop / 100,
    minCost: opts.minCost,
    maxIndexes: opts.maxIndexes,
    validate: opts.validate,
    repeat: opts.repeat,
    insertRows: opts.insertRows,
    resetStatistics: !external,
    progress: true,
  });
  const json = JSON.stringify(
    report,
    (_, v) => (typeof v === "bigint" ? v.toString() : v),
    2,
  );
  // the last run's recommendations, for npm run dashboard (docs/monitoring.md "The dashboard")
  mkdirSync(opts.reportDir, { recursive: true });
  writeFileSync(join(opts.reportDir, "advisor.json"), json + "\n");
  console.log(opts.json ? json : renderReport(report));
} catch (error) {
  console.error(`analyze-indexes: ${(error as Error).message}`);
  exitCode = 1;
} finally {
  await stopServer();
}
process.exit(exitCode);
