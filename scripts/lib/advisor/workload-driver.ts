// The api workload as the index advisor runs it: the calls of scripts/lib/workload.ts (`apiCalls`,
// the one definition of which api function is called with which arguments, chosen from the data
// by rules written in SQL), each workload's argument sets rotated over `callsPerFunction` calls,
// plus the bodies of the maintenance jobs. It is what `npm run analyze-indexes` runs before it
// advises, and what test/perf.test.ts runs before it asserts that every index we ship is used.
// docs/monitoring.md.
//
// Calls that change data (kind "write") run in a transaction that is rolled back, so the data
// stays as seeded and the statements still reach pg_stat_statements and the index statistics
// (both count statements of rolled-back transactions). Two calls cannot be rolled back, since
// they commit: the procedure api.purge_documents runs on a tenant the driver makes for it (not
// on its workload subject, which it would delete), and maint.purge_expired deletes what has
// expired (that is its job; the seed has expired rows).
import type postgres from "postgres";
import { apiCalls, WORKLOAD, type ApiCall } from "../workload.ts";

export interface WorkloadCall {
  /** What the call exercises: the workload's name ("api.delete_documents (hard)") or the maintenance function. */
  name: string;
  /** The routine it calls, "api.delete_documents": skipped when the database has none of that name. */
  routine: string;
  /** The statement, with $n parameters. */
  sql: string;
  params: unknown[];
  /** Changes data: run in a transaction rolled back. */
  mutates?: boolean;
  /** Commits (a procedure with COMMIT inside): run on its own, outside a transaction. */
  commits?: boolean;
  /** Runs before (setup) or after (cleanup) the call, on the same connection, not measured. */
  setup?: (sql: postgres.ReservedSql) => Promise<unknown[] | void>;
  cleanup?: (sql: postgres.ReservedSql) => Promise<void>;
}

export interface WorkloadOptions {
  /** Calls per workload of scripts/lib/workload.ts, its argument sets in turn. Default 20. */
  callsPerFunction?: number;
  /** Also the bodies of the pg_cron jobs that read with indexes (TTL purge, stats refresh). Default true. */
  maintenance?: boolean;
  /** Also api.purge_documents, on a tenant made for it and removed after. Default true. */
  purge?: boolean;
}

/**
 * The calls: every workload of scripts/lib/workload.ts `callsPerFunction` times, its argument
 * sets in turn, in the order of WORKLOAD. Workloads without a subject in the data (an empty
 * table: apiCalls throws) are left out, and so counted by functionsNotDriven.
 */
export async function apiWorkload(
  sql: postgres.Sql,
  options: WorkloadOptions = {},
): Promise<WorkloadCall[]> {
  const { callsPerFunction = 20, maintenance = true, purge = true } = options;
  const calls: WorkloadCall[] = [];
  for (const { name } of WORKLOAD) {
    // no subject in the data: left out; an error of the database (it has a SQLSTATE) is not
    const [api] = await apiCalls(sql, {
      sets: callsPerFunction,
      only: [name],
    }).catch((error: { code?: string }) => {
      if (error.code) throw error;
      return [] as ApiCall[];
    });
    if (!api) continue;
    if (api.kind === "procedure") {
      if (purge) calls.push(purgeOnOwnTenant(api));
      continue;
    }
    for (let i = 0; i < callsPerFunction; i++) {
      const params = api.calls[i % api.calls.length]!.args;
      calls.push({
        name: api.name,
        routine: api.routine,
        sql: api.query,
        params,
        mutates: api.kind === "write",
      });
    }
  }
  if (maintenance) {
    calls.push(
      {
        name: "maint.purge_expired",
        routine: "maint.purge_expired",
        sql: "call maint.purge_expired()",
        params: [],
        commits: true,
      },
      {
        name: "maint.refresh_tenant_overview",
        routine: "maint.refresh_tenant_overview",
        sql: "select maint.refresh_tenant_overview()",
        params: [],
      },
    );
  }
  return calls;
}

