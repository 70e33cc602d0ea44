// Measuring every api routine on the seeded data, side by side with its "before" side
// (docs/benchmark.md "How it measures"). What to call and with which arguments comes from the
// one workload definition (scripts/lib/workload.ts), shared with the plan and budget tests:
// the plan and buffers from auto_explain (explainCall), then warm timed calls (timeCall), then
// the before function's timed calls (scripts/lib/before/index.ts).
import postgres from "postgres";
import { beforeSide, MEASURED_THROUGH, type BeforeSide } from "../before/index.ts";
import { accessPaths, indexesUsed, partitionsScanned, PINNED_PLANNER_SETTINGS, SCAN_NODES, seqScans, sharedBuffers, type ExplainedStatement } from "../plan/index.ts";
import {
  explainCall,
  P95_BUDGET_MS,
  PURGE_BUDGET_BATCH,
  tierOf,
  timeCall,
  timePurgeBatches,
  WORKLOAD,
  type Call,
  type WorkloadDefinition,
} from "../workload.ts";
import type { AccessEntry, BeforeMeasurement, FunctionMeasurement, TierMeasurement, Timing } from "./types.ts";

export interface MeasureOptions {
  /** Timed api calls per routine (default 200). */
  calls?: number;
  /** Untimed api calls before them (default 20). */
  warmup?: number;
  /** Timed before calls per routine (default 30; at least 5 are made whatever maxSeconds says). */
  beforeCalls?: number;
  /** Untimed before calls first (default 2). */
  beforeWarmup?: number;
  /** Distinct argument sets rotated over the calls (default 20). */
  argumentSets?: number;
  /** The procedure: tenants purged for its timing at most (default 16; it stops once `minBatches` batches are timed). */
  procedureSubjects?: number;
  /** The procedure: batches to time (default 30). */
  minBatches?: number;
  /** Stop timing one side of a routine after this many seconds, once 30 calls (5 before calls) are in (default 20). */
  maxSeconds?: number;
  /** Measure the before side (default true). */
  before?: boolean;
  /** What to call (default: WORKLOAD of scripts/lib/workload.ts, every api routine). */
  workload?: WorkloadDefinition[];
  /** Only these workloads (names as in the workload, e.g. "api.chunks_page", "api.delete_documents (hard)"). */
  only?: string[];
  onProgress?: (event: ProgressEvent) => void;
}

export interface ProgressEvent {
  routine: string;
  phase: "arguments" | "plan" | "api" | "before" | "done" | "refresh";
  /** Workloads finished so far, and in all. */
  done: number;
  total: number;
}

const RESOLVED = {
  calls: 200,
  warmup: 20,
  beforeCalls: 30,
  beforeWarmup: 2,
  argumentSets: 20,
  procedureSubjects: 16,
  minBatches: 30,
  maxSeconds: 20,
  before: true,
};
type Resolved = typeof RESOLVED;

/** Nearest-rank percentiles (as workload.ts's percentile): p50 ≤ p95 ≤ p99 always. */
export function timing(samples: number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { calls: 0, p50: NaN, p95: NaN, p99: NaN, mean: NaN, min: NaN, max: NaN };
  const rank = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    calls: n,
    p50: round(rank(0.5)),
    p95: round(rank(0.95)),
    p99: round(rank(0.99)),
    mean: round(sorted.reduce((a, b) => a + b, 0) / n),
    min: round(sorted[0]!),
    max: round(sorted[n - 1]!),
  };
}

/** PostgreSQL's referential integrity queries (ri_triggers.c), run for foreign key checks. */
export function isForeignKeyCheck(query: string): boolean {
  return /^\s*SELECT 1 FROM (ONLY )?\S+ x WHERE .* FOR KEY SHARE OF x\s*$/s.test(query);
}

/** A postgres.js client that counts the statements it is asked to run (tagged templates and unsafe). */
export function countingClient(sql: postgres.Sql): { sql: postgres.Sql; count: () => number; reset: () => void } {
  let n = 0;
  const proxy = new Proxy(sql, {
    apply(target, thisArg, args: unknown[]) {
      const first = args[0];
      if (Array.isArray(first) && "raw" in first) n++; // sql`...`, not sql(identifier) or sql(rows)
      return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args);
    },
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property === "unsafe" && typeof value === "function") {
        return (...args: unknown[]) => {
          n++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return value;
    },
  });
  return { sql: proxy, count: () => n, reset: () => (n = 0) };
}

