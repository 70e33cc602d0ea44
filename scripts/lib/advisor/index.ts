// The index advisor (seed 001's analyze-indexes script, done properly): the workload from
// pg_stat_statements, candidates evaluated with hypopg, recommendations validated by building
// them on a throwaway copy, and the unused and duplicate indexes to drop. The entry point is
// scripts/analyze-indexes.ts (`npm run analyze-indexes`); docs/monitoring.md explains it.
import { readFileSync } from "node:fs";
import cliProgress from "cli-progress";
import postgres from "postgres";
import { indexDdl, indexName, type Candidate } from "./candidates.ts";
import { evaluate, type Evaluation, type Recommendation, type StatementGain } from "./evaluate.ts";
import { applyAdvisorSettings } from "./generic-plan.ts";
import { collectStatements, statementCounters, type WorkloadStatement } from "./statements.ts";
import { createCopy, validate, type IndexValidation, type ReplayUnit } from "./validate.ts";
import { apiWorkload, runCall, runWorkload, functionsNotDriven, type WorkloadOptions, type WorkloadReport } from "./workload-driver.ts";

export { renderReport } from "./report.ts";

/** A query of a workload file: literal SQL, or SQL with $n and its parameters. */
export interface QuerySpec {
  sql: string;
  params?: unknown[];
}

/** A workload file: statements separated by a semicolon at the end of a line; -- comment lines allowed. */
export function readQueryFile(path: string): QuerySpec[] {
  return readFileSync(path, "utf8")
    .split(/;\s*$/m)
    .map((q) => q.replace(/^\s*--[^\n]*$/gm, "").trim())
    .filter((q) => q.length > 0)
    .map((sql) => ({ sql }));
}

export type WorkloadSource =
  /** pg_stat_statements of the database as it is: what production ran. Nothing is replayed. */
  | { kind: "statements"; minCalls?: number }
  /** The api workload (scripts/lib/workload.ts) through the driver (workload-driver.ts), run now. */
  | { kind: "api"; options?: WorkloadOptions; settings?: Record<string, string> }
  /** These queries, each run `repeat` times (in transactions rolled back). */
  | { kind: "queries"; queries: QuerySpec[]; repeat?: number };

export interface AdviseOptions {
  /** The database to analyse. */
  url: string;
  /** A database of the same server to run CREATE DATABASE from (for the validation copy). */
  adminUrl: string;
  workload: WorkloadSource;
  /** Cost drop a recommendation must bring to at least one statement, 0..1. Default 0.5. */
  minCostDrop?: number;
  /** Statements whose generic plan costs less are left alone. Default 50. */
  minCost?: number;
  maxIndexes?: number;
  /** Build and measure each recommendation on a copy. Default true. */
  validate?: boolean;
  repeat?: number;
  insertRows?: number;
  /** pg_stat_reset() before the workload, so unused indexes are judged on it alone (only on a throwaway database). Default false. */
  resetStatistics?: boolean;
  /** Progress bars on stderr (when it is a terminal). */
  progress?: boolean;
  /** Threshold for perf.unused_indexes. Default 0. */
  maxUnusedScans?: number;
}

export interface RecommendationReport {
  name: string;
  table: string;
  columns: string[];
  where?: string;
  /** For a plain table: create index concurrently ...; for a partitioned one: the per-partition recipe. */
  createStatements: string[];
  estimatedBytes: number;
  benefit: number;
  gains: StatementGain[];
  validation?: IndexValidation;
}

export interface DropSuggestion {
  index: string;
  table: string;
  reason: string;
  sizeBytes: number;
  statement: string;
}

export interface AdvisorReport {
  database: string;
  workload: {
    kind: WorkloadSource["kind"];
    statements: number;
    planned: number;
    skipped: { reason: string; count: number }[];
    calls?: WorkloadReport;
    notDriven?: string[];
    queries?: number;
  };
  settings: { minCostDrop: number; minCost: number; maxIndexes: number; validate: boolean };
  candidates: number;
  explains: number;
  recommendations: RecommendationReport[];
  drop: DropSuggestion[];
  statistics: { stats_reset: Date | null; stats_age: string; stats_age_exact: boolean } | null;
  notes: string[];
  seconds: number;
}

