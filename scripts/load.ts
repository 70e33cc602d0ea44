// npm run load (docs/operations.md "Load"): provision a server, migrate, seed one tier, put
// PgBouncer (transaction pooling) in front of it, and let N clients run the api's mix for a
// fixed time; then the floor: each point read alone against its raw statement, in throughput
// and, on a throwaway local cluster, in CPU instructions (callgrind, after the run). Prints the
// report and writes reports/load.md and reports/load.json. Progress on stderr.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import cliProgress from "cli-progress";
import { Command, InvalidArgumentError } from "commander";
import postgres from "postgres";
import { renderLoadMarkdown, runLoad, sessionTenants } from "./lib/load.ts";
import { elapsed, log } from "./lib/log.ts";
import { serverUser, type LocalCluster } from "./lib/cluster.ts";
import {
  floorCases,
  floorRatios,
  instructionsPerCall,
  type InstructionRatio,
} from "./lib/instructions.ts";
import { migrateDatabase } from "./lib/migrate.ts";
import { startPooler, type Pooler } from "./lib/pooler.ts";
import { seedDatabase } from "./lib/seed.ts";
import { provisionServer } from "./lib/server.ts";
import { withDatabase } from "./lib/server-contract.ts";
import { ROOT } from "./lib/sql-files.ts";
import { apiCalls } from "./lib/workload.ts";

function count(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value.replaceAll("_", ""));
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`a whole number from ${min} to ${max}`);
    return n;
  };
}

const options = new Command()
  .name("npm run load --")
  .description(
    "N clients run the whole api through PgBouncer (transaction pooling) for a fixed time; then each point read against its raw statement.",
  )
  .option("--clients <n>", "concurrent clients", count(1, 500), 64)
  .option("--seconds <n>", "length of the mixed run", count(1, 3600), 30)
  .option(
    "--floor-seconds <n>",
    "seconds per side of the floor (api call alone, raw statement alone), cut into --floor-rounds; 0 skips it",
    count(0, 600),
    6,
  )
  .option(
    "--floor-clients <n>",
    "clients of the floor's throughput side (its latency side runs one)",
    count(1, 500),
    8,
  )
  .option(
    "--floor-rounds <n>",
    "rounds of the floor, api and raw taking turns (api first in even rounds, raw in odd ones)",
    count(1, 100),
    6,
  )
  .option(
    "--rows <n>",
    "the tier to seed (chunks and operations)",
    count(1000, 10_000_000),
    100_000,
  )
  .option(
    "--seed <n>",
    "seed of the data and of the clients' choices",
    count(1, 1_000_000),
    1,
  )
  .option(
    "--max-calls <n>",
    "a bound on calls in the mixed run",
    count(1, 100_000_000),
    10_000_000,
  )
  .option(
    "--no-instructions",
    "skip counting the point reads' CPU instructions against their raw statements (callgrind, after the run)",
  )
  .option("--json", "print the JSON report on stdout instead of the table")
  .option("--out <dir>", "where to write load.md and load.json", "reports")
  .parse()
  .opts<{
    clients: number;
    seconds: number;
    floorSeconds: number;
    floorClients: number;
    floorRounds: number;
    rows: number;
    seed: number;
    maxCalls: number;
    instructions: boolean;
    json?: boolean;
    out: string;
  }>();

const started = performance.now();
const server = await provisionServer();
let pooler: Pooler | undefined;
const stopAll = async () => {
  await pooler?.stop();
  await server.stop();
};
process.once("SIGINT", async () => {
  await stopAll();
  process.exit(130);
});
let code = 1;
try {
  let t = performance.now();
  await migrateDatabase(server.url, { quiet: true });
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  let calls;
  let sessions;
  try {
    const [seeded] = await sql<{ n: number }[]>`
      select count(*)::int as n from app.chunks`;
    if ((seeded?.n ?? 0) === 0) {
      log(`seeding ${options.rows.toLocaleString("en-US")} rows ...`);
      await seedDatabase(sql, { rows: options.rows, seed: options.seed });
    } else {
      log(
        `the database holds data already (${seeded!.n.toLocaleString("en-US")} chunks): not seeded again`,
      );
    }
    log(`migrated and seeded in ${elapsed(t)}`);
    calls = await apiCalls(sql, { sets: 30 });
    sessions = await sessionTenants(sql, calls);
  } finally {
    await sql.end();
  }
  pooler = await startPooler(server);
  const p = pooler;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: "{phase} |{bar}| {value}/{total} s, {calls} calls",
      barsize: 30,
      noTTYOutput: true,
      notTTYSchedule: 5000,
    },
    cliProgress.Presets.shades_classic,
  );
  let phaseCalls = 0;
  t = performance.now();
  const result = await runLoad({
    appUrl: p.urlFor(server.url, "querybudget_app"),
    rawUrl: p.urlFor(server.url),
    poolerAdminUrl: withDatabase(p.urlFor(server.url), "pgbouncer"),
    calls,
    clients: options.clients,
    seconds: options.seconds,
    maxCalls: options.maxCalls,
    floorSeconds: options.floorSeconds,
    floorClients: options.floorClients,
    floorRounds: options.floorRounds,
    seed: options.seed,
    sessionTenants: sessions,
    onPhase: (name, seconds) => {
      bar.stop();
      phaseCalls = 0;
      bar.start(seconds, 0, { phase: name, calls: 0 });
    },
    onProgress: (s, n) => {
      phaseCalls = n;
      bar.update(Math.min(Math.floor(s), bar.getTotal()), {
        calls: phaseCalls,
      });
    },
  });
  bar.stop();
  let instructions: InstructionRatio[] | string =
    "Not measured (--no-instructions).";
  if (options.instructions && server.kind === "local") {
    // single-user mode needs the data folder to itself: the server goes, as it would at the end
    log(
      "counting the point reads' CPU instructions against their raw statements (callgrind, a single-user backend) ...",
    );
    t = performance.now();
    await pooler.stop();
    pooler = undefined;
    const admin = postgres(server.url, { max: 1, onnotice: () => {} });
    await admin`checkpoint`;
    await admin.end();
    const local = server as LocalCluster;
    await local.kill();
    instructions = floorRatios(
      instructionsPerCall(
        {
          dataDir: local.dataDir,
          database: new URL(server.url).pathname.slice(1),
          user: serverUser(),
        },
        floorCases(calls),
      ),
    );
    log(`counted in ${elapsed(t)}`);
  } else if (options.instructions)
    instructions = `Not measured: callgrind runs a single-user backend on the data folder of a throwaway local cluster, and this is a ${server.kind} server.`;
  const context = {
    rows: options.rows,
    pooler: `pgbouncer ${"transaction pooling"}, default_pool_size ${p.settings.default_pool_size} per database and role, ${server.kind} server`,
    instructions,
  };
  const md = renderLoadMarkdown(result, context);
  const outDir = resolve(ROOT, options.out);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "load.md"), md);
  const json = JSON.stringify(
    { ...context, settings: p.settings, options, result },
    null,
    2,
  );
  writeFileSync(join(outDir, "load.json"), json + "\n");
  process.stdout.write(options.json ? json + "\n" : md);
  log(
    `report: ${options.out}/load.md, ${options.out}/load.json (run ${elapsed(t)}, ${elapsed(started)} in all)`,
  );
  code = 0;
} catch (error) {
  log(`load failed: ${error instanceof Error ? error.stack : String(error)}`);
} finally {
  await stopAll();
}
process.exit(code);
