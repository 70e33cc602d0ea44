// The index advisor (seed 001's analyze-indexes script, done properly): the workload from
// pg_stat_statements, candidates evaluated with hypopg, recommendations validated by building
// them on a throwaway copy, and the unused and duplicate indexes to drop. The entry point is
// scripts/analyze-indexes.ts (`npm run analyze-indexes`); docs/monitoring.md explains it.
import { readFileSync } from "node:fs";
import cliProgress from "cli-progress";
import postgres from "postgres";
import { indexDdl, indexName, type Candidate } from "./candidates.ts";
import {
  evaluate,
  type Evaluation,
  type Recommendation,
  type StatementGain,
} from "./evaluate.ts";
import { applyAdvisorSettings } from "./generic-plan.ts";
import {
  dropSuggestions,
  type DropSuggestion,
  type StatisticsAge,
} from "./drop.ts";
import {
  collectStatements,
  statementCounters,
  type WorkloadStatement,
} from "./statements.ts";
import {
  createCopy,
  validate,
  type IndexValidation,
  type ReplayUnit,
} from "./validate.ts";
import type { WorkloadReport } from "./workload-driver.ts";
import {
  runWorkloadSource,
  type Progress,
  type QuerySpec,
  type WorkloadSource,
} from "./workload-source.ts";

export { renderReport } from "./report.ts";
export type { DropSuggestion } from "./drop.ts";
export type { QuerySpec, WorkloadSource } from "./workload-source.ts";

/** A workload file: statements separated by a semicolon at the end of a line; -- comment lines allowed. */
export function readQueryFile(path: string): QuerySpec[] {
  return readFileSync(path, "utf8")
    .split(/;\s*$/m)
    .map((q) => q.replace(/^\s*--[^\n]*$/gm, "").trim())
    .filter((q) => q.length > 0)
    .map((sql) => ({ sql }));
}

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
  settings: {
    minCostDrop: number;
    minCost: number;
    maxIndexes: number;
    validate: boolean;
  };
  candidates: number;
  explains: number;
  recommendations: RecommendationReport[];
  drop: DropSuggestion[];
  statistics: StatisticsAge;
  notes: string[];
  seconds: number;
}

