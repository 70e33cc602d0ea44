// Tenants, users, connectors, collections (issue 11, item 1): api.create_tenant,
// api.create_users, api.user_by_email, api.create_connector, api.create_collection,
// api.set_collection_status. Calls as querybudget_app; the reference is the tables read by the
// superuser.
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { countRolledBack } from "../../scripts/lib/query-counter.ts";
import { useTestDatabase } from "../harness/database.ts";
import { sqlState } from "../harness/errors.ts";
import { connectAs } from "../harness/roles.ts";
import { freshTenant, type FreshTenant } from "../harness/tenants.ts";

const db = useTestDatabase("api_tenants");

interface UserResult {
  position: number;
  id: string;
  email: string;
  status: "created" | "exists" | "duplicate";
}

let app: postgres.Sql;
let a: FreshTenant;
let b: FreshTenant;

const createUsers = async (
  sql: postgres.Sql,
  tenant: string,
  users: unknown,
) => [
  ...(await sql<
    UserResult[]
  >`select "position", id::text, email, status from api.create_users(${tenant}, ${sql.json(users as never)})`),
];
const usersOf = (tenant: string) =>
  db().sql<
    { id: string; email: string; display_name: string }[]
  >`select u.id::text, u.email, u.display_name from app.users u where u.tenant_id = ${tenant} order by u.id`;
const batch = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    email: `${prefix}${i}@batch.example.com`,
    display_name: `${prefix} ${i}`,
  }));

beforeAll(async () => {
  a = await freshTenant(db().sql, "tenants-a", 2);
  b = await freshTenant(db().sql, "tenants-b", 2);
  app = await connectAs(db().url, "querybudget_app");
});

afterAll(async () => {
  await app?.end();
});

describe("api.create_tenant", () => {
  test("a new tenant, written under row level security, usable at once by the api", async () => {
    // Setup
    const [{ next }] = (await db()
      .sql`select (select max(tenant_id) from app.tenants) as next`) as unknown as [
      { next: string },
    ];
    // Action
    const [t] = await app<
      { tenant_id: string; name: string }[]
    >`select tenant_id::text, name from api.create_tenant('Acme')`;
    const users = await createUsers(app, t!.tenant_id, [
      { email: "owner@acme.example.com", display_name: "Owner" },
    ]);
    // Assertions
    expect(BigInt(t!.tenant_id)).toBeGreaterThan(BigInt(next));
    expect(t!.name).toBe("Acme");
    expect(
      await db()
        .sql`select name from app.tenants where tenant_id = ${t!.tenant_id}`,
    ).toEqual([{ name: "Acme" }]);
    expect(users.map((u) => u.status)).toEqual(["created"]);
  });

  test("concurrent callers get distinct tenants; a blank or null name is refused", async () => {
    // Setup
    const others = await Promise.all(
      [0, 1, 2].map(() => connectAs(db().url, "querybudget_app")),
    );
    // Action
    const ids = await Promise.all(
      others.map(
        async (c, i) =>
          (
            await c<
              { id: string }[]
            >`select tenant_id::text as id from api.create_tenant(${`Concurrent ${i}`})`
          )[0]!.id,
      ),
    );
    await Promise.all(others.map((c) => c.end()));
    // Assertions
    expect(new Set(ids).size).toBe(3);
    expect(await sqlState(app`select * from api.create_tenant(' ')`)).toBe(
      "QB008",
    );
    expect(await sqlState(app`select * from api.create_tenant(${null})`)).toBe(
      "QB001",
    );
  });
});

