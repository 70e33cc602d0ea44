// The pg_cron jobs and their maint procedures (docs/jobs.md).
// The procedures run directly on a copy of the seeded template (which has no pg_cron) and are
// checked against naive queries computed before they run. The registration of the jobs is
// checked in the main database, where pg_cron lives and which the global setup migrated.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { useTestDatabase } from "./harness/database.ts";
import { prng, pick } from "./harness/random.ts";
import { sqlState } from "./harness/errors.ts";

const JOBS_SQL = readFileSync(
  join(import.meta.dirname, "..", "sql", "30_jobs.sql"),
  "utf8",
);

const db = useTestDatabase("jobs");

describe("maint.purge_expired (TTL)", () => {
  interface Keys {
    sessions: string[];
    conversations: string[];
    messages: string[];
  }
  // The naive reference: the keys of the rows that have expired (true), that have not (false),
  // or all (null), by plain queries. Messages carry their conversation, for the cascade.
  async function keys(expired: boolean | null): Promise<Keys> {
    const { sql } = db();
    const cond =
      expired === null
        ? sql`true`
        : expired
          ? sql`expires_at < now()`
          : sql`not coalesce(expires_at < now(), false)`;
    const sessions = await sql<{ k: string }[]>`
      select tenant_id || ':' || id as k from app.user_sessions where ${cond} order by 1`;
    const conversations = await sql<{ k: string }[]>`
      select tenant_id || ':' || id as k from app.conversations where ${cond} order by 1`;
    const messages = await sql<{ k: string }[]>`
      select tenant_id || ':' || id || ':' || conversation_id as k from app.messages where ${cond} order by 1`;
    return {
      sessions: sessions.map((r) => r.k),
      conversations: conversations.map((r) => r.k),
      messages: messages.map((r) => r.k),
    };
  }
  const conversationOf = (message: string) => {
    const [tenant, , conversation] = message.split(":");
    return `${tenant}:${conversation}`;
  };

  let expired: Keys;
  let alive: Keys;
  let firstSessions: string[];

  beforeAll(async () => {
    const { sql } = db();
    // Rows that expire within the next minutes would turn from alive to expired while the test
    // runs: move them a day on, so the reference stays exact.
    for (const table of ["user_sessions", "conversations", "messages"]) {
      await sql`update ${sql("app." + table)} set expires_at = expires_at + interval '1 day'
                where expires_at >= now() and expires_at < now() + interval '10 minutes'`;
    }
    // The 10k tier has few expired conversations (5 % of 200): expire 12 more, picked at random.
    const random = prng(77);
    const never = await sql<{ k: string }[]>`
      select tenant_id || ':' || id as k from app.conversations where expires_at is null order by 1`;
    const chosen = pick(
      never.map((r) => r.k),
      12,
      random,
    );
    await sql`update app.conversations set expires_at = now() - interval '1 hour'
              where tenant_id || ':' || id = any(${chosen}::text[])`;
    expired = await keys(true);
    alive = await keys(false);
    firstSessions = (
      await sql<{ k: string }[]>`
      select tenant_id || ':' || id as k from app.user_sessions where expires_at < now()
      order by expires_at, id limit 6`
    ).map((r) => r.k);
  });

  test("the data has expired and live rows in every TTL table, and expired conversations with messages", () => {
    for (const table of ["sessions", "conversations", "messages"] as const) {
      expect(expired[table].length, `expired ${table}`).toBeGreaterThanOrEqual(
        12,
      );
      expect(alive[table].length, `live ${table}`).toBeGreaterThan(0);
    }
    const gone = new Set(expired.conversations);
    expect(
      alive.messages.filter((m) => gone.has(conversationOf(m))).length,
    ).toBeGreaterThan(0);
  });

  test("refuses bad batch arguments with QB001/QB004 and deletes nothing", async () => {
    const { sql } = db();
    expect(await sqlState(sql`call maint.purge_expired(${0})`)).toBe("QB004");
    expect(await sqlState(sql`call maint.purge_expired(${100001})`)).toBe(
      "QB004",
    );
    expect(
      await sqlState(sql`call maint.purge_expired(${null}::integer)`),
    ).toBe("QB001");
    expect(await sqlState(sql`call maint.purge_expired(${10}, ${0})`)).toBe(
      "QB004",
    );
    expect(await keys(true)).toEqual(expired);
  });

  test("caps a run at p_max_batches batches of p_batch_size rows per table, oldest first", async () => {
    const { sql } = db();
    const [r] = await sql<
      {
        messages_deleted: string;
        conversations_deleted: string;
        sessions_deleted: string;
      }[]
    >`
      call maint.purge_expired(${3}, ${2})`;
    const left = await keys(true);
    // 2 batches of 3 per table
    expect(Number(r!.sessions_deleted)).toBe(6);
    expect(left.sessions.length).toBe(expired.sessions.length - 6);
    expect(left.sessions.filter((k) => firstSessions.includes(k))).toEqual([]);
    expect(Number(r!.conversations_deleted)).toBe(6);
    expect(left.conversations.length).toBe(expired.conversations.length - 6);
    expect(Number(r!.messages_deleted)).toBe(6);
    // the conversations' cascade may have taken expired messages along
    expect(left.messages.length).toBeLessThanOrEqual(
      expired.messages.length - 6,
    );
    const stillAlive = await keys(false);
    expect(stillAlive.sessions).toEqual(alive.sessions);
    expect(stillAlive.conversations).toEqual(alive.conversations);
  });

  test("skips rows another transaction has locked, deletes every other expired row, keeps every live one", async () => {
    const { sql } = db();
    const random = prng(2024);
    const before = await keys(true);
    const live = new Set(alive.conversations);
    const lockedSessions = pick(before.sessions, 3, random);
    // messages of live conversations: an expired conversation's cascade would wait for them
    const lockedMessages = pick(
      before.messages.filter((m) => live.has(conversationOf(m))),
      3,
      random,
    );
    expect(lockedMessages.length).toBe(3);
    const holder = await sql.reserve();
    try {
      await holder`begin`;
      await holder`select 1 from app.user_sessions
                   where tenant_id || ':' || id = any(${lockedSessions}::text[]) for update`;
      await holder`select 1 from app.messages
                   where tenant_id || ':' || id || ':' || conversation_id = any(${lockedMessages}::text[]) for update`;

      const started = performance.now();
      await sql`call maint.purge_expired()`;
      // skipped, not waited for (lock_timeout is 2 s)
      expect(performance.now() - started).toBeLessThan(1500);
      const left = await keys(true);
      expect(left.sessions).toEqual([...lockedSessions].sort());
      expect(left.messages).toEqual([...lockedMessages].sort());
      expect(left.conversations).toEqual([]);
    } finally {
      await holder`rollback`;
      holder.release();
    }

    const [r] = await sql<
      { messages_deleted: string; sessions_deleted: string }[]
    >`call maint.purge_expired()`;
    expect(Number(r!.sessions_deleted)).toBe(3);
    expect(Number(r!.messages_deleted)).toBe(3);
    expect(await keys(true)).toEqual({
      sessions: [],
      conversations: [],
      messages: [],
    });

    // What is left is exactly the reference's live rows: sessions and conversations that had
    // not expired, and the live messages of live conversations (the others went with theirs).
    const now = await keys(null);
    expect(now.sessions).toEqual(alive.sessions);
    expect(now.conversations).toEqual(alive.conversations);
    expect(now.messages).toEqual(
      alive.messages.filter((m) => live.has(conversationOf(m))),
    );
  });
});

