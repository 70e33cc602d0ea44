// The report as Markdown (reports/latest.md) and the table printed on stdout. Tables are
// padded, so the Markdown reads as well in a terminal as rendered.
import { MEASURED_THROUGH } from "../before/index.ts";
import { DEFAULT_RUNS } from "../workload.ts";
import {
  BUDGET_P95_MS,
  counted,
  FOLD_BUDGET,
  isBulk,
  missed,
  TARGETS,
} from "./checks.ts";
import type {
  Check,
  FunctionMeasurement,
  Report,
  TierMeasurement,
} from "./types.ts";

/** A Markdown table, cells padded to their column's width; `align` per column: "l" or "r". */
export function table(
  header: string[],
  rows: string[][],
  align: ("l" | "r")[] = [],
): string {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length), 3),
  );
  const cell = (text: string, i: number) =>
    align[i] === "r" ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => cell(c, i)).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (align[i] === "r" ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

export const rowsLabel = (n: number) => n.toLocaleString("en-US");
export const short = (name: string) => name.replace(/^(api|app)\./, "");

/** Milliseconds with 2 significant decimals below 10, 1 below 100, none above. */
export function ms(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "–";
  if (x < 1) return x.toFixed(2);
  if (x < 10) return x.toFixed(2);
  if (x < 100) return x.toFixed(1);
  return x.toFixed(0);
}

const MISS = "✗";

function mark(text: string, failing: boolean): string {
  return failing ? `${text} ${MISS}` : text;
}

/** One line per access path: "chunks: Index Scan chunks_pkey (1/16)". */
export function accessSummary(f: FunctionMeasurement): string {
  return f.access
    .map(
      (a) =>
        `${short(a.table)}: ${a.scan}${a.index ? ` ${short(a.index)}` : ""}${a.partitions ? ` (${a.partitions})` : ""}`,
    )
    .join("; ");
}

/** The main table of one tier. */
export function tierTable(tier: TierMeasurement, checks: Check[]): string {
  const header = [
    "routine",
    "kind",
    "calls",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "buffers",
    "stmts",
    "before p50 ms",
    "before stmts",
    "× faster",
  ];
  const align: ("l" | "r")[] = [
    "l",
    "l",
    "r",
    "r",
    "r",
    "r",
    "r",
    "r",
    "r",
    "r",
    "r",
  ];
  const rows = tier.functions.map((f) => {
    const miss = missed(checks, f.name, tier.rows);
    const has = (pattern: RegExp) => miss.some((c) => pattern.test(c.rule));
    if (f.error)
      return [
        short(f.name),
        f.kind,
        "0",
        `error ${MISS}`,
        "",
        "",
        "",
        "",
        "",
        "",
        "",
      ];
    const kind = isBulk(f)
      ? `${f.kind}, ${f.ids} ids`
      : f.unit === "batch"
        ? `${f.kind}, per batch`
        : f.kind;
    const stmts = `${f.statements}${f.fkChecks ? ` +${f.fkChecks} fk` : ""}`;
    return [
      short(f.name),
      kind,
      String(f.timing.calls),
      ms(f.timing.p50),
      mark(ms(f.timing.p95), has(/^p95|p95 ≤/)),
      ms(f.timing.p99),
      mark(String(f.buffers.total), has(/^buffers/)),
      mark(stmts, has(/^statements/)),
      f.before
        ? f.before.error
          ? `error ${MISS}`
          : ms(f.before.timing.p50)
        : "–",
      f.before && !f.before.error ? String(f.before.statements) : "–",
      mark(
        f.ratio !== undefined ? `${f.ratio}×` : "–",
        has(/faster than before/),
      ),
    ];
  });
  return table(header, rows, align);
}

/** p95 and buffers of each routine at each tier. */
export function acrossTiersTable(tiers: TierMeasurement[]): string {
  const sorted = [...tiers].sort((a, b) => a.rows - b.rows);
  const names = [
    ...new Set(sorted.flatMap((t) => t.functions.map((f) => f.name))),
  ];
  const header = [
    "routine",
    ...sorted.map((t) => `p95 ms at ${rowsLabel(t.rows)}`),
    ...sorted.map((t) => `buffers at ${rowsLabel(t.rows)}`),
  ];
  const rows = names.map((name) => {
    const fs = sorted.map((t) => t.functions.find((f) => f.name === name));
    return [
      short(name),
      ...fs.map((f) => (f && !f.error ? ms(f.timing.p95) : "–")),
      ...fs.map((f) => (f && !f.error ? String(f.buffers.total) : "–")),
    ];
  });
  return table(header, rows, ["l", ...header.slice(1).map(() => "r" as const)]);
}

/** "Seeded in 512.3 s (backend CPU 301.2 s; 22 indexes built after the load in 80.1 s); database 9.4 GB. " */
export function seedLine(tier: TierMeasurement): string {
  if (tier.seedSeconds === undefined) return "";
  const notes = [
    tier.seedCpuSeconds !== undefined
      ? `seeding backend CPU ${tier.seedCpuSeconds.toFixed(1)} s`
      : "",
    tier.seedIndexes?.deferred
      ? `${tier.seedIndexes.deferred} indexes built after the load in ${tier.seedIndexes.buildSeconds.toFixed(1)} s`
      : "",
  ].filter(Boolean);
  return (
    `Seeded in ${tier.seedSeconds.toFixed(1)} s${notes.length ? ` (${notes.join("; ")})` : ""}` +
    (tier.databaseBytes !== undefined
      ? `; database ${sizeLabel(tier.databaseBytes)}`
      : "") +
    ". "
  );
}

/** Bytes as "9.4 GB", "312 MB". */
export function sizeLabel(bytes: number): string {
  const units = ["bytes", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 || u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/**
 * "## Statistics": per tier, what api.collection_statistics costs to read (default and fresh),
 * what keeping the statistics costs each write routine (with, statistics' part, without), the
 * fold after N writes, and the refreshes (the per-collection view; the operator view, when the
 * database has it). Empty when nothing of it was measured.
 */
export function statisticsSection(tiers: TierMeasurement[]): string[] {
  const sorted = [...tiers].sort((a, b) => a.rows - b.rows);
  const read = (t: TierMeasurement, name: string) =>
    t.functions.find((f) => f.name === name && !f.error);
  const writers = [
    ...new Set(
      sorted.flatMap((t) =>
        t.functions.filter((f) => f.statisticsCost).map((f) => f.name),
      ),
    ),
  ];
  const anyFold = sorted.some((t) => t.fold?.length || t.statisticsError);
  if (
    !writers.length &&
    !anyFold &&
    !sorted.some((t) => read(t, "api.collection_statistics"))
  )
    return [];
  const out: string[] = [`## Statistics`, ""];
  out.push(
    `How \`api.collection_statistics\` is served at each tier: its default (the totals the writers keep plus the deltas not yet folded) should cost the same whatever the data's size; ` +
      `\`p_fresh => true\` computes from the rows. How it is measured: docs/benchmark.md, "Statistics".`,
    "",
  );
  out.push(
    table(
      [
        "tier",
        "default p50 ms",
        "default p95 ms",
        "default buffers",
        "fresh p95 ms",
        "fresh buffers",
        "operator view refresh ms",
      ],
      sorted.map((t) => {
        const d = read(t, "api.collection_statistics");
        const f = read(t, "api.collection_statistics (fresh)");
        return [
          rowsLabel(t.rows),
          d ? ms(d.timing.p50) : "–",
          d ? ms(d.timing.p95) : "–",
          d ? String(d.buffers.total) : "–",
          f ? ms(f.timing.p95) : "–",
          f ? String(f.buffers.total) : "–",
          t.operatorRefresh
            ? ms(t.operatorRefresh.medianMs)
            : "not in this build",
        ];
      }),
      ["l", "r", "r", "r", "r", "r", "r"],
    ),
    "",
  );
  if (writers.length) {
    out.push(
      `### Keeping the statistics, per write routine`,
      "",
      `Each write appends its change to \`app.collection_stat_deltas\` in its own statement. From the plans of the same calls (auto_explain, every nested statement, rolled back; median of the sampled calls): ` +
        `"statistics" is the plan nodes that insert into app.collection_stat_deltas and everything under them, CTE Scans taken out (a CTE Scan that runs the writer's own statement is charged with it); ` +
        `"with" is the whole call, "without" = with − statistics. Server milliseconds are instrumented (every node timed); the client p50 is the routine's timed calls above.`,
      "",
    );
    const header = ["routine"];
    for (const t of sorted)
      header.push(
        `buffers with / stats / without at ${rowsLabel(t.rows)}`,
        `ms with / stats / without (share) at ${rowsLabel(t.rows)}`,
      );
    out.push(
      table(
        header,
        writers.map((name) => {
          const row = [short(name)];
          for (const t of sorted) {
            const f = t.functions.find((g) => g.name === name);
            const c = f?.statisticsCost;
            row.push(
              c
                ? `${c.withBuffers} / ${c.statisticsBuffers} / ${c.withoutBuffers}`
                : "–",
              c
                ? `${ms(c.withMs)} / ${ms(c.statisticsMs)} / ${ms(c.withoutMs)} (${pct(c.share)})`
                : "–",
            );
          }
          return row;
        }),
        ["l", ...header.slice(1).map(() => "r" as const)],
      ),
      "",
    );
  }
  if (anyFold) {
    out.push(
      `### The fold`,
      "",
      `\`maint.fold_collection_stat_deltas()\` after N committed api writes (the operation queue's cycle over 100 collections: enqueue 2, claim 2, finish them), timed at the client; median of the rounds (one round above 1,000 writes), and when the server runs on this machine the same less the time the folding backend waited for a CPU (/proc/<pid>/schedstat: other work on the machine) and its time on a CPU. Budget (on the time without CPU wait when known): ${FOLD_BUDGET.writes.toLocaleString("en-US")} writes folded in ≤ ${FOLD_BUDGET.ms} ms.`,
      "",
    );
    for (const t of sorted)
      if (t.statisticsError)
        out.push(`At ${rowsLabel(t.rows)}: ${MISS} ${t.statisticsError}`, "");
    const counts = [
      ...new Set(sorted.flatMap((t) => (t.fold ?? []).map((f) => f.writes))),
    ].sort((a, b) => a - b);
    out.push(
      table(
        ["tier", ...counts.map((n) => `${rowsLabel(n)} writes: deltas, ms`)],
        sorted.map((t) => [
          rowsLabel(t.rows),
          ...counts.map((n) => {
            const f = t.fold?.find((x) => x.writes === n);
            return f
              ? `${f.deltas} in ${f.collections} coll., ${ms(f.medianMs)} (${f.runsMs.map(ms).join(", ")})` +
                  (f.medianBusyMs !== undefined
                    ? `; without CPU wait ${ms(f.medianBusyMs)}, on CPU ${f.cpuMs!.map(ms).join(", ")}`
                    : "")
              : "–";
          }),
        ]),
        ["l", ...counts.map(() => "r" as const)],
      ),
      "",
    );
  }
  return out;
}

function checkValue(v: number | string): string {
  return typeof v === "number" ? String(Math.round(v * 1000) / 1000) : v;
}

export function checksTable(checks: Check[], onlyFailed = false): string {
  const list = onlyFailed ? checks.filter((c) => !c.ok) : checks;
  return table(
    ["", "kind", "routine", "rule", "value", "limit", "note"],
    list.map((c) => [
      c.exempt ? "n/a" : c.ok ? "ok" : MISS,
      c.kind,
      c.function ? short(c.function) : "",
      c.rule,
      checkValue(c.value),
      checkValue(c.limit),
      c.exempt ?? "",
    ]),
  );
}

function summary(report: Report): string[] {
  const budgets = counted(report.checks).filter((c) => c.kind === "budget");
  const targets = counted(report.checks).filter((c) => c.kind === "target");
  const exempt = report.checks.length - counted(report.checks).length;
  const failedBudgets = budgets.filter((c) => !c.ok);
  const missedTargets = targets.filter((c) => !c.ok);
  const largest = Math.max(...report.tiers.map((t) => t.rows));
  return [
    failedBudgets.length === 0
      ? `**Budgets: all ${budgets.length} hold** (p95 ≤ ${BUDGET_P95_MS} ms for every api routine at ${rowsLabel(largest)} rows; the purge per batch).`
      : `**Budgets: ${failedBudgets.length} of ${budgets.length} FAILED**: ${failedBudgets.map((c) => `${short(c.function ?? "")} (${checkValue(c.value)})`).join(", ")}. \`npm start\` exits 1.`,
    `**Targets: ${targets.length - missedTargets.length} of ${targets.length} met**${missedTargets.length ? ` (missed ones are marked ${MISS})` : ""}` +
      `${exempt ? `; ${exempt} not applicable (n/a: the work grows with the subject by design, see the notes)` : ""}.`,
  ];
}

export function renderMarkdown(report: Report): string {
  const sorted = [...report.tiers].sort((a, b) => b.rows - a.rows);
  const o = report.options;
  const e = report.environment;
  const out: string[] = [];
  out.push(`# querybudget report`);
  out.push("");
  out.push(
    `${report.generatedAt} · ${e.postgres} (${e.server}) · Node ${e.node} · ${e.cpus} CPUs, load average ${e.loadAverage?.[1] ?? "?"} (5 min) · ` +
      `tiers ${report.tiers.map((t) => rowsLabel(t.rows)).join(", ")} rows (seed ${o.seed}). ` +
      `Each api routine: ${o.warmup} warm-up calls, then ${o.calls} timed calls through postgres.js (client side, round trip included); ` +
      `its before side: ${o.beforeCalls} timed calls. ` +
      (e.jobsPaused?.length
        ? `pg_cron jobs paused during the run: ${e.jobsPaused.join(", ")}. `
        : "") +
      `How to read it: docs/benchmark.md.`,
  );
  out.push("");
  out.push(...summary(report));
  out.push("");
  for (const tier of sorted) {
    out.push(`## ${rowsLabel(tier.rows)} rows`);
    out.push("");
    out.push(tierTable(tier, report.checks));
    out.push("");
    const seeded = seedLine(tier);
    out.push(
      `${seeded}\`maint.refresh_tenant_overview()\` (the operators' per-tenant view, concurrently): ${ms(tier.refresh.medianMs)} ms ` +
        `(median of ${tier.refresh.runsMs.map(ms).join(", ")}). Measured in ${tier.seconds.toFixed(1)} s.`,
    );
    if (tier.notMeasured.length)
      out.push(
        `\nNot measured (no workload entry): ${tier.notMeasured.map((n) => `\`${n}\``).join(", ")}.`,
      );
    out.push("");
  }
  out.push(...statisticsSection(report.tiers));
  if (report.tiers.length > 1) {
    out.push(`## Across tiers`);
    out.push("");
    out.push(acrossTiersTable(report.tiers));
    out.push("");
  }
  const largest = sorted[0];
  if (largest) {
    out.push(`## Access paths at ${rowsLabel(largest.rows)} rows`);
    out.push("");
    out.push(
      `From auto_explain of call ${DEFAULT_RUNS} of a session (cached plans), nested statements included; partitions scanned of all in parentheses.`,
    );
    out.push("");
    out.push(
      table(
        ["routine", "access paths", "intended indexes"],
        largest.functions.map((f) => [
          short(f.name),
          (accessSummary(f) || "–") +
            (f.largeSeqScans.length
              ? ` ${MISS} Seq Scan on ${f.largeSeqScans.join(", ")}`
              : ""),
          f.intendedIndexes.map(short).join(", ") +
            (f.missingIndexes.length
              ? ` ${MISS} unused: ${f.missingIndexes.map(short).join(", ")}`
              : ""),
        ]),
      ),
    );
    out.push("");
    out.push(`## What was called`);
    out.push("");
    out.push(
      `Arguments from scripts/lib/workload.ts (chosen from the data in hash order, rotated over the calls); the before side from scripts/lib/before/index.ts.`,
    );
    out.push("");
    out.push(
      table(
        ["routine", "subject", "argument sets", "before side"],
        largest.functions.map((f) => [
          short(f.name),
          f.subject,
          String(f.argumentSets),
          f.before
            ? `${f.before.name}: ${f.before.pattern}`
            : MEASURED_THROUGH[f.routine]
              ? `– (compared as a whole: ${short(MEASURED_THROUGH[f.routine]!)})`
              : "–",
        ]),
      ),
    );
    out.push("");
  }
  out.push(`## Budgets and targets`);
  out.push("");
  out.push(
    `Budget (fails the run): p95 ≤ ${BUDGET_P95_MS} ms per routine at the largest tier. Targets (reported): reads p95 ≤ ${TARGETS.readP95Ms} ms, ` +
      `collection_statistics p95 ≤ ${TARGETS.collectionStatisticsP95Ms} ms, buffers at the largest tier ≤ ${TARGETS.bufferGrowth}× those at the smallest, ` +
      `bulk routines ≥ ${TARGETS.bulkSpeedup}× faster than before, statements per call constant, the intended indexes used.`,
  );
  out.push("");
  out.push(checksTable(report.checks));
  out.push("");
  if (report.charts.length) {
    out.push(`## Charts`);
    out.push("");
    for (const chart of report.charts) out.push(`![${chart}](${chart})`, "");
  }
  return out.join("\n");
}

/** What `npm start` prints on stdout: the table of each tier, the summary, the missed checks. */
export function renderConsole(report: Report): string {
  const out: string[] = [];
  for (const tier of [...report.tiers].sort((a, b) => a.rows - b.rows)) {
    out.push(
      "",
      `## ${rowsLabel(tier.rows)} rows (tenant overview refresh ${ms(tier.refresh.medianMs)} ms)`,
      "",
    );
    out.push(tierTable(tier, report.checks));
    if (tier.seedSeconds !== undefined) out.push("", seedLine(tier).trim());
  }
  const stats = statisticsSection(report.tiers);
  if (stats.length) out.push("", ...stats);
  out.push("", ...summary(report).map((s) => s.replace(/\*\*/g, "")));
  if (report.checks.some((c) => !c.ok))
    out.push("", checksTable(report.checks, true));
  return out.join("\n") + "\n";
}
