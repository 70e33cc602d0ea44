// api.start_conversation and api.add_messages (issue 11, item 5): what they write, checked
// against plain queries on the tables (as the superuser), read back through the readers
// (api.user_conversations, api.conversation_messages), and removed by the TTL job.
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

const db = useTestDatabase("conversation_writes");

let app: postgres.Sql;
let tenant: string;
let other: string;
let user: string;
let otherUser: string;

interface Written {
  position: number;
  id: string;
  created_at: string;
  expires_at: string | null;
}

const start = async (
  sql: postgres.Sql,
  title = "a chat",
  ttl: string | null = null,
) =>
  (
    await sql<{ id: string; created_at: string; expires_at: string | null }[]>`
    select id::text, created_at::text, expires_at::text from api.start_conversation(${tenant}, ${user}, ${title}, ${ttl}::interval)`
  )[0]!;
const add = (
  sql: postgres.Sql | postgres.ReservedSql,
  conversation: string,
  messages: unknown[],
  t = tenant,
) =>
  sql<
    Written[]
  >`select position, id::text, created_at::text, expires_at::text from api.add_messages(${t}, ${conversation}, ${batch(messages)}::text::jsonb)`;
const turn = [
  { role: "user", content: "What does clause 7 say?", token_count: 12 },
  { role: "tool", content: "citation: contract.pdf p. 3" },
  { role: "tool", content: "citation: annex.pdf p. 1", token_count: 0 },
  { role: "assistant", content: "Clause 7 limits liability.", token_count: 40 },
];

beforeAll(async () => {
  const { sql, url } = db();
  [tenant, other] = await twoTenantsWithData(sql);
  user = (
    await sql<
      { id: string }[]
    >`select id::text from app.users where tenant_id = ${tenant} order by id limit 1`
  )[0]!.id;
  otherUser = (
    await sql<
      { id: string }[]
    >`select id::text from app.users where tenant_id = ${other} order by id limit 1`
  )[0]!.id;
  app = await connectAs(url, "querybudget_app");
});

afterAll(async () => {
  await app?.end();
});

describe("api.start_conversation", () => {
  test("writes the conversation api.user_conversations then returns first", async () => {
    // Setup
    const { sql } = db();
    // Action
    const made = await start(app, "Contract questions", "1 day");
    // Assertions
    const [row] = await sql`
      select tenant_id::text, user_id::text, title, created_at::text, updated_at::text, expires_at::text, (expires_at - created_at)::text as ttl
      from app.conversations where id = ${made.id}`;
    expect(row).toEqual({
      tenant_id: tenant,
      user_id: user,
      title: "Contract questions",
      created_at: made.created_at,
      updated_at: made.created_at,
      expires_at: made.expires_at,
      ttl: "1 day",
    });
    const [first] =
      await app`select id::text, title from api.user_conversations(${tenant}, ${user}, null, 1)`;
    expect(first).toEqual({ id: made.id, title: "Contract questions" });
  });

  test("no TTL: never expires; the TTL is bounded to 1 minute .. 180 days (QB008)", async () => {
    // Setup, Action
    const forever = await start(app, "kept", null);
    const longest = await start(app, "kept long", "180 days");
    const codes = [];
    for (const ttl of [
      "59 seconds",
      "0",
      "-1 day",
      "181 days",
      "1000000 years",
      "1 mon -30 days -23 hours",
    ]) {
      codes.push(await sqlState(start(app, "x", ttl)));
    }
    // Assertions
    expect(forever.expires_at).toBeNull();
    expect(longest.expires_at).not.toBeNull();
    expect(codes).toEqual([
      "QB008",
      "QB008",
      "QB008",
      "QB008",
      "QB008",
      "QB008",
    ]);
  });

  test("a user of another tenant, or unknown: QB009, nothing written; a blank title: QB008", async () => {
    // Setup
    const { sql } = db();
    const [before] =
      await sql`select count(*)::int as n from app.conversations`;
    // Action
    const codes = [
      await sqlState(
        app`select * from api.start_conversation(${tenant}, ${otherUser}, 'x')`,
      ),
      await sqlState(
        app`select * from api.start_conversation(${tenant}, ${"987654321"}, 'x')`,
      ),
      await sqlState(
        app`select * from api.start_conversation(${tenant}, ${user}, ${" \u3000"})`,
      ),
      await sqlState(
        app`select * from api.start_conversation(${tenant}, ${null}, 'x')`,
      ),
    ];
    // Assertions
    expect(codes).toEqual(["QB009", "QB009", "QB008", "QB001"]);
    const [after] = await sql`select count(*)::int as n from app.conversations`;
    expect(after).toEqual(before);
  });
});

