// The safety checks of functions/perf/safety.sql (issue 15, item 1), each on a database made to
// trip it: ages against a fraction low enough for the real ages (no xid is burnt), identities
// and sequences moved near their limits, dead rows left by an update with autovacuum off on
// that table, bloat made by a delete (against pgstattuple, which reads every page), constraints
// added NOT VALID, and a replication slot no client uses (on a cluster of its own: the test
// server runs with wal_level = minimal). References are naive readings of the catalog, computed
// here, never the function's own SQL.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  startLocalCluster,
  type LocalCluster,
} from "../scripts/lib/cluster.ts";
import { withDatabase } from "../scripts/lib/server-contract.ts";
import { useTestDatabase } from "./harness/database.ts";
import { sqlState } from "./harness/errors.ts";
import { connectAs } from "./harness/roles.ts";

const db = useTestDatabase("perf_safety");

/** Polls `read` until `done` holds (cumulative statistics arrive a moment after a backend's work). */
async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("wraparound_danger", () => {
  test("a fraction just under the real ages trips exactly the databases and tables a naive reading of the ages says", async () => {
    const { sql } = db();
    // age() is stable within a transaction, and repeatable read shows both queries the same
    // rows of pg_database and pg_class. Other test files make and vacuum databases meanwhile
    // (a vacuum updates datfrozenxid in place, whatever the snapshot): databases are compared
    // on this one only.
    const { got, want, fraction } = await sql.begin(
      "isolation level repeatable read",
      async (tx) => {
        // just under the youngest app table's age, as a fraction of 2^31 (a real, as the argument is)
        const [row1] = await tx<{ youngest: number }[]>`
        select min(age(relfrozenxid))::int as youngest from pg_class
        where relnamespace = 'app'::regnamespace and relkind = 'r'`;
        const { youngest } = row1!;
        const fraction = Math.fround((youngest * 0.99) / 2 ** 31);
        const got = await tx<
          {
            scope: string;
            database: string;
            schema_name: string | null;
            table_name: string | null;
            xid_age: number;
            level: string;
          }[]
        >`select scope, database, schema_name, table_name, xid_age::int, level
        from perf.wraparound_danger(${fraction}::real)`;
        const want = await tx<{ key: string; age: number }[]>`
        select 'database ' || datname as key, age(datfrozenxid)::int as age from pg_database
        where datname = current_database() and age(datfrozenxid) >= ${fraction}::real * 2147483648.0 or mxid_age(datminmxid) >= ${fraction}::real * 2147483648.0
        union all
        select 'table ' || n.nspname || '.' || coalesce(o.relname || ' (TOAST)', c.relname), age(c.relfrozenxid)::int
        from pg_class c
        left join pg_class o on o.reltoastrelid = c.oid and c.relkind = 't'
        join pg_namespace n on n.oid = coalesce(o.relnamespace, c.relnamespace)
        where c.relkind in ('r', 'm', 't') and c.relpersistence <> 't' and c.relfrozenxid <> '0'::xid
          and (age(c.relfrozenxid) >= ${fraction}::real * 2147483648.0 or mxid_age(c.relminmxid) >= ${fraction}::real * 2147483648.0)`;
        return { got, want, fraction };
      },
    );
    expect(fraction).toBeGreaterThan(0);
    const key = (r: (typeof got)[number]) =>
      r.scope === "database"
        ? `database ${r.database}`
        : `table ${r.schema_name}.${r.table_name}`;
    const here = got.filter(
      (r) => r.scope === "table" || r.database === db().name,
    );
    expect(here.map(key).sort()).toEqual(want.map((w) => w.key).sort());
    expect(new Set(got.map((r) => r.level))).toEqual(new Set(["error"]));
    expect(got.some((r) => r.scope === "database")).toBe(true);
    expect(got.some((r) => r.schema_name === "app")).toBe(true);
  });

  test("the default (half of 2^31) lists nothing on a young cluster; 0 lists every database; a table's lower freeze_max_age is its own", async () => {
    const { sql } = db();
    expect(await sql`select * from perf.wraparound_danger()`).toEqual([]);
    const [counts] = await sql<{ n: number; databases: number }[]>`
      select (select count(*)::int from perf.wraparound_danger(0) where scope = 'database') as n,
             (select count(*)::int from pg_database where datallowconn or datfrozenxid <> '0'::xid) as databases`;
    expect(counts!.n).toBe(counts!.databases);
    await sql`alter table app.knowledge_gaps set (autovacuum_freeze_max_age = 100000)`;
    try {
      const rows = await sql<{ table_name: string; max: string }[]>`
        select table_name, xid_freeze_max_age::text as max from perf.wraparound_danger(0)
        where scope = 'table' and schema_name = 'app' and table_name in ('knowledge_gaps', 'gap_answers')
        order by table_name`;
      const [row2] = await sql<{ server: string }[]>`
        select current_setting('autovacuum_freeze_max_age') as server`;
      const { server } = row2!;
      expect(rows).toEqual([
        { table_name: "gap_answers", max: server },
        { table_name: "knowledge_gaps", max: "100000" },
      ]);
    } finally {
      await sql`alter table app.knowledge_gaps reset (autovacuum_freeze_max_age)`;
    }
  });

  test("guards: null is QB001, a fraction outside 0..1 is QB008", async () => {
    const { sql } = db();
    expect(
      await sqlState(sql`select * from perf.wraparound_danger(${null}::real)`),
    ).toBe("QB001");
    expect(await sqlState(sql`select * from perf.wraparound_danger(1.5)`)).toBe(
      "QB008",
    );
  });
});

