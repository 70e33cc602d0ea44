// api.upsert_agents, api.set_agents_active, api.create_workflow and api.set_task_status
// (issue 11, item 7): what they write, checked against plain queries on the tables (as the
// superuser) and read back through api.agent_by_name, api.active_agents,
// api.workflows_by_status and api.workflow_tasks; every transition of the workflow status rule;
// two callers on one workflow.
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

const db = useTestDatabase("agent_writes");

let app: postgres.Sql;
let tenant: string;
let other: string;
let agents: string[]; // ids of the tenant's agents
let otherAgent: string;

type Client = postgres.Sql | postgres.ReservedSql;
const upsert = (sql: Client, items: unknown[]) =>
  sql<
    { position: number; id: string; action: string }[]
  >`select position, id::text, action from api.upsert_agents(${tenant}, ${batch(items)}::text::jsonb)`;
const setActive = async (sql: Client, ids: string[], active: boolean) =>
  (
    await sql<
      { r: Record<string, number> }[]
    >`select api.set_agents_active(${tenant}, ${ids}::bigint[], ${active}) as r`
  )[0]!.r;
const create = (
  sql: Client,
  name: string,
  tasks: unknown[],
  agent: string | null = null,
) =>
  sql<
    {
      position: number;
      id: string;
      workflow_id: string;
      execution_order: number;
    }[]
  >`
    select position, id::text, workflow_id::text, execution_order from api.create_workflow(${tenant}, ${name}, ${batch(tasks)}::text::jsonb, ${agent}::text::bigint)`;
interface TaskResult {
  updated: number;
  unchanged: number;
  not_found: number;
  workflows: { id: number; status: string }[];
}
const setTasks = async (sql: Client, ids: string[], status: string) =>
  (
    await sql<
      { r: TaskResult }[]
    >`select api.set_task_status(${tenant}, ${ids}::bigint[], ${status}) as r`
  )[0]!.r;
const workflowRow = async (id: string) =>
  (
    await db().sql<
      { status: string; completed_at: string | null }[]
    >`select status, completed_at::text from app.workflows where id = ${id}`
  )[0]!;

beforeAll(async () => {
  const { sql, url } = db();
  [tenant, other] = await twoTenantsWithData(sql);
  agents = (
    await sql<
      { id: string }[]
    >`select id::text from app.agents where tenant_id = ${tenant} order by id`
  ).map((r) => r.id);
  otherAgent = (
    await sql<
      { id: string }[]
    >`select id::text from app.agents where tenant_id = ${other} order by id limit 1`
  )[0]!.id;
  app = await connectAs(url, "querybudget_app");
});

afterAll(async () => {
  await app?.end();
});

