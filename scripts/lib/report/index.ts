// The report pipeline of `npm start` (docs/benchmark.md): per tier seed and measure, then
// checks, Markdown, JSON and SVG charts. scripts/start.ts provisions the server and drives it;
// test/report.test.ts runs it on the test database.
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { seedDatabase, type SeedReport } from "../seed.ts";
import {
  budgetFailed,
  BUDGET_P95_MS,
  evaluate,
  isBulk,
  TARGETS,
} from "./checks.ts";
import { renderMarkdown, short } from "./markdown.ts";
import { measureTier, type MeasureOptions } from "./measure.ts";
import { barChart, lineChart } from "./svg.ts";
import type { Report, TierMeasurement } from "./types.ts";

export * from "./types.ts";
export {
  evaluate,
  exitCode,
  budgetFailed,
  BUDGET_P95_MS,
  FOLD_BUDGET,
  TARGETS,
} from "./checks.ts";
export {
  statisticsPart,
  sampleStatisticsCost,
  measureFold,
  measureOperatorRefresh,
  OPERATOR_VIEW_REFRESH,
} from "./measure-statistics.ts";
export { measureTier, timing } from "./measure.ts";
export { isForeignKeyCheck } from "../plan/index.ts";
export type { MeasureOptions, ProgressEvent } from "./measure.ts";
export {
  renderMarkdown,
  renderConsole,
  tierTable,
  statisticsSection,
  sizeLabel,
} from "./markdown.ts";
export { lineChart, barChart } from "./svg.ts";

export interface RunOptions extends MeasureOptions {
  tiers: number[];
  /** Seed of the data (default 1). */
  seed?: number;
  /** Seed each tier first (default true); false measures the data that is there (one tier). */
  seedData?: boolean;
  /** Runs each tier's seeding (`body`), e.g. under a progress bar. */
  aroundSeed?: (
    rows: number,
    body: () => Promise<SeedReport>,
  ) => Promise<SeedReport>;
  /** Called after each tier's seeding with its report and the database's size in bytes. */
  onSeeded?: (rows: number, report: SeedReport, databaseBytes: number) => void;
  /** Called with each tier as soon as it is measured (the run may be long: the 10M tier). */
  onTier?: (tier: TierMeasurement) => Promise<void> | void;
  /** The progress callback for measuring a tier. */
  progressFor?: (rows: number) => MeasureOptions["onProgress"];
  /** Where the server came from, for the report's header. */
  serverKind?: string;
  /** pg_cron jobs paused during the run (pauseJobs), for the report's header. */
  jobsPaused?: string[];
}

export const REPORT_DEFAULTS = {
  calls: 200,
  warmup: 20,
  beforeCalls: 30,
} as const;

/**
 * Pauses the active querybudget pg_cron jobs of the database at `url` and returns what resumes
 * them: the benchmark must not race them (the stats view refreshed every minute rewrites all its
 * rows and holds a snapshot that keeps the seed's VACUUM from marking pages all-visible, which
 * flips index-only scans to bitmap scans; the TTL job deletes rows mid-measurement). The
 * refresh is measured on its own instead. No pg_cron here (or no jobs): nothing to pause.
 */
