// api.collection_statistics, the maintained statistics (app.collection_stat_totals), and
// api.knowledge_gap_stats, checked against the seeds' "before" code (scripts/lib/before/
// statistics.ts: load everything and count in code; one COUNT per number) on the seeded data.
import { beforeAll, describe, expect, test } from "vitest";
import {
  collectionStatistics as collectionStatisticsBefore,
  GAP_CATEGORIES,
  GAP_STATUSES,
  knowledgeGapStats as knowledgeGapStatsBefore,
  documentStatusCounts as documentStatusCountsBefore,
  DOCUMENT_STATUSES,
  type CollectionStatistics,
  type KnowledgeGapStats,
} from "../scripts/lib/before/statistics.ts";
import { useTestDatabase } from "./harness/database.ts";
import { prng, pick } from "./harness/random.ts";
import { sqlState as errorCode } from "./harness/errors.ts";

const db = useTestDatabase("statistics");

const close = (a: number, b: number) =>
  Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
const time = (s: string | null) => (s === null ? null : new Date(s).getTime());

/** Everything but as_of, floats within a relative 1e-9, timestamps as instants. */
function expectSameStatistics(
  actual: CollectionStatistics,
  expected: CollectionStatistics,
  label: string,
) {
  const { operations: a, chunks: c } = actual;
  const { operations: e, chunks: f } = expected;
  expect(
    {
      ...a,
      avg_processing_time: 0,
      first_operation_at: 0,
      last_operation_at: 0,
    },
    label,
  ).toEqual({
    ...e,
    avg_processing_time: 0,
    first_operation_at: 0,
    last_operation_at: 0,
  });
  expect(
    close(a.avg_processing_time, e.avg_processing_time),
    `${label}: avg_processing_time ${a.avg_processing_time} vs ${e.avg_processing_time}`,
  ).toBe(true);
  expect(time(a.first_operation_at), `${label}: first_operation_at`).toBe(
    time(e.first_operation_at),
  );
  expect(time(a.last_operation_at), `${label}: last_operation_at`).toBe(
    time(e.last_operation_at),
  );
  expect({ ...c, avg_size: 0 }, label).toEqual({ ...f, avg_size: 0 });
  expect(
    close(c.avg_size, f.avg_size),
    `${label}: avg_size ${c.avg_size} vs ${f.avg_size}`,
  ).toBe(true);
  expect(actual.strategies, label).toEqual(expected.strategies);
}

interface Collection {
  tenant_id: string;
  id: string;
  chunks: number;
  operations: number;
}

let collections: Collection[] = [];
let emptyCollection: Collection;
let biggest: Collection;

async function stats(
  tenantId: string,
  collectionId: string,
  fresh?: boolean,
): Promise<CollectionStatistics> {
  const [row] =
    fresh === undefined
      ? await db().sql<
          { s: CollectionStatistics }[]
        >`select api.collection_statistics(${tenantId}, ${collectionId}) as s`
      : await db().sql<
          { s: CollectionStatistics }[]
        >`select api.collection_statistics(${tenantId}, ${collectionId}, ${fresh}) as s`;
  return row!.s;
}

async function gapStats(tenantId: string | number): Promise<KnowledgeGapStats> {
  const [row] = await db().sql<
    { s: KnowledgeGapStats }[]
  >`select api.knowledge_gap_stats(${tenantId}) as s`;
  return row!.s;
}

beforeAll(async () => {
  const { sql } = db();
  // An empty collection of tenant 2 (no documents, chunks or operations), made before the refresh.
  const [made] = await sql<{ tenant_id: string; id: string }[]>`
    insert into app.collections (tenant_id, owner_id, name)
    select u.tenant_id, u.id, 'statistics test: empty' from app.users u where u.tenant_id = 2 order by u.id limit 1
    returning tenant_id, id`;
  // The totals the writers maintain (the seed wrote its rows around the api)
  await sql`select maint.rebuild_collection_stats()`;
  collections = await sql<Collection[]>`
    select c.tenant_id, c.id,
           (select count(*)::int from app.chunks k where k.tenant_id = c.tenant_id and k.collection_id = c.id) as chunks,
           (select count(*)::int from app.operations o where o.tenant_id = c.tenant_id and o.collection_id = c.id) as operations
    from app.collections c order by c.tenant_id, c.id`;
  emptyCollection = collections.find((c) => c.id === made!.id)!;
  biggest = collections.reduce((a, b) =>
    b.chunks + b.operations > a.chunks + a.operations ? b : a,
  );
});