describe("api.upsert_agents", () => {
  test("inserts new names in batch order, updates existing ones; the readers see both", async () => {
    // Setup
    const [existing] = await db()
      .sql`select id::text, name, is_active, config from app.agents where tenant_id = ${tenant} order by id limit 1`;
    // Action
    const result = await upsert(app, [
      { name: "router", type: "orchestrator" },
      { name: existing!.name, type: "specialist" },
      {
        name: "indexer",
        type: "worker",
        is_active: false,
        config: { model: "small" },
      },
    ]);
    // Assertions
    expect(result.map((r) => [r.position, r.action])).toEqual([
      [0, "inserted"],
      [1, "updated"],
      [2, "inserted"],
    ]);
    expect(result[1]!.id).toBe(existing!.id);
    expect(BigInt(result[0]!.id) < BigInt(result[2]!.id)).toBe(true);
    const stored = await db()
      .sql`select id::text, name, type, is_active, config from app.agents where id = any(${result.map((r) => r.id)}::bigint[]) order by id`;
    expect(stored).toContainEqual({
      id: existing!.id,
      name: existing!.name,
      type: "specialist",
      is_active: existing!.is_active,
      config: existing!.config,
    });
    expect(stored).toContainEqual({
      id: result[0]!.id,
      name: "router",
      type: "orchestrator",
      is_active: true,
      config: {},
    });
    expect(stored).toContainEqual({
      id: result[2]!.id,
      name: "indexer",
      type: "worker",
      is_active: false,
      config: { model: "small" },
    });
    const [byName] =
      await app`select id::text, type, is_active from api.agent_by_name(${tenant}, 'indexer')`;
    expect(byName).toEqual({
      id: result[2]!.id,
      type: "worker",
      is_active: false,
    });
    const active = (
      await app`select id::text from api.active_agents(${tenant})`
    ).map((r) => r.id);
    const reference = (
      await db()
        .sql`select a.id::text as id from app.agents a where a.tenant_id = ${tenant} and a.is_active order by a.type, a.id`
    ).map((r) => r.id);
    expect(active).toEqual(reference);
    expect(active).toContain(result[0]!.id);
  });

  test("a name twice in a batch is one agent, the last item wins; a replay updates the same ids", async () => {
    // Action
    const items = [
      { name: "dup", type: "worker", config: { v: 1 } },
      { name: "other-dup", type: "worker" },
      { name: "dup", type: "specialist", config: { v: 2 } },
    ];
    const first = await upsert(app, items);
    const replay = await upsert(app, items);
    // Assertions
    expect(first.map((r) => r.action)).toEqual([
      "inserted",
      "inserted",
      "inserted",
    ]);
    expect(first[0]!.id).toBe(first[2]!.id);
    expect(BigInt(first[0]!.id) < BigInt(first[1]!.id)).toBe(true);
    expect(replay.map((r) => r.id)).toEqual(first.map((r) => r.id));
    expect(replay.map((r) => r.action)).toEqual([
      "updated",
      "updated",
      "updated",
    ]);
    const [dup] = await db()
      .sql`select type, config from app.agents where tenant_id = ${tenant} and name = 'dup'`;
    expect(dup).toEqual({ type: "specialist", config: { v: 2 } });
  });

  test("the same name in another tenant is another agent; malformed items: QB011", async () => {
    // Setup
    const [theirs] = await db()
      .sql`select name, type from app.agents where tenant_id = ${other} order by id limit 1`;
    const [before] = await db()
      .sql`select md5(string_agg(a::text, '' order by id)) as sum from app.agents a where tenant_id = ${other}`;
    // Action
    const [mine] = await upsert(app, [{ name: theirs!.name, type: "worker" }]);
    const bad = await upsert(app, [{ name: "x", type: "boss" }]).then(
      () => "accepted",
      (e: Error & { code?: string }) => `${e.code} ${e.message}`,
    );
    const badConfig = await upsert(app, [
      { name: "x", type: "worker", config: [1] },
    ]).then(
      () => "accepted",
      (e: Error & { code?: string }) => `${e.code} ${e.message}`,
    );
    // Assertions
    const [after] = await db()
      .sql`select md5(string_agg(a::text, '' order by id)) as sum from app.agents a where tenant_id = ${other}`;
    expect(after).toEqual(before);
    const [row] = await db()
      .sql`select tenant_id::text from app.agents where id = ${mine!.id}`;
    expect(row!.tenant_id).toBe(tenant);
    expect(bad).toMatch(/^QB011 p_agents\[0\]\.type: must be one of/);
    expect(badConfig).toMatch(
      /^QB011 p_agents\[0\]\.config: must be an object/,
    );
  });

  test("the same number of statements for 1 and for 1,000 agents", async () => {
    const counter = postgres(db().url, { max: 1, onnotice: () => {} });
    try {
      const one = await statementsOf(counter, (c) =>
        upsert(c, [{ name: "count-0", type: "worker" }]),
      );
      const many = await statementsOf(counter, (c) =>
        upsert(
          c,
          itemsOf(1000, (i) => ({ name: `count-${i}`, type: "worker" })),
        ),
      );
      expect(one.own).toBeGreaterThan(0);
      expect(many.own).toBe(one.own);
    } finally {
      await counter.end();
    }
  });
});

