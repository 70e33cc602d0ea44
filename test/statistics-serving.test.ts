// What a user can see of the statistics (issue 12, items 4 and 6): perf.collection_stats_serving
// counts maintained reads and fresh computations (pg_stat_statements, by the statements'
// marker comments), pending deltas and the fold's own record; perf.database_report() carries
// it and the operators' per-tenant view; app.tenant_overview, refreshed from the maintained
// statistics, equals a count over the rows, and no api function reads it.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { ROOT } from "../scripts/lib/sql-files.ts";
import { useTestDatabase } from "./harness/database.ts";

const db = useTestDatabase("statistics-serving");

interface Serving {
  maintained_reads: string;
  fresh_computations: string;
  pending_deltas: string;
  pending_collections: string;
  folds: string;
  deltas_folded: string;
  last_fold_deltas: string | null;
  last_fold_collections: string | null;
  last_fold_ms: number | null;
}

async function serving(): Promise<Serving> {
  const [row] = await db().sql<
    Serving[]
  >`select * from perf.collection_stats_serving()`;
  return row!;
}

describe("perf.collection_stats_serving", () => {
  test("counts 5 maintained reads and 2 fresh computations, the deltas pending, and the fold that folds them", async () => {
    const { sql } = db();
    const [c] = await sql<{ tenant_id: string; id: string }[]>`
      select tenant_id::text, id::text from app.collections order by tenant_id, id limit 1`;
    await sql`select maint.fold_collection_stat_deltas()`;
    const before = await serving();
    for (let i = 0; i < 5; i++)
      await sql`select api.collection_statistics(${c!.tenant_id}, ${c!.id})`;
    for (let i = 0; i < 2; i++)
      await sql`select api.collection_statistics(${c!.tenant_id}, ${c!.id}, true)`;
    await sql`select * from api.enqueue_operations(${c!.tenant_id}, ${c!.id}, 'indexing', '[{}, {}]'::jsonb)`;
    await sql`select * from api.enqueue_operations(${c!.tenant_id}, ${c!.id}, 'chunking', '[{}]'::jsonb)`;
    const after = await serving();
    expect(
      Number(after.maintained_reads) - Number(before.maintained_reads),
    ).toBe(5);
    expect(
      Number(after.fresh_computations) - Number(before.fresh_computations),
    ).toBe(2);
    expect(Number(after.pending_deltas)).toBe(2);
    expect(Number(after.pending_collections)).toBe(1);

    await sql`select maint.fold_collection_stat_deltas()`;
    const folded = await serving();
    expect(Number(folded.folds)).toBe(Number(after.folds) + 1);
    expect(Number(folded.deltas_folded)).toBe(Number(after.deltas_folded) + 2);
    expect(folded.last_fold_deltas).toBe("2");
    expect(folded.last_fold_collections).toBe("1");
    expect(folded.last_fold_ms).toBeGreaterThanOrEqual(0);
    expect(Number(folded.pending_deltas)).toBe(0);
  });

  test("perf.database_report() includes it and the tenant overview", async () => {
    const [r] = await db().sql<{ report: Record<string, unknown> }[]>`
      select perf.database_report() as report`;
    expect(r!.report.collection_statistics).toMatchObject({
      pending_deltas: expect.any(Number),
      maintained_reads: expect.any(Number),
    });
    expect(Array.isArray(r!.report.tenant_overview)).toBe(true);
  });
});

describe("app.tenant_overview", () => {
  test("after a refresh, every tenant's row equals a count over the rows (documents by status, chunks, characters, operations by type and status)", async () => {
    const { sql } = db();
    // a write not yet folded is in it too (the view adds the pending deltas)
    const [c] = await sql<{ tenant_id: string; id: string }[]>`
      select tenant_id::text, id::text from app.collections order by tenant_id desc, id limit 1`;
    await sql`select * from api.add_documents(${c!.tenant_id}, ${c!.id}, '[{"title": "overview"}]'::jsonb)`;
    await sql`select maint.refresh_tenant_overview()`;
    const differing = await sql<{ tenant_id: string }[]>`
      with naive as (
        select t.tenant_id,
               (select count(*) from app.documents d where d.tenant_id = t.tenant_id) as documents_total,
               (select coalesce(jsonb_object_agg(g.status, g.n), '{}') from
                  (select d.status, count(*) as n from app.documents d where d.tenant_id = t.tenant_id group by d.status) g) as documents_by_status,
               (select count(*) from app.chunks k where k.tenant_id = t.tenant_id) as chunks_total,
               (select coalesce(sum(k.size), 0) from app.chunks k where k.tenant_id = t.tenant_id) as chunk_characters,
               (select count(*) from app.operations o where o.tenant_id = t.tenant_id) as operations_total,
               (select coalesce(jsonb_object_agg(x.type, x.s), '{}') from
                  (select g.type, jsonb_object_agg(g.status, g.n) as s from
                     (select o.type, o.status, count(*) as n from app.operations o where o.tenant_id = t.tenant_id
                      group by o.type, o.status) g group by g.type) x) as operations_by_type_status
        from app.tenants t)
      select n.tenant_id::text
      from naive n
      left join app.tenant_overview v on v.tenant_id = n.tenant_id
      where (v.documents_total, v.documents_by_status, v.chunks_total, v.chunk_characters, v.operations_total, v.operations_by_type_status)
            is distinct from (n.documents_total, n.documents_by_status, n.chunks_total, n.chunk_characters, n.operations_total, n.operations_by_type_status)`;
    expect(differing).toEqual([]);
    const [tenants] = await sql<
      { n: number }[]
    >`select count(*)::int as n from app.tenant_overview where documents_total > 0`;
    expect(tenants!.n).toBeGreaterThan(1);
  });

  test("the monitoring role reads it through perf.tenant_overview(); no api function names it", async () => {
    const { sql } = db();
    const [n] = await sql.begin(async (tx) => {
      await tx`set local role querybudget_monitor`;
      return tx<
        { n: number }[]
      >`select count(*)::int as n from perf.tenant_overview()`;
    });
    expect(n!.n).toBeGreaterThan(1);
    const apiDir = join(ROOT, "functions", "api");
    for (const f of readdirSync(apiDir))
      expect(readFileSync(join(apiDir, f), "utf8"), f).not.toContain(
        "tenant_overview",
      );
  });
});
