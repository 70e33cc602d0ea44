// Sessions, conversations, messages, agents and workflows (seeds 001, 002, 003): the api
// functions against the "before" code (scripts/lib/before/reads.ts) and naive queries, on
// subjects drawn with a fixed-seed PRNG from the seeded data; keyset walks to the end; the
// documented tie skip; and the bad-input codes of every function.
import type postgres from "postgres";
import { describe, expect, test } from "vitest";
import * as before from "../scripts/lib/before/reads.ts";
import { useTestDatabase } from "./harness/database.ts";
import { prng, pick } from "./harness/random.ts";

const db = useTestDatabase("reads");

const int = (rand: () => number, lo: number, hi: number) =>
  lo + Math.floor(rand() * (hi - lo + 1));

async function expectCode(call: Promise<unknown>, code: string): Promise<void> {
  await expect(call).rejects.toMatchObject({ code });
}

/** Thrown to roll back a transaction whose changes only one test may see. */
class Rollback extends Error {}
async function inRolledBackTransaction(
  sql: postgres.Sql,
  body: (tx: postgres.Sql) => Promise<void>,
): Promise<void> {
  try {
    await sql.begin(async (tx) => {
      // typed as a client: the helpers below only run tagged queries with it
      await body(tx as unknown as postgres.Sql);
      throw new Rollback();
    });
  } catch (error) {
    if (!(error instanceof Rollback)) throw error;
  }
}

type Row = Record<string, unknown> & { id: string; cursor: string };
const strip = (rows: Row[]) => rows.map(({ cursor: _c, ...row }) => row);

/** A list in pages of `limit` rows; a last page shorter than limit (possibly empty) ends it. */
function chunk(all: Row[], limit: number): Row[][] {
  const pages: Row[][] = [];
  for (let start = 0; ; start += limit) {
    pages.push(all.slice(start, start + limit));
    if (pages.at(-1)!.length < limit) return pages;
  }
}

/** Walks an api keyset function from the newest row to the end; the cursor goes back as text. */
async function walk(
  fetch: (before: string | null) => Promise<Row[]>,
  limit: number,
): Promise<Row[][]> {
  const pages: Row[][] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 10_000; i++) {
    const page = await fetch(cursor);
    pages.push(page);
    if (page.length < limit) return pages;
    cursor = page.at(-1)!.cursor;
  }
  throw new Error("the keyset walk did not end");
}

// The three keyset families share their tests: subjects, the api page, the naive full list
// (no limit, no cursor), and the before-side OFFSET page.
interface KeysetFamily {
  name: string;
  subjects: (sql: postgres.Sql) => Promise<{ tenant: string; key: string }[]>;
  limits: [number, number];
  api: (
    sql: postgres.Sql,
    tenant: string,
    key: string,
    before: string | null,
    limit: number,
  ) => Promise<Row[]>;
  naive: (sql: postgres.Sql, tenant: string, key: string) => Promise<Row[]>;
  offsetPage: (
    sql: postgres.Sql,
    tenant: string,
    key: string,
    page: number,
    limit: number,
  ) => Promise<unknown[]>;
}

