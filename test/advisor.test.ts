// The index advisor (scripts/lib/advisor): what it reads from plans (candidates), how it
// rebuilds statements of functions, a planted missing index recommended and validated (built on
// a copy, measured fewer buffers and less time), planted duplicates in the drop list, the
// pg_stat_statements-only path (no replay: not measured), and our own api workload, for which
// it may recommend only what docs/monitoring.md justifies.
import postgres from "postgres";
import { describe, expect, inject, test } from "vitest";
import {
  adviseIndexes,
  renderReport,
  type AdvisorReport,
} from "../scripts/lib/advisor/index.ts";
import {
  candidatesFor,
  conjuncts,
  scanDemands,
} from "../scripts/lib/advisor/candidates.ts";
import {
  applyAdvisorSettings,
  genericPlan,
} from "../scripts/lib/advisor/generic-plan.ts";
import {
  functionSources,
  rebuildFromSource,
} from "../scripts/lib/advisor/statements.ts";
import { resolveNames } from "../scripts/lib/plan/explain.ts";
import { parseExplainJson } from "../scripts/lib/plan/parse.ts";
import {
  createTestDatabase,
  dropTestDatabase,
  useTestDatabase,
} from "./harness/database.ts";

const db = useTestDatabase("advisor");

/**
 * What the advisor may recommend for our own workload, each justified in docs/monitoring.md
 * "What the advisor says about querybudget" (why it is not added).
 */
const JUSTIFIED: string[] = [
  "app.chunks (id)",
  "app.messages (tenant_id, expires_at)",
];

describe("candidates from plans", () => {
  test("conditions split into conjuncts; equality, range, sort, JSONB key and constant predicates become candidates", async () => {
    expect(conjuncts("((a.x = $1) AND ((a.y > 3) AND (a.z IS NULL)))")).toEqual(
      ["a.x = $1", "a.y > 3", "a.z IS NULL"],
    );
    const sql = db().sql;
    const rows = await sql.unsafe(`explain (verbose, format json)
      select o.id from app.operations o
      where o.tenant_id = 3 and (o.metadata ->> 'strategy') = 'semantic' and o.status = 'completed' and o.processing_time > 2
      order by o.completed_at`);
    const plan = parseExplainJson(rows[0]!["QUERY PLAN"]).plan;
    await resolveNames(sql, plan);
    const demands = scanDemands(plan, (t) => t.startsWith("app."));
    expect(demands.map((d) => d.table)).toEqual(["app.operations"]);
    const d = demands[0]!;
    expect(d.sort).toEqual(["completed_at"]);
    expect(
      d.predicates
        .filter((p) => p.kind === "eq")
        .map((p) => p.column)
        .sort(),
    ).toEqual(["(metadata ->> 'strategy'::text)", "status", "tenant_id"]);
    expect(
      d.predicates.filter((p) => p.kind === "range").map((p) => p.column),
    ).toEqual(["processing_time"]);
    const keys = candidatesFor(d).map((c) => c.key);
    expect(keys).toEqual(
      expect.arrayContaining([
        "app.operations (tenant_id)",
        "app.operations (tenant_id, (metadata ->> 'strategy'::text))", // JSONB expression
        "app.operations (tenant_id, processing_time)", // equality then range
        "app.operations (tenant_id, completed_at)", // equality then the order wanted
      ]),
    );
    // partial indexes for the constant predicates
    expect(keys.filter((k) => k.includes(" where "))).toEqual(
      expect.arrayContaining([
        "app.operations (processing_time) where status = 'completed'::text",
        "app.operations (completed_at) where status = 'completed'::text",
      ]),
    );
    // no more than two columns
    expect(candidatesFor(d).every((c) => c.columns.length <= 2)).toBe(true);
  });

  test("statements of functions come back from their source: variables as typed parameters, constants restored", async () => {
    const sql = db().sql;
    const functions = await functionSources(sql);
    // a statement of api.confirm_classifications as pg_stat_statements shows it: the function's
    // variables by name, the constants normalized to $n
    const conn = await sql.reserve();
    try {
      await applyAdvisorSettings(conn);
      const [fn] = await sql<{ source: string }[]>`
        select p.prosrc as source from pg_proc p where p.oid = 'api.confirm_classifications(bigint, bigint[])'::regprocedure`;
      // its one statement, as PL/pgSQL runs it (the INTO clause taken out)
      const statement =
        /with target as materialized[\s\S]*?(?=\s+into v_result;)/.exec(
          fn!.source,
        )![0];
      let k = 2;
      const normalized = statement.replace(/'[^']*'/g, () => `$${++k}`);
      expect(normalized).not.toContain("'deleted'");
      const rebuilt = rebuildFromSource(normalized, functions)!;
      expect(rebuilt.origin).toBe(
        "api.confirm_classifications(bigint,bigint[])",
      );
      expect(rebuilt.runnable).toBe(
        statement
          .replace(/\bp_tenant_id\b/g, "$1")
          .replace(/\bp_document_ids\b/g, "$2"),
      );
      expect(rebuilt.runnable).toContain("d.status <> 'deleted'");
      // every variable of the function is a typed parameter, v_result (unused here) too
      expect(rebuilt.paramTypes).toEqual(["bigint", "bigint[]", "jsonb"]);
      const plan = await genericPlan(conn, rebuilt);
      expect(plan).not.toBeInstanceOf(Error);
    } finally {
      conn.release();
    }
  });
});

