// Measuring every api routine on the seeded data, side by side with its "before" side
// (docs/benchmark.md "How it measures"). What to call and with which arguments comes from the
// one workload definition (scripts/lib/workload.ts), shared with the plan and budget tests.
// Per workload, in named steps: the arguments from the data, the plan (measure-plan.ts:
// auto_explain, buffers, access paths), then the timed calls of the api and of its before side
// (measure-time.ts; the procedure per batch).
import { runClock } from "../run-clock.ts";
import postgres from "postgres";
import { beforeSide, MEASURED_THROUGH } from "../before/index.ts";
import { PINNED_PLANNER_SETTINGS } from "../plan/index.ts";
import {
  inRunOrder,
  P95_BUDGET_MS,
  tierOf,
  WORKLOAD,
  workloadRoutines,
  type Call,
  type WorkloadDefinition,
} from "../workload.ts";
import { measurePlan } from "./measure-plan.ts";
import {
  measureFold,
  measureOperatorRefresh,
  sampleStatisticsCost,
} from "./measure-statistics.ts";
import {
  errorMessage,
  measureBefore,
  measureProcedure,
  ratioOf,
  timeApi,
  timing,
  type TimingPlan,
} from "./measure-time.ts";
import type {
  FoldMeasurement,
  FunctionMeasurement,
  RefreshMeasurement,
  TierMeasurement,
} from "./types.ts";

export { timing } from "./measure-time.ts";

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
  /** Write routines: calls sampled for what keeping the statistics costs (default 15; 0: not measured). */
  statisticsSamples?: number;
  /** The fold after each of these numbers of committed writes (default 100, 1,000, 5,000; []: not measured). */
  foldWrites?: number[];
  /** Rounds of each count up to 1,000 (default 3; larger counts: one round). */
  foldRounds?: number;
  onProgress?: (event: ProgressEvent) => void;
}

export interface ProgressEvent {
  routine: string;
  phase:
    | "arguments"
    | "plan"
    | "api"
    | "statistics"
    | "before"
    | "done"
    | "refresh"
    | "fold";
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
  statisticsSamples: 15,
  foldWrites: [100, 1000, 5000],
  foldRounds: 3,
};
type Resolved = typeof RESOLVED & TimingPlan;

const round1 = (x: number) => Math.round(x * 10) / 10;

/** A workload's measurement before anything is measured: what the workload says of it. */
function emptyMeasurement(
  w: WorkloadDefinition,
  rows: number,
): FunctionMeasurement {
  const result: FunctionMeasurement = {
    name: w.name,
    routine: w.routine,
    kind: w.kind,
    subject: w.subject,
    unit: w.kind === "procedure" ? "batch" : "call",
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
  const budget = w.buffers[tierOf(rows)];
  if (budget > 0) result.bufferBudget = budget;
  if (w.ratioNote) result.bufferGrowthNote = w.ratioNote;
  return result;
}

/** Argument sets from the data, the plan subject first (the procedure: one more subject per tenant it may purge). */
async function argumentSets(
  sql: postgres.Sql,
  w: WorkloadDefinition,
  o: Resolved,
): Promise<Call[]> {
  const calls = await w.calls.call(
    w,
    sql,
    w.kind === "procedure" ? o.procedureSubjects + 1 : o.argumentSets,
  );
  if (calls.length === 0) throw new Error("no arguments found in the data");
  return calls;
}

/** One workload: arguments, plan, api timing, before timing. An error is kept in the result, not thrown. */
async function measureWorkload(
  sql: postgres.Sql,
  url: string,
  rows: number,
  w: WorkloadDefinition,
  o: Resolved,
  progress: (phase: ProgressEvent["phase"]) => void,
): Promise<FunctionMeasurement> {
  const result = emptyMeasurement(w, rows);
  try {
    progress("arguments");
    const calls = await argumentSets(sql, w, o);
    result.argumentSets = calls.length;
    if (w.idsArg !== undefined)
      result.ids = (calls[0]!.args[w.idsArg] as unknown[]).length;

    progress("plan");
    Object.assign(result, await measurePlan(url, w, calls[0]!.args));

    const side = o.before ? beforeSide(w.routine) : undefined;
    // one connection (max: 1): its backend's run-queue delay is subtracted from both sides'
    // times (run-clock.ts; docs/budgets.md "Time on a busy machine")
    const clock = await runClock(sql);
    progress("api");
    // The procedure: calls[0] went to the plan (it commits), the others are purged for good.
    if (w.kind === "procedure")
      return Object.assign(
        result,
        await measureProcedure(sql, url, calls.slice(1), side, o, clock),
      );
    result.timing = await timeApi(sql, w, calls, o, clock);
    if (w.kind === "write" && o.statisticsSamples > 0) {
      progress("statistics");
      const cost = await sampleStatisticsCost(url, w, calls, {
        samples: o.statisticsSamples,
      });
      if (cost) result.statisticsCost = cost;
    }
    if (side) {
      progress("before");
      result.before = await measureBefore(sql, side, calls, o, clock);
      const ratio = result.before.error
        ? undefined
        : ratioOf(result.before, result.timing);
      if (ratio !== undefined) result.ratio = ratio;
    }
  } catch (error) {
    result.error = errorMessage(error);
    await sql.unsafe("rollback").catch(() => {});
  }
  return result;
}

/** Runs maint.refresh_tenant_overview() `runs` times; the milliseconds it reports for each. */
export async function measureRefresh(
  sql: postgres.Sql,
  runs = 3,
): Promise<TierMeasurement["refresh"]> {
  const runsMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [row] = await sql<
      { ms: number }[]
    >`select (extract(epoch from maint.refresh_tenant_overview()) * 1000)::float8 as ms`;
    runsMs.push(round1(row!.ms));
  }
  return { runsMs, medianMs: timing(runsMs).p50 };
}