const families: KeysetFamily[] = [
  {
    name: "api.user_conversations",
    subjects: (sql) =>
      sql`select tenant_id as tenant, user_id as key from app.conversations group by 1, 2 order by 1, 2`,
    limits: [1, 4],
    api: (sql, t, u, b, l) => sql<Row[]>`
      select *, created_at::text as cursor from api.user_conversations(${t}, ${u}, ${b}::text::timestamptz, ${l})`,
    naive: (sql, t, u) => sql<Row[]>`
      select id, user_id, title, created_at, updated_at, expires_at, created_at::text as cursor
      from app.conversations
      where tenant_id = ${t} and user_id = ${u} and (expires_at is null or expires_at > now())
      order by created_at desc, id desc`,
    offsetPage: (sql, t, u, p, l) => before.userConversations(sql, t, u, p, l),
  },
  {
    name: "api.conversation_messages",
    subjects: (sql) =>
      sql`select tenant_id as tenant, id as key from app.conversations order by 1, 2`,
    limits: [3, 25],
    api: (sql, t, c, b, l) => sql<Row[]>`
      select *, created_at::text as cursor from api.conversation_messages(${t}, ${c}, ${b}::text::timestamptz, ${l})`,
    // an expired conversation has no messages, whatever their own expires_at
    naive: (sql, t, c) => sql<Row[]>`
      select m.id, m.conversation_id, m.role, m.content, m.token_count, m.created_at, m.expires_at, m.created_at::text as cursor
      from app.messages m join app.conversations v on v.tenant_id = m.tenant_id and v.id = m.conversation_id
      where m.tenant_id = ${t} and m.conversation_id = ${c} and (m.expires_at is null or m.expires_at > now())
        and (v.expires_at is null or v.expires_at > now())
      order by m.created_at desc, m.id desc`,
    offsetPage: (sql, t, c, p, l) =>
      before.conversationMessages(sql, t, c, p, l),
  },
  {
    name: "api.workflows_by_status",
    subjects: (sql) =>
      sql`select tenant_id as tenant, status as key from app.workflows group by 1, 2 order by 1, 2`,
    limits: [1, 6],
    api: (sql, t, s, b, l) => sql<Row[]>`
      select *, created_at::text as cursor from api.workflows_by_status(${t}, ${s}, ${b}::text::timestamptz, ${l})`,
    naive: (sql, t, s) => sql<Row[]>`
      select id, agent_id, name, status, created_at, completed_at, created_at::text as cursor
      from app.workflows where tenant_id = ${t} and status = ${s}
      order by created_at desc, id desc`,
    offsetPage: (sql, t, s, p, l) => before.workflowsByStatus(sql, t, s, p, l),
  },
];

describe.each(families)("$name (keyset)", (family) => {
  test("a walk to the end equals the naive ordered list, page for page, and the before side's OFFSET pages", async () => {
    const { sql } = db();
    const rand = prng(family.name.length * 7919);
    const subjects = pick(await family.subjects(sql), 8, rand);
    expect(subjects.length).toBeGreaterThan(0);
    let pagesSeen = 0;
    for (const { tenant, key } of subjects) {
      const limit = int(rand, ...family.limits);
      const all = await family.naive(sql, tenant, key);
      // The seeded timestamps are distinct, so no row is skipped (ties have their own test).
      expect(new Set(all.map((r) => r.cursor)).size).toBe(all.length);
      const pages = await walk(
        (b) => family.api(sql, tenant, key, b, limit),
        limit,
      );
      expect(
        pages.map(strip),
        `${family.name}(${tenant}, ${key}) limit ${limit}`,
      ).toEqual(chunk(all, limit).map(strip));
      for (const [k, page] of pages.entries()) {
        expect(
          [...(await family.offsetPage(sql, tenant, key, k, limit))],
          `OFFSET page ${k}`,
        ).toEqual(strip(page));
      }
      pagesSeen += pages.length;
    }
    expect(pagesSeen).toBeGreaterThan(subjects.length); // some walks took several pages
  });

  test("a cursor between rows: the rows strictly older, newest first", async () => {
    const { sql } = db();
    const rand = prng(family.name.length * 104729);
    for (const { tenant, key } of pick(await family.subjects(sql), 6, rand)) {
      const all = await family.naive(sql, tenant, key);
      if (all.length < 2) continue;
      // a cursor 1 microsecond after a random row's created_at: that row is the first one out
      const i = int(rand, 0, all.length - 1);
      const [after] = await sql<
        { cursor: string }[]
      >`select (${all[i]!.cursor}::text::timestamptz + interval '1 microsecond')::text as cursor`;
      const limit = int(rand, ...family.limits);
      const page = await family.api(sql, tenant, key, after!.cursor, limit);
      expect(strip(page)).toEqual(strip(all.slice(i, i + limit)));
    }
  });

  // The legacy form (p_before alone). The exact cursor (p_before, p_before_id) returns every
  // tied row exactly once: test/api/paging.test.ts.
  test("ties, legacy cursor: ordered by id inside a page; at a page cut, one of the tied rows is skipped (documented)", async () => {
    const { sql } = db();
    const table = {
      "api.user_conversations": "conversations",
      "api.conversation_messages": "messages",
      "api.workflows_by_status": "workflows",
    }[family.name]!;
    let subject: { tenant: string; key: string; all: Row[] } | undefined;
    for (const s of await family.subjects(sql)) {
      const all = await family.naive(sql, s.tenant, s.key);
      if (all.length >= 4) {
        subject = { ...s, all };
        break;
      }
    }
    const { tenant, key, all } = subject!;
    // `to` (the older row, a lower id) takes `from`'s created_at. `from` is rewritten first, so
    // `to`'s new row version lies after it in the heap: a backward index scan then meets them
    // against id order, and only the id tie-break puts them right.
    const tie = async (tx: postgres.Sql, from: Row, to: Row) => {
      // the plan of the larger tiers (on the small tables of the 10k tier a sequential scan and a
      // sort could order the tie right by chance)
      await tx`set local enable_seqscan = off`;
      await tx`set local enable_bitmapscan = off`;
      await tx`discard plans`; // a plan cached by this connection would ignore those settings
      await tx.unsafe(
        `update app.${table} set created_at = created_at where tenant_id = $1 and id = $2`,
        [tenant, from.id],
      );
      await tx.unsafe(
        `update app.${table} set created_at = (select created_at from app.${table} where tenant_id = $1 and id = $2) where tenant_id = $1 and id = $3`,
        [tenant, from.id, to.id],
      );
    };
    const ids = (rows: Row[]) => rows.map((r) => r.id);

    // rows 1 and 2 tied, both inside the first page of 3: in (created_at desc, id desc) order
    await inRolledBackTransaction(sql, async (tx) => {
      await tie(tx, all[1]!, all[2]!);
      const tied = await family.naive(tx, tenant, key);
      expect(tied[1]!.cursor).toBe(tied[2]!.cursor);
      expect(strip(await family.api(tx, tenant, key, null, 3))).toEqual(
        strip(tied.slice(0, 3)),
      );
    });

    // rows 1 and 2 tied across the cut of pages of 2: one of them ends page 1, the other is skipped
    await inRolledBackTransaction(sql, async (tx) => {
      await tie(tx, all[1]!, all[2]!);
      const tied = await family.naive(tx, tenant, key);
      const returned = ids(
        (await walk((b) => family.api(tx, tenant, key, b, 2), 2)).flat(),
      );
      const missing = ids(tied).filter((id) => !returned.includes(id));
      expect(missing).toHaveLength(1);
      expect([tied[1]!.id, tied[2]!.id]).toContain(missing[0]);
      expect(returned).toEqual(ids(tied).filter((id) => id !== missing[0]));
    });
  });

  // workflows_by_status has no per-tenant key (a status exists in every tenant): its walk above
  // already compares with the tenant-filtered naive list, so it has no such test.
  if (family.name !== "api.workflows_by_status")
    test("another tenant's id gives no rows", async () => {
      const { sql } = db();
      const [subject] = await family.subjects(sql);
      const [other] = await sql<
        { tenant_id: string }[]
      >`select tenant_id from app.tenants where tenant_id <> ${subject!.tenant} order by tenant_id limit 1`;
      expect(
        await family.api(sql, other!.tenant_id, subject!.key, null, 1000),
      ).toEqual([]);
    });
});

