// The platform of the seeds, end to end, through the api alone: a tenant onboarded, users
// logged in, a connector synced twice (the second sync brings nothing new and respects the
// tombstone of a deleted document), chunks stored, chunking operations queued, claimed by four
// concurrent workers and finished, a conversation paged back exactly, a knowledge gap opened and
// answered, a workflow run to completion. Every step runs as querybudget_app (no table
// privilege); what the readers return is checked against plain queries on the tables.
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { useTestDatabase } from "../harness/database.ts";
import { connectAs } from "../harness/roles.ts";

const db = useTestDatabase("end_to_end");
let app: postgres.Sql;
let workers: postgres.Sql[] = [];
const json = (v: unknown) => JSON.stringify(v);

// What the steps share, filled in as they go (the tests of this file run in order).
const s = {
  tenant: "",
  users: [] as string[],
  connector: "",
  collection: "",
  documents: [] as string[],
  operations: [] as string[],
  conversation: "",
};

beforeAll(async () => {
  app = await connectAs(db().url, "querybudget_app");
  workers = await Promise.all(
    [1, 2, 3, 4].map(() => connectAs(db().url, "querybudget_app")),
  );
});
afterAll(async () => {
  await Promise.all([app, ...workers].map((c) => c.end({ timeout: 5 })));
});