function progressReporter(enabled: boolean) {
  if (!enabled || !process.stderr.isTTY) return { onProgress: undefined, stop: () => {} };
  let bar: cliProgress.SingleBar | undefined;
  let phase = "";
  return {
    onProgress: (done: number, total: number, name: string) => {
      if (name !== phase || !bar) {
        bar?.stop();
        phase = name;
        bar = new cliProgress.SingleBar(
          { format: `  ${name.padEnd(38)} [{bar}] {value}/{total}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.max(total, 1), 0);
      }
      bar.setTotal(Math.max(total, 1));
      bar.update(done);
    },
    stop: () => bar?.stop(),
  };
}

/** The create statements of an index: concurrently; on a partitioned table, the per-partition recipe (DESIGN.md pitfalls). */
export async function createStatements(sql: postgres.Sql, c: Candidate, name: string): Promise<string[]> {
  const [t] = await sql<{ kind: string }[]>`select relkind::text as kind from pg_class where oid = ${c.table}::regclass`;
  if (t?.kind !== "p") return [`${indexDdl(c, name, true)};`];
  const partitions = await sql<{ name: string; schema: string; rel: string }[]>`
    select c.relname as rel, n.nspname as schema, format('%I.%I', n.nspname, c.relname) as name
    from pg_partition_tree(${c.table}::regclass) p
    join pg_class c on c.oid = p.relid join pg_namespace n on n.oid = c.relnamespace
    where p.isleaf order by c.relname`;
  const schema = c.table.slice(0, c.table.indexOf("."));
  const out = [
    `-- ${c.table} is partitioned: CONCURRENTLY cannot build on the parent. Build on ONLY the parent (invalid, instant), then each partition concurrently, then attach.`,
    `create index ${name} on only ${c.table} (${c.columns.join(", ")})${c.where ? ` where ${c.where}` : ""};`,
  ];
  const table = c.table.slice(schema.length + 1);
  const suffix = name.startsWith(`${table}_`) ? name.slice(table.length + 1) : name;
  for (const p of partitions) {
    const partName = `${p.rel}_${suffix}`.slice(0, 63);
    out.push(`create index concurrently ${partName} on ${p.name} (${c.columns.join(", ")})${c.where ? ` where ${c.where}` : ""};`);
    out.push(`alter index ${schema}.${name} attach partition ${p.schema}.${partName};`);
  }
  return out;
}

/** Runs the whole advisor. */
export async function adviseIndexes(options: AdviseOptions): Promise<AdvisorReport> {
  const started = performance.now();
  const { minCostDrop = 0.5, minCost = 50, maxIndexes = 10, repeat = 3, insertRows = 2000, maxUnusedScans = 0 } = options;
  const doValidate = options.validate ?? true;
  const progress = progressReporter(!!options.progress);
  const notes: string[] = [];
  const sql = postgres(options.url, { max: 2, onnotice: () => {} });
  let units: ReplayUnit[] = [];
  let evaluation: Evaluation;
  let statements: WorkloadStatement[];
  const report: Partial<AdvisorReport> = {};
  let drop: DropSuggestion[] = [];
  let statistics: AdvisorReport["statistics"] = null;
  try {
    const [facts] = await sql<{ db: string; track: string | null; pgss: boolean; hypopg: boolean }[]>`
      select current_database() as db, current_setting('pg_stat_statements.track', true) as track,
             exists (select from pg_extension where extname = 'pg_stat_statements') as pgss,
             exists (select from pg_available_extensions where name = 'hypopg') as hypopg`;
    if (!facts?.pgss) throw new Error(`pg_stat_statements is not installed in database ${facts?.db}: create extension pg_stat_statements`);
    if (!facts.hypopg) throw new Error("hypopg is not installed on the server (Debian: apt-get install postgresql-15-hypopg)");
    if (facts.track !== "all") notes.push(`pg_stat_statements.track is '${facts.track}', not 'all': statements inside functions are not seen`);
    await sql`create extension if not exists hypopg`;
    report.database = facts.db;

    // 1. the workload
    let baseline: Awaited<ReturnType<typeof statementCounters>> | undefined;
    const workload: AdvisorReport["workload"] = { kind: options.workload.kind, statements: 0, planned: 0, skipped: [] };
    if (options.workload.kind !== "statements") {
      if (options.resetStatistics) await sql`select pg_stat_reset()`;
      baseline = await statementCounters(sql);
    }
    // queryid -> the literal texts of the file that have it
    const literalQueryIds = new Map<string, Set<string>>();
    if (options.workload.kind === "api") {
      const calls = await apiWorkload(sql, options.workload.options);
      workload.notDriven = await functionsNotDriven(sql, calls);
      if (workload.notDriven.length) notes.push(`api functions the workload does not call (add them to scripts/lib/workload.ts): ${workload.notDriven.join(", ")}`);
      workload.calls = await runWorkload(options.url, calls, {
        settings: options.workload.settings,
        onProgress: progress.onProgress && ((d, t) => progress.onProgress!(d, t, "running the api workload")),
      });
      if (workload.calls.failures.length) notes.push(`${workload.calls.failures.length} workload calls failed, e.g. ${workload.calls.failures[0]!.name}: ${workload.calls.failures[0]!.message}`);
      units = calls.filter((c) => !workload.calls!.missing.includes(c.routine)).map((c) => ({ label: c.name, run: (conn) => runCall(conn, c) }));
    } else if (options.workload.kind === "queries") {
      const { queries, repeat: times = 5 } = options.workload;
      workload.queries = queries.length;
      const runner = postgres(options.url, { max: 1, onnotice: () => {} });
      try {
        const rconn = await runner.reserve();
        try {
          for (const [i, q] of queries.entries()) {
            for (let r = 0; r < times; r++) {
              await rconn.unsafe("begin");
              try {
                await rconn.unsafe(q.sql, (q.params ?? []) as never[]);
              } catch (error) {
                if (r === 0) notes.push(`query ${i + 1} failed: ${(error as Error).message}`);
              } finally {
                await rconn.unsafe("rollback");
              }
            }
            // the literal text (its constants) replaces the normalized one: partial index candidates need them
            if (!q.params?.length) {
              // (as text: the identifier is a 64-bit integer, which JSON numbers in JavaScript cannot hold)
              const rows = await rconn.unsafe<{ "QUERY PLAN": string }[]>(`explain (verbose, format text) ${q.sql}`).catch(() => []);
              const id = rows.map((r) => /^Query Identifier: (-?\d+)$/.exec(r["QUERY PLAN"].trim())?.[1]).find(Boolean);
              if (id) literalQueryIds.set(id, (literalQueryIds.get(id) ?? new Set()).add(q.sql));
            }
            progress.onProgress?.(i + 1, queries.length, "running the queries");
          }
        } finally {
          rconn.release();
        }
      } finally {
        await runner.end({ timeout: 5 });
      }
      units = queries.map((q, i) => ({
        label: `query ${i + 1}`,
        run: async (conn) => {
          await conn.unsafe("begin");
          try {
            await conn.unsafe(q.sql, (q.params ?? []) as never[]);
          } finally {
            await conn.unsafe("rollback");
          }
        },
      }));
    }

    // 2. its statements, planned; candidates; hypopg
    statements = await collectStatements(sql, { baseline, minCalls: options.workload.kind === "statements" ? (options.workload.minCalls ?? 1) : 1 });
    // A query of the file is planned with its constants when every query of that shape has the
    // same ones: a constant is only a "frequent constant predicate" (a partial index candidate)
    // when it is the same in every execution. Otherwise the normalized text, with parameters.
    for (const s of statements) {
      const literals = s.toplevel ? literalQueryIds.get(s.queryid) : undefined;
      if (literals?.size === 1) Object.assign(s, { runnable: [...literals][0]!, paramTypes: [], literal: true });
    }
    workload.statements = statements.length;
    const conn = await sql.reserve();
    try {
      await applyAdvisorSettings(conn);
      evaluation = await evaluate(conn, statements, { minCostDrop, minCost, maxIndexes, onProgress: progress.onProgress });
    } finally {
      conn.release();
    }
    workload.planned = evaluation.planned.length;
    const reasons = new Map<string, number>();
    for (const s of evaluation.skipped) {
      const r = s.reason.startsWith("cannot be planned") ? "cannot be planned (utility, temporary tables, unresolved names)" : s.reason;
      reasons.set(r, (reasons.get(r) ?? 0) + 1);
    }
    workload.skipped = [...reasons].map(([reason, count]) => ({ reason, count }));
    report.workload = workload;

    // 3. what to drop: the perf functions, when this database has them
    const [hasPerf] = await sql<{ ok: boolean }[]>`select to_regprocedure('perf.unused_indexes(bigint)') is not null and to_regprocedure('perf.duplicate_indexes()') is not null as ok`;
    if (hasPerf?.ok) {
      const unused = await sql<{ schema_name: string; table_name: string; index_name: string; scans: string; size_bytes: string; table_rows: string; supports_foreign_key: boolean; drop_statement: string }[]>`
        select * from perf.unused_indexes(${maxUnusedScans})`;
      const duplicates = await sql<{ schema_name: string; table_name: string; index_name: string; kind: string; covered_by: string; size_bytes: string; drop_statement: string }[]>`
        select * from perf.duplicate_indexes()`;
      const [age] = await sql<{ stats_reset: Date | null; stats_age: string; stats_age_exact: boolean }[]>`select stats_reset, stats_age::text, stats_age_exact from perf.statistics_age()`;
      statistics = age ?? null;
      drop = [
        ...duplicates.map((d) => ({
          index: `${d.schema_name}.${d.index_name}`,
          table: `${d.schema_name}.${d.table_name}`,
          reason: `${d.kind} of ${d.covered_by}`,
          sizeBytes: Number(d.size_bytes),
          statement: d.drop_statement,
        })),
        ...unused
          .filter((u) => !duplicates.some((d) => d.schema_name === u.schema_name && d.index_name === u.index_name))
          .map((u) => ({
            index: `${u.schema_name}.${u.index_name}`,
            table: `${u.schema_name}.${u.table_name}`,
            reason:
              `${Number(u.scans) === 0 ? "never scanned" : `scanned ${u.scans} times`} since ${statistics?.stats_age_exact ? "the statistics reset" : "the counters began"}` +
              (Number(u.table_rows) < 10_000 ? `; the table has ${Number(u.table_rows).toLocaleString("en-US")} rows: read whole at this size, the index may serve it when it grows` : "") +
              (u.supports_foreign_key ? "; the only index for a foreign key: deletes in the referenced table scan this table without it" : ""),
            sizeBytes: Number(u.size_bytes),
            statement: u.drop_statement,
          })),
      ];
    } else {
      notes.push("this database has no perf schema functions: no unused or duplicate indexes reported");
    }

    report.recommendations = [];
    for (const rec of evaluation.recommendations) report.recommendations.push(await recommendationReport(sql, rec));
  } finally {
    await sql.end({ timeout: 5 });
  }

  // 4. validation on a throwaway copy (needs the analysed database without sessions: ours are closed)
  if (doValidate && report.recommendations.length) {
    try {
      const copy = await createCopy(options.adminUrl, options.url);
      try {
        const validations = await validate(copy.url, evaluation.recommendations, units, {
          repeat,
          insertRows,
          onProgress: progress.onProgress,
        });
        validations.forEach((v, i) => (report.recommendations![i]!.validation = v));
      } finally {
        await copy.drop();
      }
    } catch (error) {
      notes.push(`not validated: ${(error as Error).message}`);
    }
  }
  progress.stop();

  return {
    database: report.database!,
    workload: report.workload!,
    settings: { minCostDrop, minCost, maxIndexes, validate: doValidate },
    candidates: evaluation.candidates.length,
    explains: evaluation.explains,
    recommendations: report.recommendations,
    drop,
    statistics,
    notes,
    seconds: (performance.now() - started) / 1000,
  };
}

async function recommendationReport(sql: postgres.Sql, rec: Recommendation): Promise<RecommendationReport> {
  const name = indexName(rec.candidate);
  return {
    name,
    table: rec.candidate.table,
    columns: rec.candidate.columns,
    where: rec.candidate.where,
    createStatements: await createStatements(sql, rec.candidate, name),
    estimatedBytes: rec.estimatedBytes,
    benefit: rec.benefit,
    gains: rec.gains,
  };
}