describe("api.create_users", () => {
  test("one row per item in batch order: created (ids in batch order), exists, duplicate; the same as the table", async () => {
    // Setup
    const [existing] = await usersOf(a.tenant);
    const items = [
      { email: "zed@batch.example.com", display_name: "Zed" },
      { email: existing!.email, display_name: "Someone else" },
      { email: "amy@batch.example.com", display_name: "Amy" },
      { email: "zed@batch.example.com", display_name: "Zed again" },
      { email: "Amy@batch.example.com", display_name: "Amy, capital A" },
    ];
    // Action
    const got = await createUsers(app, a.tenant, items);
    const table = await usersOf(a.tenant);
    const byEmail = new Map(table.map((u) => [u.email, u]));
    // Assertions
    expect(got.map((r) => [r.position, r.email, r.status])).toEqual([
      [0, "zed@batch.example.com", "created"],
      [1, existing!.email, "exists"],
      [2, "amy@batch.example.com", "created"],
      [3, "zed@batch.example.com", "duplicate"],
      [4, "Amy@batch.example.com", "created"],
    ]);
    for (const r of got) expect(r.id).toBe(byEmail.get(r.email)!.id);
    expect(
      BigInt(got[0]!.id) < BigInt(got[2]!.id) &&
        BigInt(got[2]!.id) < BigInt(got[4]!.id),
    ).toBe(true);
    expect(byEmail.get("zed@batch.example.com")!.display_name).toBe("Zed");
    expect(byEmail.get(existing!.email)!.display_name).toBe(
      existing!.display_name,
    );
  });

  test("a replay returns every item as exists and changes nothing; other tenants' emails do not count", async () => {
    // Setup
    const items = batch("replay", 20);
    const bEmails = (await usersOf(b.tenant)).map((u) => ({
      email: u.email,
      display_name: "taken in B",
    }));
    const first = await createUsers(app, a.tenant, items);
    const before = await usersOf(a.tenant);
    // Action
    const again = await createUsers(app, a.tenant, items);
    const inA = await createUsers(app, a.tenant, bEmails);
    // Assertions
    expect(again.map((r) => r.status)).toEqual(items.map(() => "exists"));
    expect(again.map((r) => r.id)).toEqual(first.map((r) => r.id));
    expect((await usersOf(a.tenant)).slice(0, before.length)).toEqual(before);
    expect(inA.map((r) => r.status)).toEqual(bEmails.map(() => "created"));
  });

  test("10,000 items in one call; empty, oversized and malformed batches are refused whole", async () => {
    // Setup
    const t = await freshTenant(db().sql, "tenants-big", 0);
    // Action
    const got = await createUsers(app, t.tenant, batch("big", 10_000));
    const codes = [
      await sqlState(createUsers(app, t.tenant, [])),
      await sqlState(createUsers(app, t.tenant, batch("over", 10_001))),
      await sqlState(
        createUsers(app, t.tenant, { email: "x@y.z", display_name: "x" }),
      ),
      await sqlState(createUsers(app, t.tenant, [{ email: "x@y.z" }])),
      await sqlState(
        createUsers(app, t.tenant, [
          { email: "x@y.z", display_name: "x", admin: true },
        ]),
      ),
      await sqlState(
        createUsers(app, t.tenant, [{ email: 42, display_name: "x" }]),
      ),
      await sqlState(
        createUsers(app, t.tenant, [{ email: " ", display_name: "x" }]),
      ),
      await sqlState(app`select * from api.create_users(${t.tenant}, ${null})`),
      await sqlState(createUsers(app, "987654321", batch("nobody", 1))),
    ];
    // Assertions
    expect(got.length).toBe(10_000);
    expect(
      got.every((r, i) => r.position === i && r.status === "created"),
    ).toBe(true);
    expect((await usersOf(t.tenant)).length).toBe(10_000);
    expect(codes).toEqual([
      "QB002",
      "QB003",
      "QB011",
      "QB011",
      "QB011",
      "QB011",
      "QB011",
      "QB001",
      "QB005",
    ]);
  });

  test("concurrent callers with overlapping emails, in opposite orders: each email once, no unique violation, no deadlock", async () => {
    for (let round = 0; round < 5; round++) {
      // Setup
      const t = await freshTenant(db().sql, `tenants-race-${round}`, 0);
      const conns = await Promise.all(
        [0, 1, 2, 3].map(() => connectAs(db().url, "querybudget_app")),
      );
      const items = batch("race", 300);
      // Action
      const results = await Promise.all(
        conns.map((c, i) =>
          createUsers(c, t.tenant, i % 2 ? [...items].reverse() : items),
        ),
      );
      await Promise.all(conns.map((c) => c.end()));
      // Assertions
      const table = await usersOf(t.tenant);
      expect(table.length).toBe(300);
      expect(results.flat().filter((r) => r.status === "created").length).toBe(
        300,
      );
      const ids = new Map(table.map((u) => [u.email, u.id]));
      expect(results.flat().every((r) => r.id === ids.get(r.email))).toBe(true);
    }
  });

  test("the same statements for 1 item and for 1,000", async () => {
    // Setup
    const t = await freshTenant(db().sql, "tenants-count", 0);
    // Action
    const one = await countRolledBack(
      db().sql,
      (c) =>
        c`select * from api.create_users(${t.tenant}, ${c.json(batch("one", 1))})`,
    );
    const many = await countRolledBack(
      db().sql,
      (c) =>
        c`select * from api.create_users(${t.tenant}, ${c.json(batch("many", 1000))})`,
    );
    // Assertions
    expect(many.statements - many.foreignKeyChecks).toBe(
      one.statements - one.foreignKeyChecks,
    );
  });
});