describe("api.collection_statistics", () => {
  test("the seeded data has what the tests need: a big collection, an empty one, several tenants", () => {
    expect(biggest.chunks).toBeGreaterThan(500);
    expect(biggest.operations).toBeGreaterThan(500);
    expect(emptyCollection.chunks + emptyCollection.operations).toBe(0);
    expect(new Set(collections.map((c) => c.tenant_id)).size).toBeGreaterThan(
      3,
    );
  });

  test("equals the before side (load all, count in code), from the view and fresh, on random collections, the biggest and an empty one", async () => {
    const random = prng(20240501);
    const chosen = [
      biggest,
      emptyCollection,
      ...pick(
        collections.filter((c) => c !== biggest && c !== emptyCollection),
        8,
        random,
      ),
    ];
    for (const c of chosen) {
      const label = `tenant ${c.tenant_id} collection ${c.id}`;
      const expected = await collectionStatisticsBefore(
        db().sql,
        c.tenant_id,
        c.id,
      );
      // the reference agrees with a plain count
      expect(
        [expected.chunks.total, expected.operations.total <= c.operations],
        label,
      ).toEqual([c.chunks, true]);
      expectSameStatistics(
        await stats(c.tenant_id, c.id),
        expected,
        `${label} (view)`,
      );
      expectSameStatistics(
        await stats(c.tenant_id, c.id, true),
        expected,
        `${label} (fresh)`,
      );
    }
  });

  test("the biggest collection has real numbers (a sanity check on the reference itself)", async () => {
    const s = await stats(biggest.tenant_id, biggest.id, true);
    expect(s.operations.total).toBeGreaterThan(0);
    expect(s.operations.completed).toBeGreaterThan(0);
    expect(s.operations.success_rate).toBeGreaterThan(0);
    expect(s.operations.success_rate).toBeLessThanOrEqual(100);
    expect(s.chunks.total).toBe(biggest.chunks);
    expect(Object.keys(s.strategies).length).toBeGreaterThan(0);
  });

  test("an empty collection: zeros, null first/last, no strategies", async () => {
    for (const fresh of [false, true]) {
      const s = await stats(
        emptyCollection.tenant_id,
        emptyCollection.id,
        fresh,
      );
      expect(s.operations).toEqual({
        total: 0,
        completed: 0,
        failed: 0,
        processing: 0,
        success_rate: 0,
        avg_processing_time: 0,
        first_operation_at: null,
        last_operation_at: null,
      });
      expect(s.chunks).toEqual({
        total: 0,
        avg_size: 0,
        min_size: 0,
        max_size: 0,
        unique_documents: 0,
      });
      expect(s.strategies).toEqual({});
    }
  });

  test("as_of: now, by default (committed writes are counted) and fresh", async () => {
    const c = collections[0]!;
    for (const fresh of [false, true]) {
      const before = Date.now();
      const at = time((await stats(c.tenant_id, c.id, fresh)).as_of)!;
      expect(Math.abs(at - before)).toBeLessThan(60_000);
    }
  });

  test("a collection made after the last refresh is computed live (zeros), not refused", async () => {
    const [made] = await db().sql<{ id: string }[]>`
      insert into app.collections (tenant_id, owner_id, name)
      select u.tenant_id, u.id, 'statistics test: after refresh' from app.users u where u.tenant_id = 3 order by u.id limit 1
      returning id`;
    const [inTotals] = await db().sql<
      { n: number }[]
    >`select count(*)::int as n from app.collection_stat_totals where collection_id = ${made!.id}`;
    expect(inTotals!.n).toBe(0);
    const s = await stats("3", made!.id);
    expect(s.operations.total).toBe(0);
    expect(s.chunks.total).toBe(0);
  });

  test("errors: QB001 null arguments, QB005 unknown tenant, QB009 unknown collection or another tenant's", async () => {
    const { sql } = db();
    const other = collections.find((c) => c.tenant_id !== biggest.tenant_id)!;
    expect(
      await errorCode(
        sql`select api.collection_statistics(null, ${biggest.id})`,
      ),
    ).toBe("QB001");
    expect(
      await errorCode(
        sql`select api.collection_statistics(${biggest.tenant_id}, null)`,
      ),
    ).toBe("QB001");
    expect(
      await errorCode(
        sql`select api.collection_statistics(${biggest.tenant_id}, ${biggest.id}, null)`,
      ),
    ).toBe("QB001");
    expect(
      await errorCode(
        sql`select api.collection_statistics(999999999, ${biggest.id})`,
      ),
    ).toBe("QB005");
    expect(
      await errorCode(
        sql`select api.collection_statistics(${biggest.tenant_id}, 999999999)`,
      ),
    ).toBe("QB009");
    expect(
      await errorCode(
        sql`select api.collection_statistics(${biggest.tenant_id}, 999999999, true)`,
      ),
    ).toBe("QB009");
    expect(
      await errorCode(
        sql`select api.collection_statistics(${biggest.tenant_id}, ${other.id})`,
      ),
    ).toBe("QB009");
    expect(
      await errorCode(
        sql`select api.collection_statistics(${biggest.tenant_id}, ${other.id}, true)`,
      ),
    ).toBe("QB009");
  });
});

