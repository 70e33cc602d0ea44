// Roles, grants, timeouts and row level security seen from the roles themselves (issue 6,
// items 1-3; the catalog checks are in test/sql/security.sql): what querybudget_app and
// querybudget_monitor may and may not do, the timeouts querybudget_app logs in with (read
// from docs/security.md, so the docs and the roles cannot drift) and that they reach inside
// the api functions, that row level security holds for the owner itself, that the
// cross-tenant work (TTL, the stats refresh, session lookup) still sees every tenant, and
// that sql/ applies again on a server where the roles exist, changing nothing.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { applyIdempotentSql } from "../scripts/lib/sql-files.ts";
import { useTestDatabase } from "./harness/database.ts";
import { sqlState } from "./harness/errors.ts";
import { pick, prng } from "./harness/random.ts";

const db = useTestDatabase("security");

/** A login as the role (the throwaway cluster trusts local logins; elsewhere give the role a password). */
function loginAs(url: string, role: string): postgres.Sql {
  const u = new URL(url);
  u.username = role;
  u.password = process.env[`${role.toUpperCase()}_PASSWORD`] ?? "";
  return postgres(u.toString(), { max: 1, onnotice: () => {} });
}

/** The timeouts table of docs/security.md: rows `| \`role\` | \`setting\` | \`value\` | why |`. */
function documentedTimeouts(): {
  role: string;
  setting: string;
  value: string;
}[] {
  const text = readFileSync(
    join(import.meta.dirname, "..", "docs", "security.md"),
    "utf8",
  );
  return [
    ...text.matchAll(
      /^\|\s*`(querybudget_\w+)`\s*\|\s*`(\w+)`\s*\|\s*`([^`]+)`\s*\|/gm,
    ),
  ].map((m) => ({
    role: m[1]!,
    setting: m[2]!,
    value: m[3]!,
  }));
}

let app: postgres.Sql;
let monitor: postgres.Sql;
let owner: postgres.Sql;

beforeAll(async () => {
  const { url } = db();
  app = loginAs(url, "querybudget_app");
  monitor = loginAs(url, "querybudget_monitor");
  owner = loginAs(url, "querybudget_owner");
});

afterAll(async () => {
  await Promise.all([app?.end(), monitor?.end(), owner?.end()]);
});

describe("timeouts", () => {
  test("querybudget_app and querybudget_monitor log in with the timeouts docs/security.md documents", async () => {
    const documented = documentedTimeouts();
    expect(
      documented
        .filter((d) => d.role === "querybudget_app")
        .map((d) => d.setting)
        .sort(),
    ).toEqual([
      "idle_in_transaction_session_timeout",
      "jit",
      "lock_timeout",
      "statement_timeout",
    ]);
    for (const { role, setting, value } of documented) {
      const sql =
        role === "querybudget_app"
          ? app
          : role === "querybudget_monitor"
            ? monitor
            : undefined;
      expect(sql, `a login as ${role}`).toBeDefined();
      const [row] = await sql!<
        { v: string; who: string }[]
      >`select current_setting(${setting}) as v, current_user as who`;
      expect(row, `${role} ${setting}`).toEqual({ v: value, who: role });
    }
    // the superuser the tests run as has none of them
    const [su] = await db().sql<
      { v: string }[]
    >`select current_setting('lock_timeout') as v`;
    expect(su!.v).toBe("0");
  });

  test("lock_timeout reaches inside an api function: a row another transaction holds is given up after 2 s (55P03)", async () => {
    const { sql, url } = db();
    const [doc] = await sql<{ tenant_id: string; id: string }[]>`
      select tenant_id::text, id::text from app.documents where status <> 'deleted' order by id limit 1`;
    const holder = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const held = holder.begin(async (tx) => {
        await tx`select from app.documents where tenant_id = ${doc!.tenant_id} and id = ${doc!.id} for update`;
        await tx`select pg_sleep(3)`;
      });
      await new Promise((r) => setTimeout(r, 300));
      const started = performance.now();
      const code = await sqlState(
        app`select api.classify_documents(${doc!.tenant_id}, ${[doc!.id]}::bigint[], 'held')`,
      );
      const waited = performance.now() - started;
      expect(code).toBe("55P03");
      expect(waited).toBeGreaterThan(1800);
      expect(waited).toBeLessThan(3800);
      await held;
    } finally {
      await holder.end();
    }
  });
});

describe("querybudget_app: EXECUTE on the api, nothing else", () => {
  test("calls the api", async () => {
    const [t] = await db().sql<
      { id: string }[]
    >`select min(tenant_id)::text as id from app.tenants`;
    const [row] = await app<
      { s: { total: number } }[]
    >`select api.knowledge_gap_stats(${t!.id}) as s`;
    expect(row!.s.total).toBeGreaterThanOrEqual(0);
  });

  test("reads no table, calls nothing outside api, cannot become another role (42501)", async () => {
    const refused = [
      app`select count(*) from app.documents`,
      app`select count(*) from app.chunks_p00`,
      app`select count(*) from app.tenant_overview`,
      app`insert into app.tenants (name) values ('intruder')`,
      app`select app.require_tenant(1)`,
      app`select app.session_tenant_id(gen_random_uuid())`,
      app`select app.live_session(gen_random_uuid())`,
      app`call maint.purge_expired()`,
      app`select maint.refresh_tenant_overview()`,
      app`select * from perf.connections()`,
      app`set role querybudget_maint`,
      app`set role querybudget_owner`,
      app`create table public.intruder (id int)`,
      // nothing that outlives the session outside the api: no large object, no temporary object
      app`select lo_from_bytea(0, '\\x00'::bytea)`,
      app`select lo_create(0)`,
      app`select lo_creat(-1)`,
      app`create temporary table intruder (id int)`,
      app`create function pg_temp.intruder() returns int language sql as 'select 1'`,
      // nor other roles' statements
      app`select count(*) from pg_stat_statements`,
      app`select count(*) from pg_stat_statements(false)`,
      app`select pg_stat_statements_reset()`,
    ];
    const codes = [];
    for (const q of refused) codes.push(await sqlState(q));
    expect(codes).toEqual(refused.map(() => "42501"));
  });
});

describe("querybudget_monitor: EXECUTE on perf", () => {
  test("may call every perf function (none is refused for privileges) but perf.take_snapshot, which writes the history", async () => {
    const functions = await db().sql<{ name: string }[]>`
      select p.oid::regproc::text as name from pg_proc p
      where p.pronamespace = 'perf'::regnamespace and p.prokind = 'f' and p.pronargs = p.pronargdefaults
      order by 1`;
    expect(functions.length).toBeGreaterThan(0);
    for (const { name } of functions) {
      const code = await sqlState(monitor.unsafe(`select * from ${name}()`));
      if (name === "perf.take_snapshot") expect(code, name).toBe("42501");
      else expect(code, name).not.toBe("42501");
    }
    expect(functions.map((f) => f.name)).toContain("perf.take_snapshot");
    // the history is read through perf functions, never from its tables
    expect(
      await sqlState(monitor`select count(*) from perf.routine_deltas`),
    ).toBe("42501");
  });

  test("reads no table and calls no api function (42501)", async () => {
    expect(await sqlState(monitor`select count(*) from app.documents`)).toBe(
      "42501",
    );
    expect(await sqlState(monitor`select api.knowledge_gap_stats(1)`)).toBe(
      "42501",
    );
  });

  test("reads pg_stat_statements, but neither resets it nor makes temporary objects or large objects (42501)", async () => {
    const [row] = await monitor<
      { n: number }[]
    >`select count(*)::int as n from pg_stat_statements`;
    expect(row!.n).toBeGreaterThanOrEqual(0);
    expect(await sqlState(monitor`select pg_stat_statements_reset()`)).toBe(
      "42501",
    );
    expect(
      await sqlState(monitor`create temporary table intruder (id int)`),
    ).toBe("42501");
    expect(await sqlState(monitor`select lo_create(0)`)).toBe("42501");
  });
});

describe("row level security", () => {
  test("holds for the owner itself: without the tenant setting it sees no row, with it only that tenant's", async () => {
    const { sql } = db();
    const [t] = await sql<{ id: string; n: number; all: number }[]>`
      select tenant_id::text as id, count(*)::int as n, (select count(*)::int from app.documents) as all
      from app.documents group by tenant_id order by count(*) desc limit 1`;
    const [none] = await owner<
      { n: number }[]
    >`select count(*)::int as n from app.documents`;
    expect(none!.n).toBe(0);
    const seen = await owner.begin(async (tx) => {
      await tx`select set_config('querybudget.tenant_id', ${t!.id}, true)`;
      const [a] = await tx<
        { n: number }[]
      >`select count(*)::int as n from app.documents`;
      const [b] = await tx<
        { n: number }[]
      >`select count(*)::int as n from app.documents where tenant_id <> ${t!.id}`;
      return [a!.n, b!.n];
    });
    expect(seen).toEqual([t!.n, 0]);
    expect(t!.all).toBeGreaterThan(t!.n);
    // after that transaction the setting is '' (not null): still no row, and no error
    const [after] = await owner<
      { n: number; s: string }[]
    >`select count(*)::int as n, current_setting('querybudget.tenant_id', true) as s from app.documents`;
    expect(after).toEqual({ n: 0, s: "" });
  });

  test("the owner may switch to querybudget_maint (how the TTL job crosses tenants) and then sees every tenant", async () => {
    const [all] = await db().sql<
      { n: number }[]
    >`select count(*)::int as n from app.user_sessions`;
    const n = await owner.begin(async (tx) => {
      await tx`set local role querybudget_maint`;
      const [r] = await tx<
        { n: number }[]
      >`select count(*)::int as n from app.user_sessions`;
      return r!.n;
    });
    expect(n).toBe(all!.n);
  });

  test("the cross-tenant work still sees every tenant: TTL deletes the expired rows of all, the refresh covers every collection", async () => {
    const { sql } = db();
    const random = prng(7007);
    const tenants = pick(
      (
        await sql<
          { id: string }[]
        >`select tenant_id::text as id from app.conversations group by 1 order by 1`
      ).map((t) => t.id),
      3,
      random,
    );
    expect(tenants.length).toBe(3);
    await sql`
      insert into app.messages (tenant_id, conversation_id, role, content, created_at, expires_at)
      select c.tenant_id, c.id, 'user', 'security test: expired', now() - interval '1 day', now() - interval '1 hour'
      from app.conversations c where c.tenant_id = any (${tenants}::bigint[])`;
    await sql`
      update app.user_sessions set expires_at = now() - interval '1 hour'
      where id in (select min(id) from app.user_sessions where tenant_id = any (${tenants}::bigint[]) group by tenant_id)`;
    const [expired] = await sql<{ messages: number; sessions: number }[]>`
      select (select count(*)::int from app.messages where expires_at < now()) as messages,
             (select count(*)::int from app.user_sessions where expires_at < now()) as sessions`;
    expect(expired!.messages).toBeGreaterThan(3);
    const [r] = await sql<
      { messages_deleted: string; sessions_deleted: string }[]
    >`call maint.purge_expired()`;
    expect(Number(r!.messages_deleted)).toBeGreaterThanOrEqual(
      expired!.messages,
    );
    expect(Number(r!.sessions_deleted)).toBe(expired!.sessions);
    const [left] = await sql<{ n: number }[]>`
      select (select count(*)::int from app.messages where expires_at < now()) + (select count(*)::int from app.user_sessions where expires_at < now()) as n`;
    expect(left!.n).toBe(0);

    await sql`select maint.refresh_tenant_overview()`;
    const [cover] = await sql<
      { view: number; collections: number; tenants: number }[]
    >`
      select (select count(*)::int from app.tenant_overview) as view, (select count(*)::int from app.tenants) as collections,
             (select count(distinct tenant_id)::int from app.tenant_overview where documents_total > 0) as tenants`;
    expect(cover!.view).toBe(cover!.collections);
    expect(cover!.tenants).toBeGreaterThan(1);
  });

  test("api.validate_session finds sessions of every tenant (its token lookup crosses tenants), as querybudget_app", async () => {
    const { sql } = db();
    const sessions = await sql<
      { token: string; tenant_id: string; user_id: string }[]
    >`
      select distinct on (tenant_id) token::text, tenant_id::text, user_id::text
      from app.user_sessions where expires_at > now() + interval '1 hour' order by tenant_id, id`;
    expect(sessions.length).toBeGreaterThan(2);
    for (const s of sessions) {
      const got = await app<
        { tenant_id: string; user_id: string }[]
      >`select tenant_id::text, user_id::text from api.validate_session(${s.token}::uuid)`;
      expect([...got]).toEqual([
        { tenant_id: s.tenant_id, user_id: s.user_id },
      ]);
    }
  });
});

describe("sql/ on a server where the roles exist", () => {
  test("applies again without error and changes no owner, privilege, policy or role setting", async () => {
    const { sql } = db();
    const snapshot = async () =>
      sql`
        select 'class' as kind, c.oid::regclass::text as name, pg_get_userbyid(c.relowner) as owner, c.relacl::text as acl,
               c.relrowsecurity::text || c.relforcerowsecurity::text as extra
        from pg_class c where c.relnamespace in ('app'::regnamespace, 'api'::regnamespace, 'maint'::regnamespace, 'perf'::regnamespace)
        union all
        select 'routine', p.oid::regprocedure::text, pg_get_userbyid(p.proowner), p.proacl::text, p.prosecdef::text
        from pg_proc p where p.pronamespace in ('app'::regnamespace, 'api'::regnamespace, 'maint'::regnamespace, 'perf'::regnamespace)
        union all
        select 'schema', n.nspname, pg_get_userbyid(n.nspowner), n.nspacl::text, null
        from pg_namespace n where n.nspname in ('app', 'api', 'maint', 'perf', 'public')
        union all
        select 'policy', p.polrelid::regclass::text || '.' || p.polname, null, pg_get_expr(p.polqual, p.polrelid), obj_description(p.oid, 'pg_policy')
        from pg_policy p
        union all
        select 'role', r.rolname, null, coalesce((select array_agg(x order by x)::text from pg_db_role_setting s, unnest(s.setconfig) x
                                                  where s.setrole = r.oid), ''),
               concat_ws(',', r.rolsuper, r.rolbypassrls, r.rolcanlogin, (select array_agg(m.roleid::regrole::text order by 1) from pg_auth_members m where m.member = r.oid))
        from pg_roles r where r.rolname like 'querybudget\\_%'
        union all
        select 'default acl', pg_get_userbyid(d.defaclrole) || ' ' || d.defaclobjtype::text, null, d.defaclacl::text, null from pg_default_acl d
        union all
        select 'database', 'current', pg_get_userbyid(d.datdba), d.datacl::text, null from pg_database d where d.datname = current_database()
        union all
        select 'builtin routine', p.oid::regprocedure::text, pg_get_userbyid(p.proowner), p.proacl::text, null
        from pg_proc p where p.prosrc like 'be\\_lo%' or p.proname like 'pg\\_stat\\_statements%'
        union all
        select 'builtin view', c.oid::regclass::text, pg_get_userbyid(c.relowner), c.relacl::text, null
        from pg_class c where c.relname like 'pg\\_stat\\_statements%'
        order by 1, 2`;
    const before = await snapshot();
    await applyIdempotentSql(sql);
    const after = await snapshot();
    expect([...after]).toEqual([...before]);
    expect(before.filter((r) => r.kind === "role").length).toBe(4);
    // the database's own privileges are in the copy (test/harness/database.ts applies them) and stay
    expect(before.find((r) => r.kind === "database")!.acl).toMatch(
      /querybudget_maint=T\//,
    );
    expect(
      before.filter((r) => r.kind === "builtin routine").length,
    ).toBeGreaterThan(18);
  });
});
