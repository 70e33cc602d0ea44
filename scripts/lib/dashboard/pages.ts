// The dashboard's pages: which sections each shows (from scripts/lib/dashboard/queries.ts and
// the reports on disk) and the HTML around them. Charts are Chart.js, drawn in the browser from
// the data a <canvas data-chart> carries (scripts/lib/dashboard/charts.js).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { html, raw } from "hono/html";
import { P95_BUDGET_MS, tierOf, WORKLOAD } from "../workload.ts";
import * as q from "./queries.ts";
import type { Monitor, Row } from "./queries.ts";

export interface Column {
  key: string;
  label: string;
  /** code: monospace, wraps (statements, fixes); num: right-aligned. */
  kind?: "code" | "num";
}

export interface Chart {
  type: "bar" | "line";
  labels: string[];
  datasets: { label: string; data: (number | null)[] }[];
  /** The y axis, in words with its unit. */
  y: string;
  logarithmic?: boolean;
}

export interface Section {
  id: string;
  title: string;
  intro?: string;
  columns: Column[];
  rows: Row[];
  /** What an empty table means. */
  empty: string;
  chart?: Chart;
}

export interface Page {
  path: string;
  title: string;
  load(ctx: PageContext): Promise<Section[]>;
}

export interface PageContext {
  monitor: Monitor;
  /** Where `npm start` and `npm run analyze-indexes` write their reports (reports/). */
  reportsDir: string;
}

const col = (
  key: string,
  label = key.replace(/_/g, " "),
  kind?: Column["kind"],
): Column => ({
  key,
  label,
  kind,
});
const num = (key: string, label?: string) => col(key, label, "num");
const code = (key: string, label?: string) => col(key, label, "code");

function readJson<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** How far back the history's charts and "since" comparisons look. */
export const HISTORY_HOURS = 24;
/** The routines page's recent window, against the budgets. */
export const WINDOW_HOURS = 1;

/**
 * A line chart from history rows (one row per snapshot and series): the `top` series with the
 * largest `rank` sum, one point per snapshot, null where a series has no row.
 */
function historyChart(
  rows: Row[],
  seriesKey: (r: Row) => string,
  valueKey: string,
  y: string,
  options: { top?: number; rank?: string; logarithmic?: boolean } = {},
): Chart {
  const { top = 8, rank = valueKey } = options;
  const times = [...new Set(rows.map((r) => formatValue(r.taken_at)))].sort();
  const weight = new Map<string, number>();
  for (const r of rows)
    weight.set(
      seriesKey(r),
      (weight.get(seriesKey(r)) ?? 0) + (n(r[rank]) ?? 0),
    );
  const names = [...weight.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name]) => name);
  return {
    type: "line",
    labels: times.map((t) => t.slice(5, 19)),
    datasets: names.map((name) => {
      const byTime = new Map(
        rows
          .filter((r) => seriesKey(r) === name)
          .map((r) => [formatValue(r.taken_at), n(r[valueKey])]),
      );
      return { label: name, data: times.map((t) => byTime.get(t) ?? null) };
    }),
    y,
    logarithmic: options.logarithmic,
  };
}

// --- the pages -----------------------------------------------------------------------------

const overview: Page = {
  path: "/",
  title: "Overview",
  async load({ monitor }) {
    const [findings, vitals, [history]] = await Promise.all([
      q.attention(monitor),
      q.vitals(monitor),
      q.historyStatus(monitor),
    ]);
    const count = (s: string) =>
      findings.filter((f) => f.severity === s).length;
    return [
      {
        id: "attention",
        title: "Needs attention",
        intro:
          "perf.attention(): every finding of the perf checks at their documented defaults, errors first, each with its fix.",
        columns: [
          col("severity"),
          col("area"),
          col("subject"),
          col("problem"),
          code("fix"),
        ],
        rows: findings,
        empty: "Nothing needs attention.",
      },
      {
        id: "vitals",
        title: "The database",
        columns: [col("what"), col("value")],
        rows: [
          { what: "database", value: vitals.database },
          { what: "server version", value: vitals.server_version },
          { what: "size", value: vitals.database_size },
          {
            what: "connections in use",
            value: `${vitals.total_connections ?? 0} of ${vitals.max_connections ?? "?"} (${vitals.used_percent ?? 0} %)`,
          },
          {
            what: "statistics since",
            value: `${formatValue(vitals.stats_reset ?? vitals.server_started)} (${formatValue(vitals.stats_age)} ago)`,
          },
          {
            what: "history",
            value: history?.snapshots
              ? `${history.snapshots} snapshots, ${formatValue(history.first_at)} to ${formatValue(history.latest_at)} (kept ${formatValue(history.retention)})`
              : "no snapshot yet (the job querybudget_perf_snapshot takes one every 5 minutes)",
          },
          { what: "errors", value: count("error") },
          { what: "warnings", value: count("warning") },
          { what: "notices", value: count("notice") },
        ],
        empty: "",
      },
    ];
  },
};

