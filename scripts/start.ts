// npm start, the main job: provision a server, migrate, seed each tier, and report.
// (The plan and budget report of every api function builds on this: docs/benchmark.md.)
import { Command, InvalidArgumentError } from "commander";
import postgres from "postgres";
import { elapsed, log } from "./lib/log.ts";
import { migrateDatabase } from "./lib/migrate.ts";
import { seedDatabase } from "./lib/seed.ts";
import { provisionServer } from "./lib/server.ts";

function positiveInt(value: string): number {
  const n = Number(value.replaceAll("_", ""));
  if (!Number.isInteger(n) || n < 1000 || n > 10_000_000) throw new InvalidArgumentError("a whole number from 1000 to 10000000");
  return n;
}

const program = new Command()
  .name("npm start --")
  .description("Provision PostgreSQL, migrate, seed, and report row counts and timings.")
  .option("--rows <n>", "rows (chunks and operations) to seed", positiveInt, 1_000_000)
  .option("--tiers <list>", "comma-separated tiers, e.g. 10000,100000,1000000 (overrides --rows)", (v) =>
    v.split(",").map((s) => positiveInt(s.trim())),
  )
  .option("--seed <n>", "seed of the deterministic data", (v) => Number(v), 1)
  .parse();
const options = program.opts<{ rows: number; tiers?: number[]; seed: number }>();
const tiers = options.tiers ?? [options.rows];

const server = await provisionServer();
process.once("SIGINT", async () => {
  await server.stop();
  process.exit(130);
});
try {
  let started = performance.now();
  await migrateDatabase(server.url, { quiet: true });
  log(`migrated in ${elapsed(started)}`);
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  for (const rows of tiers) {
    log(`seeding the ${rows.toLocaleString("en-US")} tier ...`);
    const report = await seedDatabase(sql, { rows, seed: options.seed, progress: true });
    console.log(`\n## tier ${rows.toLocaleString("en-US")}: seeded in ${report.seconds.toFixed(1)} s\n`);
    console.log("| table | rows | seconds |\n|---|---:|---:|");
    for (const t of report.tables) console.log(`| ${t.table} | ${t.rows.toLocaleString("en-US")} | ${t.seconds.toFixed(2)} |`);
  }
  await sql.end();
} finally {
  await server.stop();
}
