// Exact keyset paging and one expiry rule (issue 9, items 1 and 2).
//
// now() is fixed for a transaction, so every row one statement inserts shares its created_at:
// a chat turn's messages, a bulk insert of workflows. The three pagers take the last row's
// (created_at, id) as the cursor (p_before, p_before_id) and must then deliver every row
// exactly once, whatever the ties. Setup: a tenant of its own with tie groups of 1, 4, 1,000
// and 1,500 rows in each table, each group inserted by one statement. Each walk is compared
// with the independent reference, a plain ordered query on the table. Calls are made as
// querybudget_app, the role applications use.
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  explainFunction,
  indexNodes,
  allNodes,
  type ExplainedStatement,
} from "../../scripts/lib/plan/index.ts";
import { useTestDatabase } from "../harness/database.ts";
import { sqlState } from "../harness/errors.ts";
import { connectAs } from "../harness/roles.ts";

const db = useTestDatabase("paging");

/** Tie groups, in insertion order; each is one INSERT statement, so its rows share created_at. */
const GROUPS = [1, 4, 1000, 1500];
const TOTAL = GROUPS.reduce((a, b) => a + b, 0);
const PAGE_SIZES = [1, 7, 50, 1000];

interface Row {
  id: string;
  cursor: string; // created_at::text: full precision (postgres.js would cut a Date to milliseconds)
}

interface Subject {
  tenant: string;
  user: string; // owns the tie groups of conversations
  conversation: string; // holds the tie groups of messages
}

interface Pager {
  name: string;
  /** The key after the tenant: the user, the conversation, the status. */
  key: (s: Subject) => string;
  /** The api call with an exact cursor (p_before_id is the last, optional argument). */
  exact: (
    sql: postgres.Sql,
    s: Subject,
    before: string | null,
    beforeId: string | null,
    limit: number,
  ) => Promise<Row[]>;
  /** The legacy form: no p_before_id. */
  legacy: (
    sql: postgres.Sql,
    s: Subject,
    before: string | null,
    limit: number,
  ) => Promise<Row[]>;
  /** The independent reference: every row, in (created_at desc, id desc) order, read from the table. */
  reference: (sql: postgres.Sql, s: Subject) => Promise<Row[]>;
  /** The keyset index the page must be read from. */
  index: string;
}

const pagers: Pager[] = [
  {
    name: "api.user_conversations",
    key: (s) => s.user,
    exact: (sql, s, b, id, l) => sql<Row[]>`
      select id, created_at::text as cursor from api.user_conversations(${s.tenant}, ${s.user}, ${b}::text::timestamptz, ${l}, ${id}::text::bigint)`,
    legacy: (sql, s, b, l) => sql<Row[]>`
      select id, created_at::text as cursor from api.user_conversations(${s.tenant}, ${s.user}, ${b}::text::timestamptz, ${l})`,
    reference: (sql, s) => sql<Row[]>`
      select id, created_at::text as cursor from app.conversations
      where tenant_id = ${s.tenant} and user_id = ${s.user} and (expires_at is null or expires_at > now())
      order by created_at desc, id desc`,
    index: "app.conversations_tenant_id_user_id_created_at_id_idx",
  },
  {
    name: "api.conversation_messages",
    key: (s) => s.conversation,
    exact: (sql, s, b, id, l) => sql<Row[]>`
      select id, created_at::text as cursor from api.conversation_messages(${s.tenant}, ${s.conversation}, ${b}::text::timestamptz, ${l}, ${id}::text::bigint)`,
    legacy: (sql, s, b, l) => sql<Row[]>`
      select id, created_at::text as cursor from api.conversation_messages(${s.tenant}, ${s.conversation}, ${b}::text::timestamptz, ${l})`,
    reference: (sql, s) => sql<Row[]>`
      select id, created_at::text as cursor from app.messages
      where tenant_id = ${s.tenant} and conversation_id = ${s.conversation} and (expires_at is null or expires_at > now())
      order by created_at desc, id desc`,
    index: "app.messages_tenant_id_conversation_id_created_at_id_idx",
  },
  {
    name: "api.workflows_by_status",
    key: () => "completed",
    exact: (sql, s, b, id, l) => sql<Row[]>`
      select id, created_at::text as cursor from api.workflows_by_status(${s.tenant}, 'completed', ${b}::text::timestamptz, ${l}, ${id}::text::bigint)`,
    legacy: (sql, s, b, l) => sql<Row[]>`
      select id, created_at::text as cursor from api.workflows_by_status(${s.tenant}, 'completed', ${b}::text::timestamptz, ${l})`,
    reference: (sql, s) => sql<Row[]>`
      select id, created_at::text as cursor from app.workflows
      where tenant_id = ${s.tenant} and status = 'completed'
      order by created_at desc, id desc`,
    index: "app.workflows_tenant_id_status_created_at_id_idx",
  },
];