const routines: Page = {
  path: "/routines",
  title: "API routines",
  async load({ monitor, reportsDir }) {
    const [live, chunks, recent] = await Promise.all([
      q.routineStatistics(monitor),
      q.chunkRows(monitor),
      q.routineWindow(monitor, WINDOW_HOURS),
    ]);
    const tier = tierOf(Math.max(chunks, 1));
    const budgets = new Map<string, { p95: number; buffers: number }>();
    for (const w of WORKLOAD) {
      const b = budgets.get(w.routine);
      // one routine with two variants: the larger budget is the one a call must meet
      budgets.set(w.routine, {
        p95: Math.max(b?.p95 ?? 0, w.p95Ms),
        buffers: Math.max(b?.buffers ?? 0, w.buffers[tier]),
      });
    }
    const liveRows: Row[] = live.map((r) => {
      const b = budgets.get(String(r.routine));
      const p95 = n(r.p95_ms);
      return {
        ...r,
        p95_budget_ms: b?.p95 ?? P95_BUDGET_MS,
        buffer_budget: b?.buffers ?? null,
        // time only: the mean buffers include each new session's catalog reads, which the
        // plan tests' warm budgets do not, so a buffer verdict here would be a false alarm
        status:
          p95 !== null && p95 > (b?.p95 ?? P95_BUDGET_MS)
            ? "over budget"
            : "ok",
      };
    });
    const recentRows: Row[] = recent.map((r) => {
      const b = budgets.get(String(r.routine));
      return {
        ...r,
        p95_budget_ms: b?.p95 ?? P95_BUDGET_MS,
        buffer_budget: b?.buffers ?? null,
        // the snapshots keep sums, not spreads: a mean over the budget is over for certain
        status:
          n(r.mean_ms)! > (b?.p95 ?? P95_BUDGET_MS)
            ? "mean over the p95 budget"
            : "ok",
      };
    });
    const sections: Section[] = [
      {
        id: "window",
        title: `The last hour, from the history's snapshots (budgets of the ${tier} tier)`,
        intro:
          "perf.routine_window(now() - 1 hour): the snapshot intervals of the last hour (the job querybudget_perf_snapshot takes one every 5 minutes), summed per routine; the snapshots keep sums, so the mean is set against the p95 budget.",
        columns: [
          col("routine"),
          num("calls"),
          num("mean_ms", "mean ms"),
          num("p95_budget_ms", "p95 budget ms"),
          num("blocks_per_call", "buffers / call"),
          num("buffer_budget", "buffer budget"),
          num("intervals"),
          col("first_at", "from"),
          col("last_at", "to"),
          col("status"),
        ],
        rows: recentRows,
        empty:
          "No snapshot interval of the last hour has api calls (the history needs two snapshots; perf.take_snapshot, every 5 minutes).",
      },
      {
        id: "live",
        title: `Live: since pg_stat_statements was reset (budgets of the ${tier} tier)`,
        intro:
          "perf.routine_statistics(): the top-level calls of each api routine. p95 is estimated from mean and standard deviation; buffers include the statements the routine runs and a new session's catalog reads, so they may exceed the warm budget of the plan tests without a regression.",
        columns: [
          col("routine"),
          num("calls"),
          num("mean_ms", "mean ms"),
          num("p95_ms", "p95 ms (est.)"),
          num("p95_budget_ms", "p95 budget ms"),
          num("max_ms", "max ms"),
          num("blocks_per_call", "buffers / call"),
          num("buffer_budget", "buffer budget"),
          col("status"),
        ],
        rows: liveRows,
        empty: "No api routine was called since the statistics were reset.",
        chart: {
          type: "bar",
          labels: liveRows.map((r) => String(r.routine).replace(/^api\./, "")),
          datasets: [
            {
              label: "p95 (estimate) ms",
              data: liveRows.map((r) => n(r.p95_ms)),
            },
            { label: "mean ms", data: liveRows.map((r) => n(r.mean_ms)) },
            {
              label: "budget ms",
              data: liveRows.map((r) => n(r.p95_budget_ms)),
            },
          ],
          y: "milliseconds (log)",
          logarithmic: true,
        },
      },
    ];
    const [history, changes] = await Promise.all([
      q.routineHistory(monitor, HISTORY_HOURS),
      q.routineChanges(monitor, HISTORY_HOURS),
    ]);
    sections.push(
      {
        id: "history",
        title: `Mean time per call over the last ${HISTORY_HOURS} hours`,
        intro:
          "perf.routine_history(): per snapshot interval (the job querybudget_perf_snapshot takes one every 5 minutes), the top-level calls of each routine; the chart shows the 8 routines with the most calls.",
        columns: [
          col("taken_at", "snapshot"),
          col("routine"),
          num("calls"),
          num("mean_ms", "mean ms"),
          num("blocks_per_call", "buffers / call"),
          num("rows_per_call", "rows / call"),
        ],
        rows: [...history].reverse().slice(0, 60),
        empty:
          "No snapshot intervals yet: the history needs two snapshots (perf.take_snapshot, every 5 minutes).",
        chart: historyChart(
          history,
          (r) => String(r.routine).replace(/^api\./, ""),
          "mean_ms",
          "mean ms per call (log)",
          {
            rank: "calls",
            logarithmic: true,
          },
        ),
      },
      {
        id: "changes",
        title: `Regressions: mean time or buffers per call up 50 % in the last ${HISTORY_HOURS} hours`,
        intro:
          "perf.routine_changes_since(now() - 24 hours, 0.5): the intervals before against those after; changed_at dates the first interval past the growth.",
        columns: [
          col("routine"),
          col("source"),
          num("calls_before", "calls before"),
          num("calls_after", "calls after"),
          num("mean_ms_before", "mean ms before"),
          num("mean_ms_after", "after"),
          num("mean_growth", "growth"),
          num("blocks_per_call_before", "buffers before"),
          num("blocks_per_call_after", "after"),
          num("blocks_growth", "growth"),
          col("changed_at", "changed at"),
        ],
        rows: changes,
        empty:
          "No routine got 50 % slower or heavier in the last 24 hours (or the history does not cover both sides yet).",
      },
    );
    const report = readJson<{
      generatedAt: string;
      tiers: {
        rows: number;
        functions: {
          name: string;
          unit: string;
          p95BudgetMs: number;
          timing: { calls: number; p50: number; p95: number; p99: number };
          buffers: { total: number };
          bufferBudget?: number;
          error?: string;
        }[];
      }[];
    }>(join(reportsDir, "latest.json"));
    if (report) {
      const rows = report.tiers.flatMap((t) =>
        t.functions.map((f) => ({
          rows: t.rows,
          name: f.name,
          calls: f.timing?.calls,
          p50_ms: f.timing?.p50?.toFixed(2),
          p95_ms: f.timing?.p95?.toFixed(2),
          p95_budget_ms: f.p95BudgetMs,
          buffers: f.buffers?.total,
          buffer_budget: f.bufferBudget ?? null,
          status: f.error
            ? `error: ${f.error}`
            : f.timing && f.timing.p95 > f.p95BudgetMs
              ? "over budget"
              : "ok",
        })),
      );
      sections.push({
        id: "report",
        title: `npm start report of ${report.generatedAt}`,
        intro: `${join(reportsDir, "latest.json")}: client-side timings (round trip included) per tier.`,
        columns: [
          num("rows"),
          col("name"),
          num("calls"),
          num("p50_ms", "p50 ms"),
          num("p95_ms", "p95 ms"),
          num("p95_budget_ms", "p95 budget ms"),
          num("buffers"),
          num("buffer_budget", "buffer budget"),
          col("status"),
        ],
        rows,
        empty: "The report has no measurements.",
      });
    } else {
      sections.push({
        id: "report",
        title: "npm start report",
        columns: [],
        rows: [],
        empty: `No ${join(reportsDir, "latest.json")}: run npm start to measure every routine against its budget.`,
      });
    }
    return sections;
  },
};

