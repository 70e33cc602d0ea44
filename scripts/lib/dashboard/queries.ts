// The dashboard's one way into the database: a pool logged in as querybudget_monitor, read-only,
// that calls perf functions and nothing else (docs/monitoring.md "The dashboard"). Every query
// of the dashboard is in this file.
import postgres from "postgres";

export const MONITOR_ROLE = "querybudget_monitor";
/** The application_name of the dashboard's connections (pg_stat_activity, the tests). */
export const APPLICATION_NAME = "querybudget dashboard";

export type Row = Record<string, unknown>;

export interface Monitor {
  sql: postgres.Sql;
  database: string;
  /** perf functions that exist in this database (the history ones arrive with a later migration). */
  has(fn: string): boolean;
  close(): Promise<void>;
}

/** The same URL as the monitoring role (no password: trust, peer or ~/.pgpass supply it). */
export function monitorUrlOf(url: string): string {
  const u = new URL(url);
  if (u.username !== MONITOR_ROLE) {
    u.username = MONITOR_ROLE;
    u.password = "";
  }
  return u.toString();
}

/**
 * Opens the pool and checks who it is: refuses to go on as any role but querybudget_monitor
 * (the dashboard must never run as the owner or a superuser, who could read tenants' rows).
 */
export async function openMonitor(url: string): Promise<Monitor> {
  const sql = postgres(url, {
    max: 2,
    onnotice: () => {},
    idle_timeout: 30,
    connection: {
      application_name: APPLICATION_NAME,
      default_transaction_read_only: true,
    },
  });
  try {
    const [who] = await sql<
      { current_user: string; session_user: string; superuser: boolean }[]
    >`select current_user, session_user,
             (select r.rolsuper or r.rolbypassrls from pg_roles r where r.rolname = current_user) as superuser`;
    if (
      who!.session_user !== MONITOR_ROLE ||
      who!.current_user !== MONITOR_ROLE ||
      who!.superuser
    )
      throw new Error(
        `the dashboard connects as ${MONITOR_ROLE} only; this connection is ${who!.session_user}`,
      );
    const functions = await sql<{ name: string }[]>`
      select distinct p.proname::text as name from pg_proc p where p.pronamespace = 'perf'::regnamespace`;
    const names = new Set(functions.map((f) => f.name));
    const [db] = await sql<{ db: string }[]>`select current_database() as db`;
    return {
      sql,
      database: db!.db,
      has: (fn) => names.has(fn),
      close: () => sql.end({ timeout: 5 }),
    };
  } catch (error) {
    await sql.end({ timeout: 5 });
    throw error;
  }
}

const rows = (q: Promise<Row[]>) => q.then((r) => [...r]);

// --- overview -----------------------------------------------------------------------------

export const attention = (m: Monitor) =>
  rows(m.sql`select * from perf.attention()`);

export async function vitals(m: Monitor): Promise<Row> {
  const [r] = await m.sql<Row[]>`
    select current_database() as database, current_setting('server_version') as server_version,
           pg_size_pretty(pg_database_size(current_database())) as database_size,
           s.stats_reset, s.stats_age, s.server_started,
           c.total_connections, c.max_connections, c.used_percent
    from perf.statistics_age() s
    left join lateral (select * from perf.connections() limit 1) c on true`;
  return r!;
}

// --- routines ------------------------------------------------------------------------------

export const routineStatistics = (m: Monitor) =>
  rows(m.sql`select * from perf.routine_statistics()`);

/** Seeded rows (chunks), for the tier whose budgets apply. */
export async function chunkRows(m: Monitor): Promise<number> {
  const [r] = await m.sql<{ rows: string | null }[]>`
    select max(rows_estimate) as rows from perf.table_sizes() where schema_name = 'app' and table_name = 'chunks'`;
  return Number(r?.rows ?? 0);
}

// --- queries -------------------------------------------------------------------------------

export const slowQueries = (m: Monitor) =>
  rows(m.sql`select * from perf.slow_queries(100, 500) limit 50`);

/** Every statement, most total time first (slow_queries with a 0 ms threshold). */
export const topStatements = (m: Monitor, limit = 25) =>
  rows(m.sql`select * from perf.slow_queries(0, 500) limit ${limit}`);

export const statisticsAge = (m: Monitor) =>
  rows(m.sql`select * from perf.statistics_age()`);