describe("sequence_overflow", () => {
  beforeAll(async () => {
    await db().sql.unsafe(`
      create schema perf_test;
      -- an integer identity at 93 % of its range
      create table perf_test.int_identity (id integer generated always as identity, x int);
      select setval('perf_test.int_identity_id_seq', 2000000000);
      -- a bigint sequence feeding an integer column through its default: the column's type is the limit
      create sequence perf_test.wide;
      create table perf_test.narrow_column (id integer default nextval('perf_test.wide'), x int);
      select setval('perf_test.wide', 1900000000);
      -- a smallint identity restarted near its end: the stored value is the next one
      create table perf_test.small_identity (id smallint generated by default as identity, x int);
      alter table perf_test.small_identity alter column id restart with 32000;
      -- a descending sequence, and one with no column, exhausted
      create sequence perf_test.down increment by -1 minvalue -100 maxvalue 10 start with 10;
      select nextval('perf_test.down') from generate_series(1, 90);
      create sequence perf_test.spent as integer;
      select setval('perf_test.spent', 2147483647);
      -- a table far from its limit
      create table perf_test.young (id integer generated always as identity);
    `);
  });

  test("lists what used the fraction of the range of the sequence or, where narrower, of the column it feeds, with the values a naive computation gives", async () => {
    const { sql } = db();
    const rows = await sql<
      {
        sequence_name: string;
        table_name: string | null;
        column_name: string | null;
        is_identity: boolean;
        next_value: string;
        limit_value: string;
        limited_by: string;
        values_left: string;
        used_fraction: number;
        level: string;
        fix: string;
      }[]
    >`select sequence_name, table_name, column_name, is_identity, next_value::text, limit_value::text, limited_by,
             values_left::text, used_fraction, level, fix
      from perf.sequence_overflow(0.7) where schema_name = 'perf_test' order by sequence_name`;
    // naive: (next - start) / (limit - start + increment), from what each was set to above
    const expected = [
      {
        sequence_name: "down",
        next: -80n,
        start: 10n,
        inc: -1n,
        limit: -100n,
        by: "sequence",
        table: null,
      },
      {
        sequence_name: "int_identity_id_seq",
        next: 2000000001n,
        start: 1n,
        inc: 1n,
        limit: 2147483647n,
        by: "sequence",
        table: "int_identity",
      },
      {
        sequence_name: "small_identity_id_seq",
        next: 32000n,
        start: 1n,
        inc: 1n,
        limit: 32767n,
        by: "sequence",
        table: "small_identity",
      },
      {
        sequence_name: "spent",
        next: 2147483648n,
        start: 1n,
        inc: 1n,
        limit: 2147483647n,
        by: "sequence",
        table: null,
      },
      {
        sequence_name: "wide",
        next: 1900000001n,
        start: 1n,
        inc: 1n,
        limit: 2147483647n,
        by: "column",
        table: "narrow_column",
      },
    ];
    expect(rows.map((r) => r.sequence_name)).toEqual(
      expected.map((e) => e.sequence_name),
    );
    for (const [i, e] of expected.entries()) {
      const r = rows[i]!;
      const used = Math.min(
        Number(e.next - e.start) / Number(e.limit - e.start + e.inc),
        1,
      );
      const left = (e.limit - e.next) / e.inc + 1n;
      expect(r.next_value, e.sequence_name).toBe(String(e.next));
      expect(r.limit_value, e.sequence_name).toBe(String(e.limit));
      expect(r.limited_by, e.sequence_name).toBe(e.by);
      expect(r.table_name, e.sequence_name).toBe(e.table);
      expect(r.used_fraction, e.sequence_name).toBeCloseTo(used, 9);
      expect(r.values_left, e.sequence_name).toBe(
        String(left < 0n ? 0n : left),
      );
      expect(r.level, e.sequence_name).toBe(
        used >= 0.95 || left <= 0n ? "error" : "warning",
      );
    }
    const by = new Map(rows.map((r) => [r.sequence_name, r]));
    expect(by.get("int_identity_id_seq")!.is_identity).toBe(true);
    expect(by.get("int_identity_id_seq")!.fix).toContain(
      "alter table perf_test.int_identity alter column id type bigint;",
    );
    expect(by.get("wide")!.fix).toContain(
      "alter table perf_test.narrow_column alter column id type bigint;",
    );
    expect(by.get("spent")!.fix).toBe(
      "alter sequence perf_test.spent as bigint;",
    );
    expect(by.get("down")!.fix).toBe(
      "alter sequence perf_test.down minvalue -9223372036854775808;",
    );
  });

  test("an app identity restarted near the bigint maximum trips it at the default fraction; nothing else of app does", async () => {
    const { sql } = db();
    expect(
      await sql`select sequence_name from perf.sequence_overflow() where schema_name = 'app'`,
    ).toEqual([]);
    await sql`alter table app.knowledge_gaps alter column id restart with 9223372036854000000`;
    try {
      const rows = await sql<
        {
          table_name: string;
          column_name: string;
          is_identity: boolean;
          next_value: string;
          level: string;
        }[]
      >`select table_name, column_name, is_identity, next_value::text, level
        from perf.sequence_overflow() where schema_name = 'app'`;
      expect(rows).toEqual([
        {
          table_name: "knowledge_gaps",
          column_name: "id",
          is_identity: true,
          next_value: "9223372036854000000",
          level: "error",
        },
      ]);
    } finally {
      await sql`select setval(pg_get_serial_sequence('app.knowledge_gaps', 'id'), (select max(id) from app.knowledge_gaps))`;
    }
  });

  test("the monitoring role sees the positions (security definer); guards QB001 / QB008", async () => {
    const { sql, url } = db();
    const monitor = await connectAs(url, "querybudget_monitor");
    try {
      const rows = await monitor<{ sequence_name: string }[]>`
        select sequence_name from perf.sequence_overflow(0.7) where schema_name = 'perf_test'`;
      expect(rows.length).toBe(5);
      expect(
        await sqlState(
          monitor`select * from perf.sequence_position('perf_test.wide'::regclass)`,
        ),
      ).toBe("42501");
    } finally {
      await monitor.end();
    }
    expect(
      await sqlState(sql`select * from perf.sequence_overflow(${null}::real)`),
    ).toBe("QB001");
    expect(
      await sqlState(sql`select * from perf.sequence_overflow(-0.1)`),
    ).toBe("QB008");
  });
});