const queries: Page = {
  path: "/queries",
  title: "Slow queries",
  async load({ monitor }) {
    const [slow, top] = await Promise.all([
      q.slowQueries(monitor),
      q.topStatements(monitor),
    ]);
    const statementColumns = [
      num("queryid"),
      col("toplevel"),
      col("username"),
      code("query"),
      num("calls"),
      num("total_ms", "total ms"),
      num("mean_ms", "mean ms"),
      num("p99_ms", "p99 ms (est.)"),
      num("max_ms", "max ms"),
      num("share_percent", "% of time"),
      num("blocks_per_call", "buffers / call"),
      num("rows_per_call", "rows / call"),
    ];
    return [
      {
        id: "slow",
        title: "Slow statements (estimated p99 of 100 ms or more)",
        intro:
          "perf.slow_queries(100, 500): warning from 100 ms, error from 500 ms.",
        columns: [col("level"), ...statementColumns],
        rows: slow,
        empty: "No statement's estimated p99 reaches 100 ms.",
      },
      {
        id: "top",
        title: "Statements by total time",
        intro:
          "perf.slow_queries(0, 500): every statement, nested ones included (toplevel false).",
        columns: statementColumns,
        rows: top,
        empty: "pg_stat_statements has no statements for this database.",
        chart: {
          type: "bar",
          labels: top.slice(0, 12).map((r) => String(r.queryid)),
          datasets: [
            {
              label: "total ms",
              data: top.slice(0, 12).map((r) => n(r.total_ms)),
            },
          ],
          y: "milliseconds",
        },
      },
    ];
  },
};

