// The write api for documents and chunks (issue 11, item 3): api.sync_documents,
// api.add_documents, api.replace_chunks. Calls are made as querybudget_app; every result is
// compared with an independent reference read by the superuser from the tables. Each test
// works inside a transaction rolled back (or on rows of its own), so the seeded data stays as
// it is for the next.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { countRolledBack } from "../../scripts/lib/query-counter.ts";
import { useTestDatabase } from "../harness/database.ts";
import { sqlState } from "../harness/errors.ts";
import { connectAs } from "../harness/roles.ts";

const db = useTestDatabase("document_writes");

interface Subject {
  tenant: string;
  connector: string;
  collection: string; // a collection of the tenant with documents and chunks
  other: string; // another tenant
  otherConnector: string;
  otherCollection: string;
  stored: string[]; // external ids of the connector's documents
  tombstoned: string[]; // external ids the connector tombstoned
  documents: string[]; // live documents of the collection
  otherDocuments: string[]; // documents of the other tenant
}

let s: Subject;
let app: postgres.Sql;
// one superuser connection for the statement counts (pg_stat_statements is not for querybudget_app)
let one: postgres.Sql;

beforeAll(async () => {
  const { sql, url } = db();
  const [row] = await sql<Subject[]>`
    with c as (
      select d.tenant_id, d.connector_id from app.documents d
      where d.connector_id is not null
        and exists (select from app.deleted_documents t where t.tenant_id = d.tenant_id and t.connector_id = d.connector_id)
      group by 1, 2 order by count(*) desc, 2 limit 1)
    select c.tenant_id::text as tenant, c.connector_id::text as connector,
           (select k.collection_id::text from app.chunks k where k.tenant_id = c.tenant_id group by k.collection_id order by count(*) desc, 1 limit 1) as collection,
           o.tenant_id::text as other,
           (select x.id::text from app.connectors x where x.tenant_id = o.tenant_id order by x.id limit 1) as "otherConnector",
           (select x.id::text from app.collections x where x.tenant_id = o.tenant_id order by x.id limit 1) as "otherCollection",
           array(select d.external_id from app.documents d where d.tenant_id = c.tenant_id and d.connector_id = c.connector_id order by d.id limit 50) as stored,
           array(select t.external_id from app.deleted_documents t where t.tenant_id = c.tenant_id and t.connector_id = c.connector_id order by t.id limit 20) as tombstoned,
           '{}'::text[] as documents,
           array(select d.id::text from app.documents d where d.tenant_id = o.tenant_id order by d.id limit 20) as "otherDocuments"
    from c
    cross join lateral (select t.tenant_id from app.tenants t where t.tenant_id <> c.tenant_id
                        and exists (select from app.connectors x where x.tenant_id = t.tenant_id) order by t.tenant_id limit 1) o`;
  s = row!;
  s.documents = (
    await sql<{ id: string }[]>`
      select d.id::text from app.documents d where d.tenant_id = ${s.tenant} and d.collection_id = ${s.collection} and d.status <> 'deleted' order by d.id`
  ).map((r) => r.id);
  expect(s.tombstoned.length).toBeGreaterThan(0);
  expect(s.documents.length).toBeGreaterThan(20);
  app = await connectAs(url, "querybudget_app");
  one = postgres(url, { max: 1, onnotice: () => {} });
});

afterAll(async () => {
  await app?.end();
  await one?.end();
});

/** Runs `work` as querybudget_app in a transaction that is rolled back. */
async function rolledBack<T>(
  work: (sql: postgres.ReservedSql) => Promise<T>,
): Promise<T> {
  const conn = await app.reserve();
  try {
    await conn`begin`;
    try {
      return await work(conn);
    } finally {
      await conn`rollback`;
    }
  } finally {
    conn.release();
  }
}

const json = (v: unknown) => JSON.stringify(v);

