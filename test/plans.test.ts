// Plan tests: every api routine, at the 10k and the 1M tier, as the workload calls it
// (scripts/lib/workload.ts, docs/budgets.md). Plans come from auto_explain with nested
// statements, on the eighth call of a session (so cached generic plans are in play), with the
// planner settings pinned (max_parallel_workers_per_gather = 0, jit = off). For each routine:
// - the intended indexes are used (Index, Index Only or Bitmap Index Scan); at 10k an index on
//   a table of under 10,000 rows may be skipped for a Seq Scan (the test checks the table's size);
// - no Seq Scan on a relation of 10,000 rows or more;
// - partitions pruned where the partition key is given;
// - shared buffers (hit + read) of the call within its budget;
// - the plan's shape (node types, indexes) equals the one committed in test/plans/<tier>.json;
// and buffers at 1M at most twice those at 10k where that target robustly holds.
//
// Each tier works in its own copy of the tier's template, with autovacuum off (it would analyze
// tables at moments nobody chose, after the rolled-back writes, and change later plans). The
// routines that write run in transactions rolled back; the purge (which commits) runs last and
// deletes its subject tenant.
import { readFileSync, existsSync } from "node:fs";
import { beforeAll, describe, expect, test } from "vitest";
import {
  renderPlan,
  sharedBuffers,
  type ExplainedStatement,
  type PlanNode,
} from "../scripts/lib/plan/index.ts";
import {
  apiCalls,
  callFingerprint,
  checkPartitions,
  explainCall,
  fingerprintFile,
  nodesOf,
  SEQ_SCAN_MIN_ROWS,
  setAutovacuum,
  WORKLOAD_RUN_ORDER,
  workloadRoutines,
  type ApiCall,
  type TierName,
  type WorkloadDefinition,
} from "../scripts/lib/workload.ts";
import { useTestDatabase, type TestDatabase } from "./harness/database.ts";
import "./harness/plan-matchers.ts";

const TIER_NAMES: TierName[] = ["10k", "1M"];
const databases: Record<TierName, () => TestDatabase> = {
  "10k": useTestDatabase("plans_10k", { tier: "10k" }),
  "1M": useTestDatabase("plans_1m", { tier: "1M" }),
};

// The purge commits (it deletes its subject tenant), so it runs after every other workload of its tier.
const ORDERED = WORKLOAD_RUN_ORDER;

const calls: Partial<Record<TierName, Map<string, ApiCall>>> = {};
beforeAll(async () => {
  for (const tier of TIER_NAMES) {
    const sql = databases[tier]().sql;
    // The same plans run to run: no autovacuum in these copies (scripts/lib/workload.ts, setAutovacuum).
    await setAutovacuum(sql, false);
    calls[tier] = new Map(
      (await apiCalls(sql, { sets: 1 })).map((c) => [c.name, c]),
    );
  }
});

const plans = new Map<string, Promise<ExplainedStatement[]>>();
/** The workload's plans at the tier, explained once (the tests of a workload share them). */
function planOf(
  tier: TierName,
  def: WorkloadDefinition,
): Promise<ExplainedStatement[]> {
  const key = `${tier} ${def.name}`;
  let plan = plans.get(key);
  if (!plan) {
    plan = (async () => {
      if (def.kind === "procedure") {
        // everything else first, one at a time: the purge deletes a tenant for good
        for (const other of ORDERED.filter((w) => w.kind !== "procedure"))
          await planOf(tier, other).catch(() => undefined);
      }
      const call = calls[tier]?.get(def.name);
      if (!call)
        throw new Error(`no arguments resolved for ${def.name} at ${tier}`);
      return (await explainCall(databases[tier](), call)).statements;
    })();
    plans.set(key, plan);
  }
  return plan;
}

const short = (index: string) => index.replace(/^app\./, "");