describe("vacuum_health", () => {
  test("dead rows left by an update with autovacuum off on the table trip it against the table's own threshold, until vacuumed", async () => {
    const { sql, url } = db();
    await sql.unsafe(`
      create schema if not exists perf_test;
      create table perf_test.churn (id int primary key, x int) with (autovacuum_enabled = false);
      insert into perf_test.churn select g, g from generate_series(1, 10000) g;
      -- its own threshold, far over the dead rows to come: autovacuum would not vacuum it yet
      create table perf_test.patient (id int primary key, x int)
        with (autovacuum_enabled = false, autovacuum_vacuum_threshold = 50000, autovacuum_vacuum_scale_factor = 0);
      insert into perf_test.patient select g, g from generate_series(1, 10000) g;
    `);
    await sql`vacuum analyze perf_test.churn, perf_test.patient`;
    // on a connection of its own, whose statistics are flushed when it ends
    const writer = postgres(url, { max: 1, onnotice: () => {} });
    await writer`update perf_test.churn set x = x + 1`;
    await writer`update perf_test.patient set x = x + 1`;
    await writer.end();

    type Row = {
      table_name: string;
      autovacuum_enabled: boolean;
      dead_rows: number;
      vacuum_threshold: number;
      level: string;
      reason: string;
      fix: string;
    };
    const read = () => sql<Row[]>`
      select table_name, autovacuum_enabled, dead_rows::int, vacuum_threshold::int, level, reason, fix
      from perf.vacuum_health() where schema_name = 'perf_test' order by table_name`;
    const rows = await eventually(read, (r) =>
      r.every((x) => x.dead_rows === 10000),
    );
    // naive: threshold + scale factor x reltuples, the server's settings or the table's own
    const [ref] = await sql<{ base: number; scale: number; tuples: number }[]>`
      select current_setting('autovacuum_vacuum_threshold')::int as base,
             current_setting('autovacuum_vacuum_scale_factor')::float8 as scale,
             (select reltuples::int from pg_class where oid = 'perf_test.churn'::regclass) as tuples`;
    expect(
      rows.map((r) => [r.table_name, r.dead_rows, r.vacuum_threshold, r.level]),
    ).toEqual([
      [
        "churn",
        10000,
        Math.floor(ref!.base + ref!.scale * ref!.tuples),
        "error",
      ],
      ["patient", 10000, 50000, "info"],
    ]);
    expect(rows[0]!.autovacuum_enabled).toBe(false);
    expect(rows[0]!.reason).toContain(
      "10000 dead rows, over autovacuum's threshold",
    );
    expect(rows[0]!.fix).toBe(
      "vacuum (verbose, analyze) perf_test.churn; alter table perf_test.churn reset (autovacuum_enabled);",
    );
    expect(rows[1]!.reason).toBe(
      "autovacuum is disabled on this table (storage option autovacuum_enabled = false)",
    );

    // the fix clears the dead rows: left listed for autovacuum being off only
    await sql`vacuum perf_test.churn`;
    const after = await eventually(read, (r) =>
      r.some((x) => x.table_name === "churn" && x.dead_rows === 0),
    );
    expect(after.find((r) => r.table_name === "churn")!.level).toBe("info");
    // every app table has autovacuum on and nothing over its thresholds in a fresh copy
    expect(
      await sql`select table_name from perf.vacuum_health() where schema_name = 'app' and level <> 'info'`,
    ).toEqual([]);
  });
});