describe("expired rows", () => {
  test("api.user_conversations leaves out expired conversations and keeps the rest", async () => {
    const { sql } = db();
    const owners = await sql<{ tenant_id: string; user_id: string }[]>`
      select distinct tenant_id, user_id from app.conversations where expires_at <= now() order by 1, 2`;
    expect(owners.length).toBeGreaterThan(0);
    for (const { tenant_id, user_id } of owners) {
      const got = await sql<
        { id: string }[]
      >`select id from api.user_conversations(${tenant_id}, ${user_id}, null, 1000)`;
      const want = await sql<{ id: string; expired: boolean }[]>`
        select id, coalesce(expires_at <= now(), false) as expired from app.conversations where tenant_id = ${tenant_id} and user_id = ${user_id}`;
      expect(got.map((r) => r.id).sort()).toEqual(
        want
          .filter((r) => !r.expired)
          .map((r) => r.id)
          .sort(),
      );
    }
  });

  test("api.conversation_messages leaves out expired messages and keeps the rest", async () => {
    const { sql } = db();
    const rand = prng(31);
    // live conversations (an expired one has no messages at all: test/api/paging.test.ts)
    const conversations = await sql<
      { tenant_id: string; conversation_id: string }[]
    >`
      select distinct m.tenant_id, m.conversation_id from app.messages m
      join app.conversations c on c.tenant_id = m.tenant_id and c.id = m.conversation_id
      where m.expires_at <= now() and (c.expires_at is null or c.expires_at > now()) order by 1, 2`;
    expect(conversations.length).toBeGreaterThan(0);
    for (const { tenant_id, conversation_id } of pick(conversations, 8, rand)) {
      const got = await sql<
        { id: string }[]
      >`select id from api.conversation_messages(${tenant_id}, ${conversation_id}, null, 1000)`;
      const want = await sql<{ id: string; expired: boolean }[]>`
        select id, coalesce(expires_at <= now(), false) as expired from app.messages where tenant_id = ${tenant_id} and conversation_id = ${conversation_id}`;
      expect(want.some((r) => r.expired)).toBe(true);
      expect(got.map((r) => r.id).sort()).toEqual(
        want
          .filter((r) => !r.expired)
          .map((r) => r.id)
          .sort(),
      );
    }
  });
});

