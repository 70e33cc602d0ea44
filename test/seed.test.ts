// Seeding: sizes by the documented ratios, realistic skew, deterministic for a seed, and
// analyzed afterwards (partitioned parents included).
import { describe, expect, test } from "vitest";
import { seedDatabase, type SeedReport } from "../scripts/lib/seed.ts";
import { useTestDatabase } from "./harness/database.ts";

const db = useTestDatabase("seed");
const ROWS = 4000;
const ANCHOR = new Date("2026-11-01T12:00:00Z");
const CLOCK = new Date("2026-11-02T08:00:00Z");

// A checksum per table, over every column, in key order.
async function checksums(): Promise<Record<string, string>> {
  const { sql } = db();
  const rows = await sql<{ t: string; sum: string }[]>`
    select 'chunks' as t, md5(string_agg(c::text, ',' order by c.tenant_id, c.collection_id, c.id)) as sum from app.chunks c
    union all select 'operations', md5(string_agg(o::text, ',' order by o.id)) from app.operations o
    union all select 'documents', md5(string_agg(d::text, ',' order by d.id)) from app.documents d
    union all select 'messages', md5(string_agg(m::text, ',' order by m.id)) from app.messages m
    union all select 'user_sessions', md5(string_agg(s::text, ',' order by s.id)) from app.user_sessions s`;
  return Object.fromEntries(rows.map((r) => [r.t, r.sum]));
}