const indexes: Page = {
  path: "/indexes",
  title: "Indexes",
  async load({ monitor, reportsDir }) {
    const [invalid, duplicate, fk, unused, usage] = await Promise.all([
      q.invalidIndexes(monitor),
      q.duplicateIndexes(monitor),
      q.missingFkIndexes(monitor),
      q.unusedIndexes(monitor),
      q.indexUsage(monitor),
    ]);
    const advisor = readJson<{
      recommendations: {
        name: string;
        table: string;
        columns: string[];
        where?: string;
        createStatements: string[];
        validation?: {
          verdict: string;
          reason: string;
          totals: {
            beforeBuffers: number;
            afterBuffers: number;
            beforeMs: number;
            afterMs: number;
          };
          sizeBytes: number;
        };
      }[];
      seconds: number;
    }>(join(reportsDir, "advisor.json"));
    const advisorRows = (advisor?.recommendations ?? []).map((r) => ({
      index: `${r.table} (${r.columns.join(", ")})${r.where ? ` where ${r.where}` : ""}`,
      verdict: r.validation?.verdict ?? "not validated",
      buffers: r.validation
        ? `${r.validation.totals.beforeBuffers} → ${r.validation.totals.afterBuffers}`
        : null,
      ms: r.validation
        ? `${r.validation.totals.beforeMs.toFixed(2)} → ${r.validation.totals.afterMs.toFixed(2)}`
        : null,
      size_bytes: r.validation?.sizeBytes ?? null,
      create: r.createStatements.join("\n"),
    }));
    return [
      {
        id: "invalid",
        title: "Invalid indexes",
        intro:
          "perf.invalid_indexes(): failed concurrent builds and partitioned indexes missing on a partition.",
        columns: [
          col("schema_name", "schema"),
          col("table_name", "table"),
          col("index_name", "index"),
          num("size_bytes", "bytes"),
          col("reason"),
          code("fix"),
        ],
        rows: invalid,
        empty: "No invalid index.",
      },
      {
        id: "duplicate",
        title: "Duplicate and redundant indexes",
        intro:
          "perf.duplicate_indexes(): equal keys, or a leading prefix of another b-tree.",
        columns: [
          col("table_name", "table"),
          col("index_name", "index"),
          col("kind"),
          col("covered_by", "covered by"),
          col("index_columns", "columns"),
          col("size"),
          code("drop_statement", "drop"),
        ],
        rows: duplicate,
        empty: "No duplicate or redundant index.",
      },
      {
        id: "missing-fk",
        title: "Foreign keys without an index",
        intro:
          "perf.missing_fk_indexes(): a delete in the referenced table scans the referencing one.",
        columns: [
          col("table_name", "table"),
          col("constraint_name", "constraint"),
          col("referenced_table", "references"),
          col("on_delete", "on delete"),
          num("table_rows", "rows"),
          code("create_statement", "create"),
        ],
        rows: fk,
        empty: "Every foreign key has an index.",
      },
      {
        id: "unused",
        title: "Unused indexes",
        intro:
          "perf.unused_indexes(0): never scanned since the statistics were reset (see the window's age).",
        columns: [
          col("table_name", "table"),
          col("index_name", "index"),
          num("scans"),
          col("size"),
          num("table_rows", "rows"),
          num("table_writes", "writes"),
          col("supports_foreign_key", "backs a FK"),
          col("stats_age", "window"),
          code("drop_statement", "drop"),
        ],
        rows: unused,
        empty: "Every index was scanned.",
      },
      {
        id: "advisor",
        title: "The advisor's last validated recommendations",
        intro: advisor
          ? `${join(reportsDir, "advisor.json")} (npm run analyze-indexes): built on a copy and measured.`
          : undefined,
        columns: [
          col("index"),
          col("verdict"),
          col("buffers", "buffers per replay"),
          col("ms", "ms per replay"),
          num("size_bytes", "bytes"),
          code("create"),
        ],
        rows: advisorRows,
        empty: advisor
          ? "The advisor recommended nothing."
          : `No ${join(reportsDir, "advisor.json")}: run npm run analyze-indexes (it writes its report there).`,
      },
      {
        id: "usage",
        title: "Index usage (largest 40)",
        intro: "perf.index_usage()",
        columns: [
          col("table_name", "table"),
          col("index_name", "index"),
          num("partitions"),
          num("scans"),
          num("tuples_read", "tuples read"),
          num("tuples_fetched", "fetched"),
          col("size"),
          col("is_valid", "valid"),
        ],
        rows: usage,
        empty: "No index.",
        chart: {
          type: "bar",
          labels: usage.slice(0, 15).map((r) => String(r.index_name)),
          datasets: [
            { label: "scans", data: usage.slice(0, 15).map((r) => n(r.scans)) },
          ],
          y: "scans since the statistics were reset",
        },
      },
    ];
  },
};