describe("api.validate_session", () => {
  test("a live session gives its user, as the before side's two queries do", async () => {
    const { sql } = db();
    const rand = prng(1001);
    const live = await sql<
      { token: string; tenant_id: string; user_id: string }[]
    >`
      select token::text, tenant_id, user_id from app.user_sessions where expires_at > now() + interval '1 minute' order by id`;
    expect(live.length).toBeGreaterThan(0);
    for (const s of pick(live, 10, rand)) {
      const got =
        await sql`select * from api.validate_session(${s.token}::uuid)`;
      expect(got.length).toBe(1);
      expect(got[0]).toMatchObject({
        tenant_id: s.tenant_id,
        user_id: s.user_id,
      });
      expect([...got]).toEqual(await before.validateSession(sql, s.token));
      const [user] =
        await sql`select email, display_name from app.users where tenant_id = ${s.tenant_id} and id = ${s.user_id}`;
      expect(got[0]).toMatchObject(user!);
    }
  });

  test("an expired or unknown session gives no row", async () => {
    const { sql } = db();
    const rand = prng(1002);
    const expired = await sql<{ token: string }[]>`
      select token::text from app.user_sessions where expires_at < now() - interval '1 minute' order by id`;
    expect(expired.length).toBeGreaterThan(0);
    for (const s of pick(expired, 10, rand)) {
      expect([
        ...(await sql`select * from api.validate_session(${s.token}::uuid)`),
      ]).toEqual([]);
      expect(await before.validateSession(sql, s.token)).toEqual([]);
    }
    expect([
      ...(await sql`select * from api.validate_session(gen_random_uuid())`),
    ]).toEqual([]);
  });

  test("a session stops validating the moment it expires", async () => {
    const { sql } = db();
    const [s] = await sql<{ id: string; tenant_id: string; token: string }[]>`
      select id, tenant_id, token::text from app.user_sessions where expires_at > now() + interval '1 minute' order by id limit 1`;
    await inRolledBackTransaction(sql, async (tx) => {
      expect(
        (await tx`select * from api.validate_session(${s!.token}::uuid)`)
          .length,
      ).toBe(1);
      // now() is the transaction's start: expires_at = now() is expired
      await tx`update app.user_sessions set expires_at = now() where tenant_id = ${s!.tenant_id} and id = ${s!.id}`;
      expect(
        (await tx`select * from api.validate_session(${s!.token}::uuid)`)
          .length,
      ).toBe(0);
    });
  });

  test("bad input", async () => {
    const { sql } = db();
    await expectCode(sql`select * from api.validate_session(null)`, "QB001");
  });
});

