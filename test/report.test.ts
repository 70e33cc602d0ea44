// The report of `npm start` (scripts/lib/report/): the pipeline run for real on the 10k test
// database with few calls (measure every workload and its before side, checks, Markdown, JSON,
// SVG), then the parts that decide the exit code fed with made-up measurements.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  BEFORE,
  beforeSide,
  MEASURED_THROUGH,
} from "../scripts/lib/before/index.ts";
import {
  buildReport,
  charts,
  evaluate,
  FOLD_BUDGET,
  measureOperatorRefresh,
  OPERATOR_VIEW_REFRESH,
  sizeLabel,
  statisticsPart,
  statisticsSection,
  exitCode,
  isForeignKeyCheck,
  measureTier,
  renderConsole,
  renderMarkdown,
  timing,
  writeReport,
  type FunctionMeasurement,
  type Report,
  type TierMeasurement,
} from "../scripts/lib/report/index.ts";
import type {
  ExplainedStatement,
  PlanNode,
} from "../scripts/lib/plan/index.ts";
import { WORKLOAD } from "../scripts/lib/workload.ts";
import { useTestDatabase } from "./harness/database.ts";

const db = useTestDatabase("report");

let tier: TierMeasurement;
let report: Report;
let dir: string;
let files: string[];
let apiRoutines: string[];
/** Api routines whose body appends to app.collection_stat_deltas (from pg_proc, not from the report). */
let keepingStatistics: string[];