const tables: Page = {
  path: "/tables",
  title: "Tables",
  async load({ monitor }) {
    const [
      sizes,
      maintenance,
      analyze,
      seq,
      cache,
      sizeHistory,
      growth,
      vacuum,
      bloat,
      wrap,
      seqs,
      notValid,
    ] = await Promise.all([
      q.tableSizes(monitor),
      q.tableMaintenance(monitor),
      q.tablesNeedingAnalyze(monitor),
      q.seqScanTables(monitor),
      q.cacheHitRatio(monitor),
      q.tableSizeHistory(monitor, HISTORY_HOURS),
      q.tableGrowth(monitor, HISTORY_HOURS),
      q.vacuumHealth(monitor),
      q.bloatEstimates(monitor),
      q.wraparound(monitor),
      q.sequences(monitor),
      q.notValidConstraints(monitor),
    ]);
    const top = sizes.slice(0, 12);
    return [
      {
        id: "sizes",
        title: "Sizes",
        intro:
          "perf.table_sizes(): partitions summed; rows as of the last VACUUM or ANALYZE.",
        columns: [
          col("schema_name", "schema"),
          col("table_name", "table"),
          col("kind"),
          num("partitions"),
          num("rows_estimate", "rows"),
          num("table_bytes", "table bytes"),
          num("index_bytes", "index bytes"),
          col("size"),
        ],
        rows: sizes,
        empty: "No table.",
        chart: {
          type: "bar",
          labels: top.map((r) => String(r.table_name)),
          datasets: [
            { label: "table bytes", data: top.map((r) => n(r.table_bytes)) },
            { label: "index bytes", data: top.map((r) => n(r.index_bytes)) },
          ],
          y: "bytes",
        },
      },
      {
        id: "growth",
        title: `Growth over the last ${HISTORY_HOURS} hours`,
        intro:
          "perf.table_growth_since(now() - 24 hours): the snapshot at or before then against the latest; the chart is perf.table_size_history().",
        columns: [
          col("schema_name", "schema"),
          col("table_name", "table"),
          col("since_at", "since"),
          col("latest_at", "latest"),
          num("total_bytes_before", "bytes before"),
          num("total_bytes_after", "bytes after"),
          num("growth_bytes", "growth bytes"),
          num("growth_ratio", "growth ratio"),
          num("rows_before", "rows before"),
          num("rows_after", "rows after"),
          num("bytes_per_day", "bytes / day"),
        ],
        rows: growth,
        empty:
          "The history has fewer than two snapshots (perf.take_snapshot, every 5 minutes).",
        chart: historyChart(
          sizeHistory,
          (r) => `${r.schema_name}.${r.table_name}`,
          "total_bytes",
          "bytes (tables with their indexes)",
        ),
      },
      {
        id: "vacuum",
        title: "Vacuum health",
        intro:
          "perf.vacuum_health(): tables over their own autovacuum thresholds (storage options included), or with autovacuum off.",
        columns: [
          col("table_name", "table"),
          col("kind"),
          col("autovacuum_enabled", "autovacuum"),
          num("live_rows", "live"),
          num("dead_rows", "dead"),
          num("vacuum_threshold", "threshold"),
          num("inserted_since_vacuum", "inserted"),
          num("insert_threshold", "insert threshold"),
          col("level"),
          col("reason"),
          code("fix"),
        ],
        rows: vacuum,
        empty: "Autovacuum keeps up with every table.",
      },
      {
        id: "bloat",
        title: "Bloat (estimated, 10 MB and 20 % or more)",
        intro:
          "perf.bloat_estimates(): from the planner's statistics, no page read (±20 %).",
        columns: [
          col("table_name", "table"),
          col("index_name", "index"),
          col("kind"),
          num("actual_bytes", "bytes"),
          num("expected_bytes", "expected"),
          num("bloat_bytes", "bloat bytes"),
          num("bloat_ratio", "ratio"),
          code("fix"),
        ],
        rows: bloat,
        empty: "No table or index is estimated 10 MB and 20 % bloated.",
      },
      {
        id: "wraparound",
        title: "Transaction-id wraparound",
        intro:
          "perf.wraparound_danger(0): every database of the server and this database's ten oldest tables; error from half the id space.",
        columns: [
          col("scope"),
          col("database"),
          col("table_name", "table"),
          num("xid_age", "xid age"),
          num("xid_freeze_max_age", "freeze max age"),
          num("mxid_age", "mxid age"),
          num("wraparound_fraction", "fraction"),
          num("xids_remaining", "xids left"),
          col("level"),
        ],
        rows: wrap,
        empty: "No data.",
      },
      {
        id: "sequences",
        title: "Sequences and identities nearest their limit",
        intro:
          "perf.sequence_overflow(0): warning from 75 % of the range, error from 95 %.",
        columns: [
          col("sequence_name", "sequence"),
          col("table_name", "table"),
          col("column_name", "column"),
          col("column_type", "type"),
          num("next_value", "next"),
          num("limit_value", "limit"),
          num("used_fraction", "used"),
          col("level"),
          code("fix"),
        ],
        rows: seqs,
        empty: "No sequence.",
      },
      {
        id: "not-valid",
        title: "NOT VALID constraints",
        intro:
          "perf.not_valid_constraints(): added NOT VALID and never validated; the rows already there are unchecked.",
        columns: [
          col("table_name", "table"),
          col("constraint_name", "constraint"),
          col("constraint_type", "type"),
          code("definition"),
          code("fix"),
        ],
        rows: notValid,
        empty: "Every constraint is validated.",
      },
      {
        id: "maintenance",
        title: "Vacuum and analyze",
        intro:
          "perf.table_maintenance(): dead rows and the latest (auto)vacuum and (auto)analyze.",
        columns: [
          col("table_name", "table"),
          num("partitions"),
          num("live_rows", "live"),
          num("dead_rows", "dead"),
          num("dead_percent", "dead %"),
          num("modified_since_analyze", "modified since analyze"),
          col("last_autovacuum", "last autovacuum"),
          col("last_vacuum", "last vacuum"),
          col("last_autoanalyze", "last autoanalyze"),
          col("last_analyze", "last analyze"),
        ],
        rows: maintenance,
        empty: "No table.",
      },
      {
        id: "analyze",
        title: "Tables needing ANALYZE",
        intro:
          "perf.tables_needing_analyze(): no statistics, or modified past autovacuum's own threshold.",
        columns: [
          col("table_name", "table"),
          col("kind"),
          num("live_rows", "rows"),
          num("modified_since_analyze", "modified"),
          num("threshold"),
          col("last_analyze", "last analyze"),
          col("reason"),
        ],
        rows: analyze,
        empty: "Every table's statistics are current.",
      },
      {
        id: "seq-scans",
        title: "Tables read by sequential scans",
        intro: "perf.seq_scan_tables(95, 10000)",
        columns: [
          col("table_name", "table"),
          num("live_rows", "rows"),
          num("seq_scans", "seq scans"),
          num("seq_rows_read", "rows read"),
          num("index_scans", "index scans"),
          num("index_share", "index %"),
          col("size"),
        ],
        rows: seq,
        empty:
          "Every table of 10,000 rows or more is read through indexes (95 %).",
      },
      {
        id: "cache",
        title: "Cache hit ratio",
        intro: "perf.cache_hit_ratio(0.99)",
        columns: [
          col("scope"),
          num("blocks_hit", "hit"),
          num("blocks_read", "read"),
          num("ratio"),
          col("status"),
        ],
        rows: cache,
        empty: "No data.",
      },
    ];
  },
};