describe("api.set_agents_active", () => {
  test("counts updated, unchanged and not found; api.active_agents follows; a replay changes nothing", async () => {
    // Setup
    const [a, b] = await upsert(app, [
      { name: "act-a", type: "worker" },
      { name: "act-b", type: "worker", is_active: false },
    ]);
    const ids = [a!.id, b!.id, b!.id, otherAgent, "987654321"];
    // Action
    const off = await setActive(app, ids, false);
    const replay = await setActive(app, ids, false);
    // Assertions
    expect(off).toEqual({ updated: 1, unchanged: 1, not_found: 2 });
    expect(replay).toEqual({ updated: 0, unchanged: 2, not_found: 2 });
    const active = (
      await app`select id::text from api.active_agents(${tenant}, 'worker')`
    ).map((r) => r.id);
    expect(active).not.toContain(a!.id);
    expect(await setActive(app, [a!.id], true)).toEqual({
      updated: 1,
      unchanged: 0,
      not_found: 0,
    });
    expect(
      (
        await app`select id::text from api.active_agents(${tenant}, 'worker')`
      ).map((r) => r.id),
    ).toContain(a!.id);
    const [theirs] = await db()
      .sql`select tenant_id::text from app.agents where id = ${otherAgent}`;
    expect(theirs!.tenant_id).toBe(other);
  });

  test("the same number of statements for 1 and for all the tenant's agents", async () => {
    const counter = postgres(db().url, { max: 1, onnotice: () => {} });
    try {
      const one = await statementsOf(counter, (c) =>
        setActive(c, agents.slice(0, 1), false),
      );
      const many = await statementsOf(counter, (c) =>
        setActive(c, agents, false),
      );
      expect(one.own).toBeGreaterThan(0);
      expect(many).toEqual(one);
    } finally {
      await counter.end();
    }
  });
});

describe("api.create_workflow", () => {
  test("the workflow and its tasks in batch order; api.workflows_by_status and api.workflow_tasks return them", async () => {
    // Setup
    const tasks = [
      { name: "Retrieve", agent_id: Number(agents[3]) },
      { name: "Summarize" },
      { name: "Report", agent_id: Number(agents[5]) },
    ];
    // Action
    const made = await create(app, "Research run", tasks, agents[0]!);
    // Assertions
    expect(made.map((t) => [t.position, t.execution_order])).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    const workflow = made[0]!.workflow_id;
    expect(new Set(made.map((t) => t.workflow_id)).size).toBe(1);
    const listed =
      await app`select id::text, agent_id::text, name, status, execution_order from api.workflow_tasks(${tenant}, ${workflow})`;
    const stored = await db()
      .sql`select id::text, agent_id::text, name, status, execution_order from app.workflow_tasks where workflow_id = ${workflow} order by execution_order, id`;
    expect(listed).toEqual(stored);
    expect(listed.map((t) => [t.id, t.name, t.agent_id, t.status])).toEqual(
      made.map((t, i) => [
        t.id,
        tasks[i]!.name,
        tasks[i]!.agent_id === undefined ? null : String(tasks[i]!.agent_id),
        "pending",
      ]),
    );
    const [newest] =
      await app`select id::text, name, agent_id::text, status from api.workflows_by_status(${tenant}, 'pending', null, 1)`;
    expect(newest).toEqual({
      id: workflow,
      name: "Research run",
      agent_id: agents[0],
      status: "pending",
    });
  });

  test("an agent of another tenant or unknown, for the workflow or a task: QB009 naming it, nothing written", async () => {
    // Setup
    const { sql } = db();
    const [before] =
      await sql`select (select count(*) from app.workflows)::int as w, (select count(*) from app.workflow_tasks)::int as t`;
    // Action
    const messages = [];
    for (const [tasks, agent] of [
      [[{ name: "a" }, { name: "b", agent_id: Number(otherAgent) }], null],
      [[{ name: "a", agent_id: 987654321 }], agents[0]!],
      [[{ name: "a" }], otherAgent],
    ] as [unknown[], string | null][]) {
      messages.push(
        await create(app, "w", tasks, agent).then(
          () => "accepted",
          (e: Error & { code?: string }) => `${e.code} ${e.message}`,
        ),
      );
    }
    // Assertions
    expect(messages[0]).toMatch(/^QB009 p_tasks\[1\]\.agent_id: unknown agent/);
    expect(messages[1]).toMatch(/^QB009 p_tasks\[0\]\.agent_id: unknown agent/);
    expect(messages[2]).toMatch(/^QB009 p_agent_id: unknown agent/);
    const [after] =
      await sql`select (select count(*) from app.workflows)::int as w, (select count(*) from app.workflow_tasks)::int as t`;
    expect(after).toEqual(before);
    expect(await sqlState(create(app, "w", []))).toBe("QB002");
    expect(await sqlState(create(app, " ", [{ name: "a" }]))).toBe("QB008");
    expect(
      await sqlState(create(app, "w", [{ name: "a", execution_order: 3 }])),
    ).toBe("QB011");
  });

  test("10,000 tasks in one call; the same number of statements for 1 and for 1,000 tasks", async () => {
    const made = await create(
      app,
      "big",
      itemsOf(10_000, (i) => ({ name: `t${i}` })),
    );
    expect(made.at(-1)!.execution_order).toBe(10_000);
    const counter = postgres(db().url, { max: 1, onnotice: () => {} });
    try {
      const one = await statementsOf(counter, (c) =>
        create(c, "count", [{ name: "a", agent_id: Number(agents[2]) }]),
      );
      const many = await statementsOf(counter, (c) =>
        create(
          c,
          "count",
          itemsOf(1000, (i) => ({
            name: `t${i}`,
            agent_id: Number(agents[2 + (i % 8)]),
          })),
        ),
      );
      expect(one.own).toBeGreaterThan(0);
      expect(many.own).toBe(one.own);
    } finally {
      await counter.end();
    }
  });
});

