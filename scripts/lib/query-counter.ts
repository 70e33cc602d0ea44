// Statement count, time and rows of a unit of work (seed 002's X-Query-Count and X-Query-Time),
// from pg_stat_statements: one snapshot of the counters before, one after, the difference.
// The global counters are never reset. docs/monitoring.md "Counting the statements of a unit
// of work".
//
// What it counts: pg_stat_statements entries of the current database (dbid) and of the roles
// the work runs as (userid: the session's role, plus the owners of the security definer
// functions of schemas api and app, since a statement inside a security definer function is
// recorded under the function's owner: app.live_session, which api.validate_session calls, is
// querybudget_maint's). With pg_stat_statements.track = all, statements inside
// functions are entries of their own (toplevel = false): `statements` counts them all, as
// the server executed them; `topLevel` counts what the client sent, including what the driver
// sends on its own (postgres.js reads the array types once on each new connection).
//
// The limitation: pg_stat_statements is server-wide and keyed by (role, database, query), not
// by session. Whatever else the same roles run in the same database meanwhile (another
// connection, a pg_cron job owned by the same role) is counted too. Measure on a database of
// its own (a test copy) or accept the noise; `concurrentSessions` says how many other sessions
// of those roles were connected to the database when the work ended.
import type postgres from "postgres";
import { isForeignKeyCheck } from "./plan/analyze.ts";

/** One normalized statement's share of the work. */
export interface StatementDelta {
  queryid: string;
  toplevel: boolean;
  calls: number;
  /** Execution time, ms. */
  totalMs: number;
  rows: number;
  sharedHit: number;
  sharedRead: number;
  /** The normalized text, when `texts` was asked for. */
  query?: string;
}

export interface QueryCount {
  /** Every statement executed: top-level and nested, utility statements included, transaction control excluded. */
  statements: number;
  /** Statements the client sent (toplevel), transaction control excluded. */
  topLevel: number;
  /** Statements executed inside functions and procedures. */
  nested: number;
  /**
   * Of `nested`, PostgreSQL's own foreign key checks (isForeignKeyCheck of the plan library):
   * one per row a foreign key touches, so they grow with the rows changed by design.
   * `statements - foreignKeyChecks` are the work's own statements.
   */
  foreignKeyChecks: number;
  /** BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE: counted apart, as SQLAlchemy's statement count would not see them. */
  transactionControl: number;
  /** Server execution time of the top-level statements, ms (nested time is inside it): X-Query-Time. */
  execMs: number;
  /** Wall time of the work as the client saw it, ms: round trips included. */
  wallMs: number;
  /** Rows returned or affected by the top-level statements. */
  rows: number;
  /** Shared buffers hit and read by the top-level statements (nested ones included in them). */
  buffers: { hit: number; read: number; total: number };
  /** Per normalized statement, most calls first. */
  perStatement: StatementDelta[];
  /** True when pg_stat_statements evicted entries during the work (pg_stat_statements.max reached): counts may be low. */
  approximate: boolean;
  /** Other sessions of the counted roles connected to this database at the end: their statements may be in the counts. */
  concurrentSessions: number;
}

export interface CountOptions {
  /**
   * Roles whose statements count. Default: the session's current_user plus the owners of the
   * security definer functions in schemas api and app.
   */
  roles?: string[];
  /** Fetch the normalized query texts of the statements (reads pg_stat_statements' text file: slower). Default false. */
  texts?: boolean;
}

interface Snapshot {
  rows: Map<
    string,
    {
      calls: number;
      totalMs: number;
      rows: number;
      hit: number;
      read: number;
      toplevel: boolean;
      userid: string;
    }
  >;
  dealloc: number;
  self: string | null;
}

const TRANSACTION_CONTROL =
  /^\s*(begin|start\s+transaction|commit|end|rollback|abort|savepoint|release)\b/i;

