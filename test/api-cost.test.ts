// What an api call costs in statements (issue 13, item 3; docs/api.md "What a call costs"): a
// point read that finds rows runs two statements, the call and its query, counted by the
// server (pg_stat_statements through scripts/lib/query-counter.ts); one that finds none runs
// one more, the tenant check, and an unknown tenant is still refused with QB005. The tenant
// check may wait for an empty result because a row of a tenant proves the tenant exists: every
// app table reaches app.tenants through foreign keys on columns that are never null, which the
// last test reads from the catalog.
import { describe, expect, test } from "vitest";
import { countRolledBack } from "../scripts/lib/query-counter.ts";
import {
  POINT_READS,
  POINT_READ_STATEMENTS,
  apiCalls,
  type ApiCall,
} from "../scripts/lib/workload.ts";
import { useTestDatabase } from "./harness/database.ts";
import { sqlState } from "./harness/errors.ts";

const db = useTestDatabase("api_cost");

let calls: ApiCall[] | undefined;
async function pointReads(): Promise<ApiCall[]> {
  calls ??= (await apiCalls(db().sql, { sets: 3 })).filter((c) =>
    (POINT_READS as readonly string[]).includes(c.name),
  );
  return calls;
}

/** The statements of one call, rolled back; the second of two (the first compiles the plpgsql). */
async function count(query: string, args: unknown[]) {
  const run = () =>
    countRolledBack(db().sql, (c) => c.unsafe(query, args as never[]), {
      texts: true,
    });
  await run();
  const counted = await run();
  return {
    statements: counted.statements,
    rows: (counted.result as unknown[]).length,
    texts: counted.perStatement.map(
      (s) =>
        `${s.toplevel ? "top" : "nested"} x${s.calls}: ${(s.query ?? "").replace(/\s+/g, " ").slice(0, 90)}`,
    ),
  };
}

/** Arguments that name nothing of the tenant: the query finds no row. */
const NOTHING: Record<string, (args: unknown[]) => unknown[]> = {
  "api.validate_session": () => ["00000000-0000-4000-8000-000000000000"],
  "api.user_by_email": (a) => [a[0], "nobody@nowhere.invalid"],
  "api.agent_by_name": (a) => [a[0], "no such agent"],
  "api.workflow_tasks": (a) => [a[0], "-1", null],
  "api.gap_answers": (a) => [a[0], "-1"],
  "api.active_operations": (a) => [a[0], "-1", a[2]],
  "api.chunks_page": (a) => [a[0], "-1", null, a[3]],
};

describe("a point read runs two statements", () => {
  test("every point read of the workload is in it", async () => {
    const found = (await pointReads()).map((c) => c.name).sort();
    expect(found).toEqual([...POINT_READS].sort());
  });

  test(`a call that finds rows: at most ${POINT_READ_STATEMENTS} statements, the call and its query`, async () => {
    const over: string[] = [];
    let counted = 0;
    for (const call of await pointReads())
      for (const { args } of call.calls) {
        const c = await count(call.query, args);
        expect(c.rows, `${call.name} finds rows`).toBeGreaterThan(0);
        counted++;
        if (c.statements > POINT_READ_STATEMENTS)
          over.push(
            `${call.name}: ${c.statements} statements\n  ${c.texts.join("\n  ")}`,
          );
      }
    expect(counted).toBeGreaterThanOrEqual(POINT_READS.length * 2);
    expect(over, over.join("\n")).toEqual([]);
  });

  test("a call that finds nothing: one statement more (the tenant check), no error", async () => {
    const byName = new Map((await pointReads()).map((c) => [c.name, c]));
    for (const [name, nothing] of Object.entries(NOTHING)) {
      const call = byName.get(name)!;
      const c = await count(call.query, nothing(call.args));
      expect(c.rows, name).toBe(0);
      // validate_session has no tenant to check: an unknown token is one read
      expect(c.statements, `${name}\n  ${c.texts.join("\n  ")}`).toBe(
        name === "api.validate_session"
          ? POINT_READ_STATEMENTS
          : POINT_READ_STATEMENTS + 1,
      );
    }
  });

  test("an unknown tenant is refused with QB005, and wins over a bad argument", async () => {
    for (const call of await pointReads()) {
      if (call.name === "api.validate_session") continue;
      const unknown = ["-7", ...call.args.slice(1)];
      expect(
        await sqlState(db().sql.unsafe(call.query, unknown as never[])),
        call.name,
      ).toBe("QB005");
      // a null second argument (a required id, name or status) is QB001 for a known tenant
      const bad = [call.args[0], null, ...call.args.slice(2)];
      const codeKnown = await sqlState(
        db().sql.unsafe(call.query, bad as never[]),
      );
      if (codeKnown === "QB001")
        expect(
          await sqlState(
            db().sql.unsafe(call.query, ["-7", ...bad.slice(1)] as never[]),
          ),
          `${call.name}: unknown tenant and a null argument`,
        ).toBe("QB005");
    }
  });

  test("every app table's tenant reaches app.tenants through foreign keys on non-null columns", async () => {
    // edges: a foreign key whose columns are all NOT NULL and include tenant_id (on the
    // partitioned parents; partitions inherit them)
    const tables = await db().sql<{ name: string }[]>`
      select c.oid::regclass::text as name from pg_class c
      where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
        and exists (select from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)`;
    const edges = await db().sql<{ from: string; to: string }[]>`
      select k.conrelid::regclass::text as from, k.confrelid::regclass::text as to
      from pg_constraint k
      where k.contype = 'f' and k.connamespace = 'app'::regnamespace and k.conparentid = 0
        and exists (select from pg_attribute a where a.attrelid = k.conrelid and a.attnum = any (k.conkey) and a.attname = 'tenant_id')
        and not exists (select from pg_attribute a where a.attrelid = k.conrelid and a.attnum = any (k.conkey) and not a.attnotnull)`;
    const reaches = new Set(["app.tenants"]);
    for (let changed = true; changed;) {
      changed = false;
      for (const e of edges)
        if (reaches.has(e.to) && !reaches.has(e.from)) {
          reaches.add(e.from);
          changed = true;
        }
    }
    // the statistics the writers maintain: read only by api.collection_statistics, which
    // checks its tenant before it reads them
    const exempt = ["app.collection_stat_deltas", "app.collection_stat_totals"];
    const missing = tables
      .map((t) => t.name)
      .filter((t) => !reaches.has(t) && !exempt.includes(t))
      .sort();
    expect(tables.length).toBeGreaterThan(10);
    expect(missing).toEqual([]);
    // and the gap it closes: without workflows_tenant_id_fkey, workflows (agent_id may be null) would not reach it
    expect(
      edges.some((e) => e.from === "app.workflows" && e.to === "app.tenants"),
    ).toBe(true);
  });
});