/** The pages a client gets: the last row's (created_at, id) goes back as the cursor. */
async function walkExact(
  pager: Pager,
  sql: postgres.Sql,
  s: Subject,
  limit: number,
): Promise<Row[][]> {
  const pages: Row[][] = [];
  let last: Row | undefined;
  for (let i = 0; i <= TOTAL + 1; i++) {
    const page = await pager.exact(
      sql,
      s,
      last?.cursor ?? null,
      last?.id ?? null,
      limit,
    );
    pages.push(page);
    if (page.length < limit) return pages;
    last = page.at(-1)!;
  }
  throw new Error(`${pager.name}: the walk did not end`);
}

/** A list cut in pages of `limit`; a last page shorter than limit (possibly empty) ends it. */
function chunk(all: Row[], limit: number): Row[][] {
  const pages: Row[][] = [];
  for (let start = 0; ; start += limit) {
    pages.push(all.slice(start, start + limit));
    if (pages.at(-1)!.length < limit) return pages;
  }
}

let subject: Subject;
let app: postgres.Sql;

beforeAll(async () => {
  const { sql, url } = db();
  // Setup: a tenant, a user and a conversation of their own, so the reference sees only our rows.
  const [{ tenant_id: tenant }] = (await sql<{ tenant_id: string }[]>`
    insert into app.tenants (name) values ('paging ties') returning tenant_id`) as unknown as [
    { tenant_id: string },
  ];
  const [{ id: user }] = (await sql<{ id: string }[]>`
    insert into app.users (tenant_id, email, display_name) values (${tenant}, 'ties@paging.example.com', 'Ties') returning id`) as unknown as [
    { id: string },
  ];
  const [{ id: conversation }] = (await sql<{ id: string }[]>`
    insert into app.conversations (tenant_id, user_id, title) values (${tenant}, ${user}, 'the chat of tie groups') returning id`) as unknown as [
    { id: string },
  ];
  // One statement per group and table (each its own transaction): the group shares now().
  for (const [g, n] of GROUPS.entries()) {
    await sql`insert into app.conversations (tenant_id, user_id, title)
              select ${tenant}, ${user}, 'group ' || ${g} || ' row ' || i from generate_series(1, ${n}::int) i`;
    await sql`insert into app.messages (tenant_id, conversation_id, role, content)
              select ${tenant}, ${conversation}, 'assistant', 'group ' || ${g} || ' row ' || i from generate_series(1, ${n}::int) i`;
    await sql`insert into app.workflows (tenant_id, name, status)
              select ${tenant}, 'group ' || ${g} || ' row ' || i, 'completed' from generate_series(1, ${n}::int) i`;
  }
  await sql`analyze app.conversations, app.messages, app.workflows`;
  subject = { tenant, user, conversation };
  app = await connectAs(url, "querybudget_app");
});

afterAll(async () => {
  await app?.end();
});