describe("api.sync_documents", () => {
  test("inserts new external ids, updates changed ones, leaves the same ones and skips tombstoned ones; a second identical sync is all unchanged", async () => {
    // Setup: 3 stored (1 changed title, 2 as they are), 2 tombstoned, 4 new
    const { sql } = db();
    const stored = await sql<
      { external_id: string; title: string; content_size: number }[]
    >`
      select external_id, title, content_size from app.documents
      where tenant_id = ${s.tenant} and connector_id = ${s.connector} and external_id = any(${s.stored.slice(0, 3)}::text[]) order by id`;
    const batch = [
      {
        external_id: stored[0]!.external_id,
        title: `${stored[0]!.title} (v2)`,
        content_size: stored[0]!.content_size,
      },
      {
        external_id: stored[1]!.external_id,
        title: stored[1]!.title,
        content_size: stored[1]!.content_size,
      },
      { external_id: s.tombstoned[0]!, title: "zombie" },
      ...[0, 1, 2, 3].map((i) => ({
        external_id: `sync-test-new-${i}`,
        title: `New ${i}`,
        content_size: 100 * i,
      })),
      {
        external_id: s.tombstoned[1] ?? s.tombstoned[0]! + "-x",
        title: "zombie 2",
      },
      {
        external_id: stored[2]!.external_id,
        title: stored[2]!.title,
        content_size: stored[2]!.content_size,
      },
    ];
    const tombstonedInBatch = batch.filter((b) =>
      s.tombstoned.includes(b.external_id),
    ).length;
    // Action
    const { first, second } = await rolledBack(async (conn) => {
      const [a] = await conn<
        { r: unknown }[]
      >`select api.sync_documents(${s.tenant}, ${s.connector}, ${s.collection}, ${json(batch)}::text::jsonb) as r`;
      const [b] = await conn<
        { r: unknown }[]
      >`select api.sync_documents(${s.tenant}, ${s.connector}, ${s.collection}, ${json(batch)}::text::jsonb) as r`;
      return { first: a!.r, second: b!.r };
    });
    // Assertions
    expect(tombstonedInBatch).toBe(2);
    expect(first).toEqual({
      inserted: 4,
      updated: 1,
      unchanged: 2,
      skipped_tombstoned: 2,
    });
    expect(second).toEqual({
      inserted: 0,
      updated: 0,
      unchanged: 7,
      skipped_tombstoned: 2,
    });
  });

  test("new documents land in the collection in batch order, updates keep their collection and status; tombstones are never resurrected (reference: the tables)", async () => {
    // Setup: committed on rows of its own, removed at the end
    const { sql } = db();
    const [moved] = await sql<
      {
        id: string;
        external_id: string;
        collection_id: string;
        status: string;
        title: string;
        content_size: number;
        updated_at: string;
      }[]
    >`
      select id::text, external_id, collection_id::text, status, title, content_size, updated_at::text from app.documents
      where tenant_id = ${s.tenant} and connector_id = ${s.connector} and collection_id <> ${s.collection} order by id limit 1`;
    const batch = [
      { external_id: "sync-ref-b", title: "B", content_size: 7 },
      { external_id: "sync-ref-a", title: "A" },
      { external_id: s.tombstoned[0]!, title: "zombie" },
      { external_id: moved!.external_id, title: "Renamed" },
    ];
    // Action
    const [r] = await app<
      { r: unknown }[]
    >`select api.sync_documents(${s.tenant}, ${s.connector}, ${s.collection}, ${json(batch)}::text::jsonb) as r`;
    const docs = await sql<
      {
        id: string;
        external_id: string;
        title: string;
        collection_id: string;
        status: string;
        content_size: number;
      }[]
    >`
      select id::text, external_id, title, collection_id::text, status, content_size from app.documents
      where tenant_id = ${s.tenant} and connector_id = ${s.connector} and external_id = any(${batch.map((b) => b.external_id)}::text[]) order by id`;
    await sql`delete from app.documents where tenant_id = ${s.tenant} and connector_id = ${s.connector} and external_id like 'sync-ref-%'`;
    await sql`update app.documents set title = ${moved!.title}, content_size = ${moved!.content_size}, updated_at = ${moved!.updated_at}::timestamptz
              where tenant_id = ${s.tenant} and id = ${moved!.id}`;
    // Assertions
    expect(r!.r).toEqual({
      inserted: 2,
      updated: 1,
      unchanged: 0,
      skipped_tombstoned: 1,
    });
    expect(docs.map((d) => d.external_id)).not.toContain(s.tombstoned[0]);
    expect(
      docs.find((d) => d.external_id === moved!.external_id),
    ).toMatchObject({
      title: "Renamed",
      collection_id: moved!.collection_id,
      status: moved!.status,
      content_size: 0,
    });
    const fresh = docs.filter((d) => d.external_id.startsWith("sync-ref-"));
    expect(fresh.map(({ id: _id, ...d }) => d)).toEqual([
      {
        external_id: "sync-ref-b",
        title: "B",
        collection_id: s.collection,
        status: "pending",
        content_size: 7,
      },
      {
        external_id: "sync-ref-a",
        title: "A",
        collection_id: s.collection,
        status: "pending",
        content_size: 0,
      },
    ]);
    expect(BigInt(fresh[0]!.id) < BigInt(fresh[1]!.id)).toBe(true);
  });

  test("a document deleted by api.delete_documents is not brought back by the next sync", async () => {
    // Setup: a stored document of the connector, soft-deleted then hard-deleted
    const { sql } = db();
    const [doc] = await sql<{ id: string; external_id: string }[]>`
      select id::text, external_id from app.documents where tenant_id = ${s.tenant} and connector_id = ${s.connector} and status <> 'deleted' order by id limit 1`;
    // Action
    const result = await rolledBack(async (conn) => {
      await conn`select api.delete_documents(${s.tenant}, ${[doc!.id]}::bigint[], true)`;
      const [r] = await conn<
        { r: unknown }[]
      >`select api.sync_documents(${s.tenant}, ${s.connector}, ${s.collection}, ${json([{ external_id: doc!.external_id, title: "back?" }])}::text::jsonb) as r`;
      return { r: r!.r };
    });
    // Assertions
    expect(result.r).toEqual({
      inserted: 0,
      updated: 0,
      unchanged: 0,
      skipped_tombstoned: 1,
    });
  });

  test("duplicate external ids in one batch: QB011 naming both positions; other tenants' connector or collection: QB009; nothing changed", async () => {
    // Setup
    const dup = [
      { external_id: "x1", title: "a" },
      { external_id: "x2", title: "b" },
      { external_id: "x1", title: "c" },
    ];
    // Action
    let message = "";
    const code = await sqlState(
      app`select api.sync_documents(${s.tenant}, ${s.connector}, ${s.collection}, ${json(dup)}::text::jsonb)`.catch(
        (e) => {
          message = (e as Error).message;
          throw e;
        },
      ),
    );
    const codes = [
      await sqlState(
        app`select api.sync_documents(${s.tenant}, ${s.otherConnector}, ${s.collection}, ${json([{ external_id: "y", title: "y" }])}::text::jsonb)`,
      ),
      await sqlState(
        app`select api.sync_documents(${s.tenant}, ${s.connector}, ${s.otherCollection}, ${json([{ external_id: "y", title: "y" }])}::text::jsonb)`,
      ),
      await sqlState(
        app`select api.sync_documents(${s.tenant}, ${s.connector}, ${s.collection}, ${json([{ external_id: "y" }])}::text::jsonb)`,
      ),
      await sqlState(
        app`select api.sync_documents(${s.tenant}, ${s.connector}, ${s.collection}, ${json([{ external_id: "y", title: "t", size: 1 }])}::text::jsonb)`,
      ),
    ];
    const [n] = await db().sql<
      { n: number }[]
    >`select count(*)::int as n from app.documents where external_id in ('x1', 'x2', 'y')`;
    // Assertions
    expect(code).toBe("QB011");
    expect(message).toContain("p_documents[2].external_id");
    expect(message).toContain("p_documents[0]");
    expect(codes).toEqual(["QB009", "QB009", "QB011", "QB011"]);
    expect(n!.n).toBe(0);
  });

  test("10,000 items in one call: all inserted; then all unchanged", async () => {
    // Setup
    const batch = Array.from({ length: 10_000 }, (_, i) => ({
      external_id: `bulk-${i}`,
      title: `Bulk ${i}`,
      content_size: i,
    }));
    // Action
    const { a, b } = await rolledBack(async (conn) => {
      const [a] = await conn<
        { r: unknown }[]
      >`select api.sync_documents(${s.tenant}, ${s.connector}, ${s.collection}, ${json(batch)}::text::jsonb) as r`;
      const [b] = await conn<
        { r: unknown }[]
      >`select api.sync_documents(${s.tenant}, ${s.connector}, ${s.collection}, ${json(batch)}::text::jsonb) as r`;
      return { a: a!.r, b: b!.r };
    });
    // Assertions
    expect(a).toEqual({
      inserted: 10_000,
      updated: 0,
      unchanged: 0,
      skipped_tombstoned: 0,
    });
    expect(b).toEqual({
      inserted: 0,
      updated: 0,
      unchanged: 10_000,
      skipped_tombstoned: 0,
    });
  });

  test("the same statements for 1 item and for 1,000", async () => {
    // Setup
    const batch = (n: number) =>
      json(
        Array.from({ length: n }, (_, i) => ({
          external_id: `count-${i}`,
          title: `T ${i}`,
        })),
      );
    const run = (n: number) => (conn: postgres.ReservedSql) =>
      conn`select api.sync_documents(${s.tenant}, ${s.connector}, ${s.collection}, ${batch(n)}::text::jsonb)`;
    // Action
    const few = await countRolledBack(one, run(1));
    const many = await countRolledBack(one, run(1000));
    // Assertions
    expect(few.statements - few.foreignKeyChecks).toBeGreaterThan(0);
    expect(many.statements - many.foreignKeyChecks).toBe(
      few.statements - few.foreignKeyChecks,
    );
  });
});

