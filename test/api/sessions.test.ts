// Sessions (issue 11, item 2): api.create_session, api.touch_session, api.revoke_session,
// api.revoke_user_sessions, with api.validate_session and the TTL job on sessions made this
// way. Calls as querybudget_app; the reference is app.user_sessions read by the superuser.
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { countRolledBack } from "../../scripts/lib/query-counter.ts";
import { useTestDatabase } from "../harness/database.ts";
import { sqlState } from "../harness/errors.ts";
import { connectAs } from "../harness/roles.ts";
import { freshTenant, type FreshTenant } from "../harness/tenants.ts";

const db = useTestDatabase("api_sessions");

interface Session {
  session_token: string;
  expires_at: string;
}

let app: postgres.Sql;
let a: FreshTenant;
let b: FreshTenant;

const createSession = async (
  tenant: string,
  user: string,
  ttl: string | null = "30 days",
) =>
  (
    await app<
      Session[]
    >`select session_token::text, expires_at::text from api.create_session(${tenant}, ${user}, ${ttl}::interval)`
  )[0]!;
/** The session rows of a user, as the superuser reads them. */
const stored = (tenant: string, user: string) =>
  db().sql<{ token: string; expires_at: string; live: boolean }[]>`
    select token::text, expires_at::text, expires_at > now() as live from app.user_sessions where tenant_id = ${tenant} and user_id = ${user} order by id`;

beforeAll(async () => {
  a = await freshTenant(db().sql, "sessions-a", 3);
  b = await freshTenant(db().sql, "sessions-b", 1);
  app = await connectAs(db().url, "querybudget_app");
});

afterAll(async () => {
  await app?.end();
});

describe("api.create_session", () => {
  test("makes a live session with a new random token, expiring after the TTL; validate_session finds it", async () => {
    // Setup
    const user = a.users[0]!;
    // Action
    const s = await createSession(a.tenant, user, "2 hours");
    const [check] = await db().sql<
      { ok: boolean }[]
    >`select ${s.expires_at}::timestamptz = now() + interval '2 hours' or abs(extract(epoch from ${s.expires_at}::timestamptz - now() - interval '2 hours')) < 5 as ok`;
    const valid =
      await app`select tenant_id::text, user_id::text from api.validate_session(${s.session_token}::uuid)`;
    // Assertions
    expect(s.session_token).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect((await stored(a.tenant, user)).map((r) => r.token)).toContain(
      s.session_token,
    );
    expect(check!.ok).toBe(true);
    expect([...valid]).toEqual([{ tenant_id: a.tenant, user_id: user }]);
  });

  test("the default TTL is 30 days; tokens differ from call to call", async () => {
    // Setup
    const user = a.users[1]!;
    // Action
    const [s1] = await app<
      Session[]
    >`select session_token::text, (expires_at - now())::text as expires_at from api.create_session(${a.tenant}, ${user})`;
    const s2 = await createSession(a.tenant, user);
    // Assertions
    expect(s1!.expires_at).toBe("30 days");
    expect(s2.session_token).not.toBe(s1!.session_token);
  });

  test("a TTL out of range is QB008, null is QB001; another tenant's or an unknown user is QB009; nothing is written", async () => {
    // Setup
    const before = (await stored(a.tenant, a.users[2]!)).length;
    // Action
    const codes = [
      await sqlState(createSession(a.tenant, a.users[2]!, "0 seconds")),
      await sqlState(createSession(a.tenant, a.users[2]!, "-1 day")),
      await sqlState(createSession(a.tenant, a.users[2]!, "1 day -25 hours")),
      await sqlState(createSession(a.tenant, a.users[2]!, "90 days 1 second")),
      await sqlState(createSession(a.tenant, a.users[2]!, "1 year")),
      await sqlState(createSession(a.tenant, a.users[2]!, null)),
      await sqlState(createSession(a.tenant, b.users[0]!)),
      await sqlState(createSession(a.tenant, "987654321")),
      await sqlState(createSession("987654321", a.users[2]!)),
    ];
    // Assertions
    expect(codes).toEqual([
      "QB008",
      "QB008",
      "QB008",
      "QB008",
      "QB008",
      "QB001",
      "QB009",
      "QB009",
      "QB005",
    ]);
    expect((await stored(a.tenant, a.users[2]!)).length).toBe(before);
    expect(
      await sqlState(createSession(a.tenant, a.users[2]!, "90 days")),
    ).toBeUndefined();
  });
});