function progressReporter(enabled: boolean) {
  if (!enabled || !process.stderr.isTTY)
    return { onProgress: undefined, stop: () => {} };
  let bar: cliProgress.SingleBar | undefined;
  let phase = "";
  return {
    onProgress: (done: number, total: number, name: string) => {
      if (name !== phase || !bar) {
        bar?.stop();
        phase = name;
        bar = new cliProgress.SingleBar(
          {
            format: `  ${name.padEnd(38)} [{bar}] {value}/{total}`,
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: false,
          },
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
export async function createStatements(
  sql: postgres.Sql,
  c: Candidate,
  name: string,
): Promise<string[]> {
  const [t] = await sql<
    { kind: string }[]
  >`select relkind::text as kind from pg_class where oid = ${c.table}::regclass`;
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
  const suffix = name.startsWith(`${table}_`)
    ? name.slice(table.length + 1)
    : name;
  for (const p of partitions) {
    const partName = `${p.rel}_${suffix}`.slice(0, 63);
    out.push(
      `create index concurrently ${partName} on ${p.name} (${c.columns.join(", ")})${c.where ? ` where ${c.where}` : ""};`,
    );
    out.push(
      `alter index ${schema}.${name} attach partition ${p.schema}.${partName};`,
    );
  }
  return out;
}

/** The extensions the advisor needs; what it can do without goes to `notes`. Returns the database's name. */
async function checkPrerequisites(
  sql: postgres.Sql,
  notes: string[],
): Promise<string> {
  const [facts] = await sql<
    { db: string; track: string | null; pgss: boolean; hypopg: boolean }[]
  >`
    select current_database() as db, current_setting('pg_stat_statements.track', true) as track,
           exists (select from pg_extension where extname = 'pg_stat_statements') as pgss,
           exists (select from pg_available_extensions where name = 'hypopg') as hypopg`;
  if (!facts?.pgss)
    throw new Error(
      `pg_stat_statements is not installed in database ${facts?.db}: create extension pg_stat_statements`,
    );
  if (!facts.hypopg)
    throw new Error(
      "hypopg is not installed on the server (Debian: apt-get install postgresql-15-hypopg)",
    );
  if (facts.track !== "all")
    notes.push(
      `pg_stat_statements.track is '${facts.track}', not 'all': statements inside functions are not seen`,
    );
  await sql`create extension if not exists hypopg`;
  return facts.db;
}

/**
 * The workload's statements from pg_stat_statements (since `baseline` when given). A query of
 * the file is planned with its constants when every query of that shape has the same ones: a
 * constant is only a "frequent constant predicate" (a partial index candidate) when it is the
 * same in every execution. Otherwise the normalized text, with parameters.
 */
async function workloadStatements(
  sql: postgres.Sql,
  source: WorkloadSource,
  baseline: Awaited<ReturnType<typeof statementCounters>> | undefined,
  literalQueryIds: Map<string, Set<string>>,
): Promise<WorkloadStatement[]> {
  const statements = await collectStatements(sql, {
    baseline,
    minCalls: source.kind === "statements" ? (source.minCalls ?? 1) : 1,
  });
  for (const s of statements) {
    const literals = s.toplevel ? literalQueryIds.get(s.queryid) : undefined;
    if (literals?.size === 1)
      Object.assign(s, {
        runnable: [...literals][0]!,
        paramTypes: [],
        literal: true,
      });
  }
  return statements;
}

/** Candidates for the statements, evaluated with hypopg on one connection with the advisor's settings. */
async function evaluateOnOneConnection(
  sql: postgres.Sql,
  statements: WorkloadStatement[],
  options: Parameters<typeof evaluate>[2],
): Promise<Evaluation> {
  const conn = await sql.reserve();
  try {
    await applyAdvisorSettings(conn);
    return await evaluate(conn, statements, options);
  } finally {
    conn.release();
  }
}

/** Skipped statements grouped by reason, with counts. */
function skippedByReason(
  evaluation: Evaluation,
): { reason: string; count: number }[] {
  const reasons = new Map<string, number>();
  for (const s of evaluation.skipped) {
    const r = s.reason.startsWith("cannot be planned")
      ? "cannot be planned (utility, temporary tables, unresolved names)"
      : s.reason;
    reasons.set(r, (reasons.get(r) ?? 0) + 1);
  }
  return [...reasons].map(([reason, count]) => ({ reason, count }));
}

/** Step 4: each recommendation built and measured on a throwaway copy (the analysed database must have no sessions: ours are closed). */
async function validateOnCopy(
  options: AdviseOptions,
  evaluation: Evaluation,
  units: ReplayUnit[],
  recommendations: RecommendationReport[],
  notes: string[],
  progress: Progress,
): Promise<void> {
  try {
    const copy = await createCopy(options.adminUrl, options.url);
    try {
      const validations = await validate(
        copy.url,
        evaluation.recommendations,
        units,
        {
          repeat: options.repeat ?? 3,
          insertRows: options.insertRows ?? 2000,
          onProgress: progress,
        },
      );
      validations.forEach((v, i) => (recommendations[i]!.validation = v));
    } finally {
      await copy.drop();
    }
  } catch (error) {
    notes.push(`not validated: ${(error as Error).message}`);
  }
}

/**
 * Runs the whole advisor: 1. the workload (run now, or production's counters), 2. its
 * statements planned, candidates evaluated with hypopg, 3. what to drop, 4. the
 * recommendations validated on a copy.
 */
export async function adviseIndexes(
  options: AdviseOptions,
): Promise<AdvisorReport> {
  const started = performance.now();
  const {
    minCostDrop = 0.5,
    minCost = 50,
    maxIndexes = 10,
    maxUnusedScans = 0,
  } = options;
  const doValidate = options.validate ?? true;
  const progress = progressReporter(!!options.progress);
  const notes: string[] = [];
  const sql = postgres(options.url, { max: 2, onnotice: () => {} });
  let database: string;
  let run: Awaited<ReturnType<typeof runWorkloadSource>>;
  let evaluation: Evaluation;
  let workload: AdvisorReport["workload"];
  let dropped: Awaited<ReturnType<typeof dropSuggestions>>;
  const recommendations: RecommendationReport[] = [];
  try {
    database = await checkPrerequisites(sql, notes);

    // 1. the workload
    let baseline: Awaited<ReturnType<typeof statementCounters>> | undefined;
    run = await runWorkloadSource(
      sql,
      options.url,
      options.workload,
      notes,
      progress.onProgress,
      async () => {
        if (options.workload.kind === "statements") return;
        if (options.resetStatistics) await sql`select pg_stat_reset()`;
        baseline = await statementCounters(sql);
      },
    );

    // 2. its statements, planned; candidates; hypopg
    const statements = await workloadStatements(
      sql,
      options.workload,
      baseline,
      run.literalQueryIds,
    );
    evaluation = await evaluateOnOneConnection(sql, statements, {
      minCostDrop,
      minCost,
      maxIndexes,
      onProgress: progress.onProgress,
    });
    workload = {
      kind: options.workload.kind,
      statements: statements.length,
      planned: evaluation.planned.length,
      skipped: skippedByReason(evaluation),
      ...(run.calls ? { calls: run.calls, notDriven: run.notDriven } : {}),
      ...(run.queries !== undefined ? { queries: run.queries } : {}),
    };

    // 3. what to drop: the perf functions, when this database has them
    dropped = await dropSuggestions(sql, maxUnusedScans);
    if (!dropped)
      notes.push(
        "this database has no perf schema functions: no unused or duplicate indexes reported",
      );

    for (const rec of evaluation.recommendations)
      recommendations.push(await recommendationReport(sql, rec));
  } finally {
    await sql.end({ timeout: 5 });
  }

  // 4. validation on a throwaway copy
  if (doValidate && recommendations.length)
    await validateOnCopy(
      options,
      evaluation,
      run.units,
      recommendations,
      notes,
      progress.onProgress,
    );
  progress.stop();

  return {
    database,
    workload,
    settings: { minCostDrop, minCost, maxIndexes, validate: doValidate },
    candidates: evaluation.candidates.length,
    explains: evaluation.explains,
    recommendations,
    drop: dropped?.drop ?? [],
    statistics: dropped?.statistics ?? null,
    notes,
    seconds: (performance.now() - started) / 1000,
  };
}

async function recommendationReport(
  sql: postgres.Sql,
  rec: Recommendation,
): Promise<RecommendationReport> {
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
