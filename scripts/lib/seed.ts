// Seeding: fills every app table with deterministic, realistically skewed data of a given
// size (docs/seeding.md). The SQL lives in seed/*.sql, one set-based INSERT ... SELECT per
// table, run in file-name order in ONE transaction; this file only passes the parameters,
// times the files and runs VACUUM ANALYZE afterwards.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type postgres from "postgres";
import { ROOT } from "./sql-files.ts";

export const SEED_DIR = join(ROOT, "seed");

export interface SeedOptions {
  /** N: the number of chunks and of operations; every other table scales from it. */
  rows: number;
  /** Same seed, anchor and rows: the same data, row for row. Default 1. */
  seed?: number;
  /**
   * The data's clock: the data window is the three calendar months before the anchor's month,
   * and every row lies at the same place of its monthly partition whatever the anchor (so plans
   * and buffers do not depend on the date). Default: the server's now(), to the second.
   */
  anchor?: Date;
  /**
   * The instant expiry is placed against (expires_at of sessions, conversations, messages), since
   * the api compares expires_at with now(): the same rows are expired whatever the anchor.
   * Default: the server's now(), to the second.
   */
  clock?: Date;
  /** One line per table on stderr. */
  progress?: boolean;
  /**
   * "set-based" (default): the inserts run with session_replication_role = replica, so the
   * per-row foreign key triggers do not fire, and seed/80-check-foreign-keys.sql then checks
   * every foreign key with one anti-join each (an orphan rolls everything back). Used only
   * when the role may set session_replication_role and no app table has a trigger of its own
   * (those would be skipped too); otherwise, or with "per-row", the triggers check each row.
   */
  foreignKeyChecks?: "set-based" | "per-row";
  /**
   * Build the indexes after the rows are in, sorted, instead of maintaining them row by row
   * (deferIndexes below). Default: above DEFER_INDEXES_ABOVE rows; the tiers the plan tests
   * record (10k, 1M) keep indexes maintained row by row, as they were recorded.
   */
  deferIndexes?: boolean;
}

export interface SeedTableReport {
  table: string;
  rows: number;
  seconds: number;
}

export interface SeedReport {
  rows: number;
  /** Wall time of everything: truncate, inserts, sequences, VACUUM ANALYZE. */
  seconds: number;
  tables: SeedTableReport[];
  /** What to pass again to reproduce the data exactly. */
  seed: number;
  anchor: string;
  clock: string;
  /** The VACUUM ANALYZE of every app table (partitioned parents included), in seconds. */
  vacuumSeconds: number;
  /** How the foreign keys were checked in the end (see SeedOptions.foreignKeyChecks). */
  foreignKeyChecks: "set-based" | "per-row";
  /** Indexes dropped before the inserts and built after them (0: maintained row by row), and the seconds the builds took. */
  deferredIndexes: number;
  indexBuildSeconds: number;
  /**
   * CPU seconds (user + system) of the server process that ran the seeding transaction, from
   * its start to the end (VACUUM included when the same connection ran it), when that process
   * is on this machine and readable (/proc); the measure that does not depend on what else runs.
   */
  backendCpuSeconds?: number;
}

export const MIN_ROWS = 100;
/** Above this many rows the seed builds its indexes after the load (SeedOptions.deferIndexes). */
export const DEFER_INDEXES_ABOVE = 1_000_000;
export const MAX_ROWS = 100_000_000;

/** The seed files in the order they run. */
export function seedFiles(): string[] {
  return readdirSync(SEED_DIR)
    .filter((f) => f.endsWith(".sql"))
    .sort();
}

// A file that fills a table starts a line with `insert into app.<table>`; the report takes the
// table name from there and the row count from the statement's command tag.
const INSERT_TARGET = /^insert\s+into\s+(app\.\w+)/im;

const seconds = (startMs: number) => (performance.now() - startMs) / 1000;

function progressLine(
  label: string,
  rows: number | undefined,
  secs: number,
  note = "",
): string {
  const count =
    rows === undefined ? "" : `${rows.toLocaleString("en-US")} rows`;
  return `[seed] ${label.padEnd(26)} ${count.padStart(16)} ${secs.toFixed(2).padStart(7)} s${note ? `  ${note}` : ""}\n`;
}