describe("maint.run_partition_maintenance (pg_partman: premake and retention)", () => {
  interface Partition {
    parent: string;
    name: string;
    start: string;
    end: string;
    rows: number;
  }
  async function partitions(): Promise<Partition[]> {
    const { sql } = db();
    return sql<Partition[]>`
      select p.parent, s.partition_tablename as name,
             to_char(i.child_start_time at time zone 'UTC', 'YYYY-MM-DD') as start,
             to_char(i.child_end_time at time zone 'UTC', 'YYYY-MM-DD') as "end",
             (select count(*)::int from app.operations o where o.tableoid = format('%I.%I', s.partition_schemaname, s.partition_tablename)::regclass)
           + (select count(*)::int from app.messages m where m.tableoid = format('%I.%I', s.partition_schemaname, s.partition_tablename)::regclass) as rows
      from unnest(array['app.operations', 'app.messages']) p(parent)
      cross join lateral partman.show_partitions(p.parent) s
      cross join lateral partman.show_partition_info(format('%I.%I', s.partition_schemaname, s.partition_tablename)) i
      order by 1, 3`;
  }
  async function counts(): Promise<{ operations: number; messages: number }> {
    const { sql } = db();
    const [r] = await sql<{ operations: number; messages: number }[]>`
      select (select count(*)::int from app.operations) as operations, (select count(*)::int from app.messages) as messages`;
    return r!;
  }
  // The first days of the months from this one to `ahead` months on, as pg_partman names them.
  async function monthsAhead(ahead: number): Promise<string[]> {
    const { sql } = db();
    const rows = await sql<{ m: string }[]>`
      select to_char(date_trunc('month', now() at time zone 'UTC') + make_interval(months => k), 'YYYY-MM-DD') as m
      from generate_series(0, ${ahead}) k order by 1`;
    return rows.map((r) => r.m);
  }

  test("sql/30_jobs.sql configured retention: operations 12 months, messages 6 months, dropped not detached", async () => {
    const { sql } = db();
    const rows = await sql`
      select parent_table, retention, retention_keep_table, retention_keep_index, infinite_time_partitions
      from partman.part_config order by parent_table`;
    expect(rows).toEqual([
      {
        parent_table: "app.messages",
        retention: "6 months",
        retention_keep_table: false,
        retention_keep_index: false,
        infinite_time_partitions: true,
      },
      {
        parent_table: "app.operations",
        retention: "12 months",
        retention_keep_table: false,
        retention_keep_index: false,
        infinite_time_partitions: true,
      },
    ]);
  });

  test("with the configured retention no seeded partition is dropped, and premake months exist", async () => {
    const { sql } = db();
    const before = await partitions();
    const rowsBefore = await counts();
    const [r] = await sql<
      { partitions_created: number; partitions_dropped: number }[]
    >`call maint.run_partition_maintenance()`;
    const after = await partitions();
    expect(r!.partitions_dropped).toBe(0);
    for (const p of before)
      expect(
        after.some((a) => a.name === p.name),
        p.name,
      ).toBe(true);
    expect(after.length - before.length).toBe(r!.partitions_created);
    expect(await counts()).toEqual(rowsBefore);
    const [premake] = await sql<
      { n: number }[]
    >`select min(premake)::int as n from partman.part_config`;
    const months = await monthsAhead(premake!.n);
    for (const parent of ["app.operations", "app.messages"]) {
      expect(
        after
          .filter((p) => p.parent === parent && months.includes(p.start))
          .map((p) => p.start),
      ).toEqual(months);
    }
    // the caller's search_path is given back (pg_partman changes it)
    const [sp] = await sql<{ search_path: string }[]>`show search_path`;
    expect(sp!.search_path).not.toMatch(/partman/);
  });

  test("makes the partitions ahead again after they are dropped, with their parent's extended statistics", async () => {
    const { sql } = db();
    const [nextMonth] = await monthsAhead(1).then((m) => m.slice(1));
    const future = (await partitions()).filter((p) => p.start >= nextMonth!);
    expect(future.length).toBeGreaterThanOrEqual(4);
    expect(future.every((p) => p.rows === 0)).toBe(true);
    for (const p of future) await sql.unsafe(`drop table app.${p.name}`);
    expect((await partitions()).filter((p) => p.start >= nextMonth!)).toEqual(
      [],
    );

    const [r] = await sql<
      { partitions_created: number }[]
    >`call maint.run_partition_maintenance()`;
    const after = await partitions();
    const remade = after.filter((p) => p.start >= nextMonth!);
    expect(r!.partitions_created).toBe(remade.length);
    const [premake] = await sql<
      { n: number }[]
    >`select min(premake)::int as n from partman.part_config`;
    const months = (await monthsAhead(premake!.n)).slice(1);
    for (const parent of ["app.operations", "app.messages"]) {
      expect(
        remade
          .filter((p) => p.parent === parent && months.includes(p.start))
          .map((p) => p.start),
      ).toEqual(months);
    }
    // every statistics object of app.operations is repeated on each new partition
    const [stats] = await sql<{ missing: number }[]>`
      select count(*)::int as missing
      from pg_statistic_ext s
      join pg_inherits i on i.inhparent = s.stxrelid
      where s.stxrelid = 'app.operations'::regclass
        and i.inhrelid = any(${remade.filter((p) => p.parent === "app.operations").map((p) => `app.${p.name}`)}::regclass[])
        and not exists (select from pg_statistic_ext ps where ps.stxrelid = i.inhrelid and ps.stxkeys = s.stxkeys)`;
    expect(stats!.missing).toBe(0);
  });

  test("drops the partitions past their retention, with their rows, and nothing else", async () => {
    const { sql } = db();
    // A short retention in this copy, so that seeded partitions fall out of it.
    await sql`update partman.part_config set retention = '1 month' where parent_table = 'app.messages'`;
    await sql`update partman.part_config set retention = '2 months' where parent_table = 'app.operations'`;
    const before = await partitions();
    // pg_partman drops a partition when its end is before now() - retention
    const dropNames = (
      await sql<{ name: string }[]>`
      select s.partition_tablename as name
      from partman.part_config pc
      cross join lateral partman.show_partitions(pc.parent_table) s
      cross join lateral partman.show_partition_info(format('%I.%I', s.partition_schemaname, s.partition_tablename)) i
      where i.child_end_time < now() - pc.retention::interval`
    ).map((r) => r.name);
    const expired = before.filter((p) => dropNames.includes(p.name));
    expect(
      expired.filter((p) => p.parent === "app.messages").length,
    ).toBeGreaterThanOrEqual(2);
    expect(
      expired.filter((p) => p.parent === "app.operations").length,
    ).toBeGreaterThanOrEqual(1);
    expect(expired.some((p) => p.rows > 0)).toBe(true);
    const rowsBefore = await counts();
    const gone = (parent: string) =>
      expired
        .filter((p) => p.parent === parent)
        .reduce((n, p) => n + p.rows, 0);

    const [r] = await sql<
      { partitions_dropped: number }[]
    >`call maint.run_partition_maintenance()`;
    const after = await partitions();
    expect(r!.partitions_dropped).toBe(expired.length);
    expect(after.map((p) => p.name).sort()).toEqual(
      before
        .filter((p) => !expired.includes(p))
        .map((p) => p.name)
        .sort(),
    );
    // dropped, not detached: the tables are gone
    const [left] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_class where relname = any(${expired.map((p) => p.name)}::text[])`;
    expect(left!.n).toBe(0);
    expect(await counts()).toEqual({
      operations: rowsBefore.operations - gone("app.operations"),
      messages: rowsBefore.messages - gone("app.messages"),
    });
  });
});

describe("maint.analyze_partitioned_parents", () => {
  test("analyzes every partitioned table of app: inherited statistics and last_analyze", async () => {
    const { sql } = db();
    const parents = (
      await sql<{ name: string }[]>`
      select c.relname as name from pg_class c
      where c.relnamespace = 'app'::regnamespace and c.relkind = 'p' order by 1`
    ).map((r) => r.name);
    expect(parents).toEqual(
      expect.arrayContaining(["chunks", "messages", "operations"]),
    );
    // Forget the parents' statistics (the seed's VACUUM ANALYZE made them).
    await sql`delete from pg_statistic s using pg_class c
              where s.starelid = c.oid and s.stainherit and c.relnamespace = 'app'::regnamespace and c.relkind = 'p'`;
    const inherited = async () =>
      (
        await sql<{ name: string }[]>`
        select distinct tablename::text as name from pg_stats where schemaname = 'app' and inherited order by 1`
      ).map((r) => r.name);
    expect(await inherited()).toEqual([]);
    const [t0] = await sql<{ t: Date }[]>`select now() as t`;

    const [r] = await sql<
      { parents_analyzed: number; statistics_created: number }[]
    >`call maint.analyze_partitioned_parents()`;
    expect(r!.parents_analyzed).toBe(parents.length);
    expect(await inherited()).toEqual(parents);
    const analyzed = await sql<{ name: string; last_analyze: Date | null }[]>`
      select relname as name, last_analyze from pg_stat_user_tables
      where schemaname = 'app' and relname = any(${parents}::text[]) order by 1`;
    expect(analyzed.map((a) => a.name)).toEqual(parents);
    for (const a of analyzed)
      expect(a.last_analyze!.getTime(), a.name).toBeGreaterThanOrEqual(
        t0!.t.getTime(),
      );
  });
});

describe("without pg_cron (a test copy)", () => {
  test("maint.jobs() returns no rows and maint.prune_job_history() deletes nothing", async () => {
    const { sql } = db();
    const [cron] = await sql<
      { present: boolean }[]
    >`select to_regclass('cron.job') is not null as present`;
    expect(cron!.present).toBe(false);
    expect(await sql`select * from maint.jobs()`).toEqual([]);
    const [r] = await sql<
      { n: string }[]
    >`select maint.prune_job_history() as n`;
    expect(Number(r!.n)).toBe(0);
  });

  test("maint.prune_job_history refuses a null (QB001) or negative (QB008) interval", async () => {
    const { sql } = db();
    expect(
      await sqlState(sql`select maint.prune_job_history(${null}::interval)`),
    ).toBe("QB001");
    expect(
      await sqlState(
        sql`select maint.prune_job_history(${"-1 day"}::interval)`,
      ),
    ).toBe("QB008");
  });

  test("sql/30_jobs.sql registers nothing here and says why", async () => {
    const { sql } = db();
    const notices: string[] = [];
    const conn = postgres(db().url, {
      max: 1,
      onnotice: (n) => notices.push(String(n.message)),
    });
    try {
      await conn.unsafe(JOBS_SQL);
    } finally {
      await conn.end();
    }
    expect(notices.some((n) => n.includes("no jobs registered here"))).toBe(
      true,
    );
    const [cron] = await sql<
      { present: boolean }[]
    >`select to_regclass('cron.job') is not null as present`;
    expect(cron!.present).toBe(false);
  });
});

describe("pg_cron registration (the main database)", () => {
  // The jobs the brief asks for: name and command; schedules are the defaults of
  // maint.job_definitions (no querybudget.*_schedule setting in the main database).
  const EXPECTED: Record<string, { command: string; schedule: string }> = {
    querybudget_ttl: {
      command: "CALL maint.purge_expired()",
      schedule: "*/5 * * * *",
    },
    querybudget_partition_maintenance: {
      command: "CALL maint.run_partition_maintenance()",
      schedule: "7 * * * *",
    },
    querybudget_analyze: {
      command: "CALL maint.analyze_partitioned_parents()",
      schedule: "30 3 * * *",
    },
    querybudget_refresh_stats: {
      command: "SELECT maint.refresh_collection_stats()",
      schedule: "* * * * *",
    },
    querybudget_prune_job_history: {
      command: "SELECT maint.prune_job_history()",
      schedule: "15 4 * * *",
    },
    querybudget_fold_stats: {
      command: "SELECT maint.fold_collection_stat_deltas()",
      schedule: "* * * * *",
    },
    querybudget_perf_snapshot: {
      command: "SELECT perf.take_snapshot()",
      schedule: "*/5 * * * *",
    },
  };
  interface Job {
    jobid: string;
    jobname: string;
    schedule: string;
    command: string;
    database: string;
    active: boolean;
  }
  let main: postgres.Sql;
  const jobs = () =>
    main<
      Job[]
    >`select jobid, jobname, schedule, command, database, active from cron.job
                where jobname like 'querybudget\_%' order by jobname`;

  beforeAll(() => {
    main = postgres(inject("server").url, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    // whatever happened, leave the jobs as the migration left them
    await main.unsafe(JOBS_SQL);
    await main.end();
  });

  test("every querybudget_ job is scheduled once, in this database, active, with its command and schedule", async () => {
    const [dbName] = await main<{ name: string; cron: string }[]>`
      select current_database() as name, current_setting('cron.database_name') as cron`;
    expect(dbName!.cron).toBe(dbName!.name);
    const rows = await jobs();
    expect(rows.map((j) => j.jobname)).toEqual(Object.keys(EXPECTED).sort());
    for (const j of rows) {
      expect({ command: j.command, schedule: j.schedule }, j.jobname).toEqual(
        EXPECTED[j.jobname],
      );
      expect(j.database, j.jobname).toBe(dbName!.name);
      expect(j.active, j.jobname).toBe(true);
    }
  });

  test("every job's command runs in this database as written", async () => {
    for (const j of await jobs()) {
      await expect(main.unsafe(j.command), j.jobname).resolves.toBeDefined();
    }
  });

  test("applying sql/30_jobs.sql twice more changes nothing: one job per name, same ids", async () => {
    const before = await jobs();
    await main.unsafe(JOBS_SQL);
    await main.unsafe(JOBS_SQL);
    const after = await jobs();
    expect(after).toEqual(before);
    const [dups] = await main<{ n: number }[]>`
      select count(*)::int as n from (select jobname from cron.job group by jobname having count(*) > 1) d`;
    expect(dups!.n).toBe(0);
  });

  test("re-registration puts back a changed database or active flag, and removes jobs no longer defined", async () => {
    const before = await jobs();
    const ttl = before.find((j) => j.jobname === "querybudget_ttl")!;
    // inactive first, so the scheduler never runs it in the wrong database
    await main`select cron.alter_job(${ttl.jobid}::bigint, active => false)`;
    await main`select cron.alter_job(${ttl.jobid}::bigint, database => 'postgres')`;
    await main`select cron.schedule_in_database('querybudget_obsolete', '0 0 1 1 *', 'select 1', current_database(), null, false)`;
    const changed = await jobs();
    expect(changed.find((j) => j.jobname === "querybudget_ttl")).toMatchObject({
      database: "postgres",
      active: false,
    });
    expect(changed.some((j) => j.jobname === "querybudget_obsolete")).toBe(
      true,
    );

    await main.unsafe(JOBS_SQL);
    expect(await jobs()).toEqual(before);
  });

  test("querybudget.refresh_stats_schedule changes the refresh schedule; without it the default comes back", async () => {
    const conn = await main.reserve();
    try {
      await conn`select set_config('querybudget.refresh_stats_schedule', '*/5 * * * *', false)`;
      await conn.unsafe(JOBS_SQL);
      const changed = await jobs();
      expect(
        changed.find((j) => j.jobname === "querybudget_refresh_stats")!
          .schedule,
      ).toBe("*/5 * * * *");
      await conn`reset querybudget.refresh_stats_schedule`;
      await conn.unsafe(JOBS_SQL);
      expect(
        (await jobs()).find((j) => j.jobname === "querybudget_refresh_stats")!
          .schedule,
      ).toBe("* * * * *");
    } finally {
      conn.release();
    }
  });

  test("maint.jobs() lists each job with its description and the run counts of cron.job_run_details", async () => {
    // One snapshot for both sides: the scheduler keeps adding runs.
    const [listed, reference] = await main.begin(
      "isolation level repeatable read",
      async (tx) => {
        const listed = await tx<
          {
            name: string;
            description: string | null;
            runs_7d: string;
            failures_7d: string;
            last_status: string | null;
          }[]
        >`
        select name, description, runs_7d, failures_7d, last_status from maint.jobs() order by name`;
        const reference = await tx<
          {
            name: string;
            runs: string;
            failures: string;
            last_status: string | null;
          }[]
        >`
        select j.jobname::text as name,
               (select count(*) from cron.job_run_details r where r.jobid = j.jobid and r.start_time > now() - interval '7 days') as runs,
               (select count(*) from cron.job_run_details r where r.jobid = j.jobid and r.start_time > now() - interval '7 days'
                  and r.status = 'failed') as failures,
               (select r.status from cron.job_run_details r where r.jobid = j.jobid order by r.runid desc limit 1) as last_status
        from cron.job j where j.jobname like 'querybudget\\_%' order by 1`;
        return [listed, reference] as const;
      },
    );
    expect(listed.map((j) => j.name)).toEqual(Object.keys(EXPECTED).sort());
    expect(
      listed.map((j) => ({
        name: j.name,
        runs: j.runs_7d,
        failures: j.failures_7d,
        last_status: j.last_status,
      })),
    ).toEqual(reference);
    for (const j of listed) expect(j.description, j.name).toMatch(/\w/);
  });

  test("maint.prune_job_history deletes the runs older than p_keep and nothing newer", async () => {
    const [ttl] = await main<
      { jobid: string }[]
    >`select jobid from cron.job where jobname = 'querybudget_ttl'`;
    const inserted = await main<{ runid: string }[]>`
      insert into cron.job_run_details (jobid, job_pid, database, username, command, status, return_message, start_time, end_time)
      values (${ttl!.jobid}::bigint, 0, current_database(), current_user, 'test', 'succeeded', 'test: old', now() - interval '8 days', now() - interval '8 days'),
             (${ttl!.jobid}::bigint, 0, current_database(), current_user, 'test', 'failed', 'test: old', now() - interval '9 days', now() - interval '9 days'),
             (${ttl!.jobid}::bigint, 0, current_database(), current_user, 'test', 'succeeded', 'test: recent', now() - interval '6 days', now() - interval '6 days')
      returning runid`;
    try {
      const [expected] = await main<{ n: string }[]>`
        select count(*) as n from cron.job_run_details
        where coalesce(end_time, start_time) < now() - interval '7 days' and status not in ('starting', 'running')`;
      expect(Number(expected!.n)).toBeGreaterThanOrEqual(2);
      const [r] = await main<
        { n: string }[]
      >`select maint.prune_job_history() as n`;
      expect(r!.n).toBe(expected!.n);
      const left = await main<{ return_message: string }[]>`
        select return_message from cron.job_run_details where runid = any(${inserted.map((i) => i.runid)}::bigint[])`;
      expect(left.map((l) => l.return_message)).toEqual(["test: recent"]);
    } finally {
      await main`delete from cron.job_run_details where runid = any(${inserted.map((i) => i.runid)}::bigint[])`;
    }
  });
});
