// Getting plans from the server: EXPLAIN for a statement, auto_explain for the statements
// inside a function call, and the catalog lookups that map partitions to their parents.
import postgres from "postgres";
import { allNodes, parseAutoExplainNotice, parseExplainJson } from "./parse.ts";
import type { ExplainedPlan, ExplainedStatement, PlanInput } from "./types.ts";

/** Anything postgres.js that runs SQL: a pool, a reserved connection or a transaction. */
export type Queryable =
  postgres.Sql | postgres.ReservedSql | postgres.TransactionSql;

/** Planner settings plan tests pin: no parallel plans, no JIT (both vary with the machine). */
export const PINNED_PLANNER_SETTINGS = {
  max_parallel_workers_per_gather: "0",
  jit: "off",
} as const;

/**
 * Pins the planner settings in this session. A pool spreads statements over connections, so
 * pass a single connection (sql.reserve(), a transaction, or a client with max: 1), or give
 * `connection: PINNED_PLANNER_SETTINGS` when creating the client.
 */
export async function pinPlannerSettings(sql: Queryable): Promise<void> {
  for (const [name, value] of Object.entries(PINNED_PLANNER_SETTINGS)) {
    await sql.unsafe(`select set_config($1, $2, false)`, [name, value]);
  }
}

export interface ExplainOptions {
  /** Pin PINNED_PLANNER_SETTINGS for this statement (default true). */
  pin?: boolean;
  /** Roll back what the statement changed (EXPLAIN ANALYZE executes it). Default false. */
  rollback?: boolean;
}

/**
 * EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) of one statement, with its parameters, as a
 * typed tree whose partitions and partition indexes are mapped to their parents. VERBOSE is
 * there for the relations' schemas. Runs in a transaction of its own on one connection (SET
 * LOCAL pins the settings without leaking them into the pool), or inside the given transaction.
 */
export async function explain(
  sql: Queryable,
  query: string,
  params: unknown[] = [],
  options: ExplainOptions = {},
): Promise<ExplainedPlan> {
  const { pin = true, rollback = false } = options;
  return onOneConnection(sql, rollback, async (conn) => {
    if (pin) {
      for (const [name, value] of Object.entries(PINNED_PLANNER_SETTINGS))
        await conn.unsafe(`select set_config($1, $2, true)`, [name, value]);
    }
    const rows = await conn.unsafe(
      `explain (analyze, buffers, verbose, format json) ${query}`,
      params as never[],
    );
    const explained = parseExplainJson(rows[0]?.["QUERY PLAN"], query);
    await resolveNames(conn, explained);
    return explained;
  });
}

async function onOneConnection<T>(
  sql: Queryable,
  rollback: boolean,
  body: (conn: Queryable) => Promise<T>,
): Promise<T> {
  if ("savepoint" in sql) {
    // Already in a transaction: a savepoint keeps rollback possible.
    if (!rollback) return body(sql);
    let result: T | undefined;
    await sql
      .savepoint(async (sp) => {
        result = await body(sp);
        throw new RolledBack();
      })
      .catch(ignoreRolledBack);
    return result as T;
  }
  const reserved = "release" in sql;
  const conn = reserved ? sql : await sql.reserve();
  try {
    await conn.unsafe("begin");
    try {
      const result = await body(conn);
      await conn.unsafe(rollback ? "rollback" : "commit");
      return result;
    } catch (error) {
      await conn.unsafe("rollback").catch(() => {});
      throw error;
    }
  } finally {
    if (!reserved) (conn as postgres.ReservedSql).release();
  }
}

class RolledBack extends Error {}
function ignoreRolledBack(error: unknown): void {
  if (!(error instanceof RolledBack)) throw error;
}

/**
 * The auto_explain settings of every plan we read from inside a call: every statement (nested
 * ones too, log_min_duration 0), with EXPLAIN ANALYZE and BUFFERS, VERBOSE (for the relations'
 * schemas), as JSON, sent to the client as a NOTICE. The one definition: explainFunction,
 * explainCall (scripts/lib/workload.ts), the advisor's validation and the tests use it.
 */
export const AUTO_EXPLAIN_SETTINGS: Readonly<Record<string, string>> = {
  client_min_messages: "notice",
  "auto_explain.log_min_duration": "0",
  "auto_explain.log_analyze": "on",
  "auto_explain.log_buffers": "on",
  "auto_explain.log_timing": "on",
  "auto_explain.log_verbose": "on",
  "auto_explain.log_nested_statements": "on",
  "auto_explain.log_format": "json",
  "auto_explain.log_level": "notice",
  "auto_explain.sample_rate": "1",
};

export interface AutoExplainOptions {
  /** For the current transaction only (set_config's is_local), e.g. inside BEGIN ... ROLLBACK. Default false: the session. */
  local?: boolean;
  /** Also pin PINNED_PLANNER_SETTINGS (default false). */
  pin?: boolean;
  /** Settings over AUTO_EXPLAIN_SETTINGS, e.g. { "auto_explain.log_timing": "off" }. */
  settings?: Record<string, string>;
}

/**
 * Loads auto_explain (preloaded on our servers; loaded again in case it is not) and applies
 * AUTO_EXPLAIN_SETTINGS on this connection. Give it one connection (a client with max: 1, a
 * reserved connection or a transaction): the notices arrive at that client's onnotice.
 */
