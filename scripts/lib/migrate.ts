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
  const text = readFileSync(join(ROOT, ".gmrc"), "utf8").replace(
    /\/\*[\s\S]*?\*\//g,
    "",
  );
  return JSON.parse(text) as Settings;
}

const errorsOnly = new Logger(() => (level, message) => {
  if (level === "error") process.stderr.write(`${message}\n`);
});

/**
 * graphile-migrate only *tries* its advisory lock (pg_try_advisory_lock): a second migration of
 * the same database fails at once with "Failed to get exclusive lock". This session-level lock,
 * taken first (tried every 200 ms), makes a second migration wait for the first, then run (and find
 * nothing to do but re-apply functions/ and sql/). Another key than graphile-migrate's own.
 */
const MIGRATION_LOCK = "querybudget:migrate";

/** Committed migrations, then functions/ and sql/ (always, so edits reach the database). */
export async function migrateDatabase(
  url: string,
  options: { quiet?: boolean; onWaiting?: () => void } = {},
): Promise<void> {
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
    // Tried, not waited for in one statement: a statement waiting for the lock would hold a
    // snapshot, and the first migration's concurrent index builds wait for every older snapshot
    // of the database (completePartitionedIndexes): the two would wait for each other.
    for (
      let tries = 0;
      !(
        await lock<
          { got: boolean }[]
        >`select pg_try_advisory_lock(hashtext(${MIGRATION_LOCK})) as got`
      )[0]!.got;
      tries++
    ) {
      if (tries === 0) options.onWaiting?.();
      await new Promise((resolve) => setTimeout(resolve, 200));
    } // released when the session ends
    if (cwd !== ROOT) process.chdir(ROOT);
    await migrate(settings, false, true);
    await completePartitionedIndexes(lock, options);
  } finally {
    clearAllPools();
    if (process.cwd() !== cwd) process.chdir(cwd);
    await lock.end();
  }
}

/**
 * Finishes every index made `on only` a partitioned table of app (docs/operations.md, "Adding
 * an index to a partitioned table"): builds the index of each partition that lacks one
 * concurrently (writes go on meanwhile), then attaches it; once the last is attached, the
 * parent's index is valid. A committed migration cannot do this for app.messages and
 * app.operations: pg_partman names their monthly partitions by the date the database was
 * made. Idempotent: a valid index needs nothing; a concurrent build that failed before (an
 * INVALID partition index) is dropped and built again. Each statement runs on its own, outside
 * a transaction, so the lock timeout of the session (PGOPTIONS) applies to each.
 */
export async function completePartitionedIndexes(
  sql: postgres.Sql,
  options: { quiet?: boolean } = {},
): Promise<number> {
  const missing = await sql<
    {
      parent: string;
      partition: string;
      child: string;
      definition: string;
      existing: boolean | null;
    }[]
  >`
    select pi.indexrelid::regclass::text as parent,
           p.oid::regclass::text as partition,
           format('%I.%I', n.nspname, c.name) as child,
           pg_get_indexdef(pi.indexrelid) as definition,
           (select xi.indisvalid from pg_class x join pg_index xi on xi.indexrelid = x.oid
            where x.relnamespace = p.relnamespace and x.relname = c.name) as existing
    from pg_index pi
    join pg_class pc on pc.oid = pi.indexrelid
    join pg_class t on t.oid = pi.indrelid
    join pg_inherits h on h.inhparent = t.oid
    join pg_class p on p.oid = h.inhrelid and p.relkind = 'r'
    join pg_namespace n on n.oid = p.relnamespace
    -- <partition>_<columns>_idx: the parent index's name with the partition's in front
    cross join lateral (select left(p.relname || substr(pc.relname, length(t.relname) + 1), 63)::text as name) c
    where pc.relnamespace = 'app'::regnamespace
      and pc.relkind = 'I'
      and not pi.indisvalid
      and not exists (select from pg_inherits a join pg_index ci on ci.indexrelid = a.inhrelid
                      where a.inhparent = pi.indexrelid and ci.indrelid = p.oid)
    order by 1, 2`;
  for (const m of missing) {
    // CREATE [UNIQUE] INDEX name ON ONLY app.table USING ... -> the same on the partition
    const on = /^CREATE (UNIQUE )?INDEX \S+ ON ONLY \S+ (USING .*)$/.exec(
      m.definition,
    );
    if (!on)
      throw new Error(
        `cannot read the definition of ${m.parent}: ${m.definition}`,
      );
    // an INVALID leftover of a failed concurrent build: `if not exists` would keep it
    if (m.existing === false)
      await sql.unsafe(`drop index concurrently if exists ${m.child}`);
    if (m.existing !== true)
      await sql.unsafe(
        `create ${on[1] ?? ""}index concurrently if not exists ${m.child.split(".")[1]} on ${m.partition} ${on[2]}`,
      );
    await sql.unsafe(`alter index ${m.parent} attach partition ${m.child}`);
    if (!options.quiet)
      process.stdout.write(
        `${m.parent}: built concurrently on ${m.partition} and attached\n`,
      );
  }
  return missing.length;
}
