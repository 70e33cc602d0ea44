// The advisor's step 1: run the workload it was given (the api workload through the driver,
// or the queries of a file) so pg_stat_statements holds its statements, and keep what can be
// replayed later on the validation copy. For `statements`, nothing runs: production's counters are the workload.
import postgres from "postgres";
import type { WorkloadOptions, WorkloadReport } from "./workload-driver.ts";
import {
  apiWorkload,
  functionsNotDriven,
  runCall,
  runWorkload,
} from "./workload-driver.ts";
import type { ReplayUnit } from "./validate.ts";

/** A query of a workload file: literal SQL, or SQL with $n and its parameters. */
export interface QuerySpec {
  sql: string;
  params?: unknown[];
}

export type WorkloadSource =
  /** pg_stat_statements of the database as it is: what production ran. Nothing is replayed. */
  | { kind: "statements"; minCalls?: number }
  /** The api workload (scripts/lib/workload.ts) through the driver (workload-driver.ts), run now. */
  | {
      kind: "api";
      options?: WorkloadOptions;
      settings?: Record<string, string>;
    }
  /** These queries, each run `repeat` times (in transactions rolled back). */
  | { kind: "queries"; queries: QuerySpec[]; repeat?: number };

export type Progress =
  ((done: number, total: number, name: string) => void) | undefined;

export interface WorkloadRun {
  /** Parts of the workload the validation replays. */
  units: ReplayUnit[];
  /** queryid -> the literal texts of the file that have it (partial index candidates need the constants). */
  literalQueryIds: Map<string, Set<string>>;
  calls?: WorkloadReport;
  notDriven?: string[];
  queries?: number;
}

/** One unit of work in a transaction rolled back. */
async function rolledBack(
  conn: postgres.ReservedSql,
  q: QuerySpec,
): Promise<void> {
  await conn.unsafe("begin");
  try {
    await conn.unsafe(q.sql, (q.params ?? []) as never[]);
  } finally {
    await conn.unsafe("rollback");
  }
}

/** The api workload through the driver, every call once per argument set. */
async function runApi(
  sql: postgres.Sql,
  url: string,
  source: Extract<WorkloadSource, { kind: "api" }>,
  notes: string[],
  progress: Progress,
  beforeRun: () => Promise<void>,
): Promise<WorkloadRun> {
  const calls = await apiWorkload(sql, source.options);
  const notDriven = await functionsNotDriven(sql, calls);
  // the queries that picked the arguments above are not the workload: counters start here
  await beforeRun();
  if (notDriven.length)
    notes.push(
      `api functions the workload does not call (add them to scripts/lib/workload.ts): ${notDriven.join(", ")}`,
    );
  const report = await runWorkload(url, calls, {
    settings: source.settings,
    onProgress:
      progress && ((d, t) => progress(d, t, "running the api workload")),
  });
  if (report.failures.length)
    notes.push(
      `${report.failures.length} workload calls failed, e.g. ${report.failures[0]!.name}: ${report.failures[0]!.message}`,
    );
  const units = calls
    .filter((c) => !report.missing.includes(c.routine))
    .map((c) => ({
      label: c.name,
      run: (conn: postgres.ReservedSql) => runCall(conn, c),
    }));
  return { units, literalQueryIds: new Map(), calls: report, notDriven };
}

/** The query identifier of a literal query (as text: a 64-bit integer does not fit a JavaScript number). */
async function queryIdOf(
  conn: postgres.ReservedSql,
  query: string,
): Promise<string | undefined> {
  const rows = await conn
    .unsafe<{ "QUERY PLAN": string }[]>(
      `explain (verbose, format text) ${query}`,
    )
    .catch(() => []);
  return rows
    .map((r) => /^Query Identifier: (-?\d+)$/.exec(r["QUERY PLAN"].trim())?.[1])
    .find(Boolean);
}

/** The queries of a file, each `times` times in transactions rolled back; a failure is a note. */
async function runQueries(
  url: string,
  queries: QuerySpec[],
  times: number,
  notes: string[],
  progress: Progress,
): Promise<WorkloadRun> {
  const literalQueryIds = new Map<string, Set<string>>();
  const runner = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const conn = await runner.reserve();
    try {
      for (const [i, q] of queries.entries()) {
        for (let r = 0; r < times; r++) {
          await rolledBack(conn, q).catch((error: Error) => {
            if (r === 0) notes.push(`query ${i + 1} failed: ${error.message}`);
          });
        }
        // the literal text (its constants) replaces the normalized one: partial index candidates need them
        const id = q.params?.length ? undefined : await queryIdOf(conn, q.sql);
        if (id)
          literalQueryIds.set(
            id,
            (literalQueryIds.get(id) ?? new Set()).add(q.sql),
          );
        progress?.(i + 1, queries.length, "running the queries");
      }
    } finally {
      conn.release();
    }
  } finally {
    await runner.end({ timeout: 5 });
  }
  const units = queries.map((q, i) => ({
    label: `query ${i + 1}`,
    run: (conn: postgres.ReservedSql) => rolledBack(conn, q),
  }));
  return { units, literalQueryIds, queries: queries.length };
}

/**
 * Runs the workload source (nothing for `statements`). `beforeRun` is called once everything is
 * ready and just before the workload runs (the api workload first picks its arguments with
 * queries of its own, which are not part of it).
 */
export async function runWorkloadSource(
  sql: postgres.Sql,
  url: string,
  source: WorkloadSource,
  notes: string[],
  progress: Progress,
  beforeRun: () => Promise<void> = async () => {},
): Promise<WorkloadRun> {
  if (source.kind === "api")
    return runApi(sql, url, source, notes, progress, beforeRun);
  await beforeRun();
  if (source.kind === "queries")
    return runQueries(url, source.queries, source.repeat ?? 5, notes, progress);
  return { units: [], literalQueryIds: new Map() };
}