async function statementsSchema(
  sql: postgres.Sql | postgres.ReservedSql,
): Promise<string> {
  const [row] = await sql<{ schema: string | null }[]>`
    select (select e.extnamespace::regnamespace::text from pg_extension e where e.extname = 'pg_stat_statements') as schema`;
  if (!row?.schema)
    throw new Error(
      "query-counter: pg_stat_statements is not installed in this database (create extension pg_stat_statements)",
    );
  return row.schema;
}

async function roleOids(
  sql: postgres.ReservedSql,
  roles?: string[],
): Promise<string[]> {
  if (roles) {
    const rows = await sql<
      { oid: string }[]
    >`select oid::text from pg_roles where rolname = any(${roles}::text[])`;
    return rows.map((r) => r.oid);
  }
  const rows = await sql<{ oid: string }[]>`
    select (select oid from pg_roles where rolname = current_user)::text as oid
    union
    select distinct p.proowner::text from pg_proc p where p.pronamespace in ('api'::regnamespace, 'app'::regnamespace) and p.prosecdef`;
  return rows.map((r) => r.oid);
}

async function snapshot(
  conn: postgres.ReservedSql,
  schema: string,
  users: string[],
): Promise<Snapshot> {
  // The snapshot's own statement is an entry too: its queryid, from pg_stat_activity, is left
  // out of the difference (the "after" snapshot sees the "before" one's call).
  const rows = await conn.unsafe<
    {
      key: string;
      calls: string;
      total: number;
      rows: string;
      hit: string;
      read: string;
      toplevel: boolean;
      userid: string;
      self: string | null;
      dealloc: string;
    }[]
  >(
    `select s.userid::text || ':' || s.queryid::text || ':' || s.toplevel::text as key,
            s.calls, s.total_exec_time as total, s.rows, s.shared_blks_hit as hit, s.shared_blks_read as read, s.toplevel, s.userid::text as userid,
            (select a.query_id::text from pg_stat_activity a where a.pid = pg_backend_pid()) as self,
            (select i.dealloc from ${schema}.pg_stat_statements_info i) as dealloc
       from (select 1) one
       left join ${schema}.pg_stat_statements(false) s
         on s.dbid = (select d.oid from pg_database d where d.datname = current_database())
        and s.userid::text = any($1::text[])`,
    [users],
  );
  const map: Snapshot["rows"] = new Map();
  for (const r of rows) {
    if (r.key === null) continue;
    map.set(r.key, {
      calls: Number(r.calls),
      totalMs: r.total,
      rows: Number(r.rows),
      hit: Number(r.hit),
      read: Number(r.read),
      toplevel: r.toplevel,
      userid: r.userid,
    });
  }
  return {
    rows: map,
    dealloc: Number(rows[0]?.dealloc ?? 0),
    self: rows[0]?.self ?? null,
  };
}

/**
 * Runs `work` and returns its result with the statements it executed. `sql` is used for the
 * snapshots: a pool (one of its connections is reserved for them, so it may be the pool the
 * work uses, with max > 1) or a reserved connection (which the work may use too).
 */