function accessOf(statements: ExplainedStatement[]): AccessEntry[] {
  const partitions = new Map(partitionsScanned(statements).map((p) => [p.table, p]));
  const seen = new Map<string, AccessEntry>();
  for (const path of accessPaths(statements)) {
    if (!path.executed || !(SCAN_NODES as readonly string[]).includes(path.scan)) continue;
    const key = `${path.table}|${path.scan}|${path.rootIndex ?? ""}`;
    if (seen.has(key)) continue;
    const entry: AccessEntry = { table: path.table, scan: path.scan };
    if (path.rootIndex) entry.index = path.rootIndex;
    const p = partitions.get(path.table);
    if (p) entry.partitions = `${p.scanned.length}/${p.total ?? "?"}`;
    seen.set(key, entry);
  }
  return [...seen.values()];
}

/** The arguments with the id array cut to its first id. */
function withOneId(args: unknown[], idsArg: number): unknown[] {
  const copy = [...args];
  copy[idsArg] = (copy[idsArg] as unknown[]).slice(0, 1);
  return copy;
}

async function timeCalls(count: number, warmup: number, minCalls: number, maxSeconds: number, one: (i: number) => Promise<number>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await one(i);
  const samples: number[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    samples.push(await one(warmup + i));
    if (samples.length >= minCalls && performance.now() - started > maxSeconds * 1000) break;
  }
  return samples;
}

/** One call of the before side, timed; writes in a transaction rolled back (not timed). */
async function beforeCall(sql: postgres.Sql, counted: postgres.Sql, side: BeforeSide, args: unknown[]): Promise<number> {
  if (side.modifies) await sql.unsafe("begin");
  try {
    const t = performance.now();
    await side.run(counted, args);
    return performance.now() - t;
  } finally {
    if (side.modifies) await sql.unsafe("rollback");
  }
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
const round1 = (x: number) => Math.round(x * 10) / 10;

function beforeResult(side: BeforeSide, t: Timing, statements: number): BeforeMeasurement {
  return { name: side.name, pattern: side.pattern, timing: t, statements: round1(statements) };
}

async function measureWorkload(
  sql: postgres.Sql,
  url: string,
  rows: number,
  w: WorkloadDefinition,
  o: Resolved,
  progress: (phase: ProgressEvent["phase"]) => void,
): Promise<FunctionMeasurement> {
  const procedure = w.kind === "procedure";
  const budget = w.buffers[tierOf(rows)];
  const result: FunctionMeasurement = {
    name: w.name,
    routine: w.routine,
    kind: w.kind,
    subject: w.subject,
    unit: procedure ? "batch" : "call",
    p95BudgetMs: w.p95Ms ?? P95_BUDGET_MS,
    argumentSets: 0,
    timing: timing([]),
    buffers: { hit: 0, read: 0, total: 0 },
    bufferGrowthExpected: w.ratioAsserted,
    statements: 0,
    fkChecks: 0,
    access: [],
    indexes: [],
    intendedIndexes: w.intendedIndexes,
    missingIndexes: [],
    largeSeqScans: [],
  };
  if (budget > 0) result.bufferBudget = budget;
  if (w.ratioNote) result.bufferGrowthNote = w.ratioNote;
  try {
    progress("arguments");
    const calls: Call[] = await w.calls.call(w, sql, procedure ? o.procedureSubjects + 1 : o.argumentSets);
    if (calls.length === 0) throw new Error("no arguments found in the data");
    result.argumentSets = calls.length;
    if (w.idsArg !== undefined) result.ids = (calls[0]!.args[w.idsArg] as unknown[]).length;

    // The plan: auto_explain after six calls (the cached plans; writes rolled back); the procedure: its 7th batch.
    progress("plan");
    const { statements } = await explainCall(url, { kind: w.kind, query: w.query, args: calls[0]!.args });
    const own = statements.filter((s) => !isForeignKeyCheck(s.query));
    result.statements = own.filter((s) => !s.topLevel).length;
    result.fkChecks = statements.length - own.length;
    result.buffers = sharedBuffers(statements);
    result.access = accessOf(own);
    result.indexes = indexesUsed(own);
    result.missingIndexes = w.intendedIndexes.filter((ix) => !result.indexes.includes(ix));
    result.largeSeqScans = [...new Set(seqScans(own).filter((s) => (s.tuples ?? 0) > 10_000).map((s) => s.table))];
    if (w.idsArg !== undefined && !procedure) {
      const one = await explainCall(url, { kind: w.kind, query: w.query, args: withOneId(calls[0]!.args, w.idsArg) }, { runs: 2 });
      result.statementsWithOneId = one.statements.filter((s) => !s.topLevel && !isForeignKeyCheck(s.query)).length;
    }

    const side = o.before ? beforeSide(w.routine) : undefined;
    const beforeArgs = (c: Call) => c.beforeArgs ?? c.args;
    const counting = countingClient(sql);

    if (procedure) {
      // calls[0] went to the plan. Each further tenant: the before side first (one DELETE,
      // rolled back), then the purge for good, in batches of PURGE_BUDGET_BATCH, each batch timed.
      progress("api");
      const batches: number[] = [];
      const whole: number[] = [];
      const beforeSamples: number[] = [];
      let beforeStatements = 0;
      for (const call of calls.slice(1)) {
        if (batches.length >= o.minBatches) break;
        if (side) {
          counting.reset();
          beforeSamples.push(await beforeCall(sql, counting.sql, side, beforeArgs(call)));
          beforeStatements += counting.count();
        }
        const purge = await timePurgeBatches(url, call.args[0], PURGE_BUDGET_BATCH);
        batches.push(...purge.batchMs);
        whole.push(purge.totalMs);
      }
      result.timing = timing(batches);
      result.wholeCall = timing(whole);
      if (side && beforeSamples.length) result.before = beforeResult(side, timing(beforeSamples), beforeStatements / beforeSamples.length);
      if (result.before && whole.length) result.ratio = round1(result.before.timing.p50 / result.wholeCall.p50);
      return result;
    }

    progress("api");
    const samples = await timeCalls(o.calls, o.warmup, Math.min(30, o.calls), o.maxSeconds, (i) => timeCall(sql, w, calls[i % calls.length]!.args));
    result.timing = timing(samples);
    if (side) {
      progress("before");
      try {
        let statementsSum = 0;
        let timed = 0;
        const before = await timeCalls(o.beforeCalls, o.beforeWarmup, Math.min(5, o.beforeCalls), o.maxSeconds, async (i) => {
          counting.reset();
          const ms = await beforeCall(sql, counting.sql, side, beforeArgs(calls[i % calls.length]!));
          if (i >= o.beforeWarmup) {
            statementsSum += counting.count();
            timed++;
          }
          return ms;
        });
        result.before = beforeResult(side, timing(before), statementsSum / Math.max(1, timed));
        if (result.timing.p50 > 0) result.ratio = round1(result.before.timing.p50 / result.timing.p50);
      } catch (error) {
        result.before = { name: side.name, pattern: side.pattern, timing: timing([]), statements: 0, error: message(error) };
      }
    }
  } catch (error) {
    result.error = message(error);
    await sql.unsafe("rollback").catch(() => {});
  }
  return result;
}

/** Runs maint.refresh_collection_stats() `runs` times; the milliseconds it reports for each. */
export async function measureRefresh(sql: postgres.Sql, runs = 3): Promise<TierMeasurement["refresh"]> {
  const runsMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [row] = await sql<{ ms: number }[]>`select (extract(epoch from maint.refresh_collection_stats()) * 1000)::float8 as ms`;
    runsMs.push(round1(row!.ms));
  }
  return { runsMs, medianMs: timing(runsMs).p50 };
}