/** Runs the advisor on the test database: its pool must be closed (the validation copy needs the database without sessions). */
async function advise(
  options: Omit<Parameters<typeof adviseIndexes>[0], "url" | "adminUrl">,
  target = db(),
): Promise<AdvisorReport> {
  await target.sql.end({ timeout: 5 });
  const report = await adviseIndexes({
    url: target.url,
    adminUrl: inject("server").adminUrl,
    ...options,
  });
  target.sql = postgres(target.url, { max: 4, onnotice: () => {} });
  return report;
}

describe("a planted missing index", () => {
  test("is recommended (cost down 50 % or more) and validated on a copy: used, fewer buffers, less time, with its size and insert cost", async () => {
    const sql = db().sql;
    // a user's completed operations: the partial index covers pending and processing only. The
    // users of the biggest tenant (about half the rows) with the fewest: the tenant's indexes
    // leave many rows to filter, an index on the user finds a few.
    const subjects = await sql<{ tenant_id: string; user_id: string }[]>`
      select o.tenant_id, o.user_id from app.operations o
      where o.tenant_id = (select x.tenant_id from app.operations x group by x.tenant_id order by count(*) desc limit 1)
        and o.user_id is not null and o.status = 'completed'
      group by o.tenant_id, o.user_id order by count(*), o.user_id limit 8`;
    const queries = subjects.map((s) => ({
      sql: `select o.id, o.created_at from app.operations o where o.tenant_id = ${s.tenant_id} and o.user_id = ${s.user_id} and o.status = 'completed'`,
    }));
    await sql`create index perf_advisor_dup on app.documents (tenant_id, status)`; // planted duplicate
    const report = await advise({
      workload: { kind: "queries", queries, repeat: 3 },
      repeat: 3,
      insertRows: 500,
    });
    const text = renderReport(report);
    const rec = report.recommendations.find(
      (r) => r.table === "app.operations" && r.columns.includes("user_id"),
    );
    expect(rec, text).toBeDefined();
    for (const g of rec!.gains)
      expect(g.costAfter).toBeLessThanOrEqual(g.costBefore * 0.5);
    const v = rec!.validation!;
    expect(v.verdict, `${v.reason}\n${text}`).toBe("confirmed");
    expect(v.usedAfter).toBe(true);
    expect(v.units).toBe(queries.length);
    expect(v.totals.afterBuffers).toBeLessThan(v.totals.beforeBuffers * 0.75);
    expect(v.totals.afterMs).toBeLessThan(v.totals.beforeMs);
    expect(v.plansBefore.join()).not.toContain(v.name);
    expect(v.plansAfter.join()).toContain(`app.${v.name}`);
    expect(v.sizeBytes).toBeGreaterThan(0);
    expect(v.insert).toMatchObject({ rows: 500 });
    expect(v.insert!.withMs).toBeGreaterThan(0);
    // operations is partitioned: the recipe builds on ONLY the parent, each partition concurrently, then attaches
    expect(rec!.createStatements[1]).toMatch(
      /^create index \w+ on only app\.operations /,
    );
    expect(
      rec!.createStatements.filter((s) =>
        s.startsWith("create index concurrently"),
      ).length,
    ).toBeGreaterThanOrEqual(5);
    expect(text).toContain("create index concurrently");
    // the planted duplicate is in the drop list
    expect(
      report.drop.find((d) => d.index === "app.perf_advisor_dup")?.reason,
    ).toBe("duplicate of documents_tenant_id_status_idx");
    // the analysed database itself is left as it was: the index was built on the copy only
    const built = await db()
      .sql`select 1 from pg_indexes where indexname = ${v.name}`;
    expect(built).toHaveLength(0);
    await db().sql`drop index app.perf_advisor_dup`;
  });

  test("from pg_stat_statements alone (parameters, no constants) it is recommended too, but cannot be measured", async () => {
    const sql = db().sql;
    const subjects = await sql<{ tenant_id: string; user_id: string }[]>`
      select distinct tenant_id, user_id from app.operations where user_id is not null order by 1, 2 limit 5`;
    const app = postgres(db().url, { max: 1, onnotice: () => {} });
    for (const s of subjects)
      await app`select o.id from app.operations o where o.tenant_id = ${s.tenant_id} and o.user_id = ${s.user_id} and o.type = ${"indexing"}`;
    await app.end();
    const report = await advise({
      workload: { kind: "statements" },
      insertRows: 200,
    });
    const rec = report.recommendations.find(
      (r) => r.table === "app.operations" && r.columns.includes("user_id"),
    );
    expect(rec, renderReport(report)).toBeDefined();
    expect(rec!.gains.some((g) => g.query.includes("o.user_id = $2"))).toBe(
      true,
    );
    expect(rec!.validation?.verdict).toBe("not measured");
    expect(rec!.validation?.sizeBytes).toBeGreaterThan(0);
  });
});

describe("our own workload", () => {
  test("the api workload: the advisor recommends nothing that validation confirms, unless docs/monitoring.md justifies it", async () => {
    const target = await createTestDatabase("advisor_api");
    try {
      const report = await advise(
        {
          workload: { kind: "api", options: { callsPerFunction: 10 } },
          resetStatistics: true,
          repeat: 2,
          insertRows: 200,
        },
        target,
      );
      expect(
        report.workload.calls?.failures,
        "workload calls that failed",
      ).toEqual([]);
      expect(report.workload.notDriven).toEqual([]);
      expect(report.workload.planned).toBeGreaterThan(20); // the statements inside the functions were planned
      const confirmed = report.recommendations.filter(
        (r) => r.validation?.verdict !== "not confirmed",
      );
      for (const r of confirmed)
        expect(JUSTIFIED, renderReport(report)).toContain(
          `${r.table} (${r.columns.join(", ")})`,
        );
    } finally {
      await dropTestDatabase(target);
    }
  }, 600_000); // about 20 s alone; six times that beside the calendar test on a busy machine
});