describe("api.add_documents", () => {
  test("one row per item, ids increasing in batch order; the rows are the items (reference: the table)", async () => {
    // Setup
    const batch = [
      { title: "Upload C", content_size: 3 },
      { title: "Upload A" },
      { title: "Upload B", content_size: 12 },
    ];
    // Action
    const result = await rolledBack(async (conn) => [
      ...(await conn<
        { position: number; id: string }[]
      >`select * from api.add_documents(${s.tenant}, ${s.collection}, ${json(batch)}::text::jsonb)`),
    ]);
    // Assertions
    expect(result.map((r) => r.position)).toEqual([0, 1, 2]);
    const ids = result.map((r) => BigInt(r.id));
    expect(ids[0]! < ids[1]! && ids[1]! < ids[2]!).toBe(true);
    // the reference, committed this time on rows of their own
    const committed = await app<
      { position: number; id: string }[]
    >`select * from api.add_documents(${s.tenant}, ${s.collection}, ${json(batch)}::text::jsonb)`;
    const stored = await db().sql<
      {
        id: string;
        title: string;
        content_size: number;
        status: string;
        collection_id: string;
        connector_id: string | null;
      }[]
    >`
      select id::text, title, content_size, status, collection_id::text, connector_id::text from app.documents
      where tenant_id = ${s.tenant} and id = any(${committed.map((r) => r.id)}::bigint[]) order by id`;
    expect(stored).toEqual(
      committed.map((r, i) => ({
        id: r.id,
        title: batch[i]!.title,
        content_size: batch[i]!.content_size ?? 0,
        status: "pending",
        collection_id: s.collection,
        connector_id: null,
      })),
    );
    await db()
      .sql`delete from app.documents where tenant_id = ${s.tenant} and id = any(${committed.map((r) => r.id)}::bigint[])`;
  });

  test("another tenant's collection: QB009; a blank title: QB011; 10,000 items: 10,000 rows", async () => {
    // Action
    const codes = [
      await sqlState(
        app`select * from api.add_documents(${s.tenant}, ${s.otherCollection}, ${json([{ title: "x" }])}::text::jsonb)`,
      ),
      await sqlState(
        app`select * from api.add_documents(${s.tenant}, ${s.collection}, ${json([{ title: "x" }, { title: " " }])}::text::jsonb)`,
      ),
      await sqlState(
        app`select * from api.add_documents(${s.tenant}, ${s.collection}, ${json([{ title: "x", external_id: "e" }])}::text::jsonb)`,
      ),
    ];
    const many = await rolledBack(async (conn) =>
      [
        ...(await conn<
          { position: number }[]
        >`select position from api.add_documents(${s.tenant}, ${s.collection}, ${json(Array.from({ length: 10_000 }, (_, i) => ({ title: `t${i}` })))}::text::jsonb)`),
      ].map((r) => r.position),
    );
    // Assertions
    expect(codes).toEqual(["QB009", "QB011", "QB011"]);
    expect(many).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  });

  test("the same statements for 1 item and for 1,000", async () => {
    const run = (n: number) => (conn: postgres.ReservedSql) =>
      conn`select * from api.add_documents(${s.tenant}, ${s.collection}, ${json(Array.from({ length: n }, (_, i) => ({ title: `t${i}` })))}::text::jsonb)`;
    const few = await countRolledBack(one, run(1));
    const many = await countRolledBack(one, run(1000));
    expect(many.statements - many.foreignKeyChecks).toBe(
      few.statements - few.foreignKeyChecks,
    );
  });
});