const activity: Page = {
  path: "/activity",
  title: "Connections",
  async load({ monitor }) {
    const [conns, blocked, long, repl] = await Promise.all([
      q.connections(monitor),
      q.blockedQueries(monitor),
      q.longRunningQueries(monitor),
      q.replication(monitor),
    ]);
    return [
      {
        id: "connections",
        title: "Connections",
        intro:
          "perf.connections(): client connections by database, application and state.",
        columns: [
          col("database"),
          col("application"),
          col("state"),
          num("connections"),
          num("waiting_on_locks", "waiting"),
          col("longest_in_state", "longest in state"),
          num("total_connections", "total"),
          num("max_connections", "max"),
          num("used_percent", "used %"),
          col("level"),
        ],
        rows: conns,
        empty: "No client connection.",
        chart: {
          type: "bar",
          labels: conns.map(
            (r) =>
              `${r.database} / ${r.application || "–"} / ${r.state ?? "–"}`,
          ),
          datasets: [
            { label: "connections", data: conns.map((r) => n(r.connections)) },
          ],
          y: "connections",
        },
      },
      {
        id: "blocked",
        title: "Blocked queries",
        intro:
          "perf.blocked_queries(): sessions waiting for a lock, and who holds it.",
        columns: [
          num("pid"),
          col("username"),
          col("waiting_for", "waiting for"),
          col("waiting"),
          code("query"),
          num("blocking_pid", "blocked by"),
          col("blocking_state", "its state"),
          col("blocking_transaction_duration", "its transaction"),
          code("blocking_query", "its query"),
        ],
        rows: blocked,
        empty: "No session waits for a lock.",
      },
      {
        id: "long-running",
        title: "Long-running statements and transactions (1 minute or more)",
        intro: "perf.long_running_queries('1 minute')",
        columns: [
          num("pid"),
          col("username"),
          col("application"),
          col("backend_type", "backend"),
          col("state"),
          col("query_duration", "statement"),
          col("transaction_duration", "transaction"),
          col("wait_event", "wait"),
          code("query"),
        ],
        rows: long,
        empty: "Nothing has run for a minute or more.",
      },
      {
        id: "replication",
        title: "Replication",
        intro:
          "perf.replication_health(): replicas, slots, and on a standby its replay delay.",
        columns: [
          col("kind"),
          col("name"),
          col("state"),
          col("active"),
          num("lag_bytes", "lag bytes"),
          col("replay_lag", "replay lag"),
          num("retained_wal_bytes", "retained WAL"),
          num("xmin_age", "xmin age"),
          col("level"),
          col("reason"),
          code("fix"),
        ],
        rows: repl,
        empty:
          "No replica, no replication slot: nothing replicates from this server.",
      },
    ];
  },
};