function planTestName(def: WorkloadDefinition, tier: TierName): string {
  const required = def.intendedIndexes.filter(
    (i) => !(tier === "10k" && def.smallAt10k?.includes(i)),
  );
  const skipped = def.intendedIndexes.filter((i) => !required.includes(i));
  const parts: string[] = [];
  if (required.length) parts.push(`uses ${required.map(short).join(" and ")}`);
  if (skipped.length)
    parts.push(
      `may read ${skipped.length > 1 ? "the tables" : "the table"} of ${skipped.map(short).join(" and ")} whole (under 10k rows)`,
    );
  for (const p of def.partitions ?? []) {
    if (p.tiers && !p.tiers.includes(tier)) continue;
    const table = short(p.table);
    parts.push(
      p.rule === "one"
        ? `on one ${table} partition`
        : p.rule === "one per probe"
          ? `one ${table} partition per probe`
          : `${table} partitions pruned`,
    );
  }
  parts.push(
    `no seq scan over 10k rows, within ${def.buffers[tier]} buffers${def.kind === "procedure" ? " per batch" : ""}`,
  );
  return `${def.name} at ${tier}: ${parts.join(", ")}`;
}

for (const tier of TIER_NAMES) {
  describe(`plans at ${tier}`, () => {
    test(`every api routine has a workload (at ${tier})`, async () => {
      const routines = await databases[tier]().sql<{ name: string }[]>`
        select n.nspname || '.' || p.proname as name
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'api' group by 1 order by 1`;
      expect(
        routines.map((r) => r.name),
        "api routines without a workload in scripts/lib/workload.ts, or workloads of routines that are gone",
      ).toEqual(workloadRoutines());
    });

    for (const def of ORDERED) {
      test(planTestName(def, tier), async () => {
        const statements = await planOf(tier, def);
        const plan = () => renderPlan(statements);
        expect(statements.length, "statements explained").toBeGreaterThan(0);
        for (const index of def.intendedIndexes) {
          if (tier === "10k" && def.smallAt10k?.includes(index)) {
            const [table] = await databases[tier]().sql<
              { name: string; rows: number }[]
            >`
              select i.indrelid::regclass::text as name, c.reltuples::float8 as rows
              from pg_index i join pg_class c on c.oid = i.indrelid where i.indexrelid = ${index}::regclass`;
            expect(
              table?.rows,
              `${index} is not required at 10k because ${table?.name} is small; it has grown`,
            ).toBeLessThan(SEQ_SCAN_MIN_ROWS);
          } else {
            expect(statements).toUseIndex(index);
          }
        }
        expect(statements).not.toSeqScan(undefined, {
          minRows: SEQ_SCAN_MIN_ROWS,
        });
        for (const expectation of def.partitions ?? []) {
          if (expectation.tiers && !expectation.tiers.includes(tier)) continue;
          const finding = checkPartitions(statements, expectation);
          expect(
            finding.pass,
            `${expectation.table}: expected "${expectation.rule}" (${expectation.why}); found: ${finding.found}\n\nplan:\n${plan()}`,
          ).toBe(true);
        }
        expect(statements).toStayWithinBuffers(def.buffers[tier]);
      });
    }

    if (tier === "1M") {
      // Moved from test/documents.test.ts: with hundreds of ids the planner must still plan the
      // chunk delete as primary key probes and one pruned chunk index probe per document (it
      // would hash-join a scan of every chunk partition if it saw the real count).
      test("api.delete_documents (hard) of 300 ids at 1M: one chunk index probe per document, on its collection's partition", async () => {
        const sql = databases[tier]().sql;
        const [tenant] = await sql<{ tenant_id: string; ids: string[] }[]>`
          select tenant_id::text, (array_agg(id::text order by hashint8(id), id))[1:300] as ids
          from app.documents group by tenant_id order by count(*) desc, tenant_id limit 1`;
        expect(tenant?.ids).toHaveLength(300);
        const { statements } = await explainCall(databases[tier](), {
          kind: "write",
          query: "select api.delete_documents($1, $2::bigint[], true)",
          args: [tenant!.tenant_id, tenant!.ids],
        });
        const main = statements.find((s) =>
          s.query.includes("delete from app.chunks"),
        );
        expect(main, "the delete statement's plan").toBeDefined();
        const chunkScans = nodesOf([main!]).filter(
          (n) =>
            n.rootRelation === "app.chunks" &&
            n.relation !== "app.chunks" &&
            (n.actualLoops ?? 0) > 0,
        );
        expect(
          chunkScans
            .map((n) => n.nodeType)
            .filter((t) => !/^(Index Scan|Index Only Scan)$/.test(t)),
          renderPlan(main!),
        ).toEqual([]);
        // two probes per document: the delete's, and the read of the same chunks for the
        // statistics delta (app.hard_delete_documents: cheaper than the delete's RETURNING,
        // which fetches every deleted row again); one each under the two CTEs
        const loopsUnder = (cte: string) => {
          const root = nodesOf([main!]).find(
            (n) => n.subplanName === `CTE ${cte}`,
          );
          expect(root, `CTE ${cte}`).toBeDefined();
          const all: PlanNode[] = [];
          const visit = (n: PlanNode) => {
            all.push(n);
            n.children.forEach(visit);
          };
          visit(root!);
          return all
            .filter((n) => chunkScans.includes(n))
            .reduce((sum, n) => sum + (n.actualLoops ?? 0), 0);
        };
        expect(
          loopsUnder("chunks_deleted"),
          "one delete probe per document",
        ).toBe(300);
        expect(loopsUnder("delta"), "one statistics probe per document").toBe(
          300,
        );
        expect(
          chunkScans.reduce((sum, n) => sum + (n.actualLoops ?? 0), 0),
          "two lookups per document in all",
        ).toBe(600);
        expect(main!).toUseIndex(
          "app.chunks_tenant_id_collection_id_document_id_chunk_index_key",
        );
        // the 300 targets themselves: primary key probes (at 10k, 16 pages of documents may
        // rightly cost less to scan whole: test/api/delete_documents.test.ts checks the estimate)
        const target = nodesOf([main!]).find(
          (n) => n.subplanName === "CTE target",
        );
        expect(target?.actualRows).toBe(300);
        const targetScans: PlanNode[] = [];
        const visitTarget = (n: PlanNode) => {
          if (n.relation === "app.documents") targetScans.push(n);
          n.children.forEach(visitTarget);
        };
        visitTarget(target!);
        expect(
          targetScans.map((n) => `${n.nodeType} ${n.indexName ?? ""}`.trim()),
          renderPlan(main!),
        ).toEqual(["Index Scan documents_pkey"]);
      });
    }
  });
}