export async function pauseJobs(
  url: string,
): Promise<{ paused: string[]; resume: () => Promise<void> }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [cron] = await sql<
      { ok: boolean }[]
    >`select to_regclass('cron.job') is not null as ok`;
    if (!cron?.ok) return { paused: [], resume: async () => {} };
    const jobs = await sql<{ jobid: string; jobname: string }[]>`
      select jobid::text, jobname from cron.job
      where jobname like 'querybudget\\_%' and active and database = current_database() order by jobname`;
    for (const job of jobs)
      await sql`select cron.alter_job(${job.jobid}::bigint, active => false)`;
    return {
      paused: jobs.map((j) => j.jobname),
      resume: async () => {
        const again = postgres(url, { max: 1, onnotice: () => {} });
        try {
          for (const job of jobs)
            await again`select cron.alter_job(${job.jobid}::bigint, active => true)`;
        } finally {
          await again.end({ timeout: 5 });
        }
      },
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** pg_database_size of the database at `url`, bytes. */
export async function databaseSize(url: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<
      { bytes: string }[]
    >`select pg_database_size(current_database())::text as bytes`;
    return Number(row!.bytes);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Seeds and measures each tier in turn (smallest first) on the database at `url`. */
export async function measureTiers(
  url: string,
  options: RunOptions,
): Promise<TierMeasurement[]> {
  const tiers = [...options.tiers].sort((a, b) => a - b);
  const results: TierMeasurement[] = [];
  for (const rows of tiers) {
    let seedReport: SeedReport | undefined;
    let databaseBytes: number | undefined;
    if (options.seedData !== false) {
      const seed = async () => {
        const sql = postgres(url, { max: 1, onnotice: () => {} });
        try {
          return await seedDatabase(sql, {
            rows,
            seed: options.seed ?? 1,
            progress: true,
          });
        } finally {
          await sql.end({ timeout: 5 });
        }
      };
      seedReport = options.aroundSeed
        ? await options.aroundSeed(rows, seed)
        : await seed();
      databaseBytes = await databaseSize(url);
      options.onSeeded?.(rows, seedReport, databaseBytes);
    }
    const tier = await measureTier(url, rows, {
      ...options,
      onProgress: options.progressFor?.(rows) ?? options.onProgress,
    });
    if (seedReport) {
      tier.seedSeconds = Math.round(seedReport.seconds * 10) / 10;
      if (seedReport.backendCpuSeconds !== undefined)
        tier.seedCpuSeconds = seedReport.backendCpuSeconds;
      tier.seedIndexes = {
        deferred: seedReport.deferredIndexes,
        buildSeconds: Math.round(seedReport.indexBuildSeconds * 10) / 10,
      };
      if (databaseBytes !== undefined) tier.databaseBytes = databaseBytes;
      tier.tables = seedReport.tables.map((t) => ({
        table: t.table,
        rows: t.rows,
      }));
    }
    results.push(tier);
    await options.onTier?.(tier);
  }
  return results;
}

/** The report of measured tiers: checks evaluated, charts named. */
export async function buildReport(
  url: string,
  tiers: TierMeasurement[],
  options: Omit<RunOptions, "tiers"> & { tiers?: number[] },
): Promise<Report> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  let version = "PostgreSQL";
  try {
    const [row] = await sql<
      { v: string }[]
    >`select 'PostgreSQL ' || current_setting('server_version') as v`;
    version = row!.v;
  } finally {
    await sql.end({ timeout: 5 });
  }
  const checks = evaluate(tiers);
  return {
    version: 1,
    generatedAt: new Date().toISOString(),
    environment: {
      node: process.versions.node,
      postgres: version,
      server: options.serverKind ?? "unknown",
      cpus: cpus().length,
      platform: `${process.platform} ${process.arch}`,
      loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
      jobsPaused: options.jobsPaused ?? [],
    },
    options: {
      tiers: tiers.map((t) => t.rows).sort((a, b) => a - b),
      calls: options.calls ?? REPORT_DEFAULTS.calls,
      warmup: options.warmup ?? REPORT_DEFAULTS.warmup,
      beforeCalls: options.beforeCalls ?? REPORT_DEFAULTS.beforeCalls,
      seed: options.seed ?? 1,
    },
    tiers,
    checks,
    budgetFailed: budgetFailed(checks),
    charts: Object.keys(charts({ tiers } as Report)),
  };
}

/** The SVG charts of a report, by file name. */
export function charts(report: Pick<Report, "tiers">): Record<string, string> {
  const tiers = [...report.tiers].sort((a, b) => a.rows - b.rows);
  const names = [
    ...new Set(tiers.flatMap((t) => t.functions.map((f) => f.name))),
  ];
  const series = (value: (f: TierMeasurement["functions"][number]) => number) =>
    names.map((name) => ({
      name: short(name),
      points: tiers.flatMap((t) => {
        const f = t.functions.find((g) => g.name === name);
        return f && !f.error ? [[t.rows, value(f)] as [number, number]] : [];
      }),
    }));
  const out: Record<string, string> = {};
  out["p95-by-rows.svg"] = lineChart({
    title: "p95 per call against rows (log-log)",
    xLabel: "rows seeded (chunks, operations)",
    yLabel: "p95, ms",
    series: series((f) => f.timing.p95),
    references: [
      { y: BUDGET_P95_MS, label: `budget ${BUDGET_P95_MS} ms` },
      { y: TARGETS.readP95Ms, label: `read target ${TARGETS.readP95Ms} ms` },
    ],
  });
  out["buffers-by-rows.svg"] = lineChart({
    title: "shared buffers per call against rows (log-log)",
    xLabel: "rows seeded (chunks, operations)",
    yLabel: "shared buffers hit + read",
    series: series((f) => f.buffers.total),
  });
  const largest = tiers.at(-1);
  if (largest) {
    const paired = largest.functions.filter(
      (f) => !f.error && f.before && !f.before.error,
    );
    out["before-after.svg"] = barChart({
      title: `before against after, p50 per call at ${largest.rows.toLocaleString("en-US")} rows (log scale)`,
      xLabel: "p50, ms",
      legend: ["before (the seeds' pattern)", "after (api)"],
      groups: paired.map((f) => ({
        label:
          short(f.name) +
          (isBulk(f)
            ? ` (${f.ids} ids)`
            : f.wholeCall
              ? " (whole tenant)"
              : ""),
        bars: [
          { name: "before (the seeds' pattern)", value: f.before!.timing.p50 },
          { name: "after (api)", value: (f.wholeCall ?? f.timing).p50 },
        ],
        note: f.ratio !== undefined ? `${f.ratio}×` : undefined,
      })),
    });
  }
  return out;
}

/** Writes latest.md, latest.json and the charts into `dir`; returns the paths written. */
export async function writeReport(
  report: Report,
  dir: string,
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, string][] = [
    ["latest.md", renderMarkdown(report) + "\n"],
    ["latest.json", JSON.stringify(report, null, 2) + "\n"],
    ...Object.entries(charts(report)),
  ];
  const written: string[] = [];
  for (const [name, content] of files) {
    const path = join(dir, name);
    await writeFile(path, content);
    written.push(path);
  }
  return written;
}