describe("seeding", () => {
  let first: SeedReport;

  test("fills every table by the ratios of docs/seeding.md", async () => {
    const { sql } = db();
    first = await seedDatabase(sql, {
      rows: ROWS,
      seed: 7,
      anchor: ANCHOR,
      clock: CLOCK,
    });
    const count = (table: string) =>
      first.tables.find((t) => t.table === table)?.rows;
    expect(count("app.chunks")).toBe(ROWS);
    expect(count("app.operations")).toBe(ROWS);
    expect(count("app.documents")).toBe(Math.ceil(ROWS / 10));
    expect(count("app.messages")).toBe(ROWS / 2);
    expect(count("app.user_sessions")).toBe(ROWS / 10);
    expect(count("app.tenants")).toBe(20);
    expect(first.tables.length).toBe(16);
    // What the report says is what the tables hold.
    const [actual] = await sql<{ chunks: number; operations: number }[]>`
      select (select count(*)::int from app.chunks) as chunks, (select count(*)::int from app.operations) as operations`;
    expect(actual).toEqual({ chunks: ROWS, operations: ROWS });
  });

  test("one tenant holds about half the rows, and the rest is a long tail", async () => {
    const { sql } = db();
    const shares = await sql<{ tenant_id: number; share: number }[]>`
      select tenant_id::int, count(*)::float8 / sum(count(*)) over () as share
      from app.chunks group by tenant_id order by share desc`;
    expect(shares[0]!.tenant_id).toBe(1);
    expect(shares[0]!.share).toBeGreaterThan(0.4);
    expect(shares[0]!.share).toBeLessThan(0.6);
    expect(shares.at(-1)!.share).toBeLessThan(shares[1]!.share / 2);
  });

  test("operations are mostly completed, with some failed, pending and processing, over the three months before the anchor's", async () => {
    const { sql } = db();
    const statuses = await sql<{ status: string; share: number }[]>`
      select status, count(*)::float8 / sum(count(*)) over () as share from app.operations group by status`;
    const share = Object.fromEntries(statuses.map((s) => [s.status, s.share]));
    expect(share.completed).toBeGreaterThan(0.75);
    for (const s of ["failed", "pending", "processing"])
      expect(share[s]).toBeGreaterThan(0.01);
    // A third of the rows in each of August, September and October (the anchor is in November).
    const months = await sql<{ month: string; share: number }[]>`
      select to_char(created_at at time zone current_setting('TimeZone'), 'YYYY-MM') as month,
             count(*)::float8 / sum(count(*)) over () as share
      from app.operations group by 1 order by 1`;
    expect(months.map((m) => m.month)).toEqual([
      "2026-08",
      "2026-09",
      "2026-10",
    ]);
    for (const m of months)
      expect(Math.abs(m.share - 1 / 3), m.month).toBeLessThan(0.01);
  });

  test("some sessions, conversations and messages have already expired", async () => {
    const { sql } = db();
    const [expired] = await sql<
      { sessions: number; conversations: number; messages: number }[]
    >`
      select (select count(*)::int from app.user_sessions where expires_at < ${CLOCK}) as sessions,
             (select count(*)::int from app.conversations where expires_at < ${CLOCK}) as conversations,
             (select count(*)::int from app.messages where expires_at < ${CLOCK}) as messages`;
    expect(expired!.sessions).toBeGreaterThan(0);
    expect(expired!.conversations).toBeGreaterThan(0);
    expect(expired!.messages).toBeGreaterThan(0);
  });

  test("no session, conversation or message expires before it is created", async () => {
    const { sql } = db();
    const [bad] = await sql<{ n: number }[]>`
      select (select count(*) from app.user_sessions where expires_at <= created_at)
           + (select count(*) from app.conversations where expires_at <= created_at)
           + (select count(*) from app.messages where expires_at <= created_at) as n`;
    expect(Number(bad!.n)).toBe(0);
  });

  test("lays out the same rows, partitions and expiry whatever the anchor: a month end, a year end, a leap day", async () => {
    const { sql } = db();
    // Setup: what does not move with the calendar, for one anchor.
    const layout = async () => {
      const [row] = await sql<
        {
          partitions: string;
          by_partition: string;
          by_time: string;
          expired: string;
        }[]
      >`
        with parts as (
          select i.inhparent::regclass::text as parent, c.oid, c.relname,
                 -- pg_partman's names sort by month (operations_p2026_08), the default last
                 rank() over (partition by i.inhparent order by pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.relname) as k
          from pg_inherits i join pg_class c on c.oid = i.inhrelid
          where i.inhparent in ('app.operations'::regclass, 'app.messages'::regclass))
        select (select string_agg(parent || ':' || k, ',' order by parent, k) from parts) as partitions,
               md5((select string_agg(format('%s/%s:%s', p.parent, p.k, r.id), ',' order by p.parent, p.k, r.id)
                    from parts p
                    join (select tableoid, id from app.operations union all select tableoid, id from app.messages) r
                      on r.tableoid = p.oid)) as by_partition,
               md5((select string_agg(id::text, ',' order by created_at, id) from app.documents)
                   || (select string_agg(id::text, ',' order by created_at, id) from app.conversations)
                   || (select string_agg(id::text, ',' order by created_at, id) from app.user_sessions)
                   || (select string_agg(id::text, ',' order by created_at, id) from app.workflows)) as by_time,
               md5((select string_agg(id::text, ',' order by expires_at, id) from app.user_sessions where expires_at < ${CLOCK})
                   || (select string_agg(id::text, ',' order by expires_at, id) from app.conversations where expires_at < ${CLOCK})
                   || (select string_agg(id::text, ',' order by expires_at, id) from app.messages where expires_at < ${CLOCK})) as expired`;
      return row!;
    };
    const anchors = [
      "2026-11-01T12:00:00Z",
      "2027-01-31T23:59:59Z",
      "2027-12-31T23:59:59Z",
      "2028-02-29T12:00:00Z",
    ];

    // Action
    const layouts = [];
    for (const anchor of anchors) {
      await seedDatabase(sql, {
        rows: ROWS,
        seed: 7,
        anchor: new Date(anchor),
        clock: CLOCK,
      });
      layouts.push(await layout());
    }

    // Assertions: four partitions before the anchor's month, it, two after, and the default.
    expect(layouts[0]!.partitions).toBe(
      ["app.messages", "app.operations"]
        .map((t) => [1, 2, 3, 4, 5, 6, 7, 8].map((k) => `${t}:${k}`).join(","))
        .join(","),
    );
    for (const [i, l] of layouts.entries())
      expect(l, anchors[i]).toEqual(layouts[0]);
  });

  test("ends analyzed: partitioned parents have inheritance statistics", async () => {
    const { sql } = db();
    const parents = await sql<{ relname: string; analyzed: boolean }[]>`
      select c.relname, exists (select from pg_stats s where s.schemaname = 'app' and s.tablename = c.relname and s.inherited) as analyzed
      from pg_class c where c.relnamespace = 'app'::regnamespace and c.relkind = 'p' order by 1`;
    expect(parents.map((p) => p.relname)).toEqual([
      "chunks",
      "messages",
      "operations",
    ]);
    expect(parents.every((p) => p.analyzed)).toBe(true);
  });

  test("is deterministic: the same seed and anchor give the same rows, another seed other rows", async () => {
    const { sql } = db();
    await seedDatabase(sql, {
      rows: ROWS,
      seed: 7,
      anchor: ANCHOR,
      clock: CLOCK,
    });
    const once = await checksums();
    await seedDatabase(sql, {
      rows: ROWS,
      seed: 7,
      anchor: ANCHOR,
      clock: CLOCK,
    });
    expect(await checksums()).toEqual(once);
    await seedDatabase(sql, {
      rows: ROWS,
      seed: 8,
      anchor: ANCHOR,
      clock: CLOCK,
    });
    const other = await checksums();
    for (const table of Object.keys(once))
      expect(other[table], table).not.toBe(once[table]);
  });

  test("the app's own inserts work after seeding (identity sequences are past the seeded ids)", async () => {
    const { sql } = db();
    const [row] = await sql<{ id: string }[]>`
      insert into app.knowledge_gaps (tenant_id, title, category) values (1, 'new', 'technical') returning id`;
    const [max] = await sql<
      { max: string }[]
    >`select max(id)::text as max from app.knowledge_gaps where id <> ${row!.id}`;
    expect(BigInt(row!.id)).toBeGreaterThan(BigInt(max!.max));
  });

  test("building the indexes after the load (the 10M tier's way) leaves the same schema and the same rows", async () => {
    const { sql } = db();
    // Every index and key constraint of schema app, partitions' included: name, definition,
    // validity, comment; the constraints' names, definitions and comments.
    const schema = async () =>
      sql<
        {
          kind: string;
          rel: string;
          name: string;
          def: string;
          comment: string | null;
        }[]
      >`
        select 'index' as kind, t.relname as rel, ic.relname as name,
               pg_get_indexdef(i.indexrelid) || case when i.indisvalid then '' else ' INVALID' end as def,
               obj_description(i.indexrelid, 'pg_class') as comment
        from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_class t on t.oid = i.indrelid
        where t.relnamespace = 'app'::regnamespace
        union all
        select 'constraint', t.relname, c.conname, pg_get_constraintdef(c.oid) || ' on ' || coalesce(c.conindid::regclass::text, '-'),
               obj_description(c.oid, 'pg_constraint')
        from pg_constraint c join pg_class t on t.oid = c.conrelid
        where c.connamespace = 'app'::regnamespace
        order by 1, 2, 3`;
    const options = { rows: ROWS, seed: 3, anchor: ANCHOR, clock: CLOCK };
    const rowByRow = await seedDatabase(sql, {
      ...options,
      deferIndexes: false,
    });
    expect(rowByRow.deferredIndexes).toBe(0);
    const before = await schema();
    const sums = await checksums();
    const deferred = await seedDatabase(sql, {
      ...options,
      deferIndexes: true,
    });
    // every secondary index, and the keys no foreign key references (chunks, operations, messages)
    expect(deferred.deferredIndexes).toBeGreaterThanOrEqual(20);
    expect(before.filter((r) => r.kind === "index").length).toBeGreaterThan(
      100,
    );
    expect(await schema()).toEqual(before);
    expect(await checksums()).toEqual(sums);
  });

  test("refuses a size it cannot seed, before changing anything", async () => {
    const { sql } = db();
    await expect(seedDatabase(sql, { rows: 10, seed: 1 })).rejects.toThrow(
      RangeError,
    );
    await expect(
      seedDatabase(sql, { rows: 1.5e3 + 0.5, seed: 1 }),
    ).rejects.toThrow(RangeError);
  });
});