describe("the maintained statistics (app.collection_stat_totals)", () => {
  test("the default equals p_fresh => true for every collection of two tenants", async () => {
    const random = prng(7);
    const tenants = [
      biggest.tenant_id,
      ...pick(
        [...new Set(collections.map((c) => c.tenant_id))].filter(
          (t) => t !== biggest.tenant_id,
        ),
        1,
        random,
      ),
    ];
    for (const tenant of tenants) {
      const ofTenant = collections.filter((c) => c.tenant_id === tenant);
      expect(ofTenant.length).toBeGreaterThan(0);
      for (const c of ofTenant) {
        expectSameStatistics(
          await stats(c.tenant_id, c.id),
          await stats(c.tenant_id, c.id, true),
          `tenant ${tenant} collection ${c.id}`,
        );
      }
    }
  });

  test("the default reads the totals the writers maintain: a row written around the api shows only after maint.rebuild_collection_stats()", async () => {
    const { sql } = db();
    const c = biggest;
    const old = await stats(c.tenant_id, c.id);
    await sql`
      insert into app.operations (tenant_id, collection_id, type, status, processing_time, metadata)
      values (${c.tenant_id}, ${c.id}, 'chunking', 'completed', 1.5, '{"strategy": "statistics-test"}')`;
    expectSameStatistics(
      await stats(c.tenant_id, c.id),
      old,
      "not written through the api",
    );
    const fresh = await stats(c.tenant_id, c.id, true);
    expect(fresh.operations.total).toBe(old.operations.total + 1);
    expect(fresh.strategies["statistics-test"]).toBe(1);

    await sql`select maint.rebuild_collection_stats()`;
    const now = await stats(c.tenant_id, c.id);
    expectSameStatistics(now, fresh, "rebuilt");
    expectSameStatistics(
      now,
      await collectionStatisticsBefore(sql, c.tenant_id, c.id),
      "rebuilt vs before",
    );
  });

  test("operations by type and status in the totals add up to the operations of the collection", async () => {
    const rows = await db().sql<
      { collection_id: string; by_type_status: string; naive: string }[]
    >`
      select v.collection_id::text,
             (select coalesce(sum(value::bigint), 0) from jsonb_each_text(v.operations_by_type_status))::text as by_type_status,
             (select count(*) from app.operations o where o.tenant_id = v.tenant_id and o.collection_id = v.collection_id)::text as naive
      from app.collection_stat_totals v`;
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows)
      expect(r.by_type_status, `collection ${r.collection_id}`).toBe(r.naive);
  });
});