describe("api.set_task_status: the workflow's status follows its tasks", () => {
  /** A new workflow of n tasks: its id and task ids in order. */
  const fresh = async (n: number) => {
    const made = await create(
      app,
      "rule",
      itemsOf(n, (i) => ({ name: `step ${i + 1}` })),
    );
    return { id: made[0]!.workflow_id, tasks: made.map((t) => t.id) };
  };

  test("every transition of the rule, and completed_at", async () => {
    // Setup
    const w = await fresh(3);
    const [t1, t2, t3] = w.tasks as [string, string, string];
    const steps: [string[], string, string][] = [
      [[t1], "running", "executing"], // pending -> executing: one runs
      [[t1], "completed", "executing"], // one done, others pending: still executing
      [[t2], "skipped", "executing"],
      [[t3], "completed", "completed"], // all completed or skipped -> completed
      [[t3], "failed", "failed"], // completed -> failed: one fails
      [[t3], "running", "executing"], // failed -> executing: the failed one retried
      [[t2], "failed", "failed"], // executing -> failed
      [[t1, t2, t3], "pending", "pending"], // everything reset -> pending
      [[t1, t2, t3], "skipped", "completed"], // pending -> completed at once (all skipped)
    ];
    // Action, Assertions
    let completedAt: string | null = null;
    for (const [ids, status, expected] of steps) {
      const result = await setTasks(app, ids, status);
      const row = await workflowRow(w.id);
      expect(result.workflows, `${status} -> ${expected}`).toEqual([
        { id: Number(w.id), status: expected },
      ]);
      expect(row.status).toBe(expected);
      if (expected === "completed" || expected === "failed")
        expect(row.completed_at).not.toBeNull();
      else expect(row.completed_at).toBeNull();
      completedAt = row.completed_at;
      // the readers see it
      const [listed] =
        await app`select id::text from api.workflows_by_status(${tenant}, ${expected}, null, 1)`;
      expect(listed!.id).toBe(w.id);
      const tasks =
        await app`select id::text, status from api.workflow_tasks(${tenant}, ${w.id})`;
      expect(tasks).toEqual(
        await db()
          .sql`select id::text, status from app.workflow_tasks where workflow_id = ${w.id} order by execution_order, id`,
      );
    }
    expect(completedAt).not.toBeNull();
  });

  test("a cancelled workflow stays cancelled; a replay changes nothing; another tenant's tasks are not found", async () => {
    // Setup
    const w = await fresh(2);
    await db()
      .sql`update app.workflows set status = 'cancelled', completed_at = now() where id = ${w.id}`;
    const [theirs] = await db()
      .sql`select id::text, status from app.workflow_tasks where tenant_id = ${other} order by id limit 1`;
    // Action
    const first = await setTasks(
      app,
      [...w.tasks, w.tasks[0]!, theirs!.id],
      "completed",
    );
    const replay = await setTasks(app, w.tasks, "completed");
    // Assertions
    expect(first).toEqual({
      updated: 2,
      unchanged: 0,
      not_found: 1,
      workflows: [{ id: Number(w.id), status: "cancelled" }],
    });
    expect(replay).toEqual({
      updated: 0,
      unchanged: 2,
      not_found: 0,
      workflows: [],
    });
    expect((await workflowRow(w.id)).status).toBe("cancelled");
    const [still] = await db()
      .sql`select status from app.workflow_tasks where id = ${theirs!.id}`;
    expect(still!.status).toBe(theirs!.status);
    expect(await sqlState(setTasks(app, w.tasks, "executing"))).toBe("QB008");
  });

  test("two callers finishing the last two tasks of one workflow at once: it ends completed, not executing", async () => {
    // Setup
    const w = await fresh(2);
    await setTasks(app, w.tasks, "running");
    const c1 = await connectAs(db().url, "querybudget_app");
    const c2 = await connectAs(db().url, "querybudget_app");
    try {
      // Action: c1 finishes task 1 and holds its transaction; c2 finishes task 2 and must wait
      await c1.unsafe("begin");
      const r1 = await setTasks(c1, [w.tasks[0]!], "completed");
      await c2.unsafe("begin");
      let r2done = false;
      const r2 = setTasks(c2, [w.tasks[1]!], "completed").then(
        (r) => ((r2done = true), r),
      );
      await new Promise((r) => setTimeout(r, 300));
      const waited = !r2done;
      await c1.unsafe("commit");
      const second = await r2;
      await c2.unsafe("commit");
      // Assertions
      expect(
        waited,
        "the second caller waits for the first's lock on the workflow",
      ).toBe(true);
      expect(r1.workflows).toEqual([{ id: Number(w.id), status: "executing" }]);
      expect(second.workflows).toEqual([
        { id: Number(w.id), status: "completed" },
      ]);
      expect((await workflowRow(w.id)).status).toBe("completed");
    } finally {
      await Promise.all([c1.end(), c2.end()]);
    }
  });

  test("two callers updating tasks of the same two workflows in opposite orders do not deadlock", async () => {
    // Setup
    const a = await fresh(2);
    const b = await fresh(2);
    const c1 = await connectAs(db().url, "querybudget_app");
    const c2 = await connectAs(db().url, "querybudget_app");
    try {
      // Action
      await c1.unsafe("begin");
      await c2.unsafe("begin");
      const p1 = setTasks(c1, [a.tasks[0]!, b.tasks[1]!], "running").then(
        async (r) => (await c1.unsafe("commit"), r),
      );
      const p2 = setTasks(
        c2,
        [b.tasks[0]!, a.tasks[1]!].reverse(),
        "running",
      ).then(async (r) => (await c2.unsafe("commit"), r));
      const [r1, r2] = await Promise.all([p1, p2]);
      // Assertions
      expect(r1.updated + r2.updated).toBe(4);
      expect([
        (await workflowRow(a.id)).status,
        (await workflowRow(b.id)).status,
      ]).toEqual(["executing", "executing"]);
    } finally {
      await Promise.all([c1.end(), c2.end()]);
    }
  });

  test("the same number of statements for 1 and for 1,000 tasks", async () => {
    const w = await fresh(1000);
    const counter = postgres(db().url, { max: 1, onnotice: () => {} });
    try {
      const one = await statementsOf(counter, (c) =>
        setTasks(c, w.tasks.slice(0, 1), "running"),
      );
      const many = await statementsOf(counter, (c) =>
        setTasks(c, w.tasks, "running"),
      );
      expect(one.own).toBeGreaterThan(0);
      expect(many).toEqual(one);
    } finally {
      await counter.end();
    }
  });
});