describe("api.replace_chunks", () => {
  const chunksOf = (documentId: string, n: number, tag = "v2") =>
    Array.from({ length: n }, (_, k) => ({
      document_id: Number(documentId),
      chunk_index: n - 1 - k,
      content: `${tag} chunk ${n - 1 - k} of ${documentId} ` + "é".repeat(k),
    }));

  test("replaces every named document's chunks, in chunk_index order, sizes from the content, content_size their sum; other tenants' documents are not found (reference: the tables)", async () => {
    // Setup: two documents of the collection (3 and 1 new chunks), one of another tenant, one unknown
    const [d1, d2] = s.documents;
    const batch = [
      ...chunksOf(d1!, 3),
      ...chunksOf(d2!, 1),
      {
        document_id: Number(s.otherDocuments[0]),
        chunk_index: 0,
        content: "intruder",
      },
      { document_id: 987654321, chunk_index: 0, content: "nobody" },
    ];
    const { sql } = db();
    const [old] = await sql<
      { n: number }[]
    >`select count(*)::int as n from app.chunks where tenant_id = ${s.tenant} and collection_id = ${s.collection} and document_id in (${d1!}, ${d2!})`;
    const otherBefore =
      await sql`select * from app.chunks where tenant_id = ${s.other} order by id`;
    // Action
    const [res] = await app<
      { r: unknown }[]
    >`select api.replace_chunks(${s.tenant}, ${s.collection}, ${json(batch)}::text::jsonb) as r`;
    const stats = (
      await app<
        { s: { chunks: { total: number; min_size: number } } }[]
      >`select api.collection_statistics(${s.tenant}, ${s.collection}, true) as s`
    )[0]!.s;
    // Assertions
    expect(res!.r).toEqual({
      replaced: 2,
      chunks_inserted: 4,
      chunks_deleted: old!.n,
      not_found: 2,
    });
    const chunks = await sql<
      {
        document_id: string;
        chunk_index: number;
        content: string;
        size: number;
      }[]
    >`
      select document_id::text, chunk_index, content, size from app.chunks
      where tenant_id = ${s.tenant} and collection_id = ${s.collection} and document_id in (${d1!}, ${d2!}) order by id`;
    const expected = [...chunksOf(d1!, 3).reverse(), ...chunksOf(d2!, 1)].map(
      (c) => ({
        document_id: String(c.document_id),
        chunk_index: c.chunk_index,
        content: c.content,
        size: [...c.content].length,
      }),
    );
    expect(chunks).toEqual(expected);
    const sizes = await sql<
      { id: string; content_size: number; sum: number }[]
    >`
      select d.id::text, d.content_size, (select sum(k.size)::int from app.chunks k where k.tenant_id = d.tenant_id and k.collection_id = d.collection_id and k.document_id = d.id) as sum
      from app.documents d where d.tenant_id = ${s.tenant} and d.id in (${d1!}, ${d2!}) order by d.id`;
    for (const r of sizes) expect(r.content_size).toBe(r.sum);
    expect(
      await sql`select * from app.chunks where tenant_id = ${s.other} order by id`,
    ).toEqual(otherBefore);
    // the live statistics see the new chunks
    const [ref] = await sql<{ total: number; min_size: number }[]>`
      select count(*)::int as total, min(size)::int as min_size from app.chunks where tenant_id = ${s.tenant} and collection_id = ${s.collection}`;
    expect({
      total: stats.chunks.total,
      min_size: stats.chunks.min_size,
    }).toEqual(ref);
  });

  test("a document of the tenant in another collection is not found; duplicates (document_id, chunk_index) refuse the batch with QB011", async () => {
    // Setup
    const { sql } = db();
    const [elsewhere] = await sql<{ id: string }[]>`
      select id::text from app.documents where tenant_id = ${s.tenant} and collection_id <> ${s.collection} and status <> 'deleted' order by id limit 1`;
    // Action
    const r = await rolledBack(
      async (conn) =>
        (
          await conn<
            { r: unknown }[]
          >`select api.replace_chunks(${s.tenant}, ${s.collection}, ${json(chunksOf(elsewhere!.id, 2))}::text::jsonb) as r`
        )[0]!.r,
    );
    let message = "";
    const code = await sqlState(
      app`select api.replace_chunks(${s.tenant}, ${s.collection}, ${json([...chunksOf(s.documents[2]!, 2), { document_id: Number(s.documents[2]), chunk_index: 1, content: "again" }])}::text::jsonb)`.catch(
        (e) => {
          message = (e as Error).message;
          throw e;
        },
      ),
    );
    // Assertions
    expect(r).toEqual({
      replaced: 0,
      chunks_inserted: 0,
      chunks_deleted: 0,
      not_found: 1,
    });
    expect(code).toBe("QB011");
    expect(message).toContain("p_chunks[2]");
    expect(message).toContain("p_chunks[0]");
  });

  test("10,000 chunks in one call; the same statements for 1 chunk and for 1,000", async () => {
    // Setup: 1,000 documents' worth is more than the collection has, so 10 documents x 1,000 chunks
    const docs = s.documents.slice(3, 13);
    const big = docs.flatMap((d) => chunksOf(d, 1000, "big"));
    // Action
    const r = await rolledBack(
      async (conn) =>
        (
          await conn<
            { r: { chunks_inserted: number; replaced: number } }[]
          >`select api.replace_chunks(${s.tenant}, ${s.collection}, ${json(big)}::text::jsonb) as r`
        )[0]!.r,
    );
    const run = (items: unknown[]) => (conn: postgres.ReservedSql) =>
      conn`select api.replace_chunks(${s.tenant}, ${s.collection}, ${json(items)}::text::jsonb)`;
    const few = await countRolledBack(one, run(chunksOf(s.documents[13]!, 1)));
    const many = await countRolledBack(
      one,
      run(s.documents.slice(13, 23).flatMap((d) => chunksOf(d, 100))),
    );
    // Assertions
    expect(r).toMatchObject({ replaced: 10, chunks_inserted: 10_000 });
    expect(many.statements - many.foreignKeyChecks).toBe(
      few.statements - few.foreignKeyChecks,
    );
  });
});