const jobs: Page = {
  path: "/jobs",
  title: "Jobs",
  async load({ monitor }) {
    const [health, runs] = await Promise.all([
      q.jobHealth(monitor),
      q.jobRuns(monitor),
    ]);
    const recent = [...runs].reverse();
    return [
      {
        id: "health",
        title: "pg_cron jobs",
        intro:
          "perf.job_health(): failures and durations over 7 days. pg_cron lives in one database of the server; elsewhere this is empty.",
        columns: [
          col("name"),
          col("schedule"),
          col("active"),
          col("last_status", "last status"),
          col("last_start", "last start"),
          col("last_duration", "last duration"),
          num("runs_7d", "runs 7 d"),
          num("failures_7d", "failures 7 d"),
          col("avg_duration_7d", "mean 7 d"),
          col("level"),
          code("last_failure_message", "last failure"),
        ],
        rows: health,
        empty:
          "No querybudget_ pg_cron job in this database (pg_cron lives in the database cron.database_name names).",
      },
      {
        id: "runs",
        title: "Latest runs",
        intro: "perf.job_runs(100), newest first.",
        columns: [
          col("job_name", "job"),
          num("runid"),
          col("status"),
          col("start_time", "start"),
          col("duration"),
          code("message"),
        ],
        rows: runs,
        empty: "No run recorded.",
        chart: {
          type: "line",
          labels: recent.map((r) => formatValue(r.start_time)),
          datasets: [
            {
              label: "duration ms",
              data: recent.map((r) => intervalMs(r.duration)),
            },
          ],
          y: "milliseconds",
        },
      },
    ];
  },
};

