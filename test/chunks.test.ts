// api.chunks_for_documents and api.chunks_page, checked against the seeds' "before" code
// (scripts/lib/before/chunks.ts: one query per document; OFFSET paging) and a naive ordered
// query, on random collections of the seeded data, the biggest one and an empty one.
import { beforeAll, describe, expect, test } from "vitest";
import {
  chunksForDocuments as chunksForDocumentsBefore,
  chunksPage as chunksPageBefore,
  type ChunkPageRow,
  type ChunkRow,
} from "../scripts/lib/before/chunks.ts";
import { useTestDatabase } from "./harness/database.ts";
import { prng, pick } from "./harness/random.ts";
import { sqlState as errorCode } from "./harness/errors.ts";

const db = useTestDatabase("chunks");

interface Collection {
  tenant_id: string;
  id: string;
  chunks: number;
  documents: string[];
}

let collections: Collection[] = [];
let biggest: Collection;
let empty: Collection;

async function forDocuments(
  c: { tenant_id: string; id: string },
  ids: (string | null)[],
  limit?: number,
): Promise<ChunkRow[]> {
  const { sql } = db();
  return limit === undefined
    ? await sql<
        ChunkRow[]
      >`select * from api.chunks_for_documents(${c.tenant_id}, ${c.id}, ${ids}::bigint[])`
    : await sql<
        ChunkRow[]
      >`select * from api.chunks_for_documents(${c.tenant_id}, ${c.id}, ${ids}::bigint[], ${limit})`;
}

async function page(
  c: { tenant_id: string; id: string },
  after: string | null,
  size: number,
): Promise<ChunkPageRow[]> {
  return await db().sql<
    ChunkPageRow[]
  >`select * from api.chunks_page(${c.tenant_id}, ${c.id}, ${after}, ${size})`;
}

/** The naive reference: every chunk of the collection, in id order. */
async function allChunks(c: {
  tenant_id: string;
  id: string;
}): Promise<ChunkPageRow[]> {
  return await db().sql<ChunkPageRow[]>`
    select id, document_id, chunk_index, content, size from app.chunks
    where tenant_id = ${c.tenant_id} and collection_id = ${c.id} order by id`;
}

beforeAll(async () => {
  const { sql } = db();
  await sql`
    insert into app.collections (tenant_id, owner_id, name)
    select u.tenant_id, u.id, 'chunks test: empty' from app.users u where u.tenant_id = 2 order by u.id limit 1`;
  collections = await sql<Collection[]>`
    select c.tenant_id, c.id,
           (select count(*)::int from app.chunks k where k.tenant_id = c.tenant_id and k.collection_id = c.id) as chunks,
           array(select d.id::text from app.documents d where d.tenant_id = c.tenant_id and d.collection_id = c.id order by d.id) as documents
    from app.collections c order by c.tenant_id, c.id`;
  biggest = collections.reduce((a, b) => (b.chunks > a.chunks ? b : a));
  empty = collections.find((c) => c.chunks === 0 && c.documents.length === 0)!;
});

