// The perf functions (functions/perf/*.sql) against independent references: naive readings of
// the catalog and of the statistics views, computed here in TypeScript; planted indexes
// (duplicate, redundant, unused, invalid, a foreign key without index); real sessions that
// idle, hold locks and wait; slow statements; pg_cron runs; the api workload, after which no
// index we ship may be unused (except the documented ones) or duplicate; the report on a
// fresh and on a seeded database; auto_explain logging a slow statement's plan.
import postgres from "postgres";
import { describe, expect, inject, test } from "vitest";
import {
  apiWorkload,
  functionsNotDriven,
  runWorkload,
} from "../scripts/lib/advisor/workload-driver.ts";
import { parseAutoExplainNotice } from "../scripts/lib/plan/parse.ts";
import { useTestDatabase } from "./harness/database.ts";

const db = useTestDatabase("perf");
const workloadDb = useTestDatabase("perf_workload");

/**
 * Indexes we ship that no api function uses, each with its reason (docs/monitoring.md
 * "Indexes the api workload does not use"). The test fails when one of them starts being used
 * (remove it here) or another index is unused (a query lost its index, or an index lost its query).
 */
const UNUSED_BY_API: Record<string, string> = {};

/** A client of its own: its statistics are flushed when it ends (a backend flushes at exit). */
async function onOwnConnection<T>(
  url: string,
  body: (sql: postgres.Sql) => Promise<T>,
  options: postgres.Options<{}> = {},
): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, ...options });
  try {
    return await body(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

// ---- naive references -------------------------------------------------------------------

interface IndexInfo {
  oid: number;
  schema: string;
  table: string;
  name: string;
  def: string;
  unique: boolean;
  constraint: boolean;
  partition: boolean;
  valid: boolean;
}

async function indexInfos(sql: postgres.Sql): Promise<IndexInfo[]> {
  return sql<IndexInfo[]>`
    select i.indexrelid::int as oid, n.nspname as schema, t.relname as table, c.relname as name,
           pg_get_indexdef(i.indexrelid) as def, i.indisunique as unique,
           exists (select from pg_constraint k where k.conindid = i.indexrelid and k.contype in ('p', 'u', 'x')) as constraint,
           c.relispartition as partition, i.indisvalid as valid
    from pg_index i join pg_class c on c.oid = i.indexrelid join pg_class t on t.oid = i.indrelid
    join pg_namespace n on n.oid = t.relnamespace
    where n.nspname in ('app', 'perf_test')`;
}

/** "CREATE INDEX x ON app.t USING btree (a, b) INCLUDE (c) WHERE (p)" in pieces. */
function parseIndexDef(def: string) {
  const m =
    /USING (\w+) \((.*?)\)(?: INCLUDE \((.*?)\))?(?: WHERE (.*))?$/.exec(def)!;
  const split = (s: string | undefined) => {
    if (!s) return [];
    const out: string[] = [];
    let depth = 0;
    let cur = "";
    for (const ch of s) {
      if (ch === "(") depth++;
      if (ch === ")") depth--;
      if (ch === "," && depth === 0) {
        out.push(cur.trim());
        cur = "";
      } else cur += ch;
    }
    out.push(cur.trim());
    return out;
  };
  return {
    method: m[1]!,
    keys: split(m[2]),
    include: split(m[3]),
    where: m[4] ?? null,
  };
}

/** Duplicate and redundant indexes as the definitions say, pair by pair. */
function naiveDuplicates(indexes: IndexInfo[]): Map<string, string> {
  const top = indexes.filter((i) => !i.partition && i.valid);
  const rank = (i: IndexInfo) => [
    i.constraint ? 1 : 0,
    i.unique ? 1 : 0,
    -i.oid,
  ];
  const lower = (a: IndexInfo, b: IndexInfo) => {
    const [x, y] = [rank(a), rank(b)];
    for (let k = 0; k < 3; k++) if (x[k] !== y[k]) return x[k]! < y[k]!;
    return false;
  };
  const found = new Map<string, string>();
  for (const a of top) {
    const pa = parseIndexDef(a.def);
    for (const b of top) {
      if (a === b || a.schema !== b.schema || a.table !== b.table) continue;
      const pb = parseIndexDef(b.def);
      if (pa.method !== pb.method || pa.where !== pb.where) continue;
      if (!pa.include.every((c) => [...pb.keys, ...pb.include].includes(c)))
        continue;
      const equal = pa.keys.join(",") === pb.keys.join(",");
      const prefix =
        pa.method === "btree" &&
        pa.keys.length < pb.keys.length &&
        pa.keys.every((k, i) => k === pb.keys[i]) &&
        !a.unique &&
        !a.constraint;
      if (equal && lower(a, b)) found.set(`${a.schema}.${a.name}`, "duplicate");
      else if (prefix && found.get(`${a.schema}.${a.name}`) !== "duplicate")
        found.set(`${a.schema}.${a.name}`, "redundant");
    }
  }
  return found;
}

describe("index findings", () => {
  test("duplicate_indexes: planted duplicates and redundancies are flagged, nothing else, as the definitions compared pair by pair say", async () => {
    const sql = db().sql;
    await sql.unsafe(`
      create index perf_test_dup on app.documents (tenant_id, status);                         -- = documents_tenant_id_status_idx
      create index perf_test_prefix on app.documents (tenant_id);                              -- a prefix of the primary key
      create unique index perf_test_same_as_pkey on app.documents (tenant_id, id);             -- = the primary key (which is kept)
      create index perf_test_other_predicate on app.documents (tenant_id, status) where status = 'failed';  -- partial: not the same
      create index perf_test_hash on app.documents using hash (title);                        -- another access method
      create index perf_test_title on app.documents (title);                                  -- alone: neither
      create index perf_test_include on app.documents (tenant_id) include (title);            -- INCLUDE not covered by the pkey
    `);
    try {
      const rows = await sql<
        {
          index_name: string;
          kind: string;
          covered_by: string;
          drop_statement: string;
        }[]
      >`
        select index_name, kind, covered_by, drop_statement from perf.duplicate_indexes() where schema_name = 'app'`;
      const got = new Map(rows.map((r) => [`app.${r.index_name}`, r.kind]));
      expect(got).toEqual(naiveDuplicates(await indexInfos(sql)));
      // and by name, so the reference cannot be wrong in the same way
      expect(Object.fromEntries(got)).toEqual({
        "app.perf_test_dup": "duplicate",
        "app.perf_test_prefix": "redundant",
        "app.perf_test_same_as_pkey": "duplicate",
      });
      const byName = new Map(rows.map((r) => [r.index_name, r]));
      expect(byName.get("perf_test_dup")!.covered_by).toBe(
        "documents_tenant_id_status_idx",
      );
      expect(byName.get("perf_test_same_as_pkey")!.covered_by).toBe(
        "documents_pkey",
      );
      expect(byName.get("perf_test_dup")!.drop_statement).toBe(
        "drop index concurrently app.perf_test_dup;",
      );
    } finally {
      await sql.unsafe(`drop index app.perf_test_dup, app.perf_test_prefix, app.perf_test_same_as_pkey, app.perf_test_other_predicate,
                                   app.perf_test_hash, app.perf_test_title, app.perf_test_include`);
    }
  });

  test("unused_indexes: a planted index is unused until scanned; the threshold counts scans; unique and constraint indexes never are", async () => {
    const { url, sql } = db();
    await sql.unsafe(`create index perf_test_unused on app.documents (title)`);
    try {
      const titles = await sql<
        { title: string }[]
      >`select title from app.documents order by id limit 3`;
      type Q = postgres.Sql | postgres.TransactionSql;
      const unusedNames = async (max: number, q: Q = sql) =>
        (
          await q<
            { index_name: string }[]
          >`select index_name from perf.unused_indexes(${max}) where schema_name = 'app'`
        ).map((r) => r.index_name);
      // naive: non-unique, no constraint, scans of the index and its partitions' indexes
      const naiveUnused = async (max: number, q: Q) =>
        (
          await q<{ name: string }[]>`
            select c.relname as name
            from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'app' and not c.relispartition and not i.indisunique and i.indisvalid
              and not exists (select from pg_constraint k where k.conindid = i.indexrelid)
              and coalesce((select sum(s.idx_scan) from pg_stat_user_indexes s
                            where s.indexrelid = i.indexrelid
                               or s.indexrelid in (select h.inhrelid from pg_inherits h where h.inhparent = i.indexrelid)), 0) <= ${max}`
        ).map((r) => r.name);
      // both readings in one transaction: the same statistics snapshot
      const bothReadings = (max: number) =>
        sql.begin(async (tx) => [
          (await unusedNames(max, tx)).sort(),
          (await naiveUnused(max, tx)).sort(),
        ]);
      const [got0, naive0] = await bothReadings(0);
      expect(got0).toEqual(naive0);
      expect(await unusedNames(0)).toContain("perf_test_unused");

      await onOwnConnection(
        url,
        async (one) => {
          for (const t of titles)
            await one`select id from app.documents where title = ${t.title}`;
        },
        { connection: { enable_seqscan: "off", enable_bitmapscan: "off" } },
      );
      const [usage] = await sql<
        { scans: string }[]
      >`select scans from perf.index_usage() where index_name = 'perf_test_unused'`;
      expect(Number(usage!.scans)).toBe(3);
      expect(await unusedNames(0)).not.toContain("perf_test_unused");
      expect(await unusedNames(2)).not.toContain("perf_test_unused");
      expect(await unusedNames(3)).toContain("perf_test_unused");
      const [got3, naive3] = await bothReadings(3);
      expect(got3).toEqual(naive3);
      const [row] =
        await sql`select * from perf.unused_indexes(3) where index_name = 'perf_test_unused'`;
      expect(row).toMatchObject({
        supports_foreign_key: false,
        drop_statement: "drop index concurrently app.perf_test_unused;",
      });
      expect(row!.stats_age).toBeTruthy();
      // never a unique index or a constraint's, however unused
      const uniques =
        await sql`select 1 from perf.unused_indexes(1000000) u join pg_class c on c.relname = u.index_name
                                join pg_index i on i.indexrelid = c.oid where i.indisunique`;
      expect(uniques).toHaveLength(0);
    } finally {
      await sql.unsafe(`drop index app.perf_test_unused`);
    }
  });

  test("index_usage: scans and sizes of partitioned indexes are their partitions' summed", async () => {
    const sql = db().sql;
    const rows = await sql<
      {
        index_name: string;
        partitions: number;
        scans: string;
        size_bytes: string;
      }[]
    >`
      select index_name, partitions, scans, size_bytes from perf.index_usage() where schema_name = 'app' and table_name = 'chunks'`;
    const naive = await sql<
      { parent: string; n: number; scans: string; bytes: string }[]
    >`
      select p.relname as parent, count(*)::int as n, sum(s.idx_scan) as scans, sum(pg_relation_size(s.indexrelid)) as bytes
      from pg_inherits h join pg_class p on p.oid = h.inhparent join pg_stat_user_indexes s on s.indexrelid = h.inhrelid
      where p.relnamespace = 'app'::regnamespace and p.relkind = 'I' and s.relname like 'chunks\\_p%'
      group by p.relname`;
    expect(
      rows
        .map((r) => [r.index_name, r.partitions, r.scans, r.size_bytes])
        .sort(),
    ).toEqual(naive.map((r) => [r.parent, r.n, r.scans, r.bytes]).sort());
    expect(rows.every((r) => r.partitions === 16)).toBe(true);
  });

  test("missing_fk_indexes: a foreign key without an index is flagged until a non-partial index leads with its columns", async () => {
    const sql = db().sql;
    await sql.unsafe(`
      create schema perf_test;
      create table perf_test.child (tenant_id bigint not null, id bigint primary key, document_id bigint,
                                    foreign key (tenant_id, document_id) references app.documents (tenant_id, id));`);
    try {
      const flagged = async () =>
        (
          await sql<
            { table_name: string; columns: string[] }[]
          >`select table_name, columns from perf.missing_fk_indexes() where schema_name = 'perf_test'`
        ).map((r) => `${r.table_name}(${r.columns.join(",")})`);
      expect(await flagged()).toEqual(["child(tenant_id,document_id)"]);
      await sql.unsafe(
        `create index child_partial on perf_test.child (tenant_id, document_id) where document_id > 100`,
      );
      expect(await flagged()).toEqual(["child(tenant_id,document_id)"]);
      await sql.unsafe(
        `create index child_other on perf_test.child (tenant_id, id)`,
      );
      expect(await flagged()).toEqual(["child(tenant_id,document_id)"]);
      await sql.unsafe(
        `create index child_fk on perf_test.child (document_id, tenant_id, id)`,
      ); // any order of the key's columns, then more
      expect(await flagged()).toEqual([]);

      // the whole database against a naive reading: a foreign key is covered when some valid,
      // non-partial b-tree's first n columns are its n columns
      const fks = await sql<
        { schema: string; table: string; name: string; cols: string[] }[]
      >`
        select n.nspname as schema, t.relname as table, k.conname as name,
               array(select a.attname::text from unnest(k.conkey) c join pg_attribute a on a.attrelid = k.conrelid and a.attnum = c) as cols
        from pg_constraint k join pg_class t on t.oid = k.conrelid join pg_namespace n on n.oid = t.relnamespace
        where k.contype = 'f' and k.conparentid = 0 and n.nspname in ('app', 'perf_test')`;
      const infos = await indexInfos(sql);
      const naive = fks
        .filter((fk) => {
          return !infos.some((i) => {
            if (
              i.schema !== fk.schema ||
              i.table !== fk.table ||
              i.partition ||
              !i.valid
            )
              return false;
            const p = parseIndexDef(i.def);
            if (
              p.method !== "btree" ||
              p.where !== null ||
              p.keys.length < fk.cols.length
            )
              return false;
            const lead = p.keys.slice(0, fk.cols.length);
            return fk.cols.every((c) => lead.includes(c));
          });
        })
        .map((fk) => `${fk.schema}.${fk.name}`)
        .sort();
      const got = (
        await sql<
          { s: string }[]
        >`select schema_name || '.' || constraint_name as s from perf.missing_fk_indexes() where schema_name in ('app', 'perf_test')`
      )
        .map((r) => r.s)
        .sort();
      expect(got).toEqual(naive);
    } finally {
      await sql.unsafe(`drop schema perf_test cascade`);
    }
  });

  test("invalid_indexes: a failed create index concurrently leaves an invalid index, which is listed", async () => {
    const sql = db().sql;
    expect(await sql`select * from perf.invalid_indexes()`).toHaveLength(0);
    // tenant_id is not unique: the concurrent build fails after the catalog entry exists
    await expect(
      sql.unsafe(
        `create unique index concurrently perf_test_invalid on app.documents (tenant_id)`,
      ),
    ).rejects.toMatchObject({ code: "23505" });
    try {
      const rows = await sql<
        { index_name: string; reason: string; fix: string }[]
      >`select index_name, reason, fix from perf.invalid_indexes()`;
      const naive = await sql<
        { relname: string }[]
      >`select c.relname from pg_index i join pg_class c on c.oid = i.indexrelid where not i.indisvalid`;
      expect(rows.map((r) => r.index_name)).toEqual(
        naive.map((r) => r.relname),
      );
      expect(rows.map((r) => r.index_name)).toEqual(["perf_test_invalid"]);
      expect(rows[0]!.fix).toMatch(
        /^drop index concurrently app\.perf_test_invalid; CREATE UNIQUE INDEX CONCURRENTLY perf_test_invalid ON app\.documents/,
      );
      // an invalid index is no unused-index finding: it is this one's
      expect(
        await sql`select 1 from perf.unused_indexes() where index_name = 'perf_test_invalid'`,
      ).toHaveLength(0);
    } finally {
      await sql.unsafe(`drop index app.perf_test_invalid`);
    }
  });
});

describe("table findings", () => {
  test("seq_scan_tables: tables read by sequential scans, partitions summed, as pg_stat_user_tables says", async () => {
    const { url, sql } = db();
    await onOwnConnection(url, async (one) => {
      for (let i = 0; i < 4; i++) await one`select sum(size) from app.chunks`; // size is in no index
      for (let i = 0; i < 2; i++)
        await one`select count(*) from app.documents where content_size > ${i}`;
    });
    type Row = {
      table_name: string;
      seq_scans: string;
      seq_rows_read: string;
      index_scans: string;
      live_rows: string;
    };
    // both readings in one transaction: the same statistics snapshot
    const [got, naive] = await sql.begin(async (tx) => [
      await tx<Row[]>`
      select table_name, seq_scans, seq_rows_read, index_scans, live_rows from perf.seq_scan_tables(95, 500) where schema_name = 'app' order by table_name`,
      // naive: each table with its partitions (one level here), from the view
      await tx<
        {
          table_name: string;
          seq_scans: string;
          seq_rows_read: string;
          index_scans: string;
          live_rows: string;
        }[]
      >`
      with leaf as (
        select coalesce(h.inhparent, s.relid) as root, s.*
        from pg_stat_user_tables s left join pg_inherits h on h.inhrelid = s.relid
        where s.schemaname = 'app'
      )
      select r.relname as table_name, sum(l.seq_scan) as seq_scans, sum(l.seq_tup_read) as seq_rows_read,
             coalesce(sum(l.idx_scan), 0) as index_scans, sum(greatest(l.n_live_tup, c.reltuples))::bigint as live_rows
      from leaf l join pg_class r on r.oid = l.root join pg_class c on c.oid = l.relid
      where c.relkind <> 'p'
      group by r.relname
      having sum(greatest(l.n_live_tup, c.reltuples)) >= 500 and sum(l.seq_scan) > 0
         and 100.0 * coalesce(sum(l.idx_scan), 0) / (sum(l.seq_scan) + coalesce(sum(l.idx_scan), 0)) < 95
      order by 1`,
    ]);
    expect(got).toEqual(naive);
    expect(got.map((r) => r.table_name)).toContain("chunks");
    const chunks = got.find((r) => r.table_name === "chunks")!;
    expect(Number(chunks.seq_scans)).toBeGreaterThanOrEqual(4 * 16 - 16); // empty partitions are scanned too
  });

  test("table_sizes: partitions summed, as pg_total_relation_size of each partition says", async () => {
    const sql = db().sql;
    const got = await sql<
      {
        table_name: string;
        partitions: number;
        size_bytes: string;
        index_bytes: string;
      }[]
    >`
      select table_name, partitions, size_bytes, index_bytes from perf.table_sizes() where schema_name = 'app' order by table_name`;
    const naive = await sql<
      {
        table_name: string;
        partitions: number;
        size_bytes: string;
        index_bytes: string;
      }[]
    >`
      select t.relname as table_name,
             (case when t.relkind = 'p' then (select count(*) from pg_inherits h where h.inhparent = t.oid) else 1 end)::int as partitions,
             (case when t.relkind = 'p' then (select coalesce(sum(pg_total_relation_size(h.inhrelid)), 0) from pg_inherits h where h.inhparent = t.oid)
                   else pg_total_relation_size(t.oid) end)::bigint as size_bytes,
             (case when t.relkind = 'p' then (select coalesce(sum(pg_indexes_size(h.inhrelid)), 0) from pg_inherits h where h.inhparent = t.oid)
                   else pg_indexes_size(t.oid) end)::bigint as index_bytes
      from pg_class t
      where t.relnamespace = 'app'::regnamespace and t.relkind in ('r', 'p', 'm') and not t.relispartition
      order by 1`;
    expect(got).toEqual(naive);
    expect(got.find((r) => r.table_name === "chunks")!.partitions).toBe(16);
  });

  test("cache_hit_ratio: the database row is pg_stat_database's, the status follows the threshold", async () => {
    const sql = db().sql;
    await sql.begin(async (tx) => {
      // one transaction: the statistics snapshot is the same for both readings
      const [got] = await tx<
        { blocks_hit: string; blocks_read: string; ratio: string }[]
      >`select * from perf.cache_hit_ratio() where scope = 'database'`;
      const [naive] = await tx<
        { hit: string; read: string }[]
      >`select blks_hit as hit, blks_read as read from pg_stat_database where datname = current_database()`;
      expect([got!.blocks_hit, got!.blocks_read]).toEqual([
        naive!.hit,
        naive!.read,
      ]);
      const ratio =
        Number(naive!.hit) / (Number(naive!.hit) + Number(naive!.read));
      expect(Number(got!.ratio)).toBeCloseTo(ratio, 4);
    });
    const statuses = await sql<
      { status: string }[]
    >`select status from perf.cache_hit_ratio(0) where scope = 'database'`;
    expect(statuses[0]!.status).toBe("ok");
    const [low] = await sql<
      { status: string }[]
    >`select status from perf.cache_hit_ratio(1) where scope = 'database'`;
    expect(low!.status).toBe(
      Number(
        (
          await sql`select blks_read from pg_stat_database where datname = current_database()`
        )[0]!.blks_read,
      ) > 0
        ? "low"
        : "ok",
    );
  });

  test("tables_needing_analyze: a table changed past autovacuum's threshold is listed until analyzed", async () => {
    const { url, sql } = db();
    await sql`alter table app.knowledge_gaps set (autovacuum_enabled = off)`;
    try {
      await onOwnConnection(url, (one) =>
        one.begin(async (tx) => {
          await tx`update app.knowledge_gaps set title = title || '' where tenant_id = (select min(tenant_id) from app.tenants)`;
          await tx`update app.knowledge_gaps set title = title || ''`;
        }),
      );
      const listed = async () =>
        (
          await sql`select reason from perf.tables_needing_analyze() where table_name = 'knowledge_gaps'`
        ).map((r) => r.reason);
      expect(await listed()).toEqual([
        expect.stringMatching(/exceed autovacuum's threshold/),
      ]);
      await sql`analyze app.knowledge_gaps`;
      expect(await listed()).toEqual([]);

      // a table with rows and no statistics at all
      // (on a connection of its own, which flushes the insert counts when it ends: pg_class knows nothing of a table never vacuumed)
      await onOwnConnection(
        url,
        (one) =>
          one`create table app.perf_test_fresh with (autovacuum_enabled = off) as select g as id from generate_series(1, 100) g`,
      );
      const fresh = async () =>
        (
          await sql`select reason from perf.tables_needing_analyze() where table_name = 'perf_test_fresh'`
        ).map((r) => r.reason);
      expect(await fresh()).toEqual([expect.stringMatching(/^never analyzed/)]);
      await sql`analyze app.perf_test_fresh`;
      expect(await fresh()).toEqual([]);
      // the seeded copy: the seed analyzed every table (the statistics came with the copy, the
      // analyze times did not). Its materialized view is refreshed after that and left to autovacuum.
      expect(
        await sql`select table_name, reason from perf.tables_needing_analyze()
                  where kind <> 'materialized view' and (reason like 'never%' or reason like 'partitioned%')`,
      ).toEqual([]);
    } finally {
      await sql`alter table app.knowledge_gaps reset (autovacuum_enabled)`;
      await sql`drop table if exists app.perf_test_fresh`;
    }
  });
});

describe("sessions", () => {
  test("connections, long_running_queries and blocked_queries see idle, waiting and blocking sessions as pg_stat_activity does", async () => {
    const { url, sql } = db();
    const app = `perf-test-${process.pid}`;
    const idle = postgres(url, {
      max: 2,
      onnotice: () => {},
      connection: { application_name: app },
    });
    const holder = postgres(url, {
      max: 1,
      onnotice: () => {},
      connection: { application_name: app },
    });
    const waiter = postgres(url, {
      max: 1,
      onnotice: () => {},
      connection: { application_name: app },
    });
    try {
      const a = await idle.reserve();
      const b = await idle.reserve();
      await a`select 1`;
      await b`select 1`;
      a.release();
      b.release();
      const hold = await holder.reserve();
      const [{ pid: holderPid }] =
        (await hold`select pg_backend_pid() as pid`) as unknown as [
          { pid: number },
        ];
      await hold.unsafe("begin");
      await hold.unsafe("lock table app.tenants in access exclusive mode");
      const wait = await waiter.reserve();
      const [{ pid: waiterPid }] =
        (await wait`select pg_backend_pid() as pid`) as unknown as [
          { pid: number },
        ];
      const blocked = wait`select count(*) from app.tenants`.then((r) => r);
      await new Promise((r) => setTimeout(r, 1200));

      const rows = await sql<
        {
          state: string;
          connections: number;
          waiting_on_locks: number;
          total_connections: number;
          level: string;
        }[]
      >`
        select state, connections, waiting_on_locks, total_connections, level from perf.connections() where application = ${app} order by state`;
      const naive = await sql<{ state: string; n: number }[]>`
        select state, count(*)::int as n from pg_stat_activity where application_name = ${app} and backend_type = 'client backend' group by state order by state`;
      expect(rows.map((r) => [r.state, r.connections])).toEqual(
        naive.map((r) => [r.state, r.n]),
      );
      expect(
        Object.fromEntries(rows.map((r) => [r.state, r.connections])),
      ).toEqual({ active: 1, idle: 2, "idle in transaction": 1 });
      expect(rows.find((r) => r.state === "active")!.waiting_on_locks).toBe(1);
      // server totals on every row: the other test files' sessions come and go, ours are there
      expect(new Set(rows.map((r) => r.total_connections)).size).toBe(1);
      expect(rows[0]!.total_connections).toBeGreaterThanOrEqual(5);
      expect(rows[0]!.level).toBe("ok");

      const long = await sql<
        { pid: number; state: string }[]
      >`select pid, state from perf.long_running_queries('1 second') where application = ${app} order by pid`;
      expect(long.map((r) => [r.pid, r.state]).sort()).toEqual(
        [
          [holderPid, "idle in transaction"],
          [waiterPid, "active"],
        ].sort(),
      );
      expect(
        await sql`select 1 from perf.long_running_queries('1 hour') where application = ${app}`,
      ).toHaveLength(0);

      const waits = await sql<
        {
          pid: number;
          blocking_pid: number;
          blocking_pids: number[];
          waiting_for: string;
          blocking_state: string;
        }[]
      >`
        select pid, blocking_pid, blocking_pids, waiting_for, blocking_state from perf.blocked_queries() where application = ${app}`;
      expect(waits).toEqual([
        {
          pid: waiterPid,
          blocking_pid: holderPid,
          blocking_pids: [holderPid],
          waiting_for: "AccessShareLock on relation app.tenants",
          blocking_state: "idle in transaction",
        },
      ]);
      await hold.unsafe("rollback");
      await blocked;
      expect(
        await sql`select 1 from perf.blocked_queries() where application = ${app}`,
      ).toHaveLength(0);
      hold.release();
      wait.release();
    } finally {
      await Promise.all([
        idle.end({ timeout: 5 }),
        holder.end({ timeout: 5 }),
        waiter.end({ timeout: 5 }),
      ]);
    }
  });
});

describe("statements", () => {
  test("slow_queries: statements over the thresholds with seed 002's levels; numbers as pg_stat_statements has them", async () => {
    const { url, sql } = db();
    await onOwnConnection(url, async (one) => {
      for (let i = 0; i < 2; i++) await one.unsafe(`select pg_sleep(0.15)`); // warning: 100..500 ms
      await one.unsafe(`select pg_sleep(0.55), 1`); // error: 500 ms and more
      for (let i = 0; i < 5; i++) await one.unsafe(`select 1 + 1`); // fast
    });
    const rows = await sql<
      {
        queryid: string;
        query: string;
        calls: string;
        mean_ms: string;
        max_ms: string;
        p99_ms: string;
        level: string;
        toplevel: boolean;
      }[]
    >`
      select queryid::text, query, calls, mean_ms, max_ms, p99_ms, level, toplevel from perf.slow_queries(100, 500)`;
    const byQuery = new Map(rows.map((r) => [r.query, r]));
    expect(byQuery.get("select pg_sleep($1)")).toMatchObject({
      level: "warning",
      calls: "2",
      toplevel: true,
    });
    expect(byQuery.get("select pg_sleep($1), $2")).toMatchObject({
      level: "error",
      calls: "1",
    });
    expect(byQuery.has("select $1 + $2")).toBe(false);
    // the numbers: pg_stat_statements of this database, p99 estimated from mean and stddev within [min, max]
    const naive = await sql<
      {
        queryid: string;
        mean: number;
        min: number;
        max: number;
        stddev: number;
      }[]
    >`
      select queryid::text, mean_exec_time as mean, min_exec_time as min, max_exec_time as max, stddev_exec_time as stddev
      from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
        and queryid::text = any(${rows.map((r) => r.queryid)}::text[])`;
    for (const n of naive) {
      const r = rows.find((x) => x.queryid === n.queryid)!;
      const p99 = Math.min(Math.max(n.mean + 2.326 * n.stddev, n.min), n.max);
      expect(Number(r.p99_ms)).toBeCloseTo(p99, 2);
      expect(Number(r.mean_ms)).toBeCloseTo(n.mean, 2);
      expect(p99 >= 100).toBe(true);
      expect(r.level).toBe(p99 >= 500 ? "error" : "warning");
    }
    // every statement of the database whose estimated p99 reaches the warning is there; but the
    // reading itself (the call of perf.slow_queries and its nested read of pg_stat_statements),
    // which ends after the function looked and may take 100 ms on a loaded machine
    const reading = /pg_stat_statements|perf\.slow_queries/;
    const all = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_stat_statements
      where dbid = (select oid from pg_database where datname = current_database()) and calls > 0
        and query !~ ${reading.source}
        and least(greatest(mean_exec_time + 2.326 * stddev_exec_time, min_exec_time), max_exec_time) >= 100`;
    expect(rows.filter((r) => !reading.test(r.query)).length).toBe(all[0]!.n);
  });
});

describe("the api workload", () => {
  test("after it, no index we ship is unused (except the documented ones) and none is a duplicate", async () => {
    const { url, sql } = workloadDb();
    await sql`select pg_stat_reset()`;
    const calls = await apiWorkload(sql, { callsPerFunction: 10 });
    expect(
      await functionsNotDriven(sql, calls),
      "api functions the workload driver does not call",
    ).toEqual([]);
    // At the 10k tier most tables have 100 to 1,000 rows, which the planner rightly reads whole;
    // the question here is which index each query uses when its table is big.
    const report = await runWorkload(url, calls, {
      settings: { enable_seqscan: "off" },
    });
    expect(
      report.missing,
      "workload calls of functions that do not exist",
    ).toEqual([]);
    expect(report.failures, "workload calls that failed").toEqual([]);

    const unused = await sql<
      { index_name: string }[]
    >`select index_name from perf.unused_indexes(0) where schema_name = 'app' order by 1`;
    expect(unused.map((r) => r.index_name)).toEqual(
      Object.keys(UNUSED_BY_API).sort(),
    );
    expect(
      await sql`select index_name, kind, covered_by from perf.duplicate_indexes() where schema_name = 'app'`,
    ).toEqual([]);
    // every index we ship serves a query: the documented exceptions have a reason each
    for (const reason of Object.values(UNUSED_BY_API))
      expect(reason.length).toBeGreaterThan(20);
  });
});

describe("the report and pg_cron", () => {
  const sections = [
    "auto_explain",
    "blocked_queries",
    "cache_hit_ratio",
    "connections",
    "duplicate_indexes",
    "index_usage",
    "invalid_indexes",
    "job_health",
    "long_running_queries",
    "missing_fk_indexes",
    "seq_scan_tables",
    "slow_queries",
    "table_sizes",
    "tables_needing_analyze",
    "unused_indexes",
    "wraparound",
    "sequences",
    "vacuum",
    "bloat",
    "not_valid_constraints",
    "replication",
    "routine_changes",
    "table_growth",
  ];

  test("database_report returns every section on a fresh database (migrated, empty) and on a seeded one", async () => {
    const fresh = await onOwnConnection(
      inject("server").url,
      (s) =>
        s<{ r: Record<string, unknown> }[]>`select perf.database_report() as r`,
    );
    const seeded = await db().sql<
      { r: Record<string, unknown> }[]
    >`select perf.database_report() as r`;
    for (const [label, report] of [
      ["fresh", fresh[0]!.r],
      ["seeded", seeded[0]!.r],
    ] as const) {
      for (const s of sections)
        expect(Array.isArray(report[s]), `${label}: ${s} is an array`).toBe(
          true,
        );
      for (const k of [
        "generated_at",
        "database",
        "server_version",
        "database_size",
        "statistics",
        "thresholds",
        "summary",
        "history",
      ]) {
        expect(report[k], `${label}: ${k}`).toBeTruthy();
      }
    }
    const seededReport = seeded[0]!.r as Record<string, unknown[]>;
    expect(seededReport.table_sizes!.length).toBeGreaterThan(10);
    expect(seededReport.index_usage!.length).toBeGreaterThan(20);
    // the fresh database is pg_cron's: its jobs are in job_health, one row per job definition
    const freshReport = fresh[0]!.r as Record<string, { name: string }[]>;
    const definitions = await onOwnConnection(
      inject("server").url,
      (s) =>
        s<
          { name: string }[]
        >`select name from maint.job_definitions() order by name`,
    );
    expect(freshReport.job_health!.map((j) => j.name)).toEqual(
      expect.arrayContaining(definitions.map((d) => d.name)),
    );
    expect((seededReport.job_health as unknown[]).length).toBe(0); // a copy: no pg_cron
  });

  test("job_health: failures and durations of the runs, levels as documented", async () => {
    await onOwnConnection(inject("server").url, (s) =>
      s
        .begin(async (tx) => {
          const [{ jobid }] =
            (await tx`select cron.schedule('querybudget_perf_test', '0 0 1 1 *', 'select 1') as jobid`) as unknown as [
              { jobid: string },
            ];
          const run = (
            status: string,
            startAgo: string,
            seconds: number,
            message: string,
          ) =>
            tx`insert into cron.job_run_details (jobid, job_pid, database, username, command, status, return_message, start_time, end_time)
               values (${jobid}, 1, current_database(), current_user, 'select 1', ${status}, ${message},
                       now() - ${startAgo}::interval, now() - ${startAgo}::interval + make_interval(secs => ${seconds}))`;
          await run("succeeded", "10 days", 9, "1 row"); // outside the 7 days
          await run("succeeded", "3 days", 2, "1 row");
          await run("failed", "2 days", 4, "ERROR: boom");
          await run("succeeded", "1 day", 1, "1 row");
          let [row] =
            await tx`select * from perf.job_health() where name = 'querybudget_perf_test'`;
          expect(row).toMatchObject({
            last_status: "succeeded",
            runs_7d: "3",
            failures_7d: "1",
            last_failure_message: "ERROR: boom",
            level: "warning",
          });
          expect(row!.max_duration_7d).toBe("00:00:04");
          expect(row!.avg_duration_7d).toBe("00:00:02.333333");
          await run("failed", "1 hour", 3, "ERROR: again");
          [row] =
            await tx`select * from perf.job_health() where name = 'querybudget_perf_test'`;
          expect(row).toMatchObject({
            last_status: "failed",
            level: "error",
            last_failure_message: "ERROR: again",
            failures_7d: "2",
          });
          throw new RolledBack();
        })
        .catch((e) => {
          if (!(e instanceof RolledBack)) throw e;
        }),
    );
  });
});

class RolledBack extends Error {}

describe("auto_explain", () => {
  test("the database defaults are set where pg_cron lives (migrated as a superuser) and log a slow statement's plan with rows and buffers", async () => {
    const main = inject("server").url;
    const settings = await onOwnConnection(
      main,
      (s) =>
        s<
          {
            name: string;
            recommended: string;
            database_value: string;
            matches: boolean;
          }[]
        >`select * from perf.auto_explain_settings()`,
    );
    expect(settings.length).toBe(9);
    for (const s of settings) {
      expect(s.database_value, s.name).toBe(s.recommended);
      expect(s.matches, s.name).toBe(true);
    }
    // a copy of the template does not inherit database settings (CREATE DATABASE does not copy them)
    const copy = await db().sql<
      { database_value: string | null }[]
    >`select database_value from perf.auto_explain_settings()`;
    expect(copy.every((s) => s.database_value === null)).toBe(true);

    const notices: string[] = [];
    await onOwnConnection(
      main,
      async (s) => {
        await s.unsafe(`set client_min_messages = log`);
        await s.unsafe(`select count(*) from (select pg_sleep(0.55)) x`);
        await s.unsafe(`select count(*) from generate_series(1, 10)`);
      },
      { onnotice: (n) => notices.push(String(n.message)) },
    );
    const plans = notices
      .map(parseAutoExplainNotice)
      .filter((p) => p !== undefined);
    expect(plans.map((p) => p.query)).toEqual([
      "select count(*) from (select pg_sleep(0.55)) x",
    ]); // the fast one is not logged
    expect(plans[0]!.durationMs).toBeGreaterThanOrEqual(500);
    expect(plans[0]!.plan.actualRows).toBe(1); // log_analyze
    expect(plans[0]!.plan.actualTotalTime).toBeUndefined(); // log_timing off
    expect(plans[0]!.plan.raw["Shared Hit Blocks"]).toBeDefined(); // log_buffers
  });
});