describe("bloat_estimates", () => {
  test("a table and its indexes after deleting 90 % of the rows: estimated as pgstattuple measures, within 0.1 of the size; a fresh table is not listed", async () => {
    const { sql } = db();
    await sql.unsafe(`
      create schema if not exists perf_test;
      create extension if not exists pgstattuple;
      create table perf_test.bloaty (id bigint primary key, payload text, n int);
      insert into perf_test.bloaty select g, repeat('x', 60), g from generate_series(1, 100000) g;
      create index bloaty_n_idx on perf_test.bloaty (n);
    `);
    await sql`vacuum analyze perf_test.bloaty`;
    const listed = () =>
      sql<
        {
          index_name: string | null;
          kind: string;
          actual_bytes: string;
          bloat_ratio: string;
          fix: string;
        }[]
      >`select index_name, kind, actual_bytes::text, bloat_ratio::text, fix
        from perf.bloat_estimates(1048576, 0.2) where schema_name = 'perf_test' and table_name = 'bloaty'
        order by kind desc, index_name`;
    expect(await listed()).toEqual([]);

    await sql`delete from perf_test.bloaty where id % 10 <> 0`;
    await sql`vacuum analyze perf_test.bloaty`;
    const rows = await listed();
    // pgstattuple reads every page: the share of the heap that is free or dead, and of the
    // leaves that a fresh build (90 % full) would not need
    const [heap] = await sql<{ waste: number; len: string }[]>`
      select (free_space + dead_tuple_len)::float8 / table_len as waste, table_len::text as len
      from pgstattuple('perf_test.bloaty')`;
    const indexes = await sql<{ name: string; waste: number }[]>`
      select i as name, 1 - (pgstatindex(('perf_test.' || i)::regclass)).avg_leaf_density / 90 as waste
      from unnest(array['bloaty_n_idx', 'bloaty_pkey']) i order by 1`;
    expect(rows.map((r) => r.index_name)).toEqual([
      null,
      "bloaty_n_idx",
      "bloaty_pkey",
    ]);
    expect(rows[0]!.actual_bytes).toBe(heap!.len);
    expect(Math.abs(Number(rows[0]!.bloat_ratio) - heap!.waste)).toBeLessThan(
      0.1,
    );
    for (const [i, ix] of indexes.entries())
      expect(
        Math.abs(Number(rows[i + 1]!.bloat_ratio) - ix.waste),
        ix.name,
      ).toBeLessThan(0.1);
    expect(rows[0]!.fix).toContain("vacuum full perf_test.bloaty;");
    expect(rows[1]!.fix).toBe(
      "reindex index concurrently perf_test.bloaty_n_idx;",
    );
    // the thresholds: above the bloat in bytes, nothing
    expect(
      await sql`select 1 from perf.bloat_estimates(1073741824, 0) where table_name = 'bloaty'`,
    ).toEqual([]);
    expect(await sqlState(sql`select * from perf.bloat_estimates(-1)`)).toBe(
      "QB008",
    );
  });
});

