// The "before" side of sessions, conversations, agents and workflows: the patterns seeds 001,
// 002 and 003 started from. Session validation loads the session, then its user (two round
// trips); lists page with LIMIT/OFFSET (`offset = page * limit`, seed 003's history endpoints,
// seed 002's workflow router); agents are loaded whole and filtered in code; a workflow's tasks
// are loaded one query per task id (N+1). Same rows and shapes as the api functions, for the
// tests (the reference) and the side-by-side benchmark.
//
// Paging: the api functions take a keyset cursor (p_before = created_at of the last row of the
// previous page); these take a 0-based page number instead, as the seeds did. Page k here is the
// api's k-th page (the first called with p_before null, each next one with the last created_at),
// as long as no two rows share the created_at at a page boundary (the keyset skips such ties).
import type postgres from "postgres";

type Id = number | string;

export interface SessionUserRow {
  tenant_id: string;
  user_id: string;
  email: string;
  display_name: string;
  expires_at: Date;
}

export interface ConversationRow {
  id: string;
  user_id: string;
  title: string;
  created_at: Date;
  updated_at: Date;
  expires_at: Date | null;
}

export interface MessageRow {
  id: string;
  conversation_id: string;
  role: string;
  content: string;
  token_count: number;
  created_at: Date;
  expires_at: Date | null;
}

export interface AgentRow {
  id: string;
  name: string;
  type: string;
  is_active: boolean;
  config: unknown;
  created_at: Date;
}

export type ActiveAgentRow = Omit<AgentRow, "is_active">;

export interface WorkflowRow {
  id: string;
  agent_id: string | null;
  name: string;
  status: string;
  created_at: Date;
  completed_at: Date | null;
}

export interface WorkflowTaskRow {
  id: string;
  workflow_id: string;
  agent_id: string | null;
  name: string;
  status: string;
  execution_order: number;
  created_at: Date;
}

/** Seeds 001/003: the session by its token, the expiry checked in code, then the user by a second query. */
export async function validateSession(
  sql: postgres.Sql,
  token: string,
): Promise<SessionUserRow[]> {
  const [session] = await sql<
    { tenant_id: string; user_id: string; expires_at: Date }[]
  >`
    select tenant_id, user_id, expires_at from app.user_sessions where token = ${token}`;
  if (!session || session.expires_at.getTime() <= Date.now()) return [];
  const [user] = await sql<{ email: string; display_name: string }[]>`
    select email, display_name from app.users where tenant_id = ${session.tenant_id} and id = ${session.user_id}`;
  if (!user) return [];
  return [
    {
      tenant_id: session.tenant_id,
      user_id: session.user_id,
      email: user.email,
      display_name: user.display_name,
      expires_at: session.expires_at,
    },
  ];
}

/** Seed 003: a user's conversations, newest first, LIMIT/OFFSET paging. */
export async function userConversations(
  sql: postgres.Sql,
  tenantId: Id,
  userId: Id,
  page = 0,
  limit = 50,
): Promise<ConversationRow[]> {
  return sql<ConversationRow[]>`
    select id, user_id, title, created_at, updated_at, expires_at
    from app.conversations
    where tenant_id = ${tenantId} and user_id = ${userId} and (expires_at is null or expires_at > now())
    order by created_at desc, id desc
    limit ${limit} offset ${page * limit}`;
}

/** Seed 003: a conversation's messages, newest first, LIMIT/OFFSET paging; none once the conversation expired. */
export async function conversationMessages(
  sql: postgres.Sql,
  tenantId: Id,
  conversationId: Id,
  page = 0,
  limit = 50,
): Promise<MessageRow[]> {
  return sql<MessageRow[]>`
    select m.id, m.conversation_id, m.role, m.content, m.token_count, m.created_at, m.expires_at
    from app.messages m
    join app.conversations c on c.tenant_id = m.tenant_id and c.id = m.conversation_id
    where m.tenant_id = ${tenantId} and m.conversation_id = ${conversationId} and (m.expires_at is null or m.expires_at > now())
      and (c.expires_at is null or c.expires_at > now())
    order by m.created_at desc, m.id desc
    limit ${limit} offset ${page * limit}`;
}

async function allAgents(sql: postgres.Sql, tenantId: Id): Promise<AgentRow[]> {
  return sql<
    AgentRow[]
  >`select id, name, type, is_active, config, created_at from app.agents where tenant_id = ${tenantId}`;
}

