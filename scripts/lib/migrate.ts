// Runs graphile-migrate with the settings of .gmrc against one database.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Logger, migrate, type Settings } from "graphile-migrate";
import postgres from "postgres";
// graphile-migrate keeps its pools open for a moment after use, and exits the process when
// an idle pooled connection is terminated (as DROP DATABASE ... WITH (FORCE) does): close them.
import { clearAllPools } from "graphile-migrate/dist/pgReal.js";
import { ROOT } from "./sql-files.ts";

function gmrc(): Settings {
  // .gmrc is JSON with block comments, as graphile-migrate writes it.
  const text = readFileSync(join(ROOT, ".gmrc"), "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  return JSON.parse(text) as Settings;
}

const errorsOnly = new Logger(() => (level, message) => {
  if (level === "error") process.stderr.write(`${message}\n`);
});

/**
 * graphile-migrate only *tries* its advisory lock (pg_try_advisory_lock): a second migration of
 * the same database fails at once with "Failed to get exclusive lock". This session-level lock,
 * taken first and waited for, makes a second migration wait for the first, then run (and find
 * nothing to do but re-apply functions/ and sql/). Another key than graphile-migrate's own.
 */
const MIGRATION_LOCK = "querybudget:migrate";

/** Committed migrations, then functions/ and sql/ (always, so edits reach the database). */
export async function migrateDatabase(url: string, options: { quiet?: boolean } = {}): Promise<void> {
  const settings: Settings = {
    ...gmrc(),
    connectionString: url,
    migrationsFolder: join(ROOT, "migrations"),
    ...(options.quiet ? { logger: errorsOnly } : {}),
  };
  const lock = postgres(url, { max: 1, onnotice: () => {} });
  // The afterAllMigrations command runs in the current folder: make that the repository.
  const cwd = process.cwd();
  try {
    await lock`select pg_advisory_lock(hashtext(${MIGRATION_LOCK}))`; // released when the session ends
    if (cwd !== ROOT) process.chdir(ROOT);
    await migrate(settings, false, true);
  } finally {
    clearAllPools();
    if (process.cwd() !== cwd) process.chdir(cwd);
    await lock.end();
  }
}
