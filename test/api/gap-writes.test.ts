// api.open_gaps, api.answer_gap and api.set_gap_status (issue 11, item 6): what they write,
// checked against plain queries on the tables (as the superuser) and read back through
// api.knowledge_gap_stats and api.gap_answers.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { useTestDatabase } from "../harness/database.ts";
import { sqlState } from "../harness/errors.ts";
import { connectAs } from "../harness/roles.ts";
import {
  batch,
  itemsOf,
  statementsOf,
  twoTenantsWithData,
} from "../harness/writes.ts";

const db = useTestDatabase("gap_writes");

let app: postgres.Sql;
let tenant: string;
let other: string;

const open = (sql: postgres.Sql | postgres.ReservedSql, gaps: unknown[]) =>
  sql<
    { position: number; id: string; status: string }[]
  >`select position, id::text, status from api.open_gaps(${tenant}, ${batch(gaps)}::text::jsonb)`;
const setStatus = async (
  sql: postgres.Sql | postgres.ReservedSql,
  ids: string[],
  status: string,
  t = tenant,
) =>
  (
    await sql<
      { r: Record<string, number> }[]
    >`select api.set_gap_status(${t}, ${ids}::bigint[], ${status}) as r`
  )[0]!.r;
const statusOf = async (id: string) =>
  (
    await db().sql<
      { status: string }[]
    >`select status from app.knowledge_gaps where id = ${id}`
  )[0]?.status;
/** knowledge_gap_stats' numbers computed by a plain query on the table. */
const reference = async (t: string) => {
  const rows = await db().sql<
    { category: string; status: string; n: number }[]
  >`
    select category, status, count(*)::int as n from app.knowledge_gaps where tenant_id = ${t} group by 1, 2`;
  const sum = (f: (r: { category: string; status: string }) => boolean) =>
    rows.filter(f).reduce((a, r) => a + r.n, 0);
  return {
    total: sum(() => true),
    open: sum((r) => r.status === "open"),
    closed: sum((r) => r.status === "closed"),
  };
};
const stats = async (t = tenant) => {
  const s = (
    await app<
      { s: { total: number; open: number; closed: number } }[]
    >`select api.knowledge_gap_stats(${t}) as s`
  )[0]!.s;
  return { total: s.total, open: s.open, closed: s.closed };
};

beforeAll(async () => {
  const { sql, url } = db();
  [tenant, other] = await twoTenantsWithData(sql);
  app = await connectAs(url, "querybudget_app");
});

afterAll(async () => {
  await app?.end();
});

describe("api.open_gaps", () => {
  test("opens the batch in order; api.knowledge_gap_stats counts them", async () => {
    // Setup
    const before = await stats();
    const gaps = [
      { title: "Who decided the Q3 pricing?", category: "decision" },
      { title: "How is the index rebuilt?", category: "technical" },
      { title: "How is the index rebuilt?", category: "technical" },
    ];
    // Action
    const opened = await open(app, gaps);
    // Assertions
    expect(opened.map((g) => [g.position, g.status])).toEqual([
      [0, "open"],
      [1, "open"],
      [2, "open"],
    ]);
    const stored = await db()
      .sql`select id::text, title, category, status from app.knowledge_gaps where id = any(${opened.map((g) => g.id)}::bigint[]) order by id`;
    expect(stored).toEqual(
      opened.map((g, i) => ({ id: g.id, ...gaps[i], status: "open" })),
    );
    expect(await stats()).toEqual({
      total: before.total + 3,
      open: before.open + 3,
      closed: before.closed,
    });
    expect(await stats()).toEqual(await reference(tenant));
  });

  test("10,000 gaps in one call; malformed items refused whole (QB011) naming position and field", async () => {
    // Setup
    const { sql } = db();
    const [before] =
      await sql`select count(*)::int as n from app.knowledge_gaps`;
    // Action
    const opened = await open(
      app,
      itemsOf(10_000, (i) => ({ title: `gap ${i}`, category: "process" })),
    );
    const messages = [];
    for (const bad of [
      [{ title: "x", category: "gossip" }],
      [
        { title: "x", category: "process" },
        { title: " \t", category: "process" },
      ],
      [{ category: "process" }],
      [{ title: "x", category: "process", status: "closed" }],
    ]) {
      messages.push(
        await open(app, bad).then(
          () => "accepted",
          (e: Error & { code?: string }) => `${e.code} ${e.message}`,
        ),
      );
    }
    // Assertions
    expect(opened).toHaveLength(10_000);
    const [after] =
      await sql`select count(*)::int as n from app.knowledge_gaps`;
    expect(after!.n).toBe(before!.n + 10_000);
    expect(messages[0]).toMatch(/^QB011 p_gaps\[0\]\.category: must be one of/);
    expect(messages[1]).toMatch(/^QB011 p_gaps\[1\]\.title: must not be blank/);
    expect(messages[2]).toMatch(/^QB011 p_gaps\[0\]\.title: is required/);
    expect(messages[3]).toMatch(/^QB011 p_gaps\[0\]\.status: is not a field/);
    expect(await stats()).toEqual(await reference(tenant));
  });

  test("the same number of statements for 1 and for 1,000 gaps", async () => {
    const counter = postgres(db().url, { max: 1, onnotice: () => {} });
    try {
      const one = await statementsOf(counter, (c) =>
        open(c, [{ title: "a", category: "context" }]),
      );
      const many = await statementsOf(counter, (c) =>
        open(
          c,
          itemsOf(1000, (i) => ({ title: `t${i}`, category: "context" })),
        ),
      );
      expect(one.own).toBeGreaterThan(0);
      expect(many.own).toBe(one.own);
    } finally {
      await counter.end();
    }
  });
});

