// api.collection_statistics maintained by the writes (issue 12, item 1): after every kind of
// write through the api, the default (totals + pending deltas) equals p_fresh => true, the live
// reference, as text (as_of apart), on the collections touched, on the seeded 10k data; and
// again after maint.fold_collection_stat_deltas().
import { beforeAll, describe, expect, test } from "vitest";
import { useTestDatabase } from "./harness/database.ts";

const db = useTestDatabase("statistics-writes");

interface Target {
  tenant_id: string;
  collection_id: string;
  connector_id: string;
}
let t: Target;
let other: Target;

async function differences(
  targets: { tenant_id: string; collection_id: string }[],
): Promise<string[]> {
  const out: string[] = [];
  for (const c of targets) {
    const [row] = await db().sql<{ view: string; fresh: string }[]>`
      select (v - 'as_of')::text as view, (f - 'as_of')::text as fresh
      from (select api.collection_statistics(${c.tenant_id}, ${c.collection_id}) as v,
                   api.collection_statistics(${c.tenant_id}, ${c.collection_id}, true) as f) x`;
    if (row!.view !== row!.fresh)
      out.push(
        `tenant ${c.tenant_id} collection ${c.collection_id}:\n  default ${row!.view}\n  fresh   ${row!.fresh}`,
      );
  }
  return out;
}

async function expectAgree(label: string) {
  const targets = [t, other];
  const before = await differences(targets);
  expect(before, `${label}: ${before.join("\n")}`).toEqual([]);
  await db().sql`select maint.fold_collection_stat_deltas()`;
  const after = await differences(targets);
  expect(after, `${label}, folded: ${after.join("\n")}`).toEqual([]);
}

async function chunksOf(documentIds: string[], n: number, seed: number) {
  const items: { document_id: number; chunk_index: number; content: string }[] =
    [];
  for (const d of documentIds)
    for (let i = 0; i < n; i++)
      items.push({
        document_id: Number(d),
        chunk_index: i,
        content: "x".repeat(
          1 + ((seed * 7919 + i * 104729 + Number(d)) % 3000),
        ),
      });
  return items;
}

beforeAll(async () => {
  const { sql } = db();
  await sql`select maint.rebuild_collection_stats()`;
  // the two biggest collections that have a connector of their tenant
  const rows = await sql<Target[]>`
    select c.tenant_id::text, c.id::text as collection_id,
           (select min(k.id) from app.connectors k where k.tenant_id = c.tenant_id)::text as connector_id
    from app.collections c
    where exists (select from app.connectors k where k.tenant_id = c.tenant_id)
    order by (select count(*) from app.chunks k where k.tenant_id = c.tenant_id and k.collection_id = c.id) desc
    limit 2`;
  [t, other] = [rows[0]!, rows[1]!];
});