describe.each(pagers)(
  "$name: exact keyset cursor (created_at, id)",
  (pager) => {
    test("setup: the rows form the tie groups (one created_at per insert statement)", async () => {
      const reference = await pager.reference(db().sql, subject);
      const sizes = new Map<string, number>();
      for (const r of reference)
        sizes.set(r.cursor, (sizes.get(r.cursor) ?? 0) + 1);
      // user_conversations: the conversation that holds the messages is one more group of 1
      const extra = pager.name === "api.user_conversations" ? [1] : [];
      expect([...sizes.values()].sort((a, b) => a - b)).toEqual(
        [...GROUPS, ...extra].sort((a, b) => a - b),
      );
    });

    test.each(PAGE_SIZES)(
      "pages of %i deliver every row exactly once, in the reference's order and pages",
      async (limit) => {
        // Setup: the reference, read from the table
        const reference = await pager.reference(db().sql, subject);
        // Action: a client's walk from the newest row to the end
        const pages = await walkExact(pager, app, subject, limit);
        // Assertions: page for page the reference; no id twice, none missing
        const ids = pages.flat().map((r) => r.id);
        expect(new Set(ids).size, "no row twice").toBe(ids.length);
        expect(ids.length, "every row").toBe(reference.length);
        expect(pages).toEqual(chunk(reference, limit));
      },
    );

    test("a page boundary inside a tie group: the next page starts at the next row of the group", async () => {
      // Setup: a cursor on a row in the middle of the group of 1,500
      const reference = await pager.reference(db().sql, subject);
      const big = reference.findIndex(
        (r, i) =>
          reference.filter((x) => x.cursor === r.cursor).length === 1500 &&
          i > 0,
      );
      const at = big + 700;
      expect(reference[at]!.cursor).toBe(reference[at + 1]!.cursor); // still inside the group
      // Action
      const page = await pager.exact(
        app,
        subject,
        reference[at]!.cursor,
        reference[at]!.id,
        5,
      );
      // Assertions: exactly the five rows after the cursor row, tied with it
      expect(page).toEqual(reference.slice(at + 1, at + 6));
      expect(new Set(page.map((r) => r.cursor))).toEqual(
        new Set([reference[at]!.cursor]),
      );
      // and a walk of pages of 7 cuts inside the groups (so the test above exercised such cuts)
      const pages = await walkExact(pager, app, subject, 7);
      const cutsInsideGroups = pages
        .slice(1)
        .filter(
          (p, k) => p.length > 0 && p[0]!.cursor === pages[k]!.at(-1)!.cursor,
        ).length;
      expect(cutsInsideGroups).toBeGreaterThan(100);
    });

    test("the legacy form (no p_before_id) still works: the rows strictly older than p_before", async () => {
      const reference = await pager.reference(db().sql, subject);
      // no cursor: the newest rows, as the exact form gives them
      expect(await pager.legacy(app, subject, null, 50)).toEqual(
        reference.slice(0, 50),
      );
      // a cursor inside the group of 1,000: the rest of that group is skipped (the documented limit)
      const first = reference.findIndex(
        (r) => reference.filter((x) => x.cursor === r.cursor).length === 1000,
      );
      const group = reference[first]!.cursor;
      const older = reference.slice(first + 1000); // the groups were inserted oldest first
      expect(older[0]!.cursor).not.toBe(group);
      expect(older.length).toBeGreaterThan(0);
      expect(await pager.legacy(app, subject, group, 10)).toEqual(
        older.slice(0, 10),
      );
    });

    test("p_before_id without p_before, or negative, is QB006 (invalid cursor)", async () => {
      const [first] = await pager.reference(db().sql, subject);
      expect(
        await sqlState(pager.exact(app, subject, null, first!.id, 10)),
      ).toBe("QB006");
      expect(
        await sqlState(pager.exact(app, subject, first!.cursor, "-1", 10)),
      ).toBe("QB006");
      expect(
        await sqlState(
          pager.exact(app, subject, first!.cursor, "-9223372036854775808", 10),
        ),
      ).toBe("QB006");
      // the boundary values are accepted
      expect(
        await sqlState(pager.exact(app, subject, first!.cursor, "0", 10)),
      ).toBeUndefined();
      expect(
        await sqlState(pager.exact(app, subject, null, null, 10)),
      ).toBeUndefined();
    });

    test.each(["auto", "force_generic_plan"])(
      "plan (%s): the cursor is one Index Cond on the keyset index, no Sort",
      async (mode) => {
        // Setup: an exact cursor inside the group of 1,500
        const reference = await pager.reference(db().sql, subject);
        const row = reference[reference.length - 1200]!;
        const [query, params] = {
          "api.user_conversations": [
            `select * from api.user_conversations($1, $2, $3::timestamptz, $4, $5)`,
            [subject.tenant, subject.user],
          ],
          "api.conversation_messages": [
            `select * from api.conversation_messages($1, $2, $3::timestamptz, $4, $5)`,
            [subject.tenant, subject.conversation],
          ],
          "api.workflows_by_status": [
            `select * from api.workflows_by_status($1, $2, $3::timestamptz, $4, $5)`,
            [subject.tenant, "completed"],
          ],
        }[pager.name] as [string, string[]];
        // Action: six calls (so a cached generic plan is reached), as auto_explain sees them
        const statements: ExplainedStatement[] = await explainFunction(
          db(),
          query,
          [...params, row.cursor, 20, row.id],
          {
            settings: { plan_cache_mode: mode },
          },
        );
        // Assertions
        const nested = statements.filter((s) => !s.topLevel);
        const scans = indexNodes(nested).filter(
          (n) => (n.rootIndex ?? n.index) === pager.index,
        );
        expect(scans.length, `${pager.index} is used`).toBeGreaterThan(0);
        for (const scan of scans) {
          expect(scan.nodeType).toMatch(/Index (Only )?Scan/);
          expect(scan.indexCond, "the row comparison is an Index Cond").toMatch(
            /ROW\((\w+\.)?created_at, (\w+\.)?id\) < ROW\(/,
          );
          expect(scan.filter ?? "", "the cursor is no Filter").not.toMatch(
            /ROW\(/,
          );
        }
        expect(
          allNodes(nested)
            .filter((n) => n.nodeType.includes("Sort"))
            .map((n) => n.nodeType),
          "no Sort",
        ).toEqual([]);
        // (app.tenants, a handful of rows, may be read whole by the tenant guard)
        const paged = ["app.conversations", "app.messages", "app.workflows"];
        const seqScans = allNodes(nested).filter(
          (n) =>
            n.nodeType === "Seq Scan" &&
            paged.includes(n.rootRelation ?? n.relation ?? ""),
        );
        expect(
          seqScans.map((n) => n.relation),
          "no Seq Scan of the paged tables",
        ).toEqual([]);
        if (pager.name === "api.conversation_messages") {
          // the expiry of the conversation: one primary-key lookup
          expect(
            indexNodes(nested).map((n) => n.rootIndex ?? n.index),
          ).toContain("app.conversations_pkey");
        }
      },
    );
  },
);

describe("expiry is one rule: an expired conversation has no messages", () => {
  test("expired conversation, messages without expires_at: no rows; a live one: all its messages", async () => {
    const { sql } = db();
    // Setup: two conversations of the subject's user with 30 messages each (no expires_at),
    // one expired a minute ago (waiting for the TTL job), one expiring in an hour
    const made: Record<string, string> = {};
    for (const [which, expires] of [
      ["expired", "-1 minute"],
      ["live", "1 hour"],
    ] as const) {
      const [row] = await sql<{ id: string }[]>`
        insert into app.conversations (tenant_id, user_id, title, expires_at)
        values (${subject.tenant}, ${subject.user}, ${which}, now() + ${expires}::interval) returning id`;
      const id = row!.id;
      await sql`insert into app.messages (tenant_id, conversation_id, role, content)
                select ${subject.tenant}, ${id}, 'user', 'message ' || i from generate_series(1, 30) i`;
      made[which] = id;
    }
    const stored = await sql<{ conversation_id: string; n: number }[]>`
      select conversation_id, count(*)::int as n from app.messages
      where tenant_id = ${subject.tenant} and conversation_id in (${made.expired!}, ${made.live!}) and expires_at is null
      group by 1`;
    expect(stored).toHaveLength(2); // both have their 30 messages in the table

    // Action and assertions: the expired one gives nothing, in every form of the call
    const messages = (
      id: string,
      before: string | null = null,
      beforeId: string | null = null,
    ) =>
      app<
        Row[]
      >`select id, created_at::text as cursor from api.conversation_messages(${subject.tenant}, ${id}, ${before}::text::timestamptz, 1000, ${beforeId}::text::bigint)`;
    expect(await messages(made.expired!)).toEqual([]);
    const [latest] = await sql<
      Row[]
    >`select id, created_at::text as cursor from app.messages
      where tenant_id = ${subject.tenant} and conversation_id = ${made.expired!} order by created_at desc, id desc limit 1`;
    expect(await messages(made.expired!, latest!.cursor, latest!.id)).toEqual(
      [],
    );
    expect(
      await app`select * from api.conversation_messages(${subject.tenant}, ${made.expired!})`,
    ).toHaveLength(0);
    // as user_conversations leaves the conversation out
    const listed = (
      await app<
        { id: string }[]
      >`select id from api.user_conversations(${subject.tenant}, ${subject.user}, null, 1000)`
    ).map((r) => r.id);
    expect(listed).not.toContain(made.expired);
    expect(listed).toContain(made.live);

    // the live one: every message, as the reference query gives them
    const reference = await sql<
      Row[]
    >`select id, created_at::text as cursor from app.messages
      where tenant_id = ${subject.tenant} and conversation_id = ${made.live!} and (expires_at is null or expires_at > now())
      order by created_at desc, id desc`;
    expect(reference).toHaveLength(30);
    expect(await messages(made.live!)).toEqual(reference);
  });
});