describe("api.agent_by_name and api.active_agents", () => {
  test("agent_by_name finds the tenant's own agent, as loading all agents and filtering does", async () => {
    const { sql } = db();
    const rand = prng(2001);
    const tenants = await sql<
      { tenant_id: string }[]
    >`select distinct tenant_id from app.agents order by 1`;
    for (const { tenant_id } of pick(tenants, 5, rand)) {
      const agents = await sql<
        { name: string; id: string }[]
      >`select name, id from app.agents where tenant_id = ${tenant_id} order by id`;
      for (const agent of pick(agents, 3, rand)) {
        const got =
          await sql`select * from api.agent_by_name(${tenant_id}, ${agent.name})`;
        expect(got.length).toBe(1);
        expect(got[0]!.id).toBe(agent.id); // the same names exist in every tenant
        expect([...got]).toEqual(
          await before.agentByName(sql, tenant_id, agent.name),
        );
      }
      expect([
        ...(await sql`select * from api.agent_by_name(${tenant_id}, 'no such agent')`),
      ]).toEqual([]);
      const upper = agents[0]!.name.toUpperCase();
      expect([
        ...(await sql`select * from api.agent_by_name(${tenant_id}, ${upper})`),
      ]).toEqual(await before.agentByName(sql, tenant_id, upper));
    }
  });

  test("active_agents of every type and of each type equal the before side's filtering in code", async () => {
    const { sql } = db();
    const rand = prng(2002);
    const tenants = await sql<
      { tenant_id: string }[]
    >`select tenant_id from app.tenants order by 1`;
    let rows = 0;
    for (const { tenant_id } of pick(tenants, 6, rand)) {
      for (const type of [null, "orchestrator", "specialist", "worker"]) {
        const got =
          await sql`select * from api.active_agents(${tenant_id}, ${type})`;
        expect([...got], `tenant ${tenant_id} type ${type}`).toEqual(
          await before.activeAgents(sql, tenant_id, type),
        );
        rows += got.length;
      }
      const [active] = await sql<
        { n: number }[]
      >`select count(*)::int as n from app.agents where tenant_id = ${tenant_id} and is_active`;
      expect(
        (await sql`select * from api.active_agents(${tenant_id})`).length,
      ).toBe(active!.n);
    }
    expect(rows).toBeGreaterThan(0);
  });

  test("bad input", async () => {
    const { sql } = db();
    await expectCode(
      sql`select * from api.agent_by_name(null, 'planner')`,
      "QB001",
    );
    await expectCode(
      sql`select * from api.agent_by_name(-1, 'planner')`,
      "QB005",
    );
    await expectCode(sql`select * from api.agent_by_name(1, null)`, "QB001");
    await expectCode(sql`select * from api.agent_by_name(1, '')`, "QB008");
    await expectCode(sql`select * from api.agent_by_name(1, ' 	 ')`, "QB008");
    await expectCode(sql`select * from api.active_agents(null)`, "QB001");
    await expectCode(sql`select * from api.active_agents(-1)`, "QB005");
    await expectCode(sql`select * from api.active_agents(1, 'bogus')`, "QB008");
    await expectCode(sql`select * from api.active_agents(1, '')`, "QB008");
    await expectCode(
      sql`select * from api.active_agents(1, 'Worker')`,
      "QB008",
    );
  });
});

describe("api.workflow_tasks", () => {
  test("a workflow's tasks, all or in one status, in execution order, as the N+1 before side", async () => {
    const { sql } = db();
    const rand = prng(3001);
    const workflows = await sql<
      { tenant_id: string; id: string }[]
    >`select tenant_id, id from app.workflows order by id`;
    let rows = 0;
    for (const w of pick(workflows, 10, rand)) {
      for (const status of [
        null,
        "pending",
        "running",
        "completed",
        "failed",
        "skipped",
      ]) {
        const got =
          await sql`select * from api.workflow_tasks(${w.tenant_id}, ${w.id}, ${status})`;
        expect([...got], `workflow ${w.id} status ${status}`).toEqual(
          await before.workflowTasks(sql, w.tenant_id, w.id, status),
        );
        rows += got.length;
      }
      const all = await sql<
        { execution_order: number }[]
      >`select * from api.workflow_tasks(${w.tenant_id}, ${w.id})`;
      expect(all.length).toBeGreaterThan(0);
      expect(all.map((t) => t.execution_order)).toEqual(
        all.map((t) => t.execution_order).sort((a, b) => a - b),
      );
    }
    expect(rows).toBeGreaterThan(0);
    // another tenant's workflow id gives nothing
    const w = workflows.find((x) => x.tenant_id !== "1")!;
    expect([
      ...(await sql`select * from api.workflow_tasks(1, ${w.id})`),
    ]).toEqual([]);
  });

  test("bad input", async () => {
    const { sql } = db();
    await expectCode(sql`select * from api.workflow_tasks(null, 1)`, "QB001");
    await expectCode(sql`select * from api.workflow_tasks(-1, 1)`, "QB005");
    await expectCode(sql`select * from api.workflow_tasks(1, null)`, "QB001");
    await expectCode(
      sql`select * from api.workflow_tasks(1, 1, 'bogus')`,
      "QB008",
    );
    await expectCode(sql`select * from api.workflow_tasks(1, 1, '')`, "QB008");
  });
});

