// The "before" side of the write api's conversations, knowledge gaps, agents and workflows
// (issue 11, items 5-7): the seeds' ORM pattern, one row per statement. Seed 003 added
// citations one by one before "bulk insert citations instead of one-by-one" (db.add_all), and
// seeds 002 and 004 load a row to change it, then write it back (N+1): a message, a gap, an
// agent, a task at a time. Same arguments as the api routines (a batch as a JavaScript array
// instead of jsonb) and comparable results, for the side-by-side benchmark. Run them inside a
// transaction (BEGIN on a reserved or max: 1 client) to get the seed's single commit.
import type postgres from "postgres";

type Id = number | string;

export interface MessageItem {
  role: string;
  content: string;
  token_count?: number;
}

/** Seed 001: the user is loaded (is it the tenant's?), then the conversation is added and flushed. */
export async function startConversation(
  sql: postgres.Sql,
  tenantId: Id,
  userId: Id,
  title: string,
  ttl: string | null,
): Promise<{ id: string }> {
  const [user] =
    await sql`select id from app.users where tenant_id = ${tenantId} and id = ${userId}`;
  if (!user) throw new Error(`unknown user ${userId}`);
  const [row] = await sql<{ id: string }[]>`
    insert into app.conversations (tenant_id, user_id, title, expires_at)
    values (${tenantId}, ${userId}, ${title}, now() + ${ttl}::interval) returning id`;
  return row!;
}

/** Seed 003 before: the conversation loaded, then one INSERT per message (citations one by one), then the conversation touched. */
export async function addMessages(
  sql: postgres.Sql,
  tenantId: Id,
  conversationId: Id,
  messages: MessageItem[],
): Promise<{ id: string }[]> {
  const [conversation] = await sql<{ expires_at: Date | null }[]>`
    select expires_at from app.conversations where tenant_id = ${tenantId} and id = ${conversationId}`;
  if (!conversation) throw new Error(`unknown conversation ${conversationId}`);
  const out: { id: string }[] = [];
  for (const m of messages) {
    const [row] = await sql<{ id: string }[]>`
      insert into app.messages (tenant_id, conversation_id, role, content, token_count, expires_at)
      values (${tenantId}, ${conversationId}, ${m.role}, ${m.content}, ${m.token_count ?? 0}, ${conversation.expires_at})
      returning id`;
    out.push(row!);
  }
  await sql`update app.conversations set updated_at = now() where tenant_id = ${tenantId} and id = ${conversationId}`;
  return out;
}

/** Seed 004: one KnowledgeGap added per question. */
export async function openGaps(
  sql: postgres.Sql,
  tenantId: Id,
  gaps: { title: string; category: string }[],
): Promise<{ id: string }[]> {
  const out: { id: string }[] = [];
  for (const g of gaps) {
    const [row] = await sql<{ id: string }[]>`
      insert into app.knowledge_gaps (tenant_id, title, category) values (${tenantId}, ${g.title}, ${g.category}) returning id`;
    out.push(row!);
  }
  return out;
}

/** Seed 004: the gap loaded, the answer added, the gap's status written back. */
export async function answerGap(
  sql: postgres.Sql,
  tenantId: Id,
  gapId: Id,
  content: string,
): Promise<{ id: string; status: string }> {
  const [gap] = await sql<
    { status: string }[]
  >`select status from app.knowledge_gaps where tenant_id = ${tenantId} and id = ${gapId}`;
  if (!gap) throw new Error(`unknown knowledge gap ${gapId}`);
  const [answer] = await sql<{ id: string }[]>`
    insert into app.gap_answers (tenant_id, knowledge_gap_id, content) values (${tenantId}, ${gapId}, ${content}) returning id`;
  const status =
    gap.status === "open" || gap.status === "in_progress"
      ? "answered"
      : gap.status;
  await sql`update app.knowledge_gaps set status = ${status} where tenant_id = ${tenantId} and id = ${gapId}`;
  return { id: answer!.id, status };
}

/** Per id: load the row, then write it back when it changes (N+1). `table` and `column` are ours, never input. */
async function setEach(
  sql: postgres.Sql,
  table: "knowledge_gaps" | "agents",
  column: "status" | "is_active",
  tenantId: Id,
  ids: Id[],
  value: string | boolean,
): Promise<{ updated: number; unchanged: number; not_found: number }> {
  const result = { updated: 0, unchanged: 0, not_found: 0 };
  for (const id of new Set(ids.map(String))) {
    const [row] = await sql.unsafe(
      `select ${column} as v from app.${table} where tenant_id = $1 and id = $2`,
      [tenantId, id] as never[],
    );
    if (!row) result.not_found++;
    else if ((row as unknown as { v: unknown }).v === value) result.unchanged++;
    else {
      await sql.unsafe(
        `update app.${table} set ${column} = $3 where tenant_id = $1 and id = $2`,
        [tenantId, id, value] as never[],
      );
      result.updated++;
    }
  }
  return result;
}

/** Seed 004: each gap loaded and its status set (N+1). */
export const setGapStatus = (
  sql: postgres.Sql,
  tenantId: Id,
  ids: Id[],
  status: string,
) => setEach(sql, "knowledge_gaps", "status", tenantId, ids, status);

