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