beforeAll(async () => {
  const { sql, url } = db();
  apiRoutines = (
    await sql<
      { name: string }[]
    >`select 'api.' || proname as name from pg_proc where pronamespace = 'api'::regnamespace order by 1`
  ).map((r) => r.name);
  // api routines whose body appends to app.collection_stat_deltas, or calls an app function
  // that does (api.delete_documents: app.hard_delete_documents)
  keepingStatistics = (
    await sql<{ name: string }[]>`
      with keepers as (
        select n.nspname || '.' || p.proname as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname in ('api', 'app')
          and position('insert into app.collection_stat_deltas' in lower(p.prosrc)) > 0)
      select distinct 'api.' || p.proname as name from pg_proc p
      where p.pronamespace = 'api'::regnamespace
        and exists (select from keepers k
                    where k.name = 'api.' || p.proname or position(k.name || '(' in lower(p.prosrc)) > 0)
      order by 1`
  ).map((r) => r.name);
  tier = await measureTier(url, 10_000, {
    calls: 5,
    warmup: 1,
    beforeCalls: 3,
    beforeWarmup: 0,
    argumentSets: 3,
    procedureSubjects: 2,
    minBatches: 1,
    statisticsSamples: 3,
    foldWrites: [30],
    foldRounds: 2,
  });
  report = await buildReport(url, [tier], {
    calls: 5,
    warmup: 1,
    beforeCalls: 3,
    serverKind: "test",
  });
  dir = await mkdtemp(join(tmpdir(), "qb-report-"));
  files = await writeReport(report, dir);
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Well-formed XML: balanced tags, one root, quoted attributes, no stray < or &. Returns the problems. */
function xmlProblems(text: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  let roots = 0;
  const token =
    /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<[^>]*>|&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);|[<>&]/g;
  let last = 0;
  for (const m of text.matchAll(token)) {
    const t = m[0];
    const between = text.slice(last, m.index);
    last = m.index! + t.length;
    if (stack.length === 0 && between.trim() !== "")
      problems.push(`text outside the root: ${between.trim().slice(0, 30)}`);
    if (t === "<" || t === "&") problems.push(`a raw ${t} at ${m.index}`);
    if (
      t.startsWith("<!--") ||
      t.startsWith("<?") ||
      t.startsWith("&") ||
      t === ">"
    )
      continue;
    const close = /^<\/([A-Za-z][\w:.-]*)\s*>$/.exec(t);
    if (close) {
      const open = stack.pop();
      if (open !== close[1]) problems.push(`</${close[1]}> closes <${open}>`);
      continue;
    }
    const open =
      /^<([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>$/.exec(t);
    if (!open) {
      problems.push(`a malformed tag: ${t.slice(0, 60)}`);
      continue;
    }
    if (stack.length === 0) roots++;
    if (open[3] !== "/") stack.push(open[1]!);
  }
  if (text.slice(last).trim() !== "") problems.push("text after the root");
  if (stack.length) problems.push(`unclosed: ${stack.join(" > ")}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}

describe("the measured report (10k test database, few calls)", () => {
  test("pairs every api routine with a before side or with the routine it is measured through", () => {
    for (const routine of apiRoutines) {
      if (MEASURED_THROUGH[routine])
        expect(apiRoutines, routine).toContain(MEASURED_THROUGH[routine]);
      else
        expect(Object.keys(BEFORE), `${routine} has a before side`).toContain(
          routine,
        );
    }
    for (const w of WORKLOAD)
      expect(
        beforeSide(w.routine) ?? MEASURED_THROUGH[w.routine],
        w.name,
      ).toBeDefined();
  });

  test("the JSON has every api routine and every workload, without errors", async () => {
    const json = JSON.parse(
      await readFile(join(dir, "latest.json"), "utf8"),
    ) as Report;
    expect(json.version).toBe(1);
    const measured = json.tiers[0]!.functions;
    expect(measured.map((f) => f.name)).toEqual(
      expect.arrayContaining(WORKLOAD.map((w) => w.name)),
    );
    expect(measured).toHaveLength(WORKLOAD.length);
    const covered = new Set(measured.map((f) => f.routine));
    for (const routine of apiRoutines)
      expect(
        covered.has(routine) || covered.has(MEASURED_THROUGH[routine] ?? ""),
        routine,
      ).toBe(true);
    expect(json.tiers[0]!.notMeasured).toEqual([]);
    for (const f of measured) {
      expect(f.error, f.name).toBeUndefined();
      expect(f.before?.error, f.name).toBeUndefined();
    }
  });

  test("percentiles are ordered, calls counted, buffers and statements read from the plans", () => {
    for (const f of tier.functions) {
      for (const t of [f.timing, f.before?.timing, f.wholeCall]) {
        if (!t || t.calls === 0) continue;
        expect(t.min, f.name).toBeGreaterThan(0);
        expect(t.p50, f.name).toBeGreaterThanOrEqual(t.min);
        expect(t.p95, f.name).toBeGreaterThanOrEqual(t.p50);
        expect(t.p99, f.name).toBeGreaterThanOrEqual(t.p95);
        expect(t.max, f.name).toBeGreaterThanOrEqual(t.p99);
      }
      if (f.kind !== "procedure") {
        expect(f.timing.calls, f.name).toBe(5);
        // A routine measured through another (the purge's batch) has no before side of its own.
        expect(f.before?.timing.calls, f.name).toBe(
          beforeSide(f.routine) ? 3 : undefined,
        );
      }
      expect(f.buffers.total, f.name).toBe(f.buffers.hit + f.buffers.read);
      expect(f.buffers.total, f.name).toBeGreaterThan(0);
      expect(f.statements, f.name).toBeGreaterThan(0);
      // a routine that only inserts a row of its own (api.create_tenant: no table is read) has no access path
      if (f.name !== "api.create_tenant")
        expect(f.access.length, f.name).toBeGreaterThan(0);
    }
  });

  test("statements per call: the api's do not grow with the ids, the before side's do", () => {
    const bulk = tier.functions.filter(
      (f) => f.ids !== undefined && f.kind !== "procedure",
    );
    expect(bulk.length).toBeGreaterThanOrEqual(5);
    for (const f of bulk) {
      expect(f.statementsWithOneId, f.name).toBe(f.statements);
      expect(
        f.before!.statements,
        `${f.name}: the before side sends a statement per id at least`,
      ).toBeGreaterThanOrEqual(f.ids!);
    }
    const gaps = tier.functions.find(
      (f) => f.name === "api.knowledge_gap_stats",
    )!;
    expect(gaps.before!.statements, "eleven COUNT queries").toBe(11);
  });

  test("ratios are before p50 / api p50 (the purge: per whole call)", () => {
    let compared = 0;
    for (const f of tier.functions) {
      if (!f.before || f.before.timing.calls === 0) continue;
      const api = f.wholeCall ?? f.timing;
      if (api.calls === 0) continue;
      expect(f.ratio, f.name).toBeCloseTo(f.before.timing.p50 / api.p50, 0);
      compared++;
    }
    // Every paired workload, but the purge at 10k (its one subject goes to the plan).
    const paired = tier.functions.filter(
      (f) => beforeSide(f.routine) && f.timing.calls > 0,
    );
    expect(paired.length).toBeGreaterThanOrEqual(WORKLOAD.length - 2);
    expect(compared).toBe(paired.length);
  });

  test("the Markdown has the table, a row per workload, the checks and the charts", async () => {
    const md = await readFile(join(dir, "latest.md"), "utf8");
    expect(md).toMatch(
      /^\| routine +\| kind +\| +calls \| +p50 ms \| +p95 ms \| +p99 ms \| +buffers \| +stmts \| +before p50 ms \| +before stmts \| +× faster \|$/m,
    );
    for (const w of WORKLOAD)
      expect(md).toMatch(
        new RegExp(
          `^\\| ${w.name.replace(/^api\./, "").replace(/[()]/g, "\\$&")} +\\|`,
          "m",
        ),
      );
    expect(md).toContain("## Budgets and targets");
    expect(md).toMatch(/\*\*Budgets: all \d+ hold\*\*/);
    for (const chart of report.charts) expect(md).toContain(`](${chart})`);
    expect(renderConsole(report)).toContain("| routine ");
    expect(files.map((f) => f.slice(dir.length + 1)).sort()).toEqual([
      "before-after.svg",
      "buffers-by-rows.svg",
      "latest.json",
      "latest.md",
      "p95-by-rows.svg",
    ]);
  });

  test("the SVGs are well-formed XML, with one series per workload and one group per paired routine", async () => {
    for (const name of report.charts) {
      const svg = await readFile(join(dir, name), "utf8");
      expect(svg.startsWith("<svg "), name).toBe(true);
      expect(xmlProblems(svg), name).toEqual([]);
    }
    const p95 = await readFile(join(dir, "p95-by-rows.svg"), "utf8");
    expect(p95.match(/<g class="series"/g)).toHaveLength(WORKLOAD.length);
    const bars = await readFile(join(dir, "before-after.svg"), "utf8");
    expect(bars.match(/<g class="group"/g)).toHaveLength(
      tier.functions.filter((f) => f.before && f.before.timing.calls > 0)
        .length,
    );
  });

  test("the XML check itself rejects what is not well-formed", () => {
    expect(xmlProblems(`<svg><g></svg>`)).not.toEqual([]);
    expect(xmlProblems(`<svg><text>a < b</text></svg>`)).not.toEqual([]);
    expect(xmlProblems(`<svg><text>R&D</text></svg>`)).not.toEqual([]);
    expect(xmlProblems(`<svg a=1></svg>`)).not.toEqual([]);
    expect(xmlProblems(`<svg/><svg/>`)).not.toEqual([]);
    expect(
      xmlProblems(`<svg x="1"><text>R&amp;D &lt;</text><g/></svg>`),
    ).toEqual([]);
  });
});

describe("the statistics section (10k test database, few calls)", () => {
  test("every write workload of a routine that appends statistics deltas has their cost, and only those", () => {
    expect(keepingStatistics.length).toBeGreaterThanOrEqual(6);
    const writes = tier.functions.filter((f) => f.kind === "write");
    const withCost = writes.filter((f) => f.statisticsCost);
    expect(withCost.length).toBeGreaterThanOrEqual(6);
    for (const f of withCost)
      expect(keepingStatistics, `${f.name} keeps statistics`).toContain(
        f.routine,
      );
    for (const f of writes)
      if (!keepingStatistics.includes(f.routine))
        expect(f.statisticsCost, f.name).toBeUndefined();
    for (const name of [
      "api.enqueue_operations",
      "api.finish_operations",
      "api.replace_chunks",
      "api.delete_documents (hard)",
    ])
      expect(
        tier.functions.find((f) => f.name === name)?.statisticsCost,
        name,
      ).toBeDefined();
    expect(
      tier.functions.filter((f) => f.kind === "read" && f.statisticsCost),
    ).toEqual([]);
  });

  test("with = statistics + without, the part within the whole, from the sampled calls", () => {
    for (const f of tier.functions) {
      const c = f.statisticsCost;
      if (!c) continue;
      expect(c.samples, f.name).toBe(3);
      expect(c.withoutBuffers, f.name).toBe(
        c.withBuffers - c.statisticsBuffers,
      );
      // a call whose delta insert wrote no row (api.cancel_operations of operations that are
      // not chunking) may cost nothing
      expect(c.statisticsBuffers, f.name).toBeGreaterThanOrEqual(0);
      expect(c.statisticsBuffers, f.name).toBeLessThan(c.withBuffers);
      expect(c.statisticsMs, f.name).toBeLessThanOrEqual(c.withMs);
      expect(c.share, f.name).toBeGreaterThanOrEqual(0);
      expect(c.share, f.name).toBeLessThan(1);
      expect(c.deltaInserts, f.name).toBeGreaterThanOrEqual(1);
    }
  });

  test("most writers' statistics cost some buffers: an insert and its index entry at least", () => {
    const costs = tier.functions.filter(
      (f) => (f.statisticsCost?.statisticsBuffers ?? 0) >= 2,
    );
    expect(costs.length).toBeGreaterThanOrEqual(5);
  });

  test("the fold after N committed writes folds every delta and leaves none", async () => {
    const { sql } = db();
    expect(tier.statisticsError).toBeUndefined();
    expect(tier.fold).toHaveLength(1);
    const fold = tier.fold![0]!;
    expect(fold.writes).toBe(30);
    expect(fold.runsMs).toHaveLength(2);
    // 10 cycles of enqueue, claim, finish: at least the 10 enqueues append a delta each
    expect(fold.deltas).toBeGreaterThanOrEqual(10);
    expect(fold.collections).toBeGreaterThanOrEqual(1);
    expect(fold.medianMs).toBeGreaterThan(0);
    const [left] = await sql<{ n: number }[]>`
      select count(*)::int as n from app.collection_stat_deltas`;
    expect(left!.n).toBe(0);
    expect(
      report.checks.find((c) => c.rule.startsWith("fold of"))?.value,
    ).toBeUndefined(); // 30 writes: no budget row (the budget is for 1,000)
  });

  test("the operator view's refresh is timed once the database has the routine", async () => {
    const { sql, url } = db();
    expect(
      tier.operatorRefresh == null || tier.operatorRefresh.runsMs.length === 3,
    ).toBe(true);
    const [has] = await sql<{ ok: boolean }[]>`
      select to_regprocedure(${`${OPERATOR_VIEW_REFRESH}()`}) is not null as ok`;
    if (!has!.ok)
      await sql.unsafe(
        `create function ${OPERATOR_VIEW_REFRESH}() returns void language sql as 'select pg_sleep(0.02)'`,
      );
    try {
      const measured = await measureOperatorRefresh(url, 2);
      expect(measured?.routine).toBe(`${OPERATOR_VIEW_REFRESH}()`);
      expect(measured!.runsMs).toHaveLength(2);
      if (!has!.ok) expect(measured!.medianMs).toBeGreaterThanOrEqual(20);
    } finally {
      if (!has!.ok)
        await sql.unsafe(`drop function ${OPERATOR_VIEW_REFRESH}()`);
    }
    expect(await measureOperatorRefresh(url, 1)).toEqual(
      has!.ok ? expect.anything() : undefined,
    );
  });

  test("the Markdown shows the statistics section: the read per tier, each writer's cost, the fold", async () => {
    const md = await readFile(join(dir, "latest.md"), "utf8");
    expect(md).toContain("## Statistics");
    expect(md).toMatch(
      /^\| tier +\| default p50 ms \| default p95 ms \| default buffers \|.*operator view refresh ms \|$/m,
    );
    expect(md).toMatch(/^\| 10,000 \| .*\|$/m);
    expect(md).toContain("### Keeping the statistics, per write routine");
    for (const f of tier.functions.filter((g) => g.statisticsCost)) {
      const c = f.statisticsCost!;
      expect(md).toMatch(
        new RegExp(
          `\\| +${c.withBuffers} / ${c.statisticsBuffers} / ${c.withoutBuffers} \\|`,
        ),
      );
    }
    expect(md).toContain("### The fold");
    expect(md).toMatch(/\| +30 writes: deltas, ms \|/);
    expect(md).toMatch(/Seeded in|Measured in/);
  });

  test("statisticsPart: the delta inserts' subtrees, CTE Scans taken out, against a plan made by hand", () => {
    const node = (
      nodeType: string,
      buffers: number,
      ms: number,
      children: PlanNode[] = [],
      extra: Partial<PlanNode> = {},
    ): PlanNode => ({
      nodeType,
      planRows: 1,
      actualLoops: 1,
      actualTotalTime: ms,
      sharedHitBlocks: buffers,
      sharedReadBlocks: 0,
      children,
      raw: {},
      ...extra,
    });
    const deltaInsert = (buffers: number, ms: number, children: PlanNode[]) =>
      node("ModifyTable", buffers, ms, children, {
        relationName: "collection_stat_deltas",
        schema: "app",
      });
    // the writer's statement: its own insert (40 buffers), and the delta insert whose CTE Scan
    // ran that insert first (so 45 of the delta node's 50 buffers are the writer's)
    const writer: ExplainedStatement = {
      query: "with inserted as (...), delta as (...) select ...",
      topLevel: false,
      plan: node("Result", 60, 3, [
        node("ModifyTable", 40, 2, [], {
          relationName: "operations",
          subplanName: "CTE inserted",
        }),
        deltaInsert(50, 1.5, [
          node("Aggregate", 45, 1.2, [node("CTE Scan", 45, 1.1)]),
        ]),
      ]),
    };
    const separate: ExplainedStatement = {
      query: "insert into app.collection_stat_deltas ...",
      topLevel: false,
      plan: deltaInsert(7, 0.4, [node("Index Scan", 4, 0.2)]),
    };
    const top: ExplainedStatement = {
      query: "select api.f()",
      topLevel: true,
      durationMs: 5,
      plan: node("Result", 100, 4.8),
    };
    const part = statisticsPart([writer, separate, top]);
    expect(part).toEqual({
      nodes: 2,
      buffers: 50 - 45 + 7,
      ms: expect.closeTo(1.5 - 1.1 + 0.4, 6),
      wholeBuffers: 100,
      wholeMs: 5,
    });
    // a delta insert that never ran (loops 0) and other tables' inserts do not count
    const none = statisticsPart([
      {
        ...separate,
        plan: { ...separate.plan, actualLoops: 0 },
      },
      { ...writer, plan: writer.plan.children[0]! },
      top,
    ]);
    expect(none.nodes).toBe(0);
    expect(none.buffers).toBe(0);
  });
});

describe("statistics checks and formatting (made-up measurements)", () => {
  test("the fold budget: 1,000 writes folded in more than 50 ms at the largest tier fails the run", () => {
    const withFold = (ms: number, rows = tier.rows): TierMeasurement => ({
      ...structuredClone(tier),
      rows,
      fold: [
        { writes: 100, deltas: 100, collections: 40, runsMs: [2], medianMs: 2 },
        {
          writes: FOLD_BUDGET.writes,
          deltas: 1000,
          collections: 90,
          runsMs: [ms, ms, ms],
          medianMs: ms,
        },
      ],
    });
    // the budgets that fail: the fold's, and none of it when the fold is fast (the routines'
    // own budgets are whatever the measured tier gave)
    const foldFails = (checks: ReturnType<typeof evaluate>) =>
      checks.some(
        (c) =>
          c.kind === "budget" &&
          !c.ok &&
          c.function === "maint.fold_collection_stat_deltas",
      );
    const ok = evaluate([withFold(12)]);
    const rule = (checks: ReturnType<typeof evaluate>) =>
      checks.find((c) => c.rule.startsWith(`fold of 1,000 writes`));
    expect(rule(ok)).toMatchObject({ kind: "budget", ok: true, value: 12 });
    expect(foldFails(ok)).toBe(false);
    const slow = evaluate([withFold(60)]);
    expect(rule(slow)?.ok).toBe(false);
    expect(foldFails(slow)).toBe(true);
    expect(exitCode(slow)).toBe(1);
    // only the largest tier counts
    expect(foldFails(evaluate([withFold(60), withFold(12, 10_000_000)]))).toBe(
      false,
    );
    // the time without CPU wait, when known, is what counts
    const waited = withFold(60);
    waited.fold![1]!.medianBusyMs = 20;
    expect(rule(evaluate([waited]))).toMatchObject({ ok: true, value: 20 });
    // a fold that failed fails the run
    const failed = {
      ...withFold(12),
      fold: undefined,
      statisticsError: "boom",
    };
    expect(foldFails(evaluate([failed]))).toBe(true);
    expect(statisticsSection([failed]).join("\n")).toContain("boom");
  });

  test("the section lays the tiers side by side, and says when the operator view is not in the build", () => {
    const big = structuredClone(tier);
    big.rows = 10_000_000;
    big.operatorRefresh = {
      routine: "maint.x()",
      runsMs: [7, 8, 9],
      medianMs: 8,
    };
    const text = statisticsSection([
      big,
      { ...tier, operatorRefresh: null },
    ]).join("\n");
    const rows = text
      .split("\n")
      .filter((l) => /^\| (10,000|10,000,000) +\|/.test(l))
      .slice(0, 2); // the read table (the fold table follows)
    expect(rows.map((l) => l.split("|")[1]!.trim())).toEqual([
      "10,000",
      "10,000,000",
    ]);
    expect(rows[0]).toContain("not in this build");
    expect(rows[1]).toMatch(/\| +8\.00 \|$/);
    expect(text).toMatch(/buffers with \/ stats \/ without at 10,000,000/);
  });

  test("sizes", () => {
    expect(sizeLabel(512)).toBe("512 bytes");
    expect(sizeLabel(9.4 * 1024 ** 3)).toBe("9.4 GB");
    expect(sizeLabel(312 * 1024 ** 2)).toBe("312 MB");
  });
});

describe("budgets, targets and the exit code (made-up measurements)", () => {
  const clone = <T>(x: T): T => structuredClone(x);
  const withFunction = (
    t: TierMeasurement,
    name: string,
    change: (f: FunctionMeasurement) => void,
  ): TierMeasurement => {
    const copy = clone(t);
    change(copy.functions.find((f) => f.name === name)!);
    return copy;
  };
  const read = () =>
    tier.functions.find(
      (f) => f.kind === "read" && f.name !== "api.collection_statistics",
    )!.name;
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

  test("the measured run passes its budgets", () => {
    expect(exitCode(report.checks)).toBe(0);
    expect(report.budgetFailed).toBe(false);
  });

  test("a p95 over the budget at the largest tier fails the run, and the report says which", async () => {
    const slow = withFunction(tier, "api.chunks_page", (f) => {
      f.timing = { ...f.timing, p95: 150, p99: 180, max: 200 };
    });
    const checks = evaluate([slow]);
    expect(exitCode(checks)).toBe(1);
    const failed = checks.filter((c) => c.kind === "budget" && !c.ok);
    expect(failed.map((c) => c.function)).toEqual(["api.chunks_page"]);
    const md = renderMarkdown({
      ...report,
      tiers: [slow],
      checks,
      budgetFailed: true,
    });
    expect(md).toMatch(/Budgets: 1 of \d+ FAILED\*\*: chunks_page \(150\)/);
  });

  test("only the largest tier's budget counts", () => {
    const slowSmall = withFunction(tier, "api.chunks_page", (f) => {
      f.timing = { ...f.timing, p95: 150, p99: 180, max: 200 };
    });
    const big = { ...clone(tier), rows: 1_000_000 };
    expect(exitCode(evaluate([slowSmall, big]))).toBe(0);
    expect(exitCode(evaluate([tier, { ...slowSmall, rows: 1_000_000 }]))).toBe(
      1,
    );
  });

  test("an error fails the run; a missed target does not", () => {
    expect(
      exitCode(
        evaluate([
          withFunction(
            tier,
            "api.validate_session",
            (f) => void (f.error = "boom"),
          ),
        ]),
      ),
    ).toBe(1);
    const name = read();
    const missedTarget = withFunction(tier, name, (f) => {
      f.timing = { ...f.timing, p95: 50, p99: 60, max: 70 };
    });
    const checks = evaluate([missedTarget]);
    expect(
      checks.find((c) => c.function === name && c.rule.startsWith("read p95"))
        ?.ok,
    ).toBe(false);
    expect(exitCode(checks)).toBe(0);
    expect(
      renderMarkdown({ ...report, tiers: [missedTarget], checks }),
    ).toMatch(
      new RegExp(`\\| ${escape(name.replace("api.", ""))} .*\\| +50\\.0 ✗ \\|`),
    );
  });

  test("two tiers: buffer growth and statement constancy are compared, exempt workloads are not counted", () => {
    const big = clone(tier);
    big.rows = 1_000_000;
    for (const f of big.functions)
      f.buffers = {
        hit: f.buffers.total * 3,
        read: 0,
        total: f.buffers.total * 3,
      };
    const checks = evaluate([tier, big]);
    const growth = checks.filter((c) => c.rule.startsWith("buffers ≤ 2×"));
    expect(growth.length).toBeGreaterThan(0);
    for (const c of growth) {
      const f = big.functions.find((g) => g.name === c.function)!;
      if (f.bufferGrowthExpected) expect(c.ok, c.function).toBe(false);
      else expect(c.exempt, c.function).toBeTruthy();
    }
    const changed = clone(big);
    changed.functions[0]!.statements += 1;
    expect(
      evaluate([tier, changed]).find(
        (c) =>
          c.function === changed.functions[0]!.name &&
          c.rule.startsWith("statements"),
      )?.ok,
    ).toBe(false);
    // Two points per series: the p95 chart draws a line for each.
    const svg = charts({ tiers: [tier, big] })["p95-by-rows.svg"]!;
    expect(svg.match(/<polyline /g)?.length).toBe(
      tier.functions.filter((f) => !f.error && f.timing.calls > 0).length,
    );
    expect(xmlProblems(svg)).toEqual([]);
  });
});

describe("helpers", () => {
  test("nearest-rank percentiles", () => {
    const t = timing(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect([t.p50, t.p95, t.p99, t.min, t.max, t.calls]).toEqual([
      50, 95, 99, 1, 100, 100,
    ]);
    expect(timing([7])).toMatchObject({ p50: 7, p95: 7, p99: 7 });
  });

  test("foreign key checks are told apart from the routine's own statements", () => {
    expect(
      isForeignKeyCheck(
        `SELECT 1 FROM ONLY "app"."documents" x WHERE "tenant_id" OPERATOR(pg_catalog.=) $1 AND "id" OPERATOR(pg_catalog.=) $2 FOR KEY SHARE OF x`,
      ),
    ).toBe(true);
    expect(
      isForeignKeyCheck("select * from app.documents where tenant_id = $1"),
    ).toBe(false);
  });
});