/** Seed 002's agent registry: each agent looked up by name, then inserted or updated (N+1). */
export async function upsertAgents(
  sql: postgres.Sql,
  tenantId: Id,
  agents: {
    name: string;
    type: string;
    is_active?: boolean;
    config?: unknown;
  }[],
): Promise<{ position: number; id: string; action: string }[]> {
  const out: { position: number; id: string; action: string }[] = [];
  for (const [position, a] of agents.entries()) {
    const [found] = await sql<
      { id: string; is_active: boolean; config: unknown }[]
    >`
      select id, is_active, config from app.agents where tenant_id = ${tenantId} and name = ${a.name}`;
    if (found) {
      await sql`update app.agents set type = ${a.type}, is_active = ${a.is_active ?? found.is_active},
                config = ${sql.json((a.config ?? found.config) as never)} where tenant_id = ${tenantId} and id = ${found.id}`;
      out.push({ position, id: found.id, action: "updated" });
    } else {
      const [row] = await sql<{ id: string }[]>`
        insert into app.agents (tenant_id, name, type, is_active, config)
        values (${tenantId}, ${a.name}, ${a.type}, ${a.is_active ?? true}, ${sql.json((a.config ?? {}) as never)}) returning id`;
      out.push({ position, id: row!.id, action: "inserted" });
    }
  }
  return out;
}

/** Seed 002: each agent loaded and its flag set (N+1). */
export const setAgentsActive = (
  sql: postgres.Sql,
  tenantId: Id,
  ids: Id[],
  active: boolean,
) => setEach(sql, "agents", "is_active", tenantId, ids, active);

/** Seed 002's workflow router: the workflow added, then per task its agent loaded and the task added. */
export async function createWorkflow(
  sql: postgres.Sql,
  tenantId: Id,
  name: string,
  tasks: { name: string; agent_id?: Id }[],
  agentId: Id | null,
): Promise<{ id: string; workflow_id: string }[]> {
  const [workflow] = await sql<{ id: string }[]>`
    insert into app.workflows (tenant_id, agent_id, name) values (${tenantId}, ${agentId}, ${name}) returning id`;
  const out: { id: string; workflow_id: string }[] = [];
  for (const [i, t] of tasks.entries()) {
    if (t.agent_id !== undefined) {
      const [agent] =
        await sql`select id from app.agents where tenant_id = ${tenantId} and id = ${t.agent_id}`;
      if (!agent) throw new Error(`unknown agent ${t.agent_id}`);
    }
    const [row] = await sql<{ id: string }[]>`
      insert into app.workflow_tasks (tenant_id, workflow_id, agent_id, name, execution_order)
      values (${tenantId}, ${workflow!.id}, ${t.agent_id ?? null}, ${t.name}, ${i + 1}) returning id`;
    out.push({ id: row!.id, workflow_id: workflow!.id });
  }
  return out;
}

/** Seed 002: each task loaded and updated, then each workflow touched: its tasks loaded and its status written back. */
export async function setTaskStatus(
  sql: postgres.Sql,
  tenantId: Id,
  ids: Id[],
  status: string,
): Promise<{
  updated: number;
  unchanged: number;
  not_found: number;
  workflows: { id: number; status: string }[];
}> {
  const result = {
    updated: 0,
    unchanged: 0,
    not_found: 0,
    workflows: [] as { id: number; status: string }[],
  };
  const touched = new Set<string>();
  for (const id of new Set(ids.map(String))) {
    const [task] = await sql<{ workflow_id: string; status: string }[]>`
      select workflow_id, status from app.workflow_tasks where tenant_id = ${tenantId} and id = ${id}`;
    if (!task) result.not_found++;
    else if (task.status === status) result.unchanged++;
    else {
      await sql`update app.workflow_tasks set status = ${status} where tenant_id = ${tenantId} and id = ${id}`;
      touched.add(task.workflow_id);
      result.updated++;
    }
  }
  for (const workflowId of [...touched].sort((a, b) => Number(a) - Number(b))) {
    const [workflow] = await sql<
      { status: string }[]
    >`select status from app.workflows where tenant_id = ${tenantId} and id = ${workflowId}`;
    const statuses = (
      await sql<
        { status: string }[]
      >`select status from app.workflow_tasks where tenant_id = ${tenantId} and workflow_id = ${workflowId}`
    ).map((t) => t.status);
    const next =
      workflow!.status === "cancelled"
        ? "cancelled"
        : statuses.includes("failed")
          ? "failed"
          : statuses.every((s) => s === "completed" || s === "skipped")
            ? "completed"
            : statuses.some((s) => s !== "pending")
              ? "executing"
              : "pending";
    await sql`update app.workflows set status = ${next},
              completed_at = case when ${next} in ('completed', 'failed') then coalesce(case when status = ${next} then completed_at end, now()) end
              where tenant_id = ${tenantId} and id = ${workflowId}`;
    result.workflows.push({ id: Number(workflowId), status: next });
  }
  return result;
}