describe("the two paths agree exactly: the default (maintained) and p_fresh => true", () => {
  // docs/api.md: for the same data both return the same jsonb, as_of apart (the refresh time or
  // now), to the last digit: the averages are exact (numeric sum over count, rounded once to
  // double precision) instead of float sums that depend on the order they add in.
  test("every collection of the database gets the same jsonb from both, as_of apart, compared as text", async () => {
    const { sql } = db();
    const all = await sql<{ tenant_id: string; id: string }[]>`
      select tenant_id::text, id::text from app.collections order by tenant_id, id`;
    expect(all.length).toBeGreaterThan(10);

    const differing: string[] = [];
    let withAverage = 0;
    for (const c of all) {
      const [row] = await sql<
        {
          view: string;
          fresh: string;
          view_keys: string;
          fresh_keys: string;
          avg: number;
        }[]
      >`
        select (v - 'as_of')::text as view, (f - 'as_of')::text as fresh,
               (select string_agg(k, ',' order by k) from jsonb_object_keys(v) k) as view_keys,
               (select string_agg(k, ',' order by k) from jsonb_object_keys(f) k) as fresh_keys,
               (f -> 'operations' ->> 'avg_processing_time')::float8 as avg
        from (select api.collection_statistics(${c.tenant_id}, ${c.id}) as v,
                     api.collection_statistics(${c.tenant_id}, ${c.id}, true) as f) x`;
      expect(
        row!.view_keys,
        `tenant ${c.tenant_id} collection ${c.id}: the same keys`,
      ).toBe(row!.fresh_keys);
      if (row!.view !== row!.fresh)
        differing.push(
          `tenant ${c.tenant_id} collection ${c.id}:\n  view  ${row!.view}\n  fresh ${row!.fresh}`,
        );
      if (row!.avg > 0) withAverage++;
    }
    expect(differing, differing.join("\n")).toEqual([]);
    // most collections have completed operations, so the averages were compared for real
    expect(withAverage).toBeGreaterThan(all.length / 2);
  });

  test("the check can fail: float sums in the view's order and in the fresh path's give different averages on this data", async () => {
    // The view sums per (collection, type, status, strategy) group, then the groups; the fresh
    // path row by row. In double precision those differ in the last digits for most collections:
    // what made the two paths disagree before the averages became exact.
    const [r] = await db().sql<{ differ: number; total: number }[]>`
      with g as (
        select tenant_id, collection_id, metadata ->> 'strategy' as strategy, sum(processing_time) as s, count(processing_time) as n
        from app.operations where type = 'chunking' and status = 'completed'
        group by tenant_id, collection_id, metadata ->> 'strategy'),
      grouped as (select tenant_id, collection_id, sum(s) / sum(n) as a from g group by tenant_id, collection_id),
      direct as (select tenant_id, collection_id, avg(processing_time) as a from app.operations
                 where type = 'chunking' and status = 'completed' group by tenant_id, collection_id)
      select count(*) filter (where grouped.a <> direct.a)::int as differ, count(*)::int as total
      from grouped join direct using (tenant_id, collection_id)`;
    expect(r!.total).toBeGreaterThan(10);
    expect(r!.differ).toBeGreaterThan(0);
  });
});