describe("api.chunks_for_documents", () => {
  test("the seeded data has what the tests need", () => {
    expect(biggest.chunks).toBeGreaterThan(1000);
    expect(empty).toBeDefined();
    expect(collections.filter((c) => c.chunks > 0).length).toBeGreaterThan(10);
  });

  test("equals the before side (one query per document) on random collections and id sets", async () => {
    const random = prng(1234);
    const others = collections.filter((c) => c.chunks > 0 && c !== biggest);
    const allDocuments = collections.flatMap((c) => c.documents);
    const cases: { c: Collection; ids: string[]; limit?: number }[] = [
      // every document of the biggest collection, in a shuffled order, with the largest limit
      {
        c: biggest,
        ids: pick(biggest.documents, biggest.documents.length, random),
        limit: 10000,
      },
      // the default limit (1000) cuts the biggest collection's rows
      { c: biggest, ids: biggest.documents },
      // a limit that ends in the middle of a document
      { c: biggest, ids: pick(biggest.documents, 20, random), limit: 37 },
      { c: empty, ids: pick(allDocuments, 5, random) },
    ];
    for (const c of pick(others, 8, random)) {
      // its own documents, some of another collection's (no rows), an id no document has, a repeat
      const own = pick(
        c.documents,
        1 + Math.floor(random() * Math.min(30, c.documents.length)),
        random,
      );
      const foreign = pick(
        allDocuments.filter((d) => !c.documents.includes(d)),
        3,
        random,
      );
      cases.push({
        c,
        ids: [...own, ...foreign, "999999999", own[0]!],
        limit: 1 + Math.floor(random() * 400),
      });
    }
    let rowsCompared = 0;
    for (const { c, ids, limit } of cases) {
      const label = `tenant ${c.tenant_id} collection ${c.id}, ${ids.length} ids, limit ${limit ?? "default"}`;
      const actual = await forDocuments(c, ids, limit);
      const expected = await chunksForDocumentsBefore(
        db().sql,
        c.tenant_id,
        c.id,
        ids,
        limit,
      );
      expect(actual, label).toEqual(expected);
      rowsCompared += actual.length;
    }
    expect(rowsCompared).toBeGreaterThan(1000);
    // the default limit did cut
    expect((await forDocuments(biggest, biggest.documents)).length).toBe(
      Math.min(1000, biggest.chunks),
    );
  });

  test("another tenant's collection gives no rows", async () => {
    const other = collections.find((c) => c.tenant_id !== biggest.tenant_id)!;
    expect(
      await forDocuments(
        { tenant_id: other.tenant_id, id: biggest.id },
        biggest.documents.slice(0, 10),
      ),
    ).toEqual([]);
  });

  test("errors: QB001 nulls, QB002 empty, QB003 too many, QB007 a null id, QB004 limit, QB005 unknown tenant", async () => {
    const { sql } = db();
    const c = biggest;
    const ids = c.documents.slice(0, 3);
    expect(
      await errorCode(
        sql`select * from api.chunks_for_documents(null, ${c.id}, ${ids}::bigint[])`,
      ),
    ).toBe("QB001");
    expect(
      await errorCode(
        sql`select * from api.chunks_for_documents(${c.tenant_id}, null, ${ids}::bigint[])`,
      ),
    ).toBe("QB001");
    expect(
      await errorCode(
        sql`select * from api.chunks_for_documents(${c.tenant_id}, ${c.id}, null)`,
      ),
    ).toBe("QB001");
    expect(
      await errorCode(
        sql`select * from api.chunks_for_documents(${c.tenant_id}, ${c.id}, ${ids}::bigint[], null)`,
      ),
    ).toBe("QB001");
    expect(await errorCode(forDocuments(c, []))).toBe("QB002");
    expect(
      await errorCode(
        forDocuments(
          c,
          Array.from({ length: 10001 }, (_, i) => String(i + 1)),
        ),
      ),
    ).toBe("QB003");
    expect(await errorCode(forDocuments(c, [ids[0]!, null]))).toBe("QB007");
    expect(await errorCode(forDocuments(c, ids, 0))).toBe("QB004");
    expect(await errorCode(forDocuments(c, ids, 10001))).toBe("QB004");
    expect(
      await errorCode(
        sql`select * from api.chunks_for_documents(999999999, ${c.id}, ${ids}::bigint[])`,
      ),
    ).toBe("QB005");
    // the bounds themselves are allowed
    expect(
      (
        await forDocuments(
          c,
          Array.from({ length: 10000 }, (_, i) => String(i + 1)),
          10000,
        )
      ).length,
    ).toBeGreaterThanOrEqual(0);
    expect((await forDocuments(c, ids, 1)).length).toBe(1);
  });
});