/** Seed 002: every agent of the tenant loaded, the one with this name found in code. */
export async function agentByName(
  sql: postgres.Sql,
  tenantId: Id,
  name: string,
): Promise<AgentRow[]> {
  return (await allAgents(sql, tenantId)).filter((a) => a.name === name);
}

/** Seed 002: every agent of the tenant loaded, then filtered (active, type) and sorted (type, id) in code. */
export async function activeAgents(
  sql: postgres.Sql,
  tenantId: Id,
  type: string | null = null,
): Promise<ActiveAgentRow[]> {
  return (await allAgents(sql, tenantId))
    .filter((a) => a.is_active && (type === null || a.type === type))
    .sort((a, b) =>
      a.type < b.type ? -1 : a.type > b.type ? 1 : compareIds(a.id, b.id),
    )
    .map(({ is_active: _active, ...agent }) => agent);
}

/** Seed 002: a tenant's workflows in one status, newest first, LIMIT/OFFSET paging. */
export async function workflowsByStatus(
  sql: postgres.Sql,
  tenantId: Id,
  status: string,
  page = 0,
  limit = 50,
): Promise<WorkflowRow[]> {
  return sql<WorkflowRow[]>`
    select id, agent_id, name, status, created_at, completed_at
    from app.workflows
    where tenant_id = ${tenantId} and status = ${status}
    order by created_at desc, id desc
    limit ${limit} offset ${page * limit}`;
}

/** Seed 002: the task ids of a workflow, then each task by its own query (N+1), filtered and sorted in code. */
export async function workflowTasks(
  sql: postgres.Sql,
  tenantId: Id,
  workflowId: Id,
  status: string | null = null,
): Promise<WorkflowTaskRow[]> {
  const ids = await sql<{ id: string }[]>`
    select id from app.workflow_tasks where tenant_id = ${tenantId} and workflow_id = ${workflowId}`;
  const tasks: WorkflowTaskRow[] = [];
  for (const { id } of ids) {
    const [task] = await sql<WorkflowTaskRow[]>`
      select id, workflow_id, agent_id, name, status, execution_order, created_at
      from app.workflow_tasks where tenant_id = ${tenantId} and id = ${id}`;
    if (task) tasks.push(task);
  }
  return tasks
    .filter((t) => status === null || t.status === status)
    .sort(
      (a, b) => a.execution_order - b.execution_order || compareIds(a.id, b.id),
    );
}

function compareIds(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export interface ActiveOperationRow {
  id: string;
  collection_id: string;
  type: string;
  status: string;
  metadata: unknown;
  created_at: Date;
}

/** Seed 000 before: every operation of the user loaded, the active ones kept and sorted in code. */
export async function activeOperations(
  sql: postgres.Sql,
  tenantId: Id,
  userId: Id,
  limit = 100,
): Promise<ActiveOperationRow[]> {
  const all = await sql<(ActiveOperationRow & { created_text: string })[]>`
    select id, collection_id, type, status, metadata, created_at, created_at::text as created_text
    from app.operations where tenant_id = ${tenantId} and user_id = ${userId}`;
  return all
    .filter((o) => o.status === "pending" || o.status === "processing")
    .sort((a, b) =>
      a.created_text === b.created_text
        ? Number(BigInt(b.id) - BigInt(a.id))
        : a.created_text < b.created_text
          ? 1
          : -1,
    )
    .slice(0, limit)
    .map(({ created_text: _t, ...row }) => row);
}

export interface GapAnswerRow {
  id: string;
  knowledge_gap_id: string;
  content: string;
  created_at: Date;
}

/** Seed 004 before: the gap loaded first (is it ours?), then its answers, sorted in code. */
export async function gapAnswers(
  sql: postgres.Sql,
  tenantId: Id,
  gapId: Id,
): Promise<GapAnswerRow[]> {
  const [gap] =
    await sql`select id from app.knowledge_gaps where tenant_id = ${tenantId} and id = ${gapId}`;
  if (!gap) return [];
  const answers = await sql<(GapAnswerRow & { created_text: string })[]>`
    select id, knowledge_gap_id, content, created_at, created_at::text as created_text
    from app.gap_answers where tenant_id = ${tenantId} and knowledge_gap_id = ${gapId}`;
  return answers
    .sort((a, b) =>
      a.created_text === b.created_text
        ? Number(BigInt(a.id) - BigInt(b.id))
        : a.created_text < b.created_text
          ? -1
          : 1,
    )
    .map(({ created_text: _t, ...row }) => row);
}
