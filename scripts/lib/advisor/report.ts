// The advisor's report for people: a table of the recommendations (planner cost, measured time
// and buffers before and after, size, insert slowdown, verdict), the create index statements,
// and the indexes to drop.
import type { AdvisorReport, RecommendationReport } from "./index.ts";

const bytes = (n: number) =>
  n >= 1 << 30
    ? `${(n / (1 << 30)).toFixed(1)} GB`
    : n >= 1 << 20
      ? `${(n / (1 << 20)).toFixed(1)} MB`
      : n >= 1024
        ? `${Math.round(n / 1024)} kB`
        : `${n} B`;
const ms = (n: number) =>
  n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toFixed(3);
const pct = (before: number, after: number) =>
  before > 0
    ? `${after <= before ? "-" : "+"}${Math.round((Math.abs(before - after) / before) * 100)} %`
    : "";
const oneLine = (s: string, max = 90) => {
  const t = s
    .replace(/\s+/g, " ")
    .replace(/^(--[^\n]*?\s)+/, "")
    .trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) =>
    Math.max(...rows.map((r) => (r[i] ?? "").length)),
  );
  return rows
    .map((r, j) => {
      const line = r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd();
      return j === 0
        ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}`
        : line;
    })
    .join("\n");
}

function indexLabel(r: RecommendationReport): string {
  return `${r.table} (${r.columns.join(", ")})${r.where ? ` where ${r.where}` : ""}`;
}

export function renderReport(report: AdvisorReport): string {
  const out: string[] = [];
  const w = report.workload;
  out.push(`Index advisor: database ${report.database}`);
  out.push(
    `workload: ${w.kind}${w.calls ? `, ${w.calls.calls} api calls in ${w.calls.seconds.toFixed(1)} s` : ""}${w.queries ? `, ${w.queries} queries` : ""}; ` +
      `${w.statements} statements (nested ones included), ${w.planned} planned, ${w.statements - w.planned} left aside` +
      (w.skipped.length
        ? ` (${w.skipped.map((s) => `${s.count} ${s.reason}`).join("; ")})`
        : ""),
  );
  out.push(
    `method: generic plans, ${report.candidates} candidate indexes costed with hypopg (${report.explains} EXPLAINs); recommended when a statement's cost drops by ` +
      `${Math.round(report.settings.minCostDrop * 100)} % or more (statements costing ${report.settings.minCost} or more); ` +
      (report.settings.validate
        ? "validated by building each on a throwaway copy"
        : "not validated (--no-validate)"),
  );
  out.push("");

  const recs = report.recommendations;
  if (recs.length === 0) {
    out.push(
      "No index to add: no candidate lowers the planner's cost of a statement by enough.",
    );
  } else {
    out.push(`Recommended indexes (${recs.length}):`);
    out.push("");
    const rows: string[][] = [
      [
        "#",
        "index",
        "statements",
        "planner cost",
        "measured per replay",
        "buffers per replay",
        "size",
        "insert",
        "verdict",
      ],
    ];
    recs.forEach((r, i) => {
      const v = r.validation;
      const costBefore = r.gains.reduce(
        (s, g) => s + g.costBefore * g.calls,
        0,
      );
      const costAfter = r.gains.reduce((s, g) => s + g.costAfter * g.calls, 0);
      const calls = r.gains.reduce((s, g) => s + g.calls, 0);
      rows.push([
        String(i + 1),
        indexLabel(r),
        String(r.gains.length),
        `${ms(costBefore / calls)} → ${ms(costAfter / calls)} (${pct(costBefore, costAfter)})`,
        v && v.units
          ? `${ms(v.totals.beforeMs)} → ${ms(v.totals.afterMs)} ms (${pct(v.totals.beforeMs, v.totals.afterMs)})`
          : "-",
        v && v.units
          ? `${Math.round(v.totals.beforeBuffers)} → ${Math.round(v.totals.afterBuffers)} (${pct(v.totals.beforeBuffers, v.totals.afterBuffers)})`
          : "-",
        v ? bytes(v.sizeBytes) : `~${bytes(r.estimatedBytes)}`,
        v?.insert
          ? `+${v.insert.slowdownPercent} % (${v.insert.rows} rows)`
          : "-",
        v ? v.verdict : "not validated",
      ]);
    });
    out.push(table(rows));
    out.push("");
    recs.forEach((r, i) => {
      out.push(
        `${i + 1}. ${indexLabel(r)}: ${r.validation ? `${r.validation.verdict}: ${r.validation.reason}` : "not validated"}`,
      );
      for (const g of r.gains) {
        out.push(
          `   - cost ${ms(g.costBefore)} → ${ms(g.costAfter)}, ${g.calls} calls${g.origin ? ` in ${g.origin}` : g.toplevel ? "" : " (nested)"}: ${oneLine(g.query)}`,
        );
      }
      const v = r.validation;
      if (v?.plansBefore.length || v?.plansAfter.length) {
        out.push(`   plans before: ${v.plansBefore.join(", ") || "-"}`);
        out.push(`   plans after:  ${v.plansAfter.join(", ") || "-"}`);
      }
    });
    out.push("");
    const confirmed = recs.filter(
      (r) => !r.validation || r.validation.verdict !== "not confirmed",
    );
    out.push(
      "-- create the recommended indexes (CONCURRENTLY: writes go on while they build; outside a transaction)",
    );
    for (const r of recs) {
      const rejected = r.validation?.verdict === "not confirmed";
      if (rejected)
        out.push(`-- not confirmed by validation, left out: ${indexLabel(r)}`);
      else out.push(...r.createStatements);
    }
    if (confirmed.length === 0) out.push("-- (none)");
  }
  out.push("");

  if (report.drop.length) {
    const age = report.statistics
      ? `${report.statistics.stats_age}${report.statistics.stats_age_exact ? "" : " (server uptime: the counters may be older or younger)"}`
      : "unknown";
    out.push(
      `Indexes to drop (duplicates, and indexes not scanned in the statistics window: ${age}):`,
    );
    out.push("");
    out.push(
      table([
        ["index", "size", "why"],
        ...report.drop.map((d) => [d.index, bytes(d.sizeBytes), d.reason]),
      ]),
    );
    out.push("");
    out.push(
      "-- drop them (check the window first: an index used monthly looks unused after a week)",
    );
    for (const d of report.drop) out.push(d.statement);
  } else {
    out.push(
      "No index to drop: no duplicate, and every index was scanned in the statistics window.",
    );
  }
  if (report.notes.length) {
    out.push("");
    out.push("Notes:");
    for (const n of report.notes) out.push(`- ${n}`);
  }
  out.push("");
  out.push(`(${report.seconds.toFixed(1)} s)`);
  return out.join("\n");
}
