// npm start, the main job (docs/benchmark.md): provision a server, migrate, then for each tier
// seed and measure every api routine against its "before" side; print the table, write
// reports/latest.md, reports/latest.json and the SVG charts; exit 1 when a budget fails.
import { mkdir, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { elapsed, log } from "./lib/log.ts";
import { migrateDatabase } from "./lib/migrate.ts";
import {
  buildReport,
  exitCode,
  measureTiers,
  pauseJobs,
  renderConsole,
  REPORT_DEFAULTS,
  sizeLabel,
  writeReport,
} from "./lib/report/index.ts";
import { Progress } from "./lib/report/progress.ts";
import { provisionServer } from "./lib/server.ts";
import { ROOT } from "./lib/sql-files.ts";

function positiveInt(value: string): number {
  const n = Number(value.replaceAll("_", ""));
  if (!Number.isInteger(n) || n < 1000 || n > 10_000_000)
    throw new InvalidArgumentError("a whole number from 1000 to 10000000");
  return n;
}

function count(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value.replaceAll("_", ""));
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`a whole number from ${min} to ${max}`);
    return n;
  };
}

/**
 * The default: the 1M tier the budgets speak of, and 10k and 100k before it, so the charts have
 * three points and the buffer growth (1M against 10k) is measured. 2 to 3 minutes here (docs/benchmark.md).
 */
const DEFAULT_TIERS = [10_000, 100_000, 1_000_000];

const program = new Command()
  .name("npm start --")
  .description(
    "Provision PostgreSQL, migrate, seed each tier, measure every api routine against its before side, and report.",
  )
  .option(
    "--rows <n>",
    "one tier of n rows (chunks and operations) instead of the default tiers 10000,100000,1000000",
    positiveInt,
  )
  .option(
    "--tiers <list>",
    "comma-separated tiers, e.g. 10000,100000,1000000 (overrides --rows)",
    (v) => v.split(",").map((s) => positiveInt(s.trim())),
  )
  .option("--seed <n>", "seed of the deterministic data", (v) => Number(v), 1)
  .option(
    "--calls <n>",
    "timed calls per api routine",
    count(30, 100_000),
    REPORT_DEFAULTS.calls,
  )
  .option(
    "--warmup <n>",
    "untimed calls per api routine before them",
    count(0, 10_000),
    REPORT_DEFAULTS.warmup,
  )
  .option(
    "--before-calls <n>",
    "timed calls per before side",
    count(5, 10_000),
    REPORT_DEFAULTS.beforeCalls,
  )
  .option("--no-before", "skip the before side")
  .option(
    "--only <list>",
    "only these routines, e.g. api.chunks_page,api.classify_documents",
    (v) => v.split(",").map((s) => s.trim()),
  )
  .option(
    "--out <dir>",
    "where to write latest.md, latest.json and the charts",
    "reports",
  )
  .parse();
const options = program.opts<{
  rows?: number;
  tiers?: number[];
  seed: number;
  calls: number;
  warmup: number;
  beforeCalls: number;
  before: boolean;
  only?: string[];
  out: string;
}>();
const tiers = [
  ...new Set(options.tiers ?? (options.rows ? [options.rows] : DEFAULT_TIERS)),
].sort((a, b) => a - b);
const outDir = resolve(ROOT, options.out);

const started = performance.now();
const server = await provisionServer();
const progress = new Progress();
process.once("SIGINT", async () => {
  progress.stop();
  await server.stop();
  process.exit(130);
});
let code = 1;
let resumeJobs = async () => {};
try {
  let t = performance.now();
  await migrateDatabase(server.url, { quiet: true });
  log(
    `migrated in ${elapsed(t)}; tiers ${tiers.map((n) => n.toLocaleString("en-US")).join(", ")}`,
  );
  // The background jobs (stats view refresh every minute, TTL) would race the measurements.
  const jobs = await pauseJobs(server.url);
  resumeJobs = jobs.resume;
  if (jobs.paused.length)
    log(`paused the pg_cron jobs for the run: ${jobs.paused.join(", ")}`);
  t = performance.now();
  const measured = await measureTiers(server.url, {
    tiers,
    seed: options.seed,
    calls: options.calls,
    warmup: options.warmup,
    beforeCalls: options.beforeCalls,
    before: options.before,
    only: options.only,
    aroundSeed: (rows, body) => progress.seeding(rows, body),
    onSeeded: (rows, seed, bytes) =>
      progress.log(
        `[querybudget] ${rows.toLocaleString("en-US")} rows seeded in ${seed.seconds.toFixed(1)} s` +
          (seed.backendCpuSeconds !== undefined
            ? ` (seeding backend CPU ${seed.backendCpuSeconds.toFixed(1)} s)`
            : "") +
          (seed.deferredIndexes
            ? `, ${seed.deferredIndexes} indexes built after the load in ${seed.indexBuildSeconds.toFixed(1)} s`
            : "") +
          `; database ${sizeLabel(bytes)}`,
      ),
    progressFor: (rows) => progress.measuring(rows),
    // each tier as it is done, in case a long run (10M) does not get to the end
    onTier: async (tier) => {
      await mkdir(outDir, { recursive: true });
      await writeFile(
        resolve(outDir, "partial.json"),
        JSON.stringify(tier, null, 2) + "\n",
        { flag: "a" },
      );
    },
  });
  progress.stop();
  const report = await buildReport(server.url, measured, {
    ...options,
    serverKind: server.kind,
    jobsPaused: jobs.paused,
  });
  const files = await writeReport(report, outDir);
  process.stdout.write(renderConsole(report));
  log(
    `report: ${files.map((f) => f.replace(`${ROOT}/`, "")).join(", ")} (measured in ${elapsed(t)}, ${elapsed(started)} in all)`,
  );
  code = exitCode(report.checks);
  if (code !== 0) log("a budget failed: exit 1 (see the checks above)");
} catch (error) {
  progress.stop();
  console.error(error);
} finally {
  await resumeJobs().catch(() => {}); // a server of DATABASE_URL gets its jobs back
  await server.stop();
}
process.exit(code);