describe("api.user_by_email", () => {
  test("exactly the stored email: found; another case, another tenant's or unknown: nothing", async () => {
    // Setup
    const [u] = await usersOf(a.tenant);
    const [other] = await db().sql<{ email: string }[]>`
      insert into app.users (tenant_id, email, display_name) values (${b.tenant}, 'only-in-b@fresh.example.com', 'B only') returning email`;
    // Action
    const found =
      await app`select id::text, email, display_name from api.user_by_email(${a.tenant}, ${u!.email})`;
    const misses = [
      await app`select * from api.user_by_email(${a.tenant}, ${u!.email.toUpperCase()})`,
      await app`select * from api.user_by_email(${a.tenant}, ${other!.email})`,
      await app`select * from api.user_by_email(${a.tenant}, 'nobody@nowhere.example.com')`,
    ];
    // Assertions
    expect([...found]).toEqual([u]);
    expect(misses.map((m) => m.length)).toEqual([0, 0, 0]);
    expect(
      await sqlState(app`select * from api.user_by_email(${a.tenant}, '')`),
    ).toBe("QB008");
    expect(
      await sqlState(
        app`select * from api.user_by_email(${a.tenant}, ${null})`,
      ),
    ).toBe("QB001");
  });
});

describe("api.create_connector and api.create_collection", () => {
  test("a connector of each kind of the check constraint; another kind is QB008", async () => {
    // Setup
    const [{ def }] = (await db()
      .sql`select pg_get_constraintdef(oid) as def from pg_constraint where conname = 'connectors_kind_check'`) as unknown as [
      { def: string },
    ];
    const kinds = [...def.matchAll(/'(\w+)'/g)].map((m) => m[1]!);
    // Action
    const made = [];
    for (const kind of kinds)
      made.push(
        (
          await app<
            { id: string; kind: string }[]
          >`select id::text, kind from api.create_connector(${a.tenant}, ${kind}, ${`My ${kind}`})`
        )[0]!,
      );
    // Assertions
    expect(kinds.length).toBe(5);
    const table = await db().sql<
      { id: string; kind: string }[]
    >`select id::text, kind from app.connectors where tenant_id = ${a.tenant} order by id`;
    expect(table).toEqual(made);
    expect(
      await sqlState(
        app`select * from api.create_connector(${a.tenant}, 'dropbox', 'x')`,
      ),
    ).toBe("QB008");
    expect(
      await sqlState(
        app`select * from api.create_connector(${a.tenant}, 'web', '')`,
      ),
    ).toBe("QB008");
    expect(
      await sqlState(
        app`select * from api.create_connector(${a.tenant}, ${null}, 'x')`,
      ),
    ).toBe("QB001");
  });

  test("a collection owned by a user of the tenant, active; another tenant's owner is QB009 and nothing is written", async () => {
    // Setup
    const before = await db()
      .sql`select count(*)::int as n from app.collections`;
    // Action
    const [c] = await app<
      { id: string; owner_id: string; status: string }[]
    >`select id::text, owner_id::text, status from api.create_collection(${a.tenant}, ${a.users[0]!}, 'Contracts')`;
    const refused = await sqlState(
      app`select * from api.create_collection(${a.tenant}, ${b.users[0]!}, 'Stolen')`,
    );
    // Assertions
    expect(c).toMatchObject({ owner_id: a.users[0]!, status: "active" });
    expect(
      await db()
        .sql`select tenant_id::text, name from app.collections where id = ${c!.id}`,
    ).toEqual([{ tenant_id: a.tenant, name: "Contracts" }]);
    expect(refused).toBe("QB009");
    expect(
      await db().sql`select count(*)::int as n from app.collections`,
    ).toEqual([{ n: before[0]!.n + 1 }]);
  });
});