describe("api.touch_session", () => {
  test("extends a live session to now() + TTL, never shortens it, and says the expiry", async () => {
    // Setup
    const s = await createSession(a.tenant, a.users[0]!, "1 hour");
    // Action
    const [touched] = await app<
      { tenant_id: string; user_id: string; expires_at: string; ok: boolean }[]
    >`
      select t.tenant_id::text, t.user_id::text, t.expires_at::text, t.expires_at = now() + interval '2 days' as ok
      from api.touch_session(${s.session_token}::uuid, interval '2 days') t`;
    const [shorter] = await app<
      { expires_at: string }[]
    >`select expires_at::text from api.touch_session(${s.session_token}::uuid, interval '1 minute')`;
    const [row] = await db().sql<
      { expires_at: string }[]
    >`select expires_at::text from app.user_sessions where token = ${s.session_token}::uuid`;
    // Assertions
    expect(touched).toMatchObject({
      tenant_id: a.tenant,
      user_id: a.users[0]!,
      ok: true,
    });
    expect(shorter!.expires_at).toBe(touched!.expires_at);
    expect(row!.expires_at).toBe(touched!.expires_at);
  });

  test("an unknown, expired or revoked token: no row, nothing written", async () => {
    // Setup
    const expired = await createSession(a.tenant, a.users[0]!);
    await db()
      .sql`update app.user_sessions set expires_at = now() - interval '1 minute' where token = ${expired.session_token}::uuid`;
    const revoked = await createSession(a.tenant, a.users[0]!);
    await app`select api.revoke_session(${revoked.session_token}::uuid)`;
    const [{ before }] = (await db()
      .sql`select md5(string_agg(t::text, ',' order by id)) as before from app.user_sessions t where tenant_id = ${a.tenant}`) as unknown as [
      { before: string },
    ];
    // Action
    const results = [
      await app`select * from api.touch_session(gen_random_uuid())`,
      await app`select * from api.touch_session(${expired.session_token}::uuid)`,
      await app`select * from api.touch_session(${revoked.session_token}::uuid)`,
    ];
    const [{ after }] = (await db()
      .sql`select md5(string_agg(t::text, ',' order by id)) as after from app.user_sessions t where tenant_id = ${a.tenant}`) as unknown as [
      { after: string },
    ];
    // Assertions
    expect(results.map((r) => r.length)).toEqual([0, 0, 0]);
    expect(after).toBe(before);
    expect(
      await sqlState(app`select * from api.touch_session(${null}::uuid)`),
    ).toBe("QB001");
    expect(
      await sqlState(
        app`select * from api.touch_session(gen_random_uuid(), interval '91 days')`,
      ),
    ).toBe("QB008");
  });
});

describe("api.revoke_session", () => {
  test("ends one live session; a replay returns false and changes nothing", async () => {
    // Setup
    const keep = await createSession(a.tenant, a.users[1]!);
    const s = await createSession(a.tenant, a.users[1]!);
    // Action
    const [first] = await app<
      { r: boolean }[]
    >`select api.revoke_session(${s.session_token}::uuid) as r`;
    const [again] = await app<
      { r: boolean }[]
    >`select api.revoke_session(${s.session_token}::uuid) as r`;
    const [unknown] = await app<
      { r: boolean }[]
    >`select api.revoke_session(gen_random_uuid()) as r`;
    // Assertions
    expect([first!.r, again!.r, unknown!.r]).toEqual([true, false, false]);
    const tokens = (await stored(a.tenant, a.users[1]!)).map((r) => r.token);
    expect(tokens).not.toContain(s.session_token);
    expect(tokens).toContain(keep.session_token);
    expect([
      ...(await app`select * from api.validate_session(${s.session_token}::uuid)`),
    ]).toEqual([]);
    expect(await sqlState(app`select api.revoke_session(${null}::uuid)`)).toBe(
      "QB001",
    );
  });
});

