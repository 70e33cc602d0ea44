// The history of functions/perf/history.sql (issue 15, item 2): snapshots placed at explicit
// times (never today's date), deltas against pg_stat_statements read here between the
// snapshots (the independent reference), a routine made slower and heavier after a known
// snapshot, which routine_changes_since must name and date, a table that grew, an entry reset
// between snapshots, a statement calling two routines, and the retention.
import postgres from "postgres";
import { beforeAll, describe, expect, test } from "vitest";
import { useTestDatabase } from "./harness/database.ts";
import { sqlState } from "./harness/errors.ts";
import { connectAs } from "./harness/roles.ts";

const db = useTestDatabase("perf_history");

/** Snapshot times: a fixed day, minutes apart (the dates are arbitrary and never today's). */
const T = (minutes: number) =>
  new Date(Date.UTC(2031, 0, 1, 0, minutes)).toISOString();

interface Counters {
  calls: number;
  total_ms: number;
  blocks: number;
  rows: number;
}

/** pg_stat_statements' cumulative counters of the top-level statements calling a routine (the reference). */
async function statementCounters(
  sql: postgres.Sql,
  routine: string,
): Promise<Counters> {
  const [r] = await sql<Counters[]>`
    select coalesce(sum(calls), 0)::int as calls, coalesce(sum(total_exec_time), 0)::float8 as total_ms,
           coalesce(sum(shared_blks_hit + shared_blks_read), 0)::int as blocks, coalesce(sum(rows), 0)::int as rows
    from pg_stat_statements
    where dbid = (select oid from pg_database where datname = current_database()) and toplevel
      and query ~ ${"\\m" + routine.replace(".", "\\.") + "\\s*\\("}
      and query !~ 'perf_test_other'`;
  return r!;
}

const minus = (a: Counters, b: Counters): Counters => ({
  calls: a.calls - b.calls,
  total_ms: a.total_ms - b.total_ms,
  blocks: a.blocks - b.blocks,
  rows: a.rows - b.rows,
});

