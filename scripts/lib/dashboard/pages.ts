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

// --- the pages -----------------------------------------------------------------------------

const overview: Page = {
  path: "/",
  title: "Overview",
  async load({ monitor }) {
    const [findings, vitals] = await Promise.all([
      q.attention(monitor),
      q.vitals(monitor),
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
    const [live, chunks] = await Promise.all([
      q.routineStatistics(monitor),
      q.chunkRows(monitor),
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
    const sections: Section[] = [
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
    const [sizes, maintenance, analyze, seq, cache] = await Promise.all([
      q.tableSizes(monitor),
      q.tableMaintenance(monitor),
      q.tablesNeedingAnalyze(monitor),
      q.seqScanTables(monitor),
      q.cacheHitRatio(monitor),
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
    const [conns, blocked, long] = await Promise.all([
      q.connections(monitor),
      q.blockedQueries(monitor),
      q.longRunningQueries(monitor),
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