describe("api.add_messages", () => {
  test("a chat turn in one call: batch order, one created_at, the conversation's expiry, paged back exactly", async () => {
    // Setup
    const { sql } = db();
    const conversation = await start(app, "turn", "7 days");
    // Action
    const written = await add(app, conversation.id, turn);
    // Assertions
    expect(written.map((w) => w.position)).toEqual([0, 1, 2, 3]);
    const ids = written.map((w) => BigInt(w.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    expect(new Set(written.map((w) => w.created_at)).size).toBe(1);
    expect(written.every((w) => w.expires_at === conversation.expires_at)).toBe(
      true,
    );
    const stored = await sql`
      select id::text, role, content, token_count, created_at::text, expires_at::text from app.messages
      where tenant_id = ${tenant} and conversation_id = ${conversation.id} order by id`;
    expect(
      stored.map((m) => ({
        role: m.role,
        content: m.content,
        token_count: m.token_count,
      })),
    ).toEqual(
      turn.map((m) => ({
        role: m.role,
        content: m.content,
        token_count: m.token_count ?? 0,
      })),
    );
    // the reader, one message per page with the exact cursor: newest first, every message once
    const paged: string[] = [];
    let cursor: { at: string; id: string } | null = null;
    for (;;) {
      const page: { id: string; at: string }[] = await app`
        select id::text, created_at::text as at from api.conversation_messages(${tenant}, ${conversation.id}, ${cursor?.at ?? null}::text::timestamptz, 1, ${cursor?.id ?? null}::text::bigint)`;
      if (page.length === 0) break;
      paged.push(page[0]!.id);
      cursor = { at: page[0]!.at, id: page[0]!.id };
    }
    expect(paged).toEqual(stored.map((m) => m.id).reverse());
    const [conv] =
      await sql`select updated_at::text from app.conversations where id = ${conversation.id}`;
    expect(conv!.updated_at).toBe(written[0]!.created_at);
  });

  test("10,000 messages in one call (the most a batch takes), all read back by the reader", async () => {
    // Setup
    const { sql } = db();
    const conversation = await start(app, "long");
    const items = itemsOf(10_000, (i) => ({
      role: i % 2 ? "assistant" : "user",
      content: `m${i}`,
      token_count: i,
    }));
    // Action
    const written = await add(app, conversation.id, items);
    // Assertions
    expect(written).toHaveLength(10_000);
    const [count] =
      await sql`select count(*)::int as n, sum(token_count)::int as tokens from app.messages where conversation_id = ${conversation.id} and tenant_id = ${tenant}`;
    expect(count).toEqual({ n: 10_000, tokens: (9_999 * 10_000) / 2 });
    const read =
      await app`select content from api.conversation_messages(${tenant}, ${conversation.id}, null, 1000)`;
    expect(read.map((r) => r.content)).toEqual(
      itemsOf(1000, (i) => `m${9_999 - i}`),
    );
    expect(
      await sqlState(
        add(
          app,
          conversation.id,
          itemsOf(10_001, () => ({ role: "user", content: "x" })),
        ),
      ),
    ).toBe("QB003");
  });

  test("duplicate items are two messages; two calls are dated in order, never before the conversation", async () => {
    // Setup
    const conversation = await start(app, "twice");
    // Action
    const first = await add(app, conversation.id, [turn[0], turn[0]]);
    const second = await add(app, conversation.id, [turn[3]]);
    // Assertions
    expect(first).toHaveLength(2);
    expect(first[0]!.id).not.toBe(first[1]!.id);
    expect(second[0]!.created_at >= first[0]!.created_at).toBe(true);
    expect(first[0]!.created_at >= conversation.created_at).toBe(true);
  });

  test("a transaction that began before the conversation was made dates its messages no earlier than the conversation", async () => {
    // Setup: T1 fixes its now(), then the conversation is made and committed elsewhere
    const t1 = await connectAs(db().url, "querybudget_app");
    try {
      await t1.unsafe("begin");
      const t1now = (
        await t1<{ t1now: string }[]>`select now()::text as t1now`
      )[0]!.t1now;
      await new Promise((r) => setTimeout(r, 20));
      const conversation = await start(app, "late");
      // Action
      const written = await add(t1, conversation.id, [turn[0]]);
      await t1.unsafe("commit");
      // Assertions
      expect(t1now < conversation.created_at).toBe(true);
      expect(written[0]!.created_at).toBe(conversation.created_at);
      const read =
        await app`select id::text from api.conversation_messages(${tenant}, ${conversation.id})`;
      expect(read.map((r) => r.id)).toEqual([written[0]!.id]);
    } finally {
      await t1.end();
    }
  });

  test("an expired, unknown or other tenant's conversation: QB009, nothing written", async () => {
    // Setup
    const { sql } = db();
    const expired = await start(app, "expired", "1 day");
    await sql`update app.conversations set expires_at = now() - interval '1 second', created_at = now() - interval '2 days' where id = ${expired.id}`;
    const [theirs] =
      await sql`select id::text from app.conversations where tenant_id = ${other} order by id limit 1`;
    const [before] = await sql`select count(*)::int as n from app.messages`;
    // Action
    const codes = [
      await sqlState(add(app, expired.id, turn)),
      await sqlState(add(app, "987654321", turn)),
      await sqlState(add(app, theirs!.id, turn)),
    ];
    // Assertions
    expect(codes).toEqual(["QB009", "QB009", "QB009"]);
    const [after] = await sql`select count(*)::int as n from app.messages`;
    expect(after).toEqual(before);
  });

  test("malformed batches are refused whole with QB011 naming the item and field", async () => {
    // Setup
    const conversation = await start(app, "bad");
    const refused = async (messages: unknown) => {
      try {
        await app`select * from api.add_messages(${tenant}, ${conversation.id}, ${JSON.stringify(messages)}::text::jsonb)`;
        return "accepted";
      } catch (error) {
        return `${(error as { code?: string }).code} ${(error as Error).message}`;
      }
    };
    // Action, Assertions
    expect(await refused([turn[0], { role: "admin", content: "x" }])).toMatch(
      /^QB011 p_messages\[1\]\.role: must be one of/,
    );
    expect(await refused([{ role: "user" }])).toMatch(
      /^QB011 p_messages\[0\]\.content: is required/,
    );
    expect(
      await refused([{ role: "user", content: "x", token_count: -1 }]),
    ).toMatch(/^QB011 p_messages\[0\]\.token_count/);
    expect(
      await refused([{ role: "user", content: "x", token_count: "12" }]),
    ).toMatch(/^QB011 p_messages\[0\]\.token_count/);
    expect(await refused([{ role: "user", content: "x", id: 5 }])).toMatch(
      /^QB011 p_messages\[0\]\.id: is not a field/,
    );
    expect(await refused({ role: "user", content: "x" })).toMatch(/^QB011/);
    expect(await refused([])).toMatch(/^QB002/);
    const [n] = await db()
      .sql`select count(*)::int as n from app.messages where conversation_id = ${conversation.id}`;
    expect(n!.n).toBe(0);
  });

  test("the same number of statements for 1 and for 1,000 messages", async () => {
    // Setup
    const conversation = await start(app, "count");
    const counter = postgres(db().url, { max: 1, onnotice: () => {} });
    try {
      // Action
      const one = await statementsOf(counter, (c) =>
        add(c, conversation.id, [turn[0]]),
      );
      const many = await statementsOf(counter, (c) =>
        add(
          c,
          conversation.id,
          itemsOf(1000, (i) => ({ role: "user", content: `${i}` })),
        ),
      );
      // Assertions: the foreign key checks (one per message) apart
      expect(one.own).toBeGreaterThan(0);
      expect(many.own).toBe(one.own);
    } finally {
      await counter.end();
    }
  });
});

describe("the TTL job on conversations and messages written by the api", () => {
  test("maint.purge_expired keeps live ones and deletes them once expired", async () => {
    // Setup
    const { sql } = db();
    const conversation = await start(app, "ttl", "1 hour");
    await add(app, conversation.id, turn);
    await sql.unsafe("call maint.purge_expired()");
    const [kept] =
      await sql`select count(*)::int as n from app.messages where conversation_id = ${conversation.id} and tenant_id = ${tenant}`;
    // Action: an hour and a minute later (the rows' clock moved back instead of the server's)
    await sql`update app.conversations set created_at = created_at - interval '61 minutes', updated_at = updated_at - interval '61 minutes',
              expires_at = expires_at - interval '61 minutes' where id = ${conversation.id}`;
    await sql`update app.messages set created_at = created_at - interval '61 minutes', expires_at = expires_at - interval '61 minutes'
              where conversation_id = ${conversation.id} and tenant_id = ${tenant}`;
    expect(
      (
        await app`select * from api.conversation_messages(${tenant}, ${conversation.id})`
      ).length,
    ).toBe(0);
    await sql.unsafe("call maint.purge_expired()");
    // Assertions
    expect(kept!.n).toBe(turn.length);
    const [left] = await sql`
      select (select count(*)::int from app.messages where conversation_id = ${conversation.id} and tenant_id = ${tenant}) as messages,
             (select count(*)::int from app.conversations where id = ${conversation.id}) as conversations`;
    expect(left).toEqual({ messages: 0, conversations: 0 });
  });
});