/** The procedure (it commits, deleting its subject for good) on a tenant of its own with a few documents, purged in batches of 2, then removed. */
function purgeOnOwnTenant(api: ApiCall): WorkloadCall {
  return {
    name: api.name,
    routine: api.routine,
    sql: api.query,
    params: [],
    commits: true,
    setup: async (conn) => {
      const [row] = await conn.unsafe<{ tenant_id: string }[]>(`
        with t as (insert into app.tenants (name) values ('index advisor workload: purge') returning tenant_id),
             u as (insert into app.users (tenant_id, email, display_name) select tenant_id, 'purge@example.invalid', 'purge' from t returning tenant_id, id),
             c as (insert into app.collections (tenant_id, owner_id, name) select tenant_id, id, 'purge' from u returning tenant_id, id),
             d as (insert into app.documents (tenant_id, collection_id, title) select c.tenant_id, c.id, 'purge ' || g from c, generate_series(1, 5) g returning 1)
        select tenant_id from t where (select count(*) from d) = 5`);
      return [row!.tenant_id, 2];
    },
    cleanup: async (conn) => {
      // Deleting the user and the tenant makes PostgreSQL check every table that references
      // them (operations by (tenant_id, user_id) has no index for that: perf.missing_fk_indexes),
      // statements no api function runs, which would then count as workload. Nothing
      // references these rows, so the checks are skipped where this role may (replica role);
      // otherwise the rows are left in place.
      const [may] = await conn<
        { ok: boolean }[]
      >`select has_parameter_privilege('session_replication_role', 'SET') as ok`;
      if (!may?.ok) return;
      await conn.unsafe("begin");
      try {
        await conn.unsafe("set local session_replication_role = replica");
        await conn.unsafe(`
          with t as (select tenant_id from app.tenants where name = 'index advisor workload: purge'),
               c as (delete from app.collections where tenant_id in (select tenant_id from t) returning 1),
               u as (delete from app.users where tenant_id in (select tenant_id from t) returning 1)
          delete from app.tenants where tenant_id in (select tenant_id from t)`);
        await conn.unsafe("commit");
      } catch (error) {
        await conn.unsafe("rollback");
        throw error;
      }
    },
  };
}

/** The api functions and procedures of the database that no call of the workload exercises. */
export async function functionsNotDriven(
  sql: postgres.Sql,
  calls: readonly WorkloadCall[],
): Promise<string[]> {
  const driven = new Set(calls.map((c) => c.routine));
  const rows = await sql<{ name: string }[]>`
    select distinct n.nspname || '.' || p.proname as name
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'api' order by 1`;
  return rows.map((r) => r.name).filter((name) => !driven.has(name));
}

export interface WorkloadReport {
  calls: number;
  /** Calls per function. */
  byFunction: Record<string, number>;
  /** Routines of the workload the database does not have (by name): skipped. */
  missing: string[];
  /** Calls that raised an error. */
  failures: { name: string; message: string; params: unknown[] }[];
  seconds: number;
}

export interface RunOptions {
  /** Called after each call: done, total. */
  onProgress?: (done: number, total: number) => void;
  /** Run a call `repeat` times in a row (default 1). */
  repeat?: number;
  /**
   * Settings of the workload's session, e.g. { enable_seqscan: "off" }: on small data the
   * planner rightly reads small tables whole, which says nothing about which index a query
   * uses on big data (test/perf.test.ts asks that question at the 10k tier).
   */
  settings?: Record<string, string>;
}

/**
 * Runs the calls on one connection of its own, which it closes at the end, so the cumulative
 * statistics of the calls (index scans) are flushed when it returns (a backend flushes them
 * at exit; otherwise up to a few seconds later).
 */
export async function runWorkload(
  url: string,
  calls: readonly WorkloadCall[],
  options: RunOptions = {},
): Promise<WorkloadReport> {
  const { default: postgresClient } = await import("postgres");
  const sql = postgresClient(url, {
    max: 1,
    onnotice: () => {},
    connection: {
      application_name: "querybudget index advisor workload",
      ...options.settings,
    },
  });
  const started = performance.now();
  const report: WorkloadReport = {
    calls: 0,
    byFunction: {},
    missing: [],
    failures: [],
    seconds: 0,
  };
  try {
    const routines = [...new Set(calls.map((c) => c.routine))];
    const exists = await sql<{ routine: string; ok: boolean }[]>`
      select r as routine, exists (select from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                                   where n.nspname = split_part(r, '.', 1) and p.proname = split_part(r, '.', 2)) as ok
      from unnest(${routines}::text[]) r`;
    const missing = new Set(exists.filter((e) => !e.ok).map((e) => e.routine));
    report.missing = [...missing].sort();
    const conn = await sql.reserve();
    try {
      const runnable = calls.filter((c) => !missing.has(c.routine));
      const repeat = options.repeat ?? 1;
      let done = 0;
      for (const call of runnable) {
        for (let r = 0; r < repeat; r++) {
          try {
            await runCall(conn, call);
            report.calls++;
            report.byFunction[call.name] =
              (report.byFunction[call.name] ?? 0) + 1;
          } catch (error) {
            await conn.unsafe("rollback").catch(() => {});
            report.failures.push({
              name: call.name,
              message: (error as Error).message,
              params: call.params,
            });
          }
        }
        options.onProgress?.(++done, runnable.length);
      }
    } finally {
      conn.release();
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

/** One call on a reserved connection: rolled back when it changes data, set up and cleaned up around. */
export async function runCall(
  conn: postgres.ReservedSql,
  call: WorkloadCall,
): Promise<void> {
  const params = (
    call.setup ? ((await call.setup(conn)) ?? call.params) : call.params
  ) as never[];
  try {
    if (call.mutates) {
      await conn.unsafe("begin");
      try {
        await conn.unsafe(call.sql, params);
      } finally {
        await conn.unsafe("rollback");
      }
    } else {
      await conn.unsafe(call.sql, params);
    }
  } finally {
    if (call.cleanup) await call.cleanup(conn);
  }
}