export async function countQueries<T>(
  sql: postgres.Sql | postgres.ReservedSql,
  work: () => Promise<T>,
  options: CountOptions = {},
): Promise<{ result: T } & QueryCount> {
  const reserved = "release" in sql;
  const conn = reserved ? sql : await sql.reserve();
  try {
    const schema = await statementsSchema(conn);
    const users = await roleOids(conn, options.roles);
    const before = await snapshot(conn, schema, users);
    const started = performance.now();
    const result = await work();
    const wallMs = performance.now() - started;
    const after = await snapshot(conn, schema, users);

    const perStatement: StatementDelta[] = [];
    for (const [key, a] of after.rows) {
      const [, queryid] = key.split(":");
      if (queryid === after.self || queryid === before.self) continue;
      const b = before.rows.get(key);
      const calls = a.calls - (b?.calls ?? 0);
      if (calls <= 0) continue;
      perStatement.push({
        queryid: queryid!,
        toplevel: a.toplevel,
        calls,
        totalMs: a.totalMs - (b?.totalMs ?? 0),
        rows: a.rows - (b?.rows ?? 0),
        sharedHit: a.hit - (b?.hit ?? 0),
        sharedRead: a.read - (b?.read ?? 0),
      });
    }
    // Transaction control is told apart by its text, so texts are read when there is any doubt.
    const texts = await statementTexts(
      conn,
      schema,
      perStatement.map((s) => s.queryid),
    );
    for (const s of perStatement) s.query = texts.get(s.queryid);
    const isControl = (s: StatementDelta) =>
      TRANSACTION_CONTROL.test(s.query ?? "");
    if (!options.texts)
      for (const s of perStatement) if (!isControl(s)) delete s.query;
    perStatement.sort(
      (x, y) => y.calls - x.calls || x.queryid.localeCompare(y.queryid),
    );

    const counted = perStatement.filter(
      (s) => !TRANSACTION_CONTROL.test(texts.get(s.queryid) ?? ""),
    );
    const top = counted.filter((s) => s.toplevel);
    const sum = (list: StatementDelta[], f: (s: StatementDelta) => number) =>
      list.reduce((acc, s) => acc + f(s), 0);
    const [others] = await conn<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity a
      where a.datname = current_database() and a.pid <> pg_backend_pid() and a.backend_type = 'client backend'
        and a.usesysid::text = any(${users}::text[])`;
    return {
      result,
      statements: sum(counted, (s) => s.calls),
      topLevel: sum(top, (s) => s.calls),
      nested: sum(
        counted.filter((s) => !s.toplevel),
        (s) => s.calls,
      ),
      foreignKeyChecks: sum(
        counted.filter(
          (s) => !s.toplevel && isForeignKeyCheck(texts.get(s.queryid) ?? ""),
        ),
        (s) => s.calls,
      ),
      transactionControl: sum(
        perStatement.filter((s) =>
          TRANSACTION_CONTROL.test(texts.get(s.queryid) ?? ""),
        ),
        (s) => s.calls,
      ),
      execMs: sum(top, (s) => s.totalMs),
      wallMs,
      rows: sum(top, (s) => s.rows),
      buffers: {
        hit: sum(top, (s) => s.sharedHit),
        read: sum(top, (s) => s.sharedRead),
        total: sum(top, (s) => s.sharedHit + s.sharedRead),
      },
      perStatement,
      approximate: after.dealloc !== before.dealloc,
      concurrentSessions: others?.n ?? 0,
    };
  } finally {
    if (!reserved) conn.release();
  }
}

/**
 * Counts the statements of `work`, run on one connection of `sql` (it may be a client with
 * max: 1) inside a transaction that is rolled back: the same data for every count. The
 * snapshots run on that connection, outside the transaction's statements.
 */
export async function countRolledBack<T>(
  sql: postgres.Sql,
  work: (conn: postgres.ReservedSql) => Promise<T>,
  options: CountOptions = {},
): Promise<{ result: T } & QueryCount> {
  const conn = await sql.reserve();
  try {
    return await countQueries(
      conn,
      async () => {
        await conn.unsafe("begin");
        try {
          return await work(conn);
        } finally {
          await conn.unsafe("rollback");
        }
      },
      options,
    );
  } finally {
    conn.release();
  }
}

async function statementTexts(
  conn: postgres.ReservedSql,
  schema: string,
  queryids: string[],
): Promise<Map<string, string>> {
  if (queryids.length === 0) return new Map();
  const rows = await conn.unsafe<{ queryid: string; query: string }[]>(
    `select distinct on (s.queryid) s.queryid::text as queryid, s.query
       from ${schema}.pg_stat_statements(true) s
      where s.dbid = (select d.oid from pg_database d where d.datname = current_database())
        and s.queryid::text = any($1::text[])`,
    [queryids],
  );
  return new Map(rows.map((r) => [r.queryid, r.query]));
}

/** Seed 002's response headers from a count: X-Query-Count (top-level statements) and X-Query-Time (ms, 2 decimals). */
export function queryHeaders(count: QueryCount): Record<string, string> {
  return {
    "X-Query-Count": String(count.topLevel),
    "X-Query-Time": `${count.execMs.toFixed(2)}ms`,
    "X-Query-Count-Nested": String(count.nested),
  };
}