describe("api.chunks_page", () => {
  test("pages walked to the end equal the naive ordered list: no gap, no duplicate (biggest, random, empty collections)", async () => {
    const random = prng(99);
    const chosen = [
      biggest,
      empty,
      ...pick(
        collections.filter((c) => c !== biggest && c !== empty),
        6,
        random,
      ),
    ];
    for (const c of chosen) {
      for (const size of [1000, 100, 7]) {
        if (size === 7 && c.chunks > 700) continue; // keep the test fast: 7 is for the small ones
        const label = `tenant ${c.tenant_id} collection ${c.id}, pages of ${size}`;
        const walked: ChunkPageRow[] = [];
        let after: string | null = null;
        for (let pages = 0; ; pages++) {
          expect(pages, `${label}: more pages than rows`).toBeLessThanOrEqual(
            c.chunks + 1,
          );
          const rows = await page(c, after, size);
          expect(rows.length, label).toBeLessThanOrEqual(size);
          walked.push(...rows);
          if (rows.length < size) break;
          after = rows[rows.length - 1]!.id;
        }
        expect(
          new Set(walked.map((r) => r.id)).size,
          `${label}: duplicates`,
        ).toBe(walked.length);
        expect(walked, label).toEqual(await allChunks(c));
      }
    }
  });

  test("each keyset page equals the before side's OFFSET page with the same number", async () => {
    const random = prng(5);
    for (const c of [
      biggest,
      ...pick(
        collections.filter((x) => x.chunks > 0 && x !== biggest),
        3,
        random,
      ),
    ]) {
      const size = 50 + Math.floor(random() * 100);
      let after: string | null = null;
      for (let n = 1; ; n++) {
        const rows = await page(c, after, size);
        expect(
          rows,
          `tenant ${c.tenant_id} collection ${c.id} page ${n} of ${size}`,
        ).toEqual(await chunksPageBefore(db().sql, c.tenant_id, c.id, n, size));
        if (rows.length < size) break;
        after = rows[rows.length - 1]!.id;
      }
    }
  });

  test("a cursor from the middle, the default page size, and another tenant's collection", async () => {
    const all = await allChunks(biggest);
    const middle = all[Math.floor(all.length / 2)]!;
    expect(await page(biggest, middle.id, 1000)).toEqual(
      all.filter((r) => BigInt(r.id) > BigInt(middle.id)).slice(0, 1000),
    );
    const first = await db().sql<
      ChunkPageRow[]
    >`select * from api.chunks_page(${biggest.tenant_id}, ${biggest.id})`;
    expect(first).toEqual(all.slice(0, 100));
    // a cursor need not be an id of the collection: 0 starts at the beginning
    expect(await page(biggest, "0", 100)).toEqual(all.slice(0, 100));
    const other = collections.find((c) => c.tenant_id !== biggest.tenant_id)!;
    expect(
      await page({ tenant_id: other.tenant_id, id: biggest.id }, null, 100),
    ).toEqual([]);
  });

  test("a row inserted behind the cursor neither shifts nor repeats the next page", async () => {
    const { sql } = db();
    const c = biggest;
    const first = await page(c, null, 100);
    const [doc] = await sql<{ id: string }[]>`
      insert into app.documents (tenant_id, collection_id, title) values (${c.tenant_id}, ${c.id}, 'chunks test') returning id`;
    // a new chunk gets a new, larger id: it lands at the end, not before the cursor
    await sql`insert into app.chunks (tenant_id, collection_id, document_id, chunk_index, content, size)
              values (${c.tenant_id}, ${c.id}, ${doc!.id}, 0, 'new', 3)`;
    const all = await allChunks(c);
    expect(await page(c, first[first.length - 1]!.id, 100)).toEqual(
      all.slice(100, 200),
    );
    expect(all[all.length - 1]!.document_id).toBe(doc!.id);
  });

  test("errors: QB001 nulls, QB004 page size, QB005 unknown tenant, QB006 negative cursor", async () => {
    const { sql } = db();
    const c = biggest;
    expect(
      await errorCode(sql`select * from api.chunks_page(null, ${c.id})`),
    ).toBe("QB001");
    expect(
      await errorCode(sql`select * from api.chunks_page(${c.tenant_id}, null)`),
    ).toBe("QB001");
    expect(
      await errorCode(
        sql`select * from api.chunks_page(${c.tenant_id}, ${c.id}, null, null)`,
      ),
    ).toBe("QB001");
    expect(await errorCode(page(c, null, 0))).toBe("QB004");
    expect(await errorCode(page(c, null, 1001))).toBe("QB004");
    expect(
      await errorCode(sql`select * from api.chunks_page(999999999, ${c.id})`),
    ).toBe("QB005");
    expect(await errorCode(page(c, "-1", 100))).toBe("QB006");
  });
});