export const PAGES: Page[] = [
  overview,
  routines,
  queries,
  indexes,
  tables,
  activity,
  jobs,
];

// --- HTML ----------------------------------------------------------------------------------

/** An interval as postgres.js returns it ("00:00:01.234567", "1 day 02:00:00") in ms. */
export function intervalMs(v: unknown): number | null {
  if (typeof v !== "string") return null;
  const m = /(?:(\d+) days? )?(-?)(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(v);
  if (!m) return null;
  const ms =
    ((Number(m[1] ?? 0) * 24 + Number(m[3])) * 60 + Number(m[4])) * 60_000 +
    Number(m[5]) * 1000;
  return m[2] ? -ms : ms;
}

export function formatValue(v: unknown): string {
  if (v === null || v === undefined || v === "") return "–";
  if (v instanceof Date) return v.toISOString().slice(0, 19).replace("T", " ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function renderChart(chart: Chart) {
  return html`<div class="chart">
    <canvas data-chart="${JSON.stringify(chart)}"></canvas>
  </div>`;
}

function renderSection(s: Section) {
  const table = s.rows.length
    ? html`<table>
        <thead>
          <tr>
            ${s.columns.map((c) => html`<th class="${c.kind ?? ""}">${c.label}</th>`)}
          </tr>
        </thead>
        <tbody>
          ${s.rows.map(
            (r) =>
              html`<tr
                class="${typeof r.severity === "string" ? r.severity : typeof r.level === "string" ? r.level : ""}"
              >
                ${s.columns.map((c) => html`<td class="${c.kind ?? ""}" data-column="${c.key}">${formatValue(r[c.key])}</td>`)}
              </tr>`,
          )}
        </tbody>
      </table>`
    : html`<p class="empty">${s.empty}</p>`;
  return html`<section
    id="${s.id}"
    data-section="${s.id}"
    data-rows="${s.rows.length}"
  >
    <h2>${s.title} <span class="count">${s.rows.length}</span></h2>
    ${s.intro ? html`<p class="intro">${s.intro}</p>` : ""}
    ${s.chart && s.rows.length ? renderChart(s.chart) : ""} ${table}
  </section>`;
}

const STYLE = raw(`
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; }
header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 20px; align-items: baseline; }
header a { color: #cfd8ea; text-decoration: none; } header a.current { color: #fff; font-weight: 600; }
header .db { margin-left: auto; color: #9aa6bd; }
main { padding: 10px 20px 40px; }
section { margin: 18px 0 28px; }
h2 { font-size: 17px; margin: 0 0 4px; } h2 .count { font-weight: 400; color: #6b7486; font-size: 13px; }
.intro, .empty { color: #5a6375; margin: 2px 0 8px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e4e7ee; vertical-align: top; }
th { background: #f3f5f9; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.code { font-family: ui-monospace, monospace; font-size: 12px; white-space: pre-wrap; word-break: break-word; max-width: 60ch; }
tr.error td:first-child { border-left: 4px solid #d33; } tr.warning td:first-child { border-left: 4px solid #e9a100; }
tr.notice td:first-child { border-left: 4px solid #7a8aa6; }
.chart { position: relative; height: 280px; max-width: 1100px; margin: 8px 0 12px; }
`);

export function renderPage(page: Page, database: string, sections: Section[]) {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>${page.title} · querybudget</title>
        <style>
          ${STYLE}
        </style>
        <script src="/static/chart.umd.js" defer></script>
        <script src="/static/charts.js" defer></script>
      </head>
      <body data-page="${page.path}">
        <header>
          <strong>querybudget</strong>
          ${PAGES.map((p) => html`<a href="${p.path}" class="${p === page ? "current" : ""}">${p.title}</a>`)}
          <span class="db"
            >${database} · read-only, as querybudget_monitor</span
          >
        </header>
        <main>
          <h1>${page.title}</h1>
          ${sections.map(renderSection)}
        </main>
      </body>
    </html>`;
}