describe("api.revoke_user_sessions", () => {
  test("ends every session of the user and counts the live ones; a replay returns 0; other users keep theirs", async () => {
    // Setup
    const user = a.users[2]!;
    for (let i = 0; i < 3; i++) await createSession(a.tenant, user);
    const dead = await createSession(a.tenant, user);
    await db()
      .sql`update app.user_sessions set expires_at = now() - interval '1 minute' where token = ${dead.session_token}::uuid`;
    const live = (await stored(a.tenant, user)).filter((r) => r.live).length;
    const others = await db()
      .sql`select id from app.user_sessions where not (tenant_id = ${a.tenant} and user_id = ${user}) order by id`;
    // Action
    const [first] = await app<
      { n: number }[]
    >`select api.revoke_user_sessions(${a.tenant}, ${user}) as n`;
    const [again] = await app<
      { n: number }[]
    >`select api.revoke_user_sessions(${a.tenant}, ${user}) as n`;
    // Assertions
    expect(live).toBeGreaterThanOrEqual(3);
    expect([first!.n, again!.n]).toEqual([live, 0]);
    expect(await stored(a.tenant, user)).toEqual([]);
    expect(
      await db()
        .sql`select id from app.user_sessions where not (tenant_id = ${a.tenant} and user_id = ${user}) order by id`,
    ).toEqual(others);
  });

  test("another tenant's user: 0, and its sessions stay; bad input is refused", async () => {
    // Setup
    await createSession(b.tenant, b.users[0]!);
    const before = await stored(b.tenant, b.users[0]!);
    // Action
    const [n] = await app<
      { n: number }[]
    >`select api.revoke_user_sessions(${a.tenant}, ${b.users[0]!}) as n`;
    // Assertions
    expect(n!.n).toBe(0);
    expect(await stored(b.tenant, b.users[0]!)).toEqual(before);
    expect(
      await sqlState(
        app`select api.revoke_user_sessions(${a.tenant}, ${null})`,
      ),
    ).toBe("QB001");
    expect(
      await sqlState(
        app`select api.revoke_user_sessions(${null}, ${a.users[0]!})`,
      ),
    ).toBe("QB001");
    expect(
      await sqlState(
        app`select api.revoke_user_sessions(${"987654321"}, ${a.users[0]!})`,
      ),
    ).toBe("QB005");
  });

  test("one statement for 1 session and for 1,000 sessions of a user", async () => {
    // Setup
    const t = await freshTenant(db().sql, "sessions-count", 2);
    await db()
      .sql`insert into app.user_sessions (tenant_id, user_id, token, expires_at) values (${t.tenant}, ${t.users[0]!}, gen_random_uuid(), now() + interval '1 day')`;
    await db()
      .sql`insert into app.user_sessions (tenant_id, user_id, token, expires_at)
                   select ${t.tenant}, ${t.users[1]!}, gen_random_uuid(), now() + interval '1 day' from generate_series(1, 1000)`;
    // Action
    const one = await countRolledBack(
      db().sql,
      (c) =>
        c`select api.revoke_user_sessions(${t.tenant}, ${t.users[0]!}) as n`,
    );
    const many = await countRolledBack(
      db().sql,
      (c) =>
        c`select api.revoke_user_sessions(${t.tenant}, ${t.users[1]!}) as n`,
    );
    // Assertions
    expect((one.result as unknown as { n: number }[])[0]!.n).toBe(1);
    expect((many.result as unknown as { n: number }[])[0]!.n).toBe(1000);
    expect(many.statements - many.foreignKeyChecks).toBe(
      one.statements - one.foreignKeyChecks,
    );
  });
});

describe("the TTL job on sessions made through the api", () => {
  test("an expired session created by api.create_session is purged by maint.purge_expired; a live one stays", async () => {
    // Setup
    const short = await createSession(a.tenant, a.users[0]!, "1 second");
    const long = await createSession(a.tenant, a.users[0]!, "1 day");
    await new Promise((r) => setTimeout(r, 1500));
    // Action
    const [result] = await db().sql<
      { sessions_deleted: string }[]
    >`call maint.purge_expired()`;
    const left = await db().sql<
      { token: string }[]
    >`select token::text from app.user_sessions where token = any(${[short.session_token, long.session_token]}::uuid[])`;
    // Assertions
    expect(Number(result!.sessions_deleted)).toBeGreaterThanOrEqual(1);
    expect(left.map((r) => r.token)).toEqual([long.session_token]);
    expect([
      ...(await app`select * from api.validate_session(${short.session_token}::uuid)`),
    ]).toEqual([]);
  });
});