describe("allowed values follow the tables' check constraints", () => {
  // Every value a check constraint admits is accepted, and nothing else: the functions' lists
  // cannot drift from the schema unnoticed.
  const cases = [
    {
      constraint: "agents_type_check",
      call: (sql: postgres.Sql, v: string) =>
        sql`select * from api.active_agents(1, ${v})`,
    },
    {
      constraint: "workflows_status_check",
      call: (sql: postgres.Sql, v: string) =>
        sql`select * from api.workflows_by_status(1, ${v})`,
    },
    {
      constraint: "workflow_tasks_status_check",
      call: (sql: postgres.Sql, v: string) =>
        sql`select * from api.workflow_tasks(1, 1, ${v})`,
    },
  ];
  test.each(cases)("$constraint", async ({ constraint, call }) => {
    const { sql } = db();
    const [row] = await sql<{ def: string }[]>`
      select pg_get_constraintdef(oid) as def from pg_constraint where conname = ${constraint} and connamespace = 'app'::regnamespace`;
    const values = [...row!.def.matchAll(/'([^']*)'::text/g)].map((m) => m[1]!);
    expect(values.length).toBeGreaterThan(1);
    for (const v of values) await call(sql, v);
    await expectCode(call(sql, "bogus"), "QB008");
  });
});

describe("bad input of the keyset functions", () => {
  test("api.user_conversations", async () => {
    const { sql } = db();
    await expectCode(
      sql`select * from api.user_conversations(null, 1)`,
      "QB001",
    );
    await expectCode(sql`select * from api.user_conversations(-1, 1)`, "QB005");
    await expectCode(
      sql`select * from api.user_conversations(1, null)`,
      "QB001",
    );
    await expectCode(
      sql`select * from api.user_conversations(1, 1, null, null)`,
      "QB001",
    );
    await expectCode(
      sql`select * from api.user_conversations(1, 1, null, 0)`,
      "QB004",
    );
    await expectCode(
      sql`select * from api.user_conversations(1, 1, null, 1001)`,
      "QB004",
    );
    await expectCode(
      sql`select * from api.user_conversations(1, 1, 'infinity')`,
      "QB006",
    );
    await expectCode(
      sql`select * from api.user_conversations(1, 1, '-infinity')`,
      "QB006",
    );
    // the guards run before anything else: an unknown tenant wins over a bad limit
    await expectCode(
      sql`select * from api.user_conversations(-1, 1, 'infinity', 0)`,
      "QB005",
    );
  });

  test("api.conversation_messages", async () => {
    const { sql } = db();
    await expectCode(
      sql`select * from api.conversation_messages(null, 1)`,
      "QB001",
    );
    await expectCode(
      sql`select * from api.conversation_messages(-1, 1)`,
      "QB005",
    );
    await expectCode(
      sql`select * from api.conversation_messages(1, null)`,
      "QB001",
    );
    await expectCode(
      sql`select * from api.conversation_messages(1, 1, null, 0)`,
      "QB004",
    );
    await expectCode(
      sql`select * from api.conversation_messages(1, 1, null, 1001)`,
      "QB004",
    );
    await expectCode(
      sql`select * from api.conversation_messages(1, 1, 'infinity')`,
      "QB006",
    );
    await expectCode(
      sql`select * from api.conversation_messages(1, 1, '-infinity')`,
      "QB006",
    );
  });

  test("api.workflows_by_status", async () => {
    const { sql } = db();
    await expectCode(
      sql`select * from api.workflows_by_status(null, 'completed')`,
      "QB001",
    );
    await expectCode(
      sql`select * from api.workflows_by_status(-1, 'completed')`,
      "QB005",
    );
    await expectCode(
      sql`select * from api.workflows_by_status(1, null)`,
      "QB001",
    );
    await expectCode(
      sql`select * from api.workflows_by_status(1, 'bogus')`,
      "QB008",
    );
    await expectCode(
      sql`select * from api.workflows_by_status(1, '')`,
      "QB008",
    );
    await expectCode(
      sql`select * from api.workflows_by_status(1, 'completed', null, 0)`,
      "QB004",
    );
    await expectCode(
      sql`select * from api.workflows_by_status(1, 'completed', null, 1001)`,
      "QB004",
    );
    await expectCode(
      sql`select * from api.workflows_by_status(1, 'completed', 'infinity')`,
      "QB006",
    );
  });
});