describe("not_valid_constraints", () => {
  test("a check and a foreign key added NOT VALID are listed, as pg_constraint says, until validated", async () => {
    const { sql } = db();
    await sql.unsafe(`
      alter table app.knowledge_gaps add constraint perf_test_title_length check (length(title) < 100000) not valid;
      alter table app.gap_answers add constraint perf_test_gap_fk foreign key (tenant_id, knowledge_gap_id)
        references app.knowledge_gaps (tenant_id, id) not valid;
    `);
    try {
      const rows = await sql<
        {
          table_name: string;
          constraint_name: string;
          constraint_type: string;
          fix: string;
        }[]
      >`select table_name, constraint_name, constraint_type, fix from perf.not_valid_constraints() order by constraint_name`;
      const naive = await sql<{ name: string }[]>`
        select conname::text as name from pg_constraint
        where not convalidated and connamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
        order by 1`;
      expect(rows.map((r) => r.constraint_name)).toEqual(
        naive.map((n) => n.name),
      );
      expect(rows).toEqual([
        {
          table_name: "gap_answers",
          constraint_name: "perf_test_gap_fk",
          constraint_type: "foreign key",
          fix: "alter table app.gap_answers validate constraint perf_test_gap_fk;",
        },
        {
          table_name: "knowledge_gaps",
          constraint_name: "perf_test_title_length",
          constraint_type: "check",
          fix: "alter table app.knowledge_gaps validate constraint perf_test_title_length;",
        },
      ]);
      // the report counts them, for the monitoring role too
      const monitor = await connectAs(db().url, "querybudget_monitor");
      try {
        const [r] = await monitor<{ n: number }[]>`
          select (perf.database_report() -> 'summary' ->> 'not_valid_constraints')::int as n`;
        expect(r!.n).toBe(2);
      } finally {
        await monitor.end();
      }
      for (const r of rows) await sql.unsafe(r.fix);
      expect(await sql`select * from perf.not_valid_constraints()`).toEqual([]);
    } finally {
      await sql.unsafe(`
        alter table app.gap_answers drop constraint if exists perf_test_gap_fk;
        alter table app.knowledge_gaps drop constraint if exists perf_test_title_length;
      `);
    }
  });
});