describe("api.set_collection_status", () => {
  test("updated, unchanged (a replay) and not_found (another tenant's, unknown, duplicates once)", async () => {
    // Setup
    const mine = [];
    for (let i = 0; i < 3; i++)
      mine.push(
        (
          await app<
            { id: string }[]
          >`select id::text from api.create_collection(${a.tenant}, ${a.users[0]!}, ${`S${i}`})`
        )[0]!.id,
      );
    const theirs = (
      await app<
        { id: string }[]
      >`select id::text from api.create_collection(${b.tenant}, ${b.users[0]!}, 'B')`
    )[0]!.id;
    const ids = [...mine, mine[0]!, theirs, "987654321"];
    // Action
    const [first] = await app<
      { r: unknown }[]
    >`select api.set_collection_status(${a.tenant}, ${ids}::bigint[], 'archived') as r`;
    const [again] = await app<
      { r: unknown }[]
    >`select api.set_collection_status(${a.tenant}, ${ids}::bigint[], 'archived') as r`;
    // Assertions
    expect(first!.r).toEqual({ updated: 3, unchanged: 0, not_found: 2 });
    expect(again!.r).toEqual({ updated: 0, unchanged: 3, not_found: 2 });
    expect(
      await db()
        .sql`select status from app.collections where id = any(${mine}::bigint[])`,
    ).toEqual(mine.map(() => ({ status: "archived" })));
    expect(
      await db().sql`select status from app.collections where id = ${theirs}`,
    ).toEqual([{ status: "active" }]);
    expect(
      await sqlState(
        app`select api.set_collection_status(${a.tenant}, ${mine}::bigint[], 'deleted')`,
      ),
    ).toBe("QB008");
    expect(
      await sqlState(
        app`select api.set_collection_status(${a.tenant}, ${[]}::bigint[], 'active')`,
      ),
    ).toBe("QB002");
  });

  test("the same statements for 1 id and for 1,000", async () => {
    // Setup
    const t = await freshTenant(db().sql, "tenants-status", 1);
    const ids = (
      await db().sql<{ id: string }[]>`
      insert into app.collections (tenant_id, owner_id, name) select ${t.tenant}, ${t.users[0]!}, 'c' || i from generate_series(1, 1000) i returning id::text`
    ).map((r) => r.id);
    // Action
    const one = await countRolledBack(
      db().sql,
      (c) =>
        c`select api.set_collection_status(${t.tenant}, ${ids.slice(0, 1)}::bigint[], 'archived')`,
    );
    const many = await countRolledBack(
      db().sql,
      (c) =>
        c`select api.set_collection_status(${t.tenant}, ${ids}::bigint[], 'archived')`,
    );
    // Assertions
    expect(many.statements - many.foreignKeyChecks).toBe(
      one.statements - one.foreignKeyChecks,
    );
  });
});