/** The workloads to measure, in the order one database can run them all (the procedure last). */
function selected(options: MeasureOptions): WorkloadDefinition[] {
  const { workload = WORKLOAD, only } = options;
  return inRunOrder(
    workload.filter(
      (w) => !only || only.includes(w.name) || only.includes(w.routine),
    ),
  );
}

/**
 * Measures every workload on the data at `url` (already seeded with `rows`). The procedure
 * goes last: it deletes the tenants it is given.
 */
export async function measureTier(
  url: string,
  rows: number,
  options: MeasureOptions = {},
): Promise<TierMeasurement> {
  const o = {
    ...RESOLVED,
    ...Object.fromEntries(
      Object.entries(options).filter(([, v]) => v !== undefined),
    ),
  } as Resolved;
  const started = performance.now();
  const workload = selected(options);
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    connection: { ...PINNED_PLANNER_SETTINGS },
  });
  try {
    const total = workload.length;
    options.onProgress?.({
      routine: "maint.refresh_tenant_overview",
      phase: "refresh",
      done: 0,
      total,
    });
    const refresh = await measureRefresh(sql);
    // Each refresh rewrites every row of the view (refreshed_at changes): vacuum the dead
    // versions away, as autovacuum would soon. No api function reads the view; kept tidy anyway.
    await sql`vacuum (analyze) app.tenant_overview`;
    const functions: FunctionMeasurement[] = [];
    for (const w of workload) {
      const progress = (phase: ProgressEvent["phase"]) =>
        options.onProgress?.({
          routine: w.name,
          phase,
          done: functions.length,
          total,
        });
      functions.push(await measureWorkload(sql, url, rows, w, o, progress));
      options.onProgress?.({
        routine: w.name,
        phase: "done",
        done: functions.length,
        total,
      });
    }
    // The fold after N committed writes: last, since the writes stay.
    options.onProgress?.({
      routine: "maint.fold_collection_stat_deltas",
      phase: "fold",
      done: functions.length,
      total,
    });
    // An error here is reported with the tier, not thrown: the routines' measurements stand.
    let fold: FoldMeasurement[] = [];
    let foldError: string | undefined;
    try {
      if (o.foldWrites.length)
        fold = await measureFold(url, {
          writeCounts: o.foldWrites,
          rounds: o.foldRounds,
        });
    } catch (error) {
      foldError = errorMessage(error);
    }
    let operatorRefresh: RefreshMeasurement | null = null;
    try {
      operatorRefresh = (await measureOperatorRefresh(url)) ?? null;
    } catch (error) {
      foldError = `${foldError ? `${foldError}; ` : ""}operator view refresh: ${errorMessage(error)}`;
    }
    // The api routines are the workload's (test/plans.test.ts checks them against pg_proc).
    const measured = new Set(functions.map((f) => f.routine));
    const notMeasured = options.only
      ? []
      : workloadRoutines().filter(
          (n) => !measured.has(n) && !measured.has(MEASURED_THROUGH[n] ?? ""),
        );
    return {
      rows,
      refresh,
      ...(fold.length ? { fold } : {}),
      ...(foldError ? { statisticsError: foldError } : {}),
      operatorRefresh,
      functions,
      notMeasured,
      seconds: round1((performance.now() - started) / 1000),
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
