// npm run migrate: committed migrations, then functions/ and sql/, against DATABASE_URL.
import { elapsed, log } from "./lib/log.ts";
import { migrateDatabase } from "./lib/migrate.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error(
    "npm run migrate needs DATABASE_URL (a throwaway server: npm run db)",
  );
  process.exit(2);
}
const started = performance.now();
try {
  await migrateDatabase(url);
  log(`migrated in ${elapsed(started)}`);
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
}