export async function enableAutoExplain(
  sql: Queryable,
  options: AutoExplainOptions = {},
): Promise<void> {
  const { local = false, pin = false, settings = {} } = options;
  const all = {
    ...AUTO_EXPLAIN_SETTINGS,
    ...(pin ? PINNED_PLANNER_SETTINGS : {}),
    ...settings,
  };
  await sql.unsafe("load 'auto_explain'");
  await sql.unsafe(
    `select set_config(s.name, s.value, $3) from unnest($1::text[], $2::text[]) as s(name, value)`,
    [Object.keys(all), Object.values(all), local] as never[],
  );
}

/** Stops auto_explain logging on this connection (the statements that read the catalog after a run are not logged). */
export async function disableAutoExplain(
  sql: Queryable,
  options: { local?: boolean } = {},
): Promise<void> {
  await sql.unsafe(
    `select set_config('auto_explain.log_min_duration', '-1', $1)`,
    [options.local ?? false] as never[],
  );
}

export interface ExplainFunctionOptions {
  /**
   * Calls in one session; the plans of the last are returned (default 6). PL/pgSQL plans a
   * statement afresh for its first five executions and may switch to a cached generic plan
   * from the sixth; the first call also reads the catalog to compile the function, which
   * inflates the call's buffers.
   */
  runs?: number;
  /** Run the calls in a transaction that is rolled back (for functions that change data). */
  rollback?: boolean;
  /** Pin PINNED_PLANNER_SETTINGS (default true). */
  pin?: boolean;
  /** Further settings for the session, e.g. { plan_cache_mode: "force_generic_plan" }. */
  settings?: Record<string, string>;
}

/**
 * The plans of the statements executed inside a call, from auto_explain (preloaded; loaded
 * again here in case it is not) with nested statements, JSON format, sent to the client as
 * NOTICEs. postgres.js takes its notice handler per client, so this opens a client of its
 * own on `target` (a URL or anything with one, like the test database) and closes it after.
 * Statements come in the order they finished: nested ones before the call, which is last and
 * marked topLevel (when the call is itself a planned statement: CALL is not).
 */
export async function explainFunction(
  target: string | { url: string },
  callQuery: string,
  params: unknown[] = [],
  options: ExplainFunctionOptions = {},
): Promise<ExplainedStatement[]> {
  const { runs = 6, rollback = false, pin = true, settings = {} } = options;
  const url = typeof target === "string" ? target : target.url;
  let notices: string[] = [];
  const sql = postgres(url, {
    max: 1,
    onnotice: (notice) => notices.push(String(notice.message)),
  });
  try {
    if (rollback) await sql.unsafe("begin");
    await enableAutoExplain(sql, { local: rollback, pin, settings });
    for (let run = 1; run <= runs; run++) {
      notices = [];
      await sql.unsafe(callQuery, params as never[]);
    }
    await disableAutoExplain(sql, { local: rollback });

    const parsed = notices
      .map(parseAutoExplainNotice)
      .filter((s) => s !== undefined);
    const call = callQuery.trim();
    const lastCall = parsed.map((s) => s.query.trim()).lastIndexOf(call);
    const statements: ExplainedStatement[] = parsed.map((s, i) => ({
      ...s,
      topLevel: i === lastCall,
    }));
    await resolveNames(sql, statements);
    if (rollback) await sql.unsafe("rollback");
    return statements;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Fills rootRelation, rootIndex, rootPartitions and relationTuples from the catalog, in one
 * query for the names the plans mention: pg_partition_root maps a partition to its partitioned
 * table and a partition's index to the partitioned index it is attached to.
 */
export async function resolveNames(
  sql: Queryable,
  input: PlanInput,
): Promise<void> {
  const nodes = allNodes(input);
  const names = [
    ...new Set(
      nodes
        .flatMap((n) => [n.relation, n.index])
        .filter((x): x is string => !!x && x.includes(".")),
    ),
  ];
  if (names.length === 0) return;
  const split = names.map((name) => [
    name.slice(0, name.indexOf(".")),
    name.slice(name.indexOf(".") + 1),
  ]);
  const rows = await sql.unsafe<
    { name: string; root: string; partitions: number | null; tuples: number }[]
  >(
    `select t.schema || '.' || t.name as name,
            rn.nspname || '.' || r.relname as root,
            case when r.relkind in ('p', 'I') then (select count(*)::int from pg_partition_tree(r.oid) where isleaf) end as partitions,
            c.reltuples::float8 as tuples
       from unnest($1::text[], $2::text[]) as t(schema, name)
       join pg_namespace n on n.nspname = t.schema
       join pg_class c on c.relnamespace = n.oid and c.relname = t.name
       join pg_class r on r.oid = coalesce(pg_partition_root(c.oid), c.oid)
       join pg_namespace rn on rn.oid = r.relnamespace`,
    [split.map((s) => s[0]!), split.map((s) => s[1]!)],
  );
  const byName = new Map(rows.map((row) => [row.name, row]));
  for (const node of nodes) {
    const rel = node.relation ? byName.get(node.relation) : undefined;
    if (rel) {
      node.rootRelation = rel.root;
      if (rel.partitions !== null) node.rootPartitions = rel.partitions;
      if (node.relationName) node.relationTuples = rel.tuples;
    }
    const idx = node.index ? byName.get(node.index) : undefined;
    if (idx) node.rootIndex = idx.root;
  }
}
