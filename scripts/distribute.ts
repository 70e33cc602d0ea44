// npm run distribute [-- --shard-count N]: turns the migrated querybudget database at
// DATABASE_URL, a Citus coordinator with workers added, into a distributed one
// (maint.distribute(), docs/scaling.md). Idempotent: a second run changes nothing.
import { Command } from "commander";
import { distribute } from "./lib/distribute.ts";

const options = new Command()
  .name("distribute")
  .option(
    "--shard-count <n>",
    "shards of the colocation group when it is made (default: citus.shard_count, 32)",
    (v) => Number(v),
  )
  .parse()
  .opts<{ shardCount?: number }>();

const url = process.env.DATABASE_URL;
if (!url) {
  console.error(
    "npm run distribute needs DATABASE_URL: a migrated querybudget database on a Citus coordinator with workers added (docs/scaling.md)",
  );
  process.exit(2);
}
try {
  await distribute(url, { shardCount: options.shardCount });
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
}