describe("a tenant's first day, through the api alone", () => {
  test("onboarding: a tenant, its users, a login", async () => {
    // Action
    const [tenant] = await app<
      { tenant_id: string }[]
    >`select tenant_id::text from api.create_tenant('Acme end to end')`;
    s.tenant = tenant!.tenant_id;
    const users = await app<{ id: string; status: string }[]>`
      select id::text, status from api.create_users(${s.tenant}, ${json([
        { email: "ada@acme.example", display_name: "Ada" },
        { email: "alan@acme.example", display_name: "Alan" },
      ])}::text::jsonb) order by position`;
    s.users = users.map((u) => u.id);
    const [login] = await app<
      { id: string }[]
    >`select id::text from api.user_by_email(${s.tenant}, 'ada@acme.example')`;
    const [session] = await app<
      { session_token: string }[]
    >`select session_token::text from api.create_session(${s.tenant}, ${login!.id}, interval '1 day')`;
    const [valid] = await app<
      { tenant_id: string; user_id: string }[]
    >`select tenant_id::text, user_id::text from api.validate_session(${session!.session_token}::uuid)`;

    // Assertions
    expect(users.map((u) => u.status)).toEqual(["created", "created"]);
    expect(login!.id).toBe(s.users[0]);
    expect(valid).toEqual({ tenant_id: s.tenant, user_id: s.users[0] });
    const [row] = await db().sql<{ n: number }[]>`
      select count(*)::int as n from app.users where tenant_id = ${s.tenant}`;
    expect(row!.n).toBe(2);
  });

  test("a connector synced twice: nothing new the second time, a deleted document stays deleted", async () => {
    // Setup
    const [connector] = await app<
      { id: string }[]
    >`select id::text from api.create_connector(${s.tenant}, 'web', 'Handbook site')`;
    const [collection] = await app<
      { id: string }[]
    >`select id::text from api.create_collection(${s.tenant}, ${s.users[0]!}, 'Handbook')`;
    s.connector = connector!.id;
    s.collection = collection!.id;
    const pages = [1, 2, 3, 4, 5].map((i) => ({
      external_id: `web:${i}`,
      title: `Page ${i}`,
      content_size: 100 * i,
    }));
    const sync = async () =>
      (
        await app<
          { r: Record<string, number> }[]
        >`select api.sync_documents(${s.tenant}, ${s.connector}, ${s.collection}, ${json(pages)}::text::jsonb) as r`
      )[0]!.r;

    // Action
    const first = await sync();
    const docs = await db().sql<{ id: string }[]>`
      select id::text from app.documents where tenant_id = ${s.tenant} order by external_id`;
    await app`select api.delete_documents(${s.tenant}, ${[docs[4]!.id]}::bigint[], true)`;
    const second = await sync();

    // Assertions
    expect(first).toEqual({
      inserted: 5,
      updated: 0,
      unchanged: 0,
      skipped_tombstoned: 0,
    });
    expect(second).toEqual({
      inserted: 0,
      updated: 0,
      unchanged: 4,
      skipped_tombstoned: 1,
    });
    s.documents = docs.slice(0, 4).map((d) => d.id);
    const [live] = await db().sql<{ n: number }[]>`
      select count(*)::int as n from app.documents where tenant_id = ${s.tenant}`;
    expect(live!.n).toBe(4);
  });

  test("chunks stored, read back in document and chunk order", async () => {
    // Setup: three chunks per document, given out of order
    const chunks = s.documents.flatMap((d) =>
      [2, 0, 1].map((k) => ({
        document_id: Number(d),
        chunk_index: k,
        content: `document ${d}, chunk ${k}: ${"x".repeat(10 * (k + 1))}`,
      })),
    );

    // Action
    await app`select api.replace_chunks(${s.tenant}, ${s.collection}, ${json(chunks)}::text::jsonb)`;
    const read = await app<
      { document_id: string; chunk_index: number; size: number }[]
    >`
      select document_id::text, chunk_index, size
      from api.chunks_for_documents(${s.tenant}, ${s.collection}, ${s.documents}::bigint[])`;

    // Assertions: what a plain query finds, in the same order
    const plain = await db().sql<
      { document_id: string; chunk_index: number; size: number }[]
    >`
      select document_id::text, chunk_index, size from app.chunks
      where tenant_id = ${s.tenant} and collection_id = ${s.collection}
      order by document_id, chunk_index`;
    expect(read).toEqual(plain);
    expect(read).toHaveLength(12);
  });

  test("chunking operations queued, claimed by four workers at once, finished once each", async () => {
    // Setup
    const queued = await app<{ id: string }[]>`
      select id::text from api.enqueue_operations(${s.tenant}, ${s.collection}, 'chunking',
        ${json(Array.from({ length: 20 }, () => ({ metadata: { strategy: "semantic" } })))}::text::jsonb)`;
    s.operations = queued.map((q) => q.id);

    // Action: each worker claims 3 at a time until the queue is empty, then finishes what it got
    const work = async (worker: postgres.Sql) => {
      const mine: string[] = [];
      for (;;) {
        const got = await worker<
          { id: string }[]
        >`select id::text from api.claim_operations(${s.tenant}, 'chunking', 3)`;
        if (got.length === 0) return mine;
        mine.push(...got.map((g) => g.id));
        const results = got.map((g) => ({
          id: Number(g.id),
          status: "completed",
          processing_time: 1.5,
        }));
        await worker`select api.finish_operations(${s.tenant}, ${json(results)}::text::jsonb)`;
      }
    };
    const claimed = await Promise.all(workers.map(work));

    // Assertions: every operation claimed once, by one worker; all completed; a replay changes nothing
    const all = claimed.flat();
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort()).toEqual([...s.operations].sort());
    const [replay] = await app<{ r: Record<string, number> }[]>`
      select api.finish_operations(${s.tenant}, ${json([{ id: Number(s.operations[0]), status: "failed" }])}::text::jsonb) as r`;
    expect(replay!.r).toMatchObject({ finished: 0, already_finished: 1 });
    const [done] = await db().sql<{ n: number }[]>`
      select count(*)::int as n from app.operations where tenant_id = ${s.tenant} and status = 'completed'`;
    expect(done!.n).toBe(20);
  });

  test("the collection's statistics count what was written", async () => {
    // Action
    const [stats] = await app<
      {
        s: {
          operations: Record<string, number>;
          chunks: Record<string, number>;
        };
      }[]
    >`select api.collection_statistics(${s.tenant}, ${s.collection}, true) as s`;

    // Assertions
    const [plain] = await db().sql<
      { ops: number; completed: number; chunks: number; docs: number }[]
    >`
      select (select count(*)::int from app.operations where tenant_id = ${s.tenant} and collection_id = ${s.collection} and type = 'chunking') as ops,
             (select count(*)::int from app.operations where tenant_id = ${s.tenant} and collection_id = ${s.collection} and status = 'completed') as completed,
             (select count(*)::int from app.chunks where tenant_id = ${s.tenant} and collection_id = ${s.collection}) as chunks,
             (select count(distinct document_id)::int from app.chunks where tenant_id = ${s.tenant} and collection_id = ${s.collection}) as docs`;
    expect(stats!.s.operations).toMatchObject({
      total: plain!.ops,
      completed: plain!.completed,
    });
    expect(stats!.s.chunks).toMatchObject({
      total: plain!.chunks,
      unique_documents: plain!.docs,
    });
  });

  test("a conversation of three chat turns, paged back exactly (each turn shares one created_at)", async () => {
    // Setup: three turns, one call each (a turn's messages share now())
    const [conversation] = await app<
      { id: string }[]
    >`select id::text from api.start_conversation(${s.tenant}, ${s.users[0]!}, 'How do I file expenses?')`;
    s.conversation = conversation!.id;
    for (const turn of [1, 2, 3]) {
      const messages = [
        { role: "user", content: `question ${turn}`, token_count: 5 },
        { role: "tool", content: `search ${turn}` },
        { role: "tool", content: `citation ${turn}` },
        { role: "assistant", content: `answer ${turn}`, token_count: 40 },
      ];
      await app`select api.add_messages(${s.tenant}, ${s.conversation}, ${json(messages)}::text::jsonb)`;
    }

    // Action: pages of 5, newest first, with the exact cursor (created_at as text, sent back as
    // text: a $n::timestamptz parameter would go through a JavaScript Date, cut to milliseconds)
    const seen: string[] = [];
    let cursor: { at: string | null; id: string | null } = {
      at: null,
      id: null,
    };
    for (;;) {
      const page = await app<{ id: string; at: string }[]>`
        select id::text, created_at::text as at
        from api.conversation_messages(${s.tenant}, ${s.conversation}, ${cursor.at}::text::timestamptz, 5, ${cursor.id}::bigint)`;
      if (page.length === 0) break;
      seen.push(...page.map((m) => m.id));
      cursor = { at: page.at(-1)!.at, id: page.at(-1)!.id };
    }

    // Assertions: every message once, in the plain query's order
    const plain = await db().sql<{ id: string }[]>`
      select id::text from app.messages where tenant_id = ${s.tenant} and conversation_id = ${s.conversation}
      order by created_at desc, id desc`;
    expect(seen).toEqual(plain.map((m) => m.id));
    expect(seen).toHaveLength(12);
  });

  test("a knowledge gap opened and answered", async () => {
    // Action
    const [gap] = await app<{ id: string }[]>`
      select id::text from api.open_gaps(${s.tenant}, ${json([{ title: "Who approves travel?", category: "process" }])}::text::jsonb)`;
    await app`select api.answer_gap(${s.tenant}, ${gap!.id}, 'The team lead, then finance.')`;
    const answers = await app<
      { content: string }[]
    >`select content from api.gap_answers(${s.tenant}, ${gap!.id})`;
    const [stats] = await app<
      { s: { by_status: Record<string, number> } }[]
    >`select api.knowledge_gap_stats(${s.tenant}) as s`;

    // Assertions
    expect(answers.map((a) => a.content)).toEqual([
      "The team lead, then finance.",
    ]);
    expect(stats!.s.by_status).toMatchObject({ answered: 1 });
  });

  test("a workflow run to completion: its status follows its tasks", async () => {
    // Setup
    const agents = await app<{ id: string }[]>`
      select id::text from api.upsert_agents(${s.tenant}, ${json([
        { name: "planner", type: "orchestrator" },
        { name: "reader", type: "worker" },
      ])}::text::jsonb) order by position`;
    const tasks = await app<{ id: string; workflow_id: string }[]>`
      select id::text, workflow_id::text from api.create_workflow(${s.tenant}, 'Summarize the handbook',
        ${json([{ name: "fetch", agent_id: Number(agents[1]!.id) }, { name: "summarize" }])}::text::jsonb, ${agents[0]!.id})
      order by position`;
    const workflow = tasks[0]!.workflow_id;
    const statusOf = async () =>
      (
        await db().sql<
          { status: string }[]
        >`select status from app.workflows where tenant_id = ${s.tenant} and id = ${workflow}`
      )[0]!.status;

    // Action and assertions, step by step
    await app`select api.set_task_status(${s.tenant}, ${[tasks[0]!.id]}::bigint[], 'running')`;
    expect(await statusOf()).toBe("executing");
    await app`select api.set_task_status(${s.tenant}, ${tasks.map((t) => t.id)}::bigint[], 'completed')`;
    expect(await statusOf()).toBe("completed");
    const listed = await app<
      { id: string }[]
    >`select id::text from api.workflows_by_status(${s.tenant}, 'completed')`;
    expect(listed.map((w) => w.id)).toContain(workflow);
    const ordered = await app<
      { name: string }[]
    >`select name from api.workflow_tasks(${s.tenant}, ${workflow})`;
    expect(ordered.map((t) => t.name)).toEqual(["fetch", "summarize"]);
  });
});