/**
 * Measures every workload on the data at `url` (already seeded with `rows`). The procedure
 * goes last: it deletes the tenants it is given.
 */
export async function measureTier(url: string, rows: number, options: MeasureOptions = {}): Promise<TierMeasurement> {
  const o = { ...RESOLVED, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Resolved;
  const started = performance.now();
  const workload = (options.workload ?? WORKLOAD)
    .filter((w) => !options.only || options.only.includes(w.name) || options.only.includes(w.routine))
    .map((w, i) => ({ w, i }))
    .sort((a, b) => Number(a.w.kind === "procedure") - Number(b.w.kind === "procedure") || a.i - b.i)
    .map(({ w }) => w);
  const sql = postgres(url, { max: 1, onnotice: () => {}, connection: { ...PINNED_PLANNER_SETTINGS } });
  try {
    const total = workload.length;
    options.onProgress?.({ routine: "maint.refresh_collection_stats", phase: "refresh", done: 0, total });
    const refresh = await measureRefresh(sql);
    // Each refresh rewrites every row of the view (refreshed_at changes): vacuum the dead
    // versions away, as autovacuum would soon, so the reads below find the view as it usually is.
    await sql`vacuum (analyze) app.collection_stats`;
    const functions: FunctionMeasurement[] = [];
    for (const w of workload) {
      const progress = (phase: ProgressEvent["phase"]) => options.onProgress?.({ routine: w.name, phase, done: functions.length, total });
      functions.push(await measureWorkload(sql, url, rows, w, o, progress));
      options.onProgress?.({ routine: w.name, phase: "done", done: functions.length, total });
    }
    const routines = await sql<{ name: string }[]>`
      select 'api.' || proname as name from pg_proc where pronamespace = 'api'::regnamespace order by 1`;
    const measured = new Set(functions.map((f) => f.routine));
    const notMeasured = options.only ? [] : routines.map((r) => r.name).filter((n) => !measured.has(n) && !measured.has(MEASURED_THROUGH[n] ?? ""));
    return { rows, refresh, functions, notMeasured, seconds: round1((performance.now() - started) / 1000) };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