// --- indexes -------------------------------------------------------------------------------

export const invalidIndexes = (m: Monitor) =>
  rows(m.sql`select * from perf.invalid_indexes()`);
export const duplicateIndexes = (m: Monitor) =>
  rows(m.sql`select * from perf.duplicate_indexes()`);
export const missingFkIndexes = (m: Monitor) =>
  rows(m.sql`select * from perf.missing_fk_indexes()`);
export const unusedIndexes = (m: Monitor) =>
  rows(m.sql`select * from perf.unused_indexes(0)`);
export const indexUsage = (m: Monitor) =>
  rows(
    m.sql`select * from perf.index_usage() order by size_bytes desc limit 40`,
  );

// --- tables --------------------------------------------------------------------------------

export const tableSizes = (m: Monitor) =>
  rows(m.sql`select * from perf.table_sizes()`);
export const tableMaintenance = (m: Monitor) =>
  rows(m.sql`select * from perf.table_maintenance()`);
export const tablesNeedingAnalyze = (m: Monitor) =>
  rows(m.sql`select * from perf.tables_needing_analyze()`);
export const seqScanTables = (m: Monitor) =>
  rows(m.sql`select * from perf.seq_scan_tables(95, 10000)`);
export const cacheHitRatio = (m: Monitor) =>
  rows(m.sql`select * from perf.cache_hit_ratio(0.99)`);

// --- activity ------------------------------------------------------------------------------

export const connections = (m: Monitor) =>
  rows(m.sql`select * from perf.connections()`);
export const blockedQueries = (m: Monitor) =>
  rows(m.sql`select * from perf.blocked_queries()`);
export const longRunningQueries = (m: Monitor) =>
  rows(m.sql`select * from perf.long_running_queries(interval '1 minute')`);

// --- jobs ----------------------------------------------------------------------------------

export const jobHealth = (m: Monitor) =>
  rows(m.sql`select * from perf.job_health()`);
export const jobRuns = (m: Monitor, limit = 100) =>
  rows(m.sql`select * from perf.job_runs(${limit}::integer)`);

// --- history and safety (functions/perf/history.sql, safety.sql) ---------------------------

export const historyStatus = (m: Monitor) =>
  rows(m.sql`select * from perf.history_status()`);
/** Per snapshot interval and routine since `hours` ago: the latency chart's series. */
export const routineHistory = (m: Monitor, hours: number) =>
  rows(
    m.sql`select * from perf.routine_history(now() - make_interval(hours => ${hours}))`,
  );
export const routineWindow = (m: Monitor, hours: number) =>
  rows(
    m.sql`select * from perf.routine_window(now() - make_interval(hours => ${hours}))`,
  );
export const routineChanges = (m: Monitor, hours: number) =>
  rows(
    m.sql`select * from perf.routine_changes_since(now() - make_interval(hours => ${hours}), 0.5)`,
  );
export const tableSizeHistory = (m: Monitor, hours: number) =>
  rows(
    m.sql`select * from perf.table_size_history(now() - make_interval(hours => ${hours}))`,
  );
export const tableGrowth = (m: Monitor, hours: number) =>
  rows(
    m.sql`select * from perf.table_growth_since(now() - make_interval(hours => ${hours}))`,
  );
export const vacuumHealth = (m: Monitor) =>
  rows(m.sql`select * from perf.vacuum_health()`);
export const bloatEstimates = (m: Monitor) =>
  rows(m.sql`select * from perf.bloat_estimates(10485760, 0.2)`);
/** Every database, and this database's ten oldest tables (p_warn_fraction 0 lists all). */
export const wraparound = (m: Monitor) =>
  rows(m.sql`
    select * from (select *, row_number() over (partition by scope order by wraparound_fraction desc) as n
                   from perf.wraparound_danger(0)) w
    where scope = 'database' or n <= 10
    order by scope, wraparound_fraction desc`);
/** The ten sequences and identities nearest their limit (p_warn_fraction 0 lists all). */
export const sequences = (m: Monitor) =>
  rows(m.sql`select * from perf.sequence_overflow(0) limit 10`);
export const notValidConstraints = (m: Monitor) =>
  rows(m.sql`select * from perf.not_valid_constraints()`);
export const replication = (m: Monitor) =>
  rows(m.sql`select * from perf.replication_health(1073741824)`);