describe("the report", () => {
  test("database_report carries every safety section and counts what needs attention", async () => {
    const { sql } = db();
    await sql`alter table app.knowledge_gaps alter column id restart with 9223372036854000000`;
    try {
      const [row3] = await sql<{ report: Record<string, any> }[]>`
        select perf.database_report() as report`;
      const { report } = row3!;
      for (const k of [
        "wraparound",
        "sequences",
        "vacuum",
        "bloat",
        "not_valid_constraints",
        "replication",
        "routine_changes",
        "table_growth",
      ])
        expect(Array.isArray(report[k]), k).toBe(true);
      expect(
        report.sequences.map((s: { table_name: string }) => s.table_name),
      ).toContain("knowledge_gaps");
      expect(report.summary.sequences_near_limit).toBe(report.sequences.length);
      expect(report.thresholds.sequence_warn_fraction).toBe(0.75);
      expect(report.summary.replication_problems).toBe(0);
    } finally {
      await sql`select setval(pg_get_serial_sequence('app.knowledge_gaps', 'id'), (select max(id) from app.knowledge_gaps))`;
    }
  });
});

describe("replication_health (on a cluster of its own, wal_level = replica)", () => {
  let cluster: LocalCluster;
  let sql: postgres.Sql;
  beforeAll(async () => {
    cluster = await startLocalCluster({
      settings: {
        wal_level: "replica",
        max_wal_senders: 4,
        max_replication_slots: 4,
      },
    });
    sql = postgres(withDatabase(cluster.url, "postgres"), {
      max: 1,
      onnotice: () => {},
    });
    await sql.unsafe(`create schema perf`);
    for (const file of ["shared.sql", "safety.sql"])
      await sql.unsafe(
        readFileSync(
          join(import.meta.dirname, "..", "functions", "perf", file),
          "utf8",
        ),
      );
  }, 60_000);
  afterAll(async () => {
    await sql?.end();
    await cluster?.stop();
  });

  test("no replication, no rows; guards QB001 / QB008", async () => {
    expect(await sql`select * from perf.replication_health()`).toEqual([]);
    expect(
      await sqlState(
        sql`select * from perf.replication_health(${null}::bigint)`,
      ),
    ).toBe("QB001");
    expect(await sqlState(sql`select * from perf.replication_health(-1)`)).toBe(
      "QB008",
    );
  });

  test("a slot no client uses is listed inactive with the WAL it retains, as pg_replication_slots says; error once over the threshold", async () => {
    await sql`select pg_create_physical_replication_slot('perf_test_forgotten', true)`;
    await sql.unsafe(
      `create table churn as select g, repeat('w', 200) as pad from generate_series(1, 20000) g`,
    );
    // the WAL position moves on its own (checkpoints, autovacuum): the slot's retention read
    // before and after the call bounds what the function saw
    const retained = () =>
      sql<{ bytes: string }[]>`
        select pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text as bytes
        from pg_replication_slots where slot_name = 'perf_test_forgotten'`.then(
        (r) => Number(r[0]!.bytes),
      );
    const before = await retained();
    const got = await sql<
      {
        kind: string;
        name: string;
        active: boolean;
        retained_wal_bytes: string;
        level: string;
        fix: string;
      }[]
    >`select kind, name, active, retained_wal_bytes::text, level, fix from perf.replication_health(1024)`;
    const after = await retained();
    expect(before).toBeGreaterThan(1_000_000);
    expect(got.length).toBe(1);
    expect(Number(got[0]!.retained_wal_bytes)).toBeGreaterThanOrEqual(before);
    expect(Number(got[0]!.retained_wal_bytes)).toBeLessThanOrEqual(after);
    expect({ ...got[0]!, retained_wal_bytes: undefined }).toEqual({
      kind: "slot",
      name: "perf_test_forgotten",
      active: false,
      retained_wal_bytes: undefined,
      level: "error",
      fix: "reconnect its consumer, or drop it: select pg_drop_replication_slot('perf_test_forgotten');",
    });
    // under the threshold in bytes, still a warning: it keeps WAL for as long as it exists
    const [w] = await sql<{ level: string }[]>`
      select level from perf.replication_health(1073741824) where name = 'perf_test_forgotten'`;
    expect(w!.level).toBe("warning");
    await sql`select pg_drop_replication_slot('perf_test_forgotten')`;
    expect(await sql`select * from perf.replication_health()`).toEqual([]);
  });
});