describe("plan fingerprints (accept a new shape: npm run plans:accept)", () => {
  for (const tier of TIER_NAMES) {
    const file = fingerprintFile(tier);
    const committed: Record<string, string[]> = existsSync(file)
      ? JSON.parse(readFileSync(file, "utf8"))
      : {};
    for (const def of ORDERED) {
      test(`${def.name} at ${tier}: plan shape as committed in test/plans/${tier}.json`, async () => {
        const current = callFingerprint(await planOf(tier, def));
        expect(
          committed[def.name],
          `no fingerprint of ${def.name} in test/plans/${tier}.json: run npm run plans:accept`,
        ).toBeDefined();
        expect(
          current,
          `the plan shape of ${def.name} at ${tier} changed; if that is intended, run npm run plans:accept and commit test/plans/`,
        ).toEqual(committed[def.name]);
      });
    }
    test(`test/plans/${tier}.json has no fingerprint of a workload that is gone`, () => {
      expect(Object.keys(committed).sort()).toEqual(
        ORDERED.map((w) => w.name).sort(),
      );
    });
  }
});

describe("shared buffers at 1M at most twice those at 10k (the issue's target; cost grows with log n)", () => {
  // Where the target does not hold by design (a tenant-wide aggregate, a table read whole at
  // 10k), it is reported, not asserted: docs/budgets.md gives each one's reason, and this test
  // keeps that list and the workloads in step.
  test("docs/budgets.md lists, with its reason, every workload whose ratio is not asserted", () => {
    const docs = readFileSync(
      new URL("../docs/budgets.md", import.meta.url),
      "utf8",
    );
    const section = docs.slice(
      docs.indexOf("### The 1M / 10k target"),
      docs.indexOf("### The purge"),
    );
    const listed = [...section.matchAll(/^\| `([^`]+)` \|/gm)]
      .map((m) => m[1])
      .sort();
    expect(listed).toEqual(
      ORDERED.filter((d) => !d.ratioAsserted)
        .map((d) => d.name)
        .sort(),
    );
  });
  for (const def of ORDERED.filter((d) => d.ratioAsserted)) {
    const name = `${def.name}: buffers at 1M at most twice those at 10k`;
    test(name, async () => {
      const small = sharedBuffers(await planOf("10k", def)).total;
      const big = sharedBuffers(await planOf("1M", def)).total;
      expect(
        big,
        `${def.name}: ${big} buffers at 1M, ${small} at 10k (ratio ${(big / small).toFixed(2)})`,
      ).toBeLessThanOrEqual(2 * small);
    });
  }
});
