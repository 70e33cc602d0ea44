// npm run db:citus [-- --seed <rows>] [--distribute]: a throwaway Citus cluster (a coordinator
// and two workers on this machine, scripts/lib/citus-cluster.ts), migrated, optionally seeded
// and distributed, for psql, until Ctrl-C. Needs Citus installed (docs/scaling.md).
import { Command } from "commander";
import postgres from "postgres";
import { startCitusCluster } from "./lib/citus-cluster.ts";
import { distribute } from "./lib/distribute.ts";
import { log } from "./lib/log.ts";
import { migrateDatabase } from "./lib/migrate.ts";
import { seedDatabase } from "./lib/seed.ts";

const options = new Command()
  .name("db:citus")
  .option("--seed <rows>", "seed this many rows before distributing", (v) =>
    Number(v),
  )
  .option("--distribute", "run maint.distribute() (npm run distribute)")
  .option("--shard-count <n>", "shards per table (default: Citus's 32)", (v) =>
    Number(v),
  )
  .option("--workers <n>", "how many workers", (v) => Number(v), 2)
  .parse()
  .opts<{
    seed?: number;
    distribute?: boolean;
    shardCount?: number;
    workers: number;
  }>();

const cluster = await startCitusCluster({ workers: options.workers });
const stop = async () => {
  log("stopping ...");
  await cluster.stop();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
try {
  await migrateDatabase(cluster.url, { quiet: true });
  if (options.seed) {
    const sql = postgres(cluster.url, { max: 1, onnotice: () => {} });
    try {
      await seedDatabase(sql, { rows: options.seed, seed: 1 });
    } finally {
      await sql.end();
    }
  }
  if (options.distribute)
    await distribute(cluster.url, { shardCount: options.shardCount });
} catch (error) {
  console.error((error as Error).message);
  console.error(cluster.serverLog?.().slice(-4000));
  await cluster.stop();
  process.exit(1);
}
console.log(`\n  psql ${cluster.url}\n`);
for (const [i, w] of cluster.workers.entries())
  console.log(`  worker ${i + 1}: psql ${w.url}`);
log("cluster is up; Ctrl-C stops it and removes its data");
setInterval(() => {}, 1 << 30);