describe("snapshots and what changed since", () => {
  let caller: postgres.Sql;
  const marks: Counters[] = [];

  beforeAll(async () => {
    const { sql, url } = db();
    await sql.unsafe(`
      create schema perf_test;
      -- autovacuum off: its visibility map and free space map would change the size under the test
      create table perf_test.big with (autovacuum_enabled = false) as select g as id, repeat('y', 100) as pad from generate_series(1, 60000) g;
      analyze perf_test.big;
      -- api routines of this test copy: one whose cost follows its argument, one called beside it
      create function api.perf_test_scan(p_rows int) returns bigint language plpgsql
        set search_path = pg_catalog, pg_temp as $f$
        declare n bigint;
        begin select count(*) into n from (select * from perf_test.big limit p_rows) x; return n; end $f$;
      create function api.perf_test_other(p int) returns int language plpgsql
        set search_path = pg_catalog, pg_temp as $f$ begin return p; end $f$;
    `);
    caller = postgres(url, { max: 1, onnotice: () => {} });
    // a backend flushes its function statistics when it goes idle, at most once a second:
    // forced, then a statement after it (the flush precedes that statement's ReadyForQuery)
    const flush = async () => {
      await caller`select pg_stat_force_next_flush()`;
      await caller`select 1`;
    };

    // T0: the baseline; 20 cheap calls; T5; 20 calls reading 300 times the rows; T10
    expect(
      (await sql`select * from perf.take_snapshot(${T(0)}::timestamptz)`)[0],
    ).toMatchObject({ statements: 0, routines: 0 });
    marks.push(await statementCounters(sql, "api.perf_test_scan"));
    for (let i = 0; i < 20; i++)
      await caller`select api.perf_test_scan(${100})`;
    await caller`select api.perf_test_scan(${1}), api.perf_test_other(${1})`;
    await flush();
    await sql`select * from perf.take_snapshot(${T(5)}::timestamptz)`;
    marks.push(await statementCounters(sql, "api.perf_test_scan"));
    for (let i = 0; i < 20; i++)
      await caller`select api.perf_test_scan(${30000})`;
    await sql`insert into perf_test.big select g, repeat('z', 100) from generate_series(1, 40000) g`;
    await flush();
    await sql`select * from perf.take_snapshot(${T(10)}::timestamptz)`;
    marks.push(await statementCounters(sql, "api.perf_test_scan"));
  });

  test("routine_history: per interval, the calls, mean time and buffers per call pg_stat_statements counted between the snapshots", async () => {
    const { sql } = db();
    const rows = await sql<
      {
        taken_at: Date;
        interval_start: Date;
        calls: number;
        mean_ms: string;
        blocks_per_call: string;
        rows_per_call: string;
        function_calls: number;
      }[]
    >`select taken_at, interval_start, calls::int, mean_ms::text, blocks_per_call::text, rows_per_call::text, function_calls::int
      from perf.routine_history() where routine = 'api.perf_test_scan' order by taken_at`;
    expect(
      rows.map((r) => [
        r.interval_start.toISOString(),
        r.taken_at.toISOString(),
      ]),
    ).toEqual([
      [T(0), T(5)],
      [T(5), T(10)],
    ]);
    for (const [i, r] of rows.entries()) {
      const d = minus(marks[i + 1]!, marks[i]!);
      expect(r.calls).toBe(20);
      expect(d.calls).toBe(20);
      expect(Number(r.mean_ms)).toBeCloseTo(d.total_ms / d.calls, 2);
      expect(Number(r.blocks_per_call)).toBeCloseTo(d.blocks / d.calls, 1);
      expect(Number(r.rows_per_call)).toBe(1);
    }
    // pg_stat_user_functions counts every call, the one beside api.perf_test_other too
    const [row1] = await sql<{ tracking: string }[]>`
      select current_setting('track_functions') as tracking`;
    const { tracking } = row1!;
    if (tracking !== "none")
      expect(rows.map((r) => r.function_calls)).toEqual([21, 20]);
    // the statement calling two api routines is attributed to neither
    expect(
      await sql`select 1 from perf.routine_history() where routine = 'api.perf_test_other' and calls > 0`,
    ).toEqual([]);
  });

  test("routine_changes_since names the routine that got heavier after T5 and dates it to the T10 snapshot; nothing grew after T10", async () => {
    const { sql } = db();
    const rows = await sql<
      {
        routine: string;
        source: string;
        calls_before: number;
        calls_after: number;
        blocks_per_call_before: string;
        blocks_per_call_after: string;
        blocks_growth: string;
        mean_growth: string;
        changed_at: Date;
      }[]
    >`select routine, source, calls_before::int, calls_after::int, blocks_per_call_before::text, blocks_per_call_after::text,
             blocks_growth::text, mean_growth::text, changed_at
      from perf.routine_changes_since(${T(5)}::timestamptz)`;
    expect(rows.map((r) => r.routine)).toEqual(["api.perf_test_scan"]);
    const r = rows[0]!;
    const before = minus(marks[1]!, marks[0]!);
    const after = minus(marks[2]!, marks[1]!);
    expect([r.source, r.calls_before, r.calls_after]).toEqual([
      "statements",
      20,
      20,
    ]);
    expect(Number(r.blocks_per_call_before)).toBeCloseTo(before.blocks / 20, 1);
    expect(Number(r.blocks_per_call_after)).toBeCloseTo(after.blocks / 20, 1);
    expect(Number(r.blocks_growth)).toBeCloseTo(
      after.blocks / before.blocks - 1,
      2,
    );
    expect(Number(r.blocks_growth)).toBeGreaterThan(10);
    expect(r.changed_at.toISOString()).toBe(T(10));
    // a growth threshold above what happened lists nothing; after the last snapshot, nothing to compare
    const huge =
      Number(r.blocks_growth) + Math.max(Number(r.mean_growth), 0) + 1;
    expect(
      await sql`select 1 from perf.routine_changes_since(${T(5)}::timestamptz, ${huge})`,
    ).toEqual([]);
    expect(
      await sql`select 1 from perf.routine_changes_since(${T(10)}::timestamptz)`,
    ).toEqual([]);
  });

  test("statement_changes_since: the calling statement and the routine's nested statement both got heavier at T10; statement_history has their intervals", async () => {
    const { sql } = db();
    const rows = await sql<
      {
        queryid: string;
        toplevel: boolean;
        query: string;
        calls_before: number;
        calls_after: number;
        blocks_growth: string;
        changed_at: Date;
      }[]
    >`select queryid::text, toplevel, query, calls_before::int, calls_after::int, blocks_growth::text, changed_at
      from perf.statement_changes_since(${T(5)}::timestamptz)`;
    const top = rows.find(
      (r) => r.toplevel && /api\.perf_test_scan/.test(r.query),
    );
    const nested = rows.find(
      (r) => !r.toplevel && /perf_test\.big/.test(r.query),
    );
    expect(top, JSON.stringify(rows)).toBeDefined();
    expect(nested, JSON.stringify(rows)).toBeDefined();
    // the nested statement also ran once for the statement that called two routines
    expect([top!.calls_before, top!.calls_after]).toEqual([20, 20]);
    expect([nested!.calls_before, nested!.calls_after]).toEqual([21, 20]);
    for (const r of [top!, nested!]) {
      expect(Number(r.blocks_growth)).toBeGreaterThan(10);
      expect(r.changed_at.toISOString()).toBe(T(10));
    }
    // the top-level statement's buffers are the routine's (its nested statements included)
    const [routine] = await sql<{ blocks_growth: string }[]>`
      select blocks_growth::text from perf.routine_changes_since(${T(5)}::timestamptz) where routine = 'api.perf_test_scan'`;
    expect(top!.blocks_growth).toBe(routine!.blocks_growth);
    const history = await sql<
      { taken_at: Date; calls: number; toplevel: boolean }[]
    >`
      select taken_at, calls::int, toplevel from perf.statement_history(${top!.queryid}::bigint)`;
    expect(
      history.map((h) => [h.taken_at.toISOString(), h.calls, h.toplevel]),
    ).toEqual([
      [T(5), 20, true],
      [T(10), 20, true],
    ]);
    expect(
      await sqlState(
        sql`select * from perf.statement_history(${null}::bigint)`,
      ),
    ).toBe("QB001");
  });

  test("table_growth_since and table_size_history: the table that grew, by what pg_total_relation_size says", async () => {
    const { sql } = db();
    const [g] = await sql<
      {
        since_at: Date;
        latest_at: Date;
        total_bytes_before: string;
        total_bytes_after: string;
        growth_bytes: string;
      }[]
    >`select since_at, latest_at, total_bytes_before::text, total_bytes_after::text, growth_bytes::text
      from perf.table_growth_since(${T(7)}::timestamptz) where schema_name = 'perf_test' and table_name = 'big'`;
    const [now] = await sql<{ bytes: string }[]>`
      select pg_total_relation_size('perf_test.big')::text as bytes`;
    expect(g!.since_at.toISOString()).toBe(T(5));
    expect(g!.latest_at.toISOString()).toBe(T(10));
    expect(g!.total_bytes_after).toBe(now!.bytes);
    expect(Number(g!.growth_bytes)).toBe(
      Number(g!.total_bytes_after) - Number(g!.total_bytes_before),
    );
    expect(Number(g!.growth_bytes)).toBeGreaterThan(3_000_000);
    // it is the table that grew most
    const [top] = await sql<{ table_name: string }[]>`
      select table_name from perf.table_growth_since(${T(7)}::timestamptz) limit 1`;
    expect(top!.table_name).toBe("big");
    const series = await sql<{ taken_at: Date; total_bytes: string }[]>`
      select taken_at, total_bytes::text from perf.table_size_history() where schema_name = 'perf_test' and table_name = 'big'`;
    expect(series.map((s) => s.taken_at.toISOString())).toEqual([
      T(0),
      T(5),
      T(10),
    ]);
    expect(series[2]!.total_bytes).toBe(now!.bytes);
    expect(series[0]!.total_bytes).toBe(g!.total_bytes_before);
  });

  test("an entry reset between snapshots counts from zero, never negative", async () => {
    const { sql } = db();
    // reset this database's entries of the routine only (a whole reset would disturb other test files)
    await sql`
      select pg_stat_statements_reset(0, (select oid from pg_database where datname = current_database()), s.queryid)
      from pg_stat_statements s
      where s.dbid = (select oid from pg_database where datname = current_database()) and s.query ~ 'api\\.perf_test_scan'`;
    for (let i = 0; i < 3; i++) await caller`select api.perf_test_scan(${100})`;
    await sql`select * from perf.take_snapshot(${T(15)}::timestamptz)`;
    const [r] = await sql<{ calls: number; blocks_per_call: string }[]>`
      select calls::int, blocks_per_call::text from perf.routine_history(${T(10)}::timestamptz) where routine = 'api.perf_test_scan'`;
    const ref = await statementCounters(sql, "api.perf_test_scan");
    expect(r!.calls).toBe(3);
    expect(ref.calls).toBe(3);
    expect(Number(r!.blocks_per_call)).toBeCloseTo(ref.blocks / 3, 1);
  });

  test("the monitoring role reads the history but cannot take a snapshot; guards", async () => {
    const { sql, url } = db();
    const monitor = await connectAs(url, "querybudget_monitor");
    try {
      const rows =
        await monitor`select * from perf.routine_history() where routine = 'api.perf_test_scan'`;
      expect(rows.length).toBe(3);
      expect(
        await sqlState(
          monitor`select * from perf.take_snapshot(${T(16)}::timestamptz)`,
        ),
      ).toBe("42501");
    } finally {
      await monitor.end();
    }
    // not later than the latest snapshot, a retention that is not positive, an infinite time
    expect(
      await sqlState(
        sql`select * from perf.take_snapshot(${T(15)}::timestamptz)`,
      ),
    ).toBe("QB008");
    expect(
      await sqlState(
        sql`select * from perf.take_snapshot(${T(20)}::timestamptz, ${"-1 day"}::interval)`,
      ),
    ).toBe("QB008");
    expect(
      await sqlState(sql`select * from perf.take_snapshot('infinity')`),
    ).toBe("QB008");
    expect(
      await sqlState(
        sql`select * from perf.routine_changes_since(${null}::timestamptz)`,
      ),
    ).toBe("QB001");
    expect(
      await sqlState(
        sql`select * from perf.routine_changes_since(${T(5)}::timestamptz, -1)`,
      ),
    ).toBe("QB008");
    expect(
      await sqlState(
        sql`select * from perf.table_growth_since(${null}::timestamptz)`,
      ),
    ).toBe("QB001");
  });

  test("retention: a snapshot 20 days later prunes those older than 14 days, and the setting overrides the default", async () => {
    const { sql } = db();
    const later = new Date(Date.UTC(2031, 0, 21, 0, 5)).toISOString();
    const [r] = await sql<{ snapshots_pruned: number }[]>`
      select snapshots_pruned from perf.take_snapshot(${later}::timestamptz)`;
    // T0, T5, T10 and T15 (the 2031-01-01 snapshots) are all more than 14 days older
    expect(r!.snapshots_pruned).toBe(4);
    const left = await sql<{ taken_at: Date }[]>`
      select taken_at from perf.table_size_history() group by taken_at order by taken_at`;
    expect(left.map((s) => s.taken_at.toISOString())).toEqual([later]);
    // no statement text outlives the deltas that mention it
    const [row2] = await sql<{ orphans: number }[]>`
      select count(*)::int as orphans from perf.statement_texts t
      where not exists (select from perf.statement_deltas d where d.queryid = t.queryid)`;
    const { orphans } = row2!;
    expect(orphans).toBe(0);

    // querybudget.perf_history_retention = 1 hour: a snapshot 2 hours later keeps only itself
    const twoHours = new Date(Date.UTC(2031, 0, 21, 2, 5)).toISOString();
    const pruned = await sql.begin(async (tx) => {
      await tx`select set_config('querybudget.perf_history_retention', '1 hour', true)`;
      const [p] = await tx<{ snapshots_pruned: number }[]>`
        select snapshots_pruned from perf.take_snapshot(${twoHours}::timestamptz)`;
      return p!.snapshots_pruned;
    });
    expect(pruned).toBe(1);
    const [status] = await sql<
      { snapshots: number; latest_at: Date; retention: string }[]
    >`select snapshots::int, latest_at, retention::text from perf.history_status()`;
    expect(status).toEqual({
      snapshots: 1,
      latest_at: new Date(twoHours),
      retention: "14 days",
    });
  });
});