describe("api.knowledge_gap_stats", () => {
  test("equals the before side (one COUNT per number) on random tenants, the biggest one and one without gaps", async () => {
    const { sql } = db();
    const [empty] = await sql<
      { tenant_id: string }[]
    >`insert into app.tenants (name) values ('statistics test: no gaps') returning tenant_id`;
    const tenants = await sql<{ tenant_id: string; n: number }[]>`
      select t.tenant_id, (select count(*)::int from app.knowledge_gaps g where g.tenant_id = t.tenant_id) as n
      from app.tenants t order by t.tenant_id`;
    const withGaps = tenants.filter((t) => t.n > 0);
    expect(withGaps.length).toBeGreaterThan(3);
    const most = withGaps.reduce((a, b) => (b.n > a.n ? b : a));
    const chosen = [
      most.tenant_id,
      empty!.tenant_id,
      ...pick(
        withGaps.map((t) => t.tenant_id),
        6,
        prng(42),
      ),
    ];
    for (const tenant of chosen) {
      const actual = await gapStats(tenant);
      const expected = await knowledgeGapStatsBefore(sql, tenant);
      expect(actual, `tenant ${tenant}`).toEqual(expected);
      expect(Object.keys(actual.by_category).sort()).toEqual(
        [...GAP_CATEGORIES].sort(),
      );
      expect(Object.keys(actual.by_status).sort()).toEqual(
        [...GAP_STATUSES].sort(),
      );
    }
    expect((await gapStats(most.tenant_id)).total).toBe(most.n);
    expect(await gapStats(empty!.tenant_id)).toEqual({
      total: 0,
      open: 0,
      closed: 0,
      by_status: Object.fromEntries(GAP_STATUSES.map((s) => [s, 0])),
      by_category: Object.fromEntries(GAP_CATEGORIES.map((c) => [c, 0])),
    });
  });

  test("the categories and statuses it lists are exactly those the table allows", async () => {
    const [row] = await db().sql<{ defs: string }[]>`
      select string_agg(pg_get_constraintdef(oid), ' ') as defs from pg_constraint
      where conrelid = 'app.knowledge_gaps'::regclass and contype = 'c'`;
    const allowed = [...row!.defs.matchAll(/'(\w+)'::text/g)]
      .map((m) => m[1])
      .sort();
    expect(allowed).toEqual([...GAP_CATEGORIES, ...GAP_STATUSES].sort());
  });

  test("errors: QB001 null tenant, QB005 unknown tenant", async () => {
    expect(
      await errorCode(db().sql`select api.knowledge_gap_stats(null)`),
    ).toBe("QB001");
    expect(
      await errorCode(db().sql`select api.knowledge_gap_stats(999999999)`),
    ).toBe("QB005");
  });
});

describe("api.document_status_counts", () => {
  test("equals the before side (one COUNT per status) on every tenant, soft-deleted documents left out of the total", async () => {
    const { sql } = db();
    // Some soft-deleted documents, so the total's rule is exercised.
    await sql`update app.documents set status = 'deleted'
              where id in (select id from app.documents where status <> 'deleted' order by id limit 25)`;
    const [all] = await sql<
      { n: number }[]
    >`select count(*)::int as n from app.documents where status = 'deleted'`;
    const tenants = await sql<
      { tenant_id: string }[]
    >`select tenant_id from app.tenants order by tenant_id`;
    let deleted = 0;
    for (const { tenant_id } of tenants) {
      const [row] = await sql<
        { s: { total: number; by_status: Record<string, number> } }[]
      >`
        select api.document_status_counts(${tenant_id}) as s`;
      const expected = await documentStatusCountsBefore(sql, tenant_id);
      expect(row!.s, `tenant ${tenant_id}`).toEqual(expected);
      expect(Object.keys(row!.s.by_status).sort()).toEqual(
        [...DOCUMENT_STATUSES].sort(),
      );
      deleted += row!.s.by_status.deleted ?? 0;
    }
    expect(deleted).toBe(all!.n);
  });

  test("errors: QB001 null tenant, QB005 unknown tenant", async () => {
    expect(
      await errorCode(db().sql`select api.document_status_counts(null)`),
    ).toBe("QB001");
    expect(
      await errorCode(db().sql`select api.document_status_counts(999999999)`),
    ).toBe("QB005");
  });
});
