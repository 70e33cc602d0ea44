// The timed steps of measuring a workload (docs/benchmark.md "How it measures", 3 to 5): warm
// api calls, the paired before side's calls with the statements they ran (countQueries: what
// the server ran), and for the procedure its batches.
import type postgres from "postgres";
import type { BeforeSide } from "../before/index.ts";
import { countQueries } from "../query-counter.ts";
import { WALL_CLOCK, type RunClock } from "../run-clock.ts";
import {
  percentile,
  PURGE_BUDGET_BATCH,
  timeCall,
  timePurgeBatches,
  type Call,
  type WorkloadDefinition,
} from "../workload.ts";
import type {
  BeforeMeasurement,
  FunctionMeasurement,
  Timing,
} from "./types.ts";

/** How many calls to time, and when to stop early (MeasureOptions of measure.ts, resolved). */
export interface TimingPlan {
  calls: number;
  warmup: number;
  beforeCalls: number;
  beforeWarmup: number;
  procedureSubjects: number;
  minBatches: number;
  maxSeconds: number;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
export const errorMessage = (error: unknown) =>
  error instanceof Error ? error.message : String(error);

/** A sample's summary: nearest-rank percentiles (workload.ts's percentile, so p50 ≤ p95 ≤ p99 always), mean, min and max. */
export function timing(samples: number[]): Timing {
  const n = samples.length;
  if (n === 0)
    return {
      calls: 0,
      p50: NaN,
      p95: NaN,
      p99: NaN,
      mean: NaN,
      min: NaN,
      max: NaN,
    };
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    calls: n,
    p50: round(percentile(samples, 50)),
    p95: round(percentile(samples, 95)),
    p99: round(percentile(samples, 99)),
    mean: round(samples.reduce((a, b) => a + b, 0) / n),
    min: round(Math.min(...samples)),
    max: round(Math.max(...samples)),
  };
}

/** `warmup` untimed calls, then up to `count` timed ones; stops after maxSeconds once minCalls are in. */
async function timeCalls(
  count: number,
  warmup: number,
  minCalls: number,
  maxSeconds: number,
  one: (i: number) => Promise<number>,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await one(i);
  const samples: number[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    samples.push(await one(warmup + i));
    if (
      samples.length >= minCalls &&
      performance.now() - started > maxSeconds * 1000
    )
      break;
  }
  return samples;
}

/**
 * The api side: warm calls rotating over the argument sets (writes rolled back, not timed),
 * timed by `clock`: wall time less the run-queue delays of the backend and of this process
 * (run-clock.ts; docs/budgets.md "Time on a busy machine"), wall time without one.
 */
export async function timeApi(
  sql: postgres.Sql,
  w: WorkloadDefinition,
  calls: Call[],
  o: TimingPlan,
  clock?: RunClock,
): Promise<Timing> {
  return timing(
    await timeCalls(
      o.calls,
      o.warmup,
      Math.min(30, o.calls),
      o.maxSeconds,
      (i) => timeCall(sql, w, calls[i % calls.length]!.args, clock),
    ),
  );
}

const beforeArgs = (c: Call) => c.beforeArgs ?? c.args;

/**
 * One call of the before side on `conn`, timed; writes in a transaction rolled back (not
 * timed). Returns the milliseconds and the statements it sent (top-level statements the
 * server ran, transaction control not counted).
 */
async function beforeCall(
  conn: postgres.ReservedSql,
  side: BeforeSide,
  args: unknown[],
  clock: RunClock = WALL_CLOCK,
): Promise<{ ms: number; statements: number }> {
  const count = await countQueries(conn, async () => {
    if (side.modifies) await conn.unsafe("begin");
    try {
      // the api side's clock: both sides of a ratio are timed alike
      const t = clock.mark();
      await side.run(conn, args);
      return clock.since(t).ms;
    } finally {
      if (side.modifies) await conn.unsafe("rollback");
    }
  });
  return { ms: count.result, statements: count.topLevel };
}

function beforeResult(
  side: BeforeSide,
  samples: number[],
  statements: number[],
): BeforeMeasurement {
  const mean =
    statements.reduce((a, b) => a + b, 0) / Math.max(1, statements.length);
  return {
    name: side.name,
    pattern: side.pattern,
    timing: timing(samples),
    statements: round1(mean),
  };
}

/** The before side on the same argument sets, on one connection of `sql`; an error is reported, not thrown. */
export async function measureBefore(
  sql: postgres.Sql,
  side: BeforeSide,
  calls: Call[],
  o: TimingPlan,
  clock?: RunClock,
): Promise<BeforeMeasurement> {
  const conn = await sql.reserve();
  try {
    const statements: number[] = [];
    const samples = await timeCalls(
      o.beforeCalls,
      o.beforeWarmup,
      Math.min(5, o.beforeCalls),
      o.maxSeconds,
      async (i) => {
        const call = await beforeCall(
          conn,
          side,
          beforeArgs(calls[i % calls.length]!),
          clock,
        );
        if (i >= o.beforeWarmup) statements.push(call.statements);
        return call.ms;
      },
    );
    return beforeResult(side, samples, statements);
  } catch (error) {
    return {
      name: side.name,
      pattern: side.pattern,
      timing: timing([]),
      statements: 0,
      error: errorMessage(error),
    };
  } finally {
    conn.release();
  }
}

/**
 * The procedure, which commits: each subject tenant is first deleted by the before side (one
 * DELETE, rolled back), then purged for good in batches of PURGE_BUDGET_BATCH, each batch
 * timed, until `minBatches` batches are in. `timing` is per batch, `wholeCall` per tenant.
 */
export async function measureProcedure(
  sql: postgres.Sql,
  url: string,
  subjects: Call[],
  side: BeforeSide | undefined,
  o: TimingPlan,
  clock?: RunClock,
): Promise<
  Pick<FunctionMeasurement, "timing" | "wholeCall" | "before" | "ratio">
> {
  const batches: number[] = [];
  const whole: number[] = [];
  const beforeSamples: number[] = [];
  const beforeStatements: number[] = [];
  const conn = side ? await sql.reserve() : undefined;
  try {
    for (const call of subjects) {
      if (batches.length >= o.minBatches) break;
      if (side && conn) {
        const before = await beforeCall(conn, side, beforeArgs(call), clock);
        beforeSamples.push(before.ms);
        beforeStatements.push(before.statements);
      }
      const purge = await timePurgeBatches(
        url,
        call.args[0],
        PURGE_BUDGET_BATCH,
      );
      batches.push(...purge.batchMs);
      whole.push(purge.totalMs);
    }
  } finally {
    conn?.release();
  }
  const result: Pick<
    FunctionMeasurement,
    "timing" | "wholeCall" | "before" | "ratio"
  > = { timing: timing(batches), wholeCall: timing(whole) };
  if (side && beforeSamples.length)
    result.before = beforeResult(side, beforeSamples, beforeStatements);
  if (result.before && whole.length)
    result.ratio = ratioOf(result.before, result.wholeCall!);
  return result;
}

/** before p50 / api p50, one decimal (none when the api's p50 is 0). */
export function ratioOf(
  before: BeforeMeasurement,
  api: Timing,
): number | undefined {
  return api.p50 > 0 ? round1(before.timing.p50 / api.p50) : undefined;
}