export async function seedDatabase(
  sql: postgres.Sql,
  options: SeedOptions,
): Promise<SeedReport> {
  const {
    rows,
    seed = 1,
    anchor,
    clock,
    progress = false,
    foreignKeyChecks = "set-based",
    deferIndexes: deferOption,
  } = options;
  if (!Number.isSafeInteger(rows) || rows < MIN_ROWS || rows > MAX_ROWS) {
    throw new RangeError(
      `seed: rows must be an integer from ${MIN_ROWS} to ${MAX_ROWS}, not ${rows}`,
    );
  }
  // hashint8extended takes a bigint seed; keep to integers JavaScript holds exactly.
  if (!Number.isSafeInteger(seed))
    throw new RangeError(`seed: seed must be a safe integer, not ${seed}`);
  if (anchor !== undefined && Number.isNaN(anchor.getTime()))
    throw new RangeError("seed: anchor is an invalid date");
  if (clock !== undefined && Number.isNaN(clock.getTime()))
    throw new RangeError("seed: clock is an invalid date");

  const say = (line: string) => {
    if (progress) process.stderr.write(line);
  };
  const started = performance.now();
  const tables: SeedTableReport[] = [];
  let anchorUsed = "";
  let clockUsed = "";
  let fkMode: SeedReport["foreignKeyChecks"] = "per-row";
  let deferredIndexes = 0;
  let indexBuildSeconds = 0;

  let backend: { pid: number; cpu: number } | undefined;
  await sql.begin(async (tx) => {
    const [me] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const cpu = processCpuSeconds(me!.pid);
    if (cpu !== undefined) backend = { pid: me!.pid, cpu };
    // One transaction: all or nothing, and no commit wait until the end.
    // enable_mergejoin = off: every join of the seed files is a big generated series against
    // small lookup tables. The planner cannot estimate the series' computed keys and may
    // choose a merge join, which sorts the series: slower, and rows no longer go in in id
    // (time) order. A hash join keeps the probe side's order.
    // jit = off: compiling the wide expressions costs more (~0.5 s a file) than it saves.
    // synchronous_commit = on: hint bits, and so the all-visible bits the VACUUM below sets
    // for index-only scans, cannot be written for a commit whose WAL is not yet flushed.
    // Above 1M rows (10M: a 10M-row generate_series is kept in a tuplestore, which spilled to
    // disk at 256MB, a third of the operations' time) 1GB; the tiers the plan tests record keep
    // the plans their data was made with.
    await tx.unsafe(`
      set local synchronous_commit = on;
      set local work_mem = '256MB';
      set local maintenance_work_mem = '512MB';
      set local jit = off;
      set local enable_mergejoin = off`);
    if (rows > DEFER_INDEXES_ABOVE)
      await tx.unsafe("set local work_mem = '1GB'");
    // Parameters reach the SQL files as settings, local to this transaction. The anchor and the
    // clock are cut to the second so that the reported values reproduce them exactly.
    await tx`
      select set_config('seed.rows', ${String(rows)}, true),
             set_config('seed.seed', ${String(seed)}, true),
             set_config('seed.anchor',
                        coalesce(${anchor?.toISOString() ?? null}::timestamptz, date_trunc('second', now()))::text,
                        true),
             set_config('seed.clock',
                        coalesce(${clock?.toISOString() ?? null}::timestamptz, date_trunc('second', now()))::text,
                        true)`;
    const [params] = await tx<{ anchor: string; clock: string }[]>`
      select to_json(current_setting('seed.anchor')::timestamptz) #>> '{}' as anchor,
             to_json(current_setting('seed.clock')::timestamptz) #>> '{}' as clock`;
    anchorUsed = params!.anchor;
    clockUsed = params!.clock;

    // Foreign keys: per-row triggers cost 40 % of the time at 1M rows (an executor start and
    // an index probe per row and key); one anti-join per key afterwards costs about 1 s.
    if (foreignKeyChecks === "set-based") {
      const [fk] = await tx<{ allowed: boolean; own_triggers: boolean }[]>`
        select has_parameter_privilege('session_replication_role', 'SET') as allowed,
               exists (select from pg_trigger t join pg_class c on c.oid = t.tgrelid
                       where c.relnamespace = 'app'::regnamespace and not t.tgisinternal) as own_triggers`;
      if (fk?.allowed && !fk.own_triggers) {
        await tx.unsafe("set local session_replication_role = replica");
        fkMode = "set-based";
      }
    }

    // Indexes no foreign key needs are dropped here, after 00-setup.sql's truncate, and built
    // again once the last table is filled (before the foreign key check, which needs only the
    // referenced keys): one sorted build each instead of a descent per row.
    let restoreIndexes: (() => Promise<void>) | undefined;
    let tablesFilled = false;
    for (const file of seedFiles()) {
      const text = readFileSync(join(SEED_DIR, file), "utf8");
      const target = INSERT_TARGET.exec(text)?.[1];
      if (
        target &&
        !restoreIndexes &&
        (deferOption ?? rows > DEFER_INDEXES_ABOVE)
      ) {
        const deferred = await deferIndexes(tx);
        deferredIndexes = deferred.count;
        restoreIndexes = deferred.restore;
      }
      if (!target && tablesFilled && restoreIndexes) {
        const t = performance.now();
        await restoreIndexes();
        restoreIndexes = undefined;
        indexBuildSeconds = seconds(t);
        say(
          progressLine(
            `build ${deferredIndexes} indexes`,
            undefined,
            indexBuildSeconds,
          ),
        );
      }
      if (target) tablesFilled = true;
      const t = performance.now();
      let result: postgres.RowList<postgres.Row[]>;
      try {
        result = await tx.unsafe(text);
      } catch (error) {
        throw new Error(`seed/${file}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      const secs = seconds(t);
      if (target) {
        if (result.command !== "INSERT") {
          throw new Error(
            `seed/${file}: a table file must be one INSERT statement (got ${result.command})`,
          );
        }
        tables.push({ table: target, rows: result.count, seconds: secs });
        say(progressLine(target, result.count, secs));
      } else {
        say(progressLine(file, undefined, secs));
      }
    }
    if (restoreIndexes) {
      const t = performance.now();
      await restoreIndexes();
      indexBuildSeconds = seconds(t);
    }
  });

  // VACUUM ANALYZE, outside the transaction: the visibility map (index-only scans) and the
  // statistics, of partitioned parents too (autovacuum never analyzes those; VACUUM ANALYZE
  // on a parent covers its partitions and the parent's own inheritance statistics).
  const vacuumStart = performance.now();
  const appTables = await sql<{ name: string }[]>`
    select format('%I.%I', n.nspname, c.relname) as name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'app' and c.relkind in ('r', 'p') and not c.relispartition
    order by 1`;
  if (appTables.length)
    await sql.unsafe(
      `vacuum (analyze) ${appTables.map((r) => r.name).join(", ")}`,
    );
  const vacuumSeconds = seconds(vacuumStart);
  say(progressLine("vacuum analyze", undefined, vacuumSeconds));

  // The statistics the writers maintain (app.collection_stat_totals): the seed wrote its rows
  // around the api, so they are computed from the tables once.
  const [totals] = await sql<
    { exists: boolean }[]
  >`select to_regprocedure('maint.rebuild_collection_stats()') is not null as exists`;
  if (totals?.exists) {
    const rebuildStart = performance.now();
    await sql`select maint.rebuild_collection_stats()`;
    // The rebuild deletes and inserts: in a database seeded before, the old rows' pages stay
    // behind the new ones, and with twice the pages the planner picks another scan for
    // api.collection_statistics than on a database seeded once. Rewritten compact (a few
    // thousand rows at most: one row per collection), so the plan depends on the data only.
    await sql`vacuum (full, analyze) app.collection_stat_totals, app.collection_stat_deltas`;
    say(
      progressLine(
        "rebuild app.collection_stat_totals",
        undefined,
        seconds(rebuildStart),
      ),
    );
  }

  // The operators' view (app.tenant_overview, computed from the totals just rebuilt) would
  // still hold the previous data's numbers. A plain refresh, not the job's concurrent one: that
  // would leave the previous data's rows dead in the view.
  const refreshStart = performance.now();
  const [view] = await sql<
    { exists: boolean }[]
  >`select to_regclass('app.tenant_overview') is not null as exists`;
  if (view?.exists) {
    await sql`refresh materialized view app.tenant_overview`;
    await sql`analyze app.tenant_overview`;
    say(
      progressLine(
        "refresh app.tenant_overview",
        undefined,
        seconds(refreshStart),
      ),
    );
  }

  // CHECKPOINT needs a superuser or pg_checkpoint; without it the data is correct, only some
  // pages may stay not all-visible until autovacuum comes by.
  const [may] = await sql<{ checkpoint: boolean }[]>`
    select pg_has_role('pg_checkpoint', 'member') or (select rolsuper from pg_roles where rolname = current_user) as checkpoint`;
  if (may?.checkpoint) {
    const settleStart = performance.now();
    const notVisible = await settleSeededData(sql);
    say(
      progressLine(
        "checkpoint, vacuum",
        undefined,
        seconds(settleStart),
        notVisible ? `${notVisible} pages not all-visible` : "",
      ),
    );
  }

  const report: SeedReport = {
    rows,
    seconds: seconds(started),
    tables,
    seed,
    anchor: anchorUsed,
    clock: clockUsed,
    vacuumSeconds,
    foreignKeyChecks: fkMode,
    deferredIndexes,
    indexBuildSeconds,
  };
  const cpuNow = backend ? processCpuSeconds(backend.pid) : undefined;
  if (backend && cpuNow !== undefined)
    report.backendCpuSeconds = Math.round((cpuNow - backend.cpu) * 10) / 10;
  const total = tables.reduce((sum, t) => sum + t.rows, 0);
  say(
    progressLine(
      "total",
      total,
      report.seconds,
      `(seed ${seed}, anchor ${anchorUsed}, clock ${clockUsed}, foreign keys checked ${fkMode})`,
    ),
  );
  return report;
}

/**
 * After seeding: a checkpoint, then VACUUM of every app table (partitions and the statistics
 * view included), so every page is marked all-visible, and a checkpoint again. The seed's own
 * VACUUM ANALYZE runs right after its commit and does not always get there: at the 10k tier it
 * left 195 of 508 heap pages not all-visible; at 1M it depended on timing whether `app.documents` was.
 * Index-only scans then read the heap, and the planner chooses between an Index Only
 * Scan and a Bitmap Heap Scan run to run (api.document_status_counts at 1M: 45 against 1,604
 * buffers). Returns the heap pages still not all-visible (0 expected).
 */
export async function settleSeededData(sql: postgres.Sql): Promise<number> {
  await sql`checkpoint`;
  const tables = await sql<{ name: string }[]>`
    select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'app' and c.relkind in ('r', 'm') order by 1`;
  if (tables.length)
    await sql.unsafe(`vacuum ${tables.map((t) => t.name).join(", ")}`);
  await sql`checkpoint`;
  const [left] = await sql<{ pages: number }[]>`
    select coalesce(sum(greatest(c.relpages - c.relallvisible, 0)), 0)::int as pages from pg_class c
    where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'm')`;
  return left?.pages ?? 0;
}

interface DeferredIndex {
  table: string;
  index: string;
  /** The primary key or unique constraint the index backs, if any. */
  constraint: string | null;
  /** CREATE INDEX ... (ON ONLY made ON), or the constraint's definition. */
  definition: string;
  comment: string | null;
  constraint_comment: string | null;
  /** Each partition's index: its name and comment, by the partition's oid. */
  children: { partition: number; name: string; comment: string | null }[];
}

/** The app tables the seed files fill (their INSERT targets). */
function seededTables(): string[] {
  return seedFiles()
    .map(
      (f) => INSERT_TARGET.exec(readFileSync(join(SEED_DIR, f), "utf8"))?.[1],
    )
    .filter((t): t is string => t !== undefined);
}

/**
 * Drops the indexes of the seeded tables that no foreign key references (plain indexes, and
 * primary keys and unique constraints no foreign key points at) and returns what builds them
 * again exactly: the same names (partitions' indexes included), definitions and comments. At
 * 10M rows, maintaining them row by row was most of the seeding (a B-tree descent per row and
 * index); a build after the load sorts once. The keys foreign keys reference stay: the
 * set-based foreign key check (80-check-foreign-keys.sql) reads them. Nothing is deferred when
 * the role does not own every seeded table (it could not build them again).
 */
async function deferIndexes(
  tx: postgres.TransactionSql,
): Promise<{ count: number; restore: () => Promise<void> }> {
  const tables = seededTables();
  const [owner] = await tx<{ ok: boolean }[]>`
    select bool_and(pg_has_role(current_user, c.relowner, 'USAGE')) as ok
    from pg_class c where c.oid = any (${tables}::regclass[])`;
  if (!owner?.ok) return { count: 0, restore: async () => {} };
  const indexes = await tx<DeferredIndex[]>`
    select format('%I.%I', n.nspname, t.relname) as table,
           format('%I.%I', n.nspname, ic.relname) as index,
           con.conname as constraint,
           case when con.oid is null then regexp_replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ')
                else pg_get_constraintdef(con.oid) end as definition,
           obj_description(i.indexrelid, 'pg_class') as comment,
           case when con.oid is not null then obj_description(con.oid, 'pg_constraint') end as constraint_comment,
           coalesce((select json_agg(json_build_object('partition', ci.indrelid::bigint, 'name', ch.relname,
                                                       'comment', obj_description(ch.oid, 'pg_class')))
                     from pg_inherits h join pg_class ch on ch.oid = h.inhrelid join pg_index ci on ci.indexrelid = ch.oid
                     where h.inhparent = i.indexrelid), '[]') as children
    from pg_index i
    join pg_class ic on ic.oid = i.indexrelid
    join pg_class t on t.oid = i.indrelid
    join pg_namespace n on n.oid = t.relnamespace
    left join pg_constraint con on con.conindid = i.indexrelid and con.conrelid = t.oid and con.contype in ('p', 'u')
    where t.oid = any (${tables}::regclass[])
      and not exists (select from pg_constraint f where f.contype = 'f' and f.conindid = i.indexrelid)
      and not exists (select from pg_constraint x where x.conindid = i.indexrelid and x.conrelid = t.oid and x.contype not in ('p', 'u'))
      and not i.indisclustered and not i.indisreplident
      -- a setting on an index column (statistics target) would be lost
      and not exists (select from pg_attribute a where a.attrelid = i.indexrelid and a.attstattarget >= 0)
    order by 1, 2`;
  for (const ix of indexes) {
    if (ix.constraint)
      await tx.unsafe(
        `alter table ${ix.table} drop constraint ${quoteIdent(ix.constraint)}`,
      );
    else await tx.unsafe(`drop index ${ix.index}`);
  }
  return {
    count: indexes.length,
    restore: async () => {
      for (const ix of indexes) {
        await tx.unsafe(
          ix.constraint
            ? `alter table ${ix.table} add constraint ${quoteIdent(ix.constraint)} ${ix.definition}`
            : ix.definition,
        );
        if (ix.comment !== null)
          await tx.unsafe(
            `comment on index ${ix.index} is ${quoteLiteral(ix.comment)}`,
          );
        if (ix.constraint && ix.constraint_comment !== null)
          await tx.unsafe(
            `comment on constraint ${quoteIdent(ix.constraint)} on ${ix.table} is ${quoteLiteral(ix.constraint_comment)}`,
          );
      }
      // The partitions' indexes get the names they had: in two steps, as a name chosen for one
      // index's partition may be the one another's had.
      const renames: {
        current: string;
        temporary: string;
        name: string;
        comment: string | null;
      }[] = [];
      for (const ix of indexes) {
        if (ix.children.length === 0) continue;
        const now = await tx<
          { partition: number; schema: string; name: string }[]
        >`
          select ci.indrelid::bigint as partition, n.nspname as schema, ch.relname as name
          from pg_inherits h join pg_class ch on ch.oid = h.inhrelid join pg_index ci on ci.indexrelid = ch.oid
          join pg_namespace n on n.oid = ch.relnamespace
          where h.inhparent = ${ix.index}::regclass`;
        for (const child of ix.children) {
          const found = now.find(
            (c) => Number(c.partition) === Number(child.partition),
          );
          if (!found)
            throw new Error(
              `seed: ${ix.index} was built again without its index on partition ${child.partition}`,
            );
          renames.push({
            current: `${quoteIdent(found.schema)}.${quoteIdent(found.name)}`,
            temporary: `${quoteIdent(found.schema)}.${quoteIdent(`seed_index_${renames.length}`)}`,
            name: child.name,
            comment: child.comment,
          });
        }
      }
      for (const r of renames)
        await tx.unsafe(
          `alter index ${r.current} rename to ${quoteIdent(r.temporary.split(".")[1]!.replaceAll('"', ""))}`,
        );
      for (const r of renames) {
        await tx.unsafe(
          `alter index ${r.temporary} rename to ${quoteIdent(r.name)}`,
        );
        const schema = r.temporary.split(".")[0]!;
        if (r.comment !== null)
          await tx.unsafe(
            `comment on index ${schema}.${quoteIdent(r.name)} is ${quoteLiteral(r.comment)}`,
          );
      }
    },
  };
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
const quoteLiteral = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** utime + stime of a process of this machine, in seconds (Linux /proc; 100 ticks a second); undefined when not readable. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // after "pid (comm) ": state is field 0, utime 11, stime 12
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}