describe("the default equals p_fresh => true after every kind of write", () => {
  test("after the seed (rebuilt)", async () => {
    await expectAgree("seeded");
  });

  test("sync_documents and add_documents (no chunk, no operation: nothing changes)", async () => {
    const { sql } = db();
    await sql`select api.sync_documents(${t.tenant_id}, ${t.connector_id}, ${t.collection_id},
      ${JSON.stringify([
        { external_id: "stats-w-1", title: "a" },
        { external_id: "stats-w-2", title: "b" },
      ])}::text::jsonb)`;
    await sql`select * from api.add_documents(${t.tenant_id}, ${t.collection_id}, ${JSON.stringify([{ title: "c" }])}::text::jsonb)`;
    await expectAgree("sync/add");
  });

  test("replace_chunks: new chunks, replaced chunks, the smallest and the largest chunk replaced", async () => {
    const { sql } = db();
    const added = await sql<{ id: string }[]>`
      select id::text from api.add_documents(${t.tenant_id}, ${t.collection_id}, ${JSON.stringify([{ title: "r1" }, { title: "r2" }, { title: "r3" }])}::text::jsonb)`;
    const ids = added.map((r) => r.id);
    await sql`select api.replace_chunks(${t.tenant_id}, ${t.collection_id}, ${JSON.stringify(await chunksOf(ids, 5, 1))}::text::jsonb)`;
    await expectAgree("new chunks");
    await sql`select api.replace_chunks(${t.tenant_id}, ${t.collection_id}, ${JSON.stringify(await chunksOf(ids.slice(0, 2), 3, 2))}::text::jsonb)`;
    await expectAgree("replaced");
    // the documents holding the smallest and the largest chunk get one middling chunk each:
    // a pending delete reached both bounds
    const extremes = await sql<{ document_id: string }[]>`
      (select document_id::text from app.chunks where tenant_id = ${t.tenant_id} and collection_id = ${t.collection_id} order by size, id limit 1)
      union
      (select document_id::text from app.chunks where tenant_id = ${t.tenant_id} and collection_id = ${t.collection_id} order by size desc, id limit 1)`;
    const items = extremes.map((e) => ({
      document_id: Number(e.document_id),
      chunk_index: 0,
      content: "m".repeat(700),
    }));
    await sql`select api.replace_chunks(${t.tenant_id}, ${t.collection_id}, ${JSON.stringify(items)}::text::jsonb)`;
    await expectAgree("bounds replaced");
  });

  test("enqueue, claim, finish (completed with times, failed, without time), cancel, of chunking and of other types", async () => {
    const { sql } = db();
    const ops = [
      { metadata: { strategy: "semantic" } },
      { metadata: { strategy: "stats-new" } },
      { metadata: {} },
      {},
    ];
    const made = await sql<{ id: string }[]>`
      select id::text from api.enqueue_operations(${t.tenant_id}, ${t.collection_id}, 'chunking', ${JSON.stringify([...ops, ...ops])}::text::jsonb)`;
    await sql`select * from api.enqueue_operations(${t.tenant_id}, ${t.collection_id}, 'indexing', ${JSON.stringify(ops)}::text::jsonb)`;
    await expectAgree("enqueued");
    const claimed = await sql<{ id: string }[]>`
      select id::text from api.claim_operations(${t.tenant_id}, 'chunking', 1000)`;
    expect(claimed.length).toBeGreaterThan(0);
    await sql`select * from api.claim_operations(${t.tenant_id}, 'indexing', 5)`;
    await expectAgree("claimed");
    const ids = made.map((m) => Number(m.id));
    await sql`select api.finish_operations(${t.tenant_id}, ${JSON.stringify([
      { id: ids[0], status: "completed", processing_time: 0.1 },
      { id: ids[1], status: "completed", processing_time: 12.345678901234567 },
      { id: ids[2], status: "failed", error: "boom" },
      { id: ids[3], status: "completed" },
    ])}::text::jsonb)`;
    await expectAgree("finished");
    await sql`select api.cancel_operations(${t.tenant_id}, ${ids.slice(3)}::bigint[])`;
    await sql`select api.cancel_operations(${t.tenant_id}, ${claimed.slice(0, 3).map((c) => Number(c.id))}::bigint[])`;
    await expectAgree("cancelled");
  });

  test("delete_documents soft (chunks kept) and hard, across two collections", async () => {
    const { sql } = db();
    const docs = await sql<{ id: string; collection_id: string }[]>`
      (select d.id::text, d.collection_id::text from app.documents d
       where d.tenant_id = ${t.tenant_id} and d.collection_id = ${t.collection_id}
         and exists (select from app.chunks k where k.tenant_id = d.tenant_id and k.collection_id = d.collection_id and k.document_id = d.id)
       order by d.id limit 4)`;
    const ids = docs.map((d) => Number(d.id));
    await sql`select api.delete_documents(${t.tenant_id}, ${ids.slice(0, 2)}::bigint[])`;
    await expectAgree("soft");
    await sql`select api.delete_documents(${t.tenant_id}, ${ids}::bigint[], true)`;
    await expectAgree("hard");
  });

  test("purge_documents_batch of a whole tenant's documents, batch by batch", async () => {
    const { sql } = db();
    let after: string | null = null;
    for (let i = 0; i < 3; i++) {
      const [b]: { last_id: string | null }[] = await sql`
        select last_id::text from api.purge_documents_batch(${other.tenant_id}, 50, ${after}::bigint)`;
      after = b!.last_id;
      await expectAgree(`purge batch ${i}`);
    }
  });

  test("TTL (maint.purge_expired) and retention touch no statistic", async () => {
    const { sql } = db();
    await sql`call maint.purge_expired()`;
    await expectAgree("ttl");
  });
});

describe("maint.fold_collection_stat_deltas", () => {
  test("folds every pending delta; the deltas table is empty after it; a second fold folds none", async () => {
    const { sql } = db();
    await sql`select * from api.enqueue_operations(${t.tenant_id}, ${t.collection_id}, 'chunking', ${JSON.stringify([{}, {}])}::text::jsonb)`;
    const [a] = await sql<
      { n: number }[]
    >`select maint.fold_collection_stat_deltas()::int as n`;
    expect(a!.n).toBeGreaterThan(0);
    const [b] = await sql<
      { n: number }[]
    >`select maint.fold_collection_stat_deltas()::int as n`;
    expect(b!.n).toBe(0);
    const [left] = await sql<
      { n: number }[]
    >`select count(*)::int as n from app.collection_stat_deltas`;
    expect(left!.n).toBe(0);
    await expectAgree("folded twice");
  });

  test("concurrent writers into one collection, with folds meanwhile: the default equals fresh after all", async () => {
    const { sql } = db();
    const writers = Array.from({ length: 6 }, async (_, w) => {
      for (let i = 0; i < 10; i++) {
        const made = await sql<{ id: string }[]>`
          select id::text from api.enqueue_operations(${t.tenant_id}, ${t.collection_id}, 'chunking', ${JSON.stringify([{ metadata: { strategy: `w${w % 2}` } }])}::text::jsonb)`;
        await sql`select api.finish_operations(${t.tenant_id}, ${JSON.stringify([{ id: Number(made[0]!.id), status: "completed", processing_time: w + i / 10 }])}::text::jsonb)`;
        if (i % 4 === 0) await sql`select maint.fold_collection_stat_deltas()`;
      }
    });
    await Promise.all(writers);
    await expectAgree("concurrent");
  });

  test("partition retention dropping a month of operations: the totals follow in the same transaction", async () => {
    // Setup: retention of operations shortened so the oldest seeded month goes (the seed fills
    // the three months before the current one), on this copy only
    const { sql } = db();
    const [before] = await sql<
      { n: number }[]
    >`select count(*)::int as n from app.operations`;
    await sql`update partman.part_config set retention = '2 months' where parent_table = 'app.operations'`;

    // Action
    await sql`call maint.run_partition_maintenance()`;

    // Assertions: operations were dropped, and the default still equals the live computation
    const [after] = await sql<
      { n: number }[]
    >`select count(*)::int as n from app.operations`;
    expect(after!.n).toBeLessThan(before!.n);
    await expectAgree("after retention");
  });
});