describe("api.answer_gap", () => {
  test("open and in_progress become answered; answered and closed stay; api.gap_answers lists the answers", async () => {
    // Setup
    const [a, b, c, d] = await open(
      app,
      itemsOf(4, (i) => ({ title: `q${i}`, category: "process" })),
    );
    await setStatus(app, [b!.id], "in_progress");
    await setStatus(app, [c!.id], "answered");
    await setStatus(app, [d!.id], "closed");
    // Action
    const answered = [];
    for (const g of [a!, b!, c!, d!]) {
      answered.push(
        (
          await app<
            { id: string; status: string }[]
          >`select id::text, status from api.answer_gap(${tenant}, ${g.id}, ${`answer to ${g.id}`})`
        )[0]!,
      );
    }
    const again = (
      await app<
        { status: string }[]
      >`select status from api.answer_gap(${tenant}, ${a!.id}, 'a second answer')`
    )[0]!;
    // Assertions
    expect(answered.map((x) => x.status)).toEqual([
      "answered",
      "answered",
      "answered",
      "closed",
    ]);
    expect(again.status).toBe("answered");
    expect([
      await statusOf(a!.id),
      await statusOf(b!.id),
      await statusOf(c!.id),
      await statusOf(d!.id),
    ]).toEqual(["answered", "answered", "answered", "closed"]);
    const listed =
      await app`select id::text, content from api.gap_answers(${tenant}, ${a!.id})`;
    const stored = await db()
      .sql`select id::text, content from app.gap_answers where knowledge_gap_id = ${a!.id} order by created_at, id`;
    expect(listed).toEqual(stored);
    expect(listed.map((r) => r.content)).toEqual([
      `answer to ${a!.id}`,
      "a second answer",
    ]);
  });

  test("an unknown gap or another tenant's: QB009, nothing written; a blank answer: QB008", async () => {
    // Setup
    const { sql } = db();
    const [theirs] =
      await sql`select id::text, status from app.knowledge_gaps where tenant_id = ${other} and status = 'open' order by id limit 1`;
    const [before] = await sql`select count(*)::int as n from app.gap_answers`;
    // Action
    const codes = [
      await sqlState(
        app`select * from api.answer_gap(${tenant}, ${theirs!.id}, 'x')`,
      ),
      await sqlState(
        app`select * from api.answer_gap(${tenant}, ${"987654321"}, 'x')`,
      ),
      await sqlState(
        app`select * from api.answer_gap(${tenant}, ${theirs!.id}, ${"\u200b "})`,
      ),
    ];
    // Assertions
    expect(codes).toEqual(["QB009", "QB009", "QB008"]);
    const [after] = await sql`select count(*)::int as n from app.gap_answers`;
    expect(after).toEqual(before);
    expect(await statusOf(theirs!.id)).toBe("open");
  });
});

describe("api.set_gap_status", () => {
  test("counts updated, unchanged and not found (duplicates once, another tenant's not found); a replay changes nothing", async () => {
    // Setup
    const mine = await open(
      app,
      itemsOf(3, (i) => ({ title: `s${i}`, category: "timeline" })),
    );
    const [theirs] = await db()
      .sql`select id::text, status from app.knowledge_gaps where tenant_id = ${other} order by id limit 1`;
    await setStatus(app, [mine[2]!.id], "closed");
    const ids = [
      mine[0]!.id,
      mine[1]!.id,
      mine[1]!.id,
      mine[2]!.id,
      theirs!.id,
      "987654321",
    ];
    // Action
    const first = await setStatus(app, ids, "closed");
    const replay = await setStatus(app, ids, "closed");
    // Assertions
    expect(first).toEqual({ updated: 2, unchanged: 1, not_found: 2 });
    expect(replay).toEqual({ updated: 0, unchanged: 3, not_found: 2 });
    expect(await statusOf(theirs!.id)).toBe(theirs!.status);
    expect(await stats()).toEqual(await reference(tenant));
    // reopening is allowed
    expect(await setStatus(app, [mine[0]!.id], "open")).toEqual({
      updated: 1,
      unchanged: 0,
      not_found: 0,
    });
    expect(await statusOf(mine[0]!.id)).toBe("open");
  });

  test("bad arguments: the documented codes", async () => {
    expect(await sqlState(setStatus(app, ["1"], "done"))).toBe("QB008");
    expect(await sqlState(setStatus(app, [], "open"))).toBe("QB002");
    expect(
      await sqlState(
        app`select api.set_gap_status(${tenant}, array[1, null]::bigint[], 'open')`,
      ),
    ).toBe("QB007");
    expect(
      await sqlState(
        app`select api.set_gap_status(${tenant}, ${[1]}::bigint[], ${null})`,
      ),
    ).toBe("QB001");
  });

  test("the same number of statements for 1 and for 1,000 ids", async () => {
    const ids = (
      await open(
        app,
        itemsOf(1000, (i) => ({ title: `c${i}`, category: "context" })),
      )
    ).map((g) => g.id);
    const counter = postgres(db().url, { max: 1, onnotice: () => {} });
    try {
      const one = await statementsOf(counter, (c) =>
        setStatus(c, ids.slice(0, 1), "closed"),
      );
      const many = await statementsOf(counter, (c) =>
        setStatus(c, ids, "closed"),
      );
      expect(one.own).toBeGreaterThan(0);
      expect(many).toEqual(one);
    } finally {
      await counter.end();
    }
  });
});
