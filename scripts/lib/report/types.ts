// The report of `npm start` (docs/benchmark.md): what reports/latest.json holds.

/** Milliseconds, client side (postgres.js, round trip included). Nearest-rank percentiles. */
export interface Timing {
  calls: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

export interface AccessEntry {
  /** The table (a partition's parent). */
  table: string;
  /** "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Seq Scan", ... */
  scan: string;
  /** The index (a partition index's parent index). */
  index?: string;
  /** For a partitioned table: partitions scanned of all ("1/16"). */
  partitions?: string;
}

export interface BeforeMeasurement {
  /** The before function (scripts/lib/before/index.ts). */
  name: string;
  pattern: string;
  timing: Timing;
  /** Statements sent per call (mean over the timed calls). */
  statements: number;
  error?: string;
}

export interface FunctionMeasurement {
  /** The workload's name: the routine, with a variant when it has two ("api.delete_documents (hard)"). */
  name: string;
  /** The api routine. */
  routine: string;
  kind: "read" | "write" | "procedure";
  /** The arguments, in words (scripts/lib/workload.ts). */
  subject: string;
  /** What `timing` times: a call, or for the procedure one batch (its budget is per batch). */
  unit: "call" | "batch";
  /** The procedure: the whole call per subject (what the before side is compared with). */
  wholeCall?: Timing;
  /** The p95 budget at the largest tier, ms. */
  p95BudgetMs: number;
  /** Ids per call for bulk routines. */
  ids?: number;
  /** Distinct argument sets the calls rotated over. */
  argumentSets: number;
  timing: Timing;
  /** Shared buffers (hit + read) of one call, from auto_explain: call DEFAULT_RUNS of a session (workload.ts), as the plan tests see it. */
  buffers: { hit: number; read: number; total: number };
  bufferBudget?: number;
  /** Whether buffers may grow at most 2× from the smallest to the largest tier; when not, why (the work grows with the subject by design). */
  bufferGrowthExpected: boolean;
  bufferGrowthNote?: string;
  /** Statements the call ran (nested, from auto_explain), foreign key checks not included. */
  statements: number;
  /** PostgreSQL's own foreign key check queries during the call (they grow with the rows changed). */
  fkChecks: number;
  /** Bulk routines: statements with 1 id (constant: equal to `statements`). */
  statementsWithOneId?: number;
  access: AccessEntry[];
  indexes: string[];
  intendedIndexes: string[];
  /** Intended indexes the plan did not use. */
  missingIndexes: string[];
  /** Seq Scans on relations over 10,000 rows. */
  largeSeqScans: string[];
  before?: BeforeMeasurement;
  /** Write routines that keep the collection statistics: what keeping them costs (measure-statistics.ts). */
  statisticsCost?: StatisticsCost;
  /** before p50 / api p50 (the procedure: per whole call). */
  ratio?: number;
  error?: string;
}

/**
 * What keeping the collection statistics costs a write routine (scripts/lib/report/measure-statistics.ts):
 * medians over `samples` calls run with auto_explain, rolled back. "statistics" is the plan
 * nodes that insert into app.collection_stat_deltas with what is under them (CTE Scans out);
 * "with" is the whole call; "without" = with - statistics. Milliseconds are server side,
 * instrumented (every node timed).
 */
export interface StatisticsCost {
  samples: number;
  /** Delta inserts per call (plan nodes). */
  deltaInserts: number;
  withBuffers: number;
  statisticsBuffers: number;
  withoutBuffers: number;
  withMs: number;
  statisticsMs: number;
  withoutMs: number;
  /** statisticsMs / withMs. */
  share: number;
}

/** maint.fold_collection_stat_deltas() after `writes` committed api writes, timed at the client, `runsMs.length` rounds. */
export interface FoldMeasurement {
  writes: number;
  /** Delta rows folded (of the last round). */
  deltas: number;
  /** Collections they belonged to (of the last round). */
  collections: number;
  runsMs: number[];
  medianMs: number;
  /**
   * When the server runs on this machine (/proc/<pid>/schedstat of the folding backend), per
   * round: ms on a CPU, and ms runnable but waiting for a CPU (other work on the machine).
   * medianBusyMs: the median of (runsMs - runQueueMs), the fold's time without that wait;
   * the budget is checked on it when present.
   */
  cpuMs?: number[];
  runQueueMs?: number[];
  medianBusyMs?: number;
}

export interface RefreshMeasurement {
  routine: string;
  runsMs: number[];
  medianMs: number;
}

export interface TierMeasurement {
  rows: number;
  /** Seconds the seeding took (absent when the data was there already). */
  seedSeconds?: number;
  /** The seeding backend's CPU seconds (user + system), when the server runs on this machine. */
  seedCpuSeconds?: number;
  /** Indexes the seed built after the load, and the seconds that took (0: maintained row by row). */
  seedIndexes?: { deferred: number; buildSeconds: number };
  /** pg_database_size after seeding, bytes. */
  databaseBytes?: number;
  /** maint.fold_collection_stat_deltas() after N writes (after every workload). */
  fold?: FoldMeasurement[];
  /**
   * The platform-level operator view's refresh (issue 12, item 6: OPERATOR_VIEW_REFRESH of
   * measure-statistics.ts); null when the database has no such routine yet.
   */
  operatorRefresh?: RefreshMeasurement | null;
  /** The fold or the operator view's refresh failed: why (the routines' measurements stand). */
  statisticsError?: string;
  /** Rows per table as seeded. */
  tables?: { table: string; rows: number }[];
  /** maint.refresh_tenant_overview(): milliseconds of each run (concurrently, warm) and the median. */
  refresh: { runsMs: number[]; medianMs: number };
  functions: FunctionMeasurement[];
  /** Routines in schema api with no measurement (none in a complete run). */
  notMeasured: string[];
  /** Seconds the measuring took. */
  seconds: number;
}

export interface Check {
  /** budget: fails the run; target: reported only. */
  kind: "budget" | "target";
  rule: string;
  function?: string;
  tier?: number;
  value: number | string;
  limit: number | string;
  ok: boolean;
  /** The target does not apply here, and why (counted apart, neither met nor missed). */
  exempt?: string;
}

export interface Report {
  version: 1;
  generatedAt: string;
  /**
   * loadAverage: os.loadavg() when the report was built (1, 5, 15 minutes): other work on the
   * machine shows in p95 and p99. jobsPaused: the pg_cron jobs paused during the run.
   */
  environment: {
    node: string;
    postgres: string;
    server: string;
    cpus: number;
    platform: string;
    loadAverage: number[];
    jobsPaused: string[];
  };
  options: {
    tiers: number[];
    calls: number;
    warmup: number;
    beforeCalls: number;
    seed: number;
  };
  tiers: TierMeasurement[];
  checks: Check[];
  /** Some budget failed: `npm start` exits 1. */
  budgetFailed: boolean;
  /** Charts written next to the report (file names). */
  charts: string[];
}
