// The "before" side, paired: for every api routine, the seeds' slow pattern that does the same
// job (scripts/lib/before/<family>.ts), how it does it, and a uniform way to call it. The
// benchmark (`npm start`, scripts/lib/report/) runs both sides of each pair on the same data
// and reports the ratio; tests use the family modules directly as their reference.
//
// Arguments: `run(sql, args)` takes the before function's own arguments, positionally (after
// `sql`). They are the api routine's arguments, except that
// - the paging functions take a page number where the api takes a keyset cursor
//   (`args: "page"`): chunks_page a 1-based page, the others a 0-based page;
// - purge_documents has no batch size (the seed deleted everything in one statement).
// Run the ones that change data (`modifies`) inside a transaction on one connection (BEGIN
// on a max: 1 or reserved client) to get the seed's single commit, and roll it back to keep
// the data for the next call.
import type postgres from "postgres";
import * as accounts from "./accounts.ts";
import * as chunks from "./chunks.ts";
import * as documentWrites from "./document-writes.ts";
import * as documents from "./documents.ts";
import * as reads from "./reads.ts";
import * as statistics from "./statistics.ts";
import * as writes from "./writes.ts";

/**
 * An api routine, schema-qualified as in pg_proc (`api.` + proname). The list is the
 * workload's (workloadRoutines() of scripts/lib/workload.ts, checked against pg_proc by
 * test/plans.test.ts); test/report.test.ts checks that each has a before side here or is
 * MEASURED_THROUGH another.
 */
export type ApiRoutine = string;

export interface BeforeSide {
  /** The api routine it is paired with. */
  api: ApiRoutine;
  /** The before function, as `<module>.<export>` of scripts/lib/before/. */
  name: string;
  /** The seed it comes from. */
  seed: string;
  /** The slow pattern, in a few words (for the report). */
  pattern: string;
  /** "same": the api's arguments; "page": a page number instead of the cursor; "tenant": the tenant only. */
  args: "same" | "page" | "tenant";
  /** It writes: run it in a transaction and roll back. */
  modifies: boolean;
  /** Statements per call: a formula in the input size, for the report ("2n + 1"). */
  statements: string;
  run: (sql: postgres.Sql, args: readonly unknown[]) => Promise<unknown>;
}

type Id = number | string;
const id = (v: unknown) => v as Id;
const ids = (v: unknown) => v as Id[];
const text = (v: unknown) => v as string;
const optText = (v: unknown) => (v ?? null) as string | null;
const int = (v: unknown, fallback: number) =>
  v === undefined || v === null ? fallback : Number(v);

export const BEFORE: Record<ApiRoutine, BeforeSide> = {
  "api.collection_statistics": {
    api: "api.collection_statistics",
    name: "statistics.collectionStatistics",
    seed: "000 get_statistics",
    pattern:
      "load every chunking operation and every chunk of the collection, count in code",
    args: "same",
    modifies: false,
    statements: "2",
    run: (sql, [t, c]) => statistics.collectionStatistics(sql, id(t), id(c)),
  },
  "api.knowledge_gap_stats": {
    api: "api.knowledge_gap_stats",
    name: "statistics.knowledgeGapStats",
    seed: "004 gap statistics",
    pattern: "one COUNT query per number (total, 4 statuses, 6 categories)",
    args: "same",
    modifies: false,
    statements: "11",
    run: (sql, [t]) => statistics.knowledgeGapStats(sql, id(t)),
  },
  "api.document_status_counts": {
    api: "api.document_status_counts",
    name: "statistics.documentStatusCounts",
    seed: "001/004 review dashboard",
    pattern: "one COUNT query per status, the total summed in code",
    args: "same",
    modifies: false,
    statements: "6",
    run: (sql, [t]) => statistics.documentStatusCounts(sql, id(t)),
  },
  "api.chunks_for_documents": {
    api: "api.chunks_for_documents",
    name: "chunks.chunksForDocuments",
    seed: "000 chunk retrieval",
    pattern: "one query per document (N+1), sorted and cut in code",
    args: "same",
    modifies: false,
    statements: "n",
    run: (sql, [t, c, d, limit]) =>
      chunks.chunksForDocuments(sql, id(t), id(c), ids(d), int(limit, 1000)),
  },
  "api.chunks_page": {
    api: "api.chunks_page",
    name: "chunks.chunksPage",
    seed: "000 get_chunks_paginated",
    pattern: "OFFSET paging with count(*) over () (reads the whole collection)",
    args: "page",
    modifies: false,
    statements: "1",
    run: (sql, [t, c, page, size]) =>
      chunks.chunksPage(sql, id(t), id(c), int(page, 1), int(size, 100)),
  },
  "api.classify_documents": {
    api: "api.classify_documents",
    name: "documents.classifyDocuments",
    seed: "004 fix 1.1",
    pattern: "per id: select the document, then update it (N+1)",
    args: "same",
    modifies: true,
    statements: "2n",
    run: (sql, [t, d, classification]) =>
      documents.classifyDocuments(sql, id(t), ids(d), text(classification)),
  },
  "api.confirm_classifications": {
    api: "api.confirm_classifications",
    name: "documents.confirmClassifications",
    seed: "004 fix 1.3",
    pattern: "per id: select the document, then update it (N+1)",
    args: "same",
    modifies: true,
    statements: "2n",
    run: (sql, [t, d]) => documents.confirmClassifications(sql, id(t), ids(d)),
  },
  "api.delete_documents": {
    api: "api.delete_documents",
    name: "documents.deleteDocuments",
    seed: "004 fix 1.2",
    pattern:
      "a validation loop and a deletion loop, a tombstone check per id (N+1 twice over)",
    args: "same",
    modifies: true,
    statements: "3n to 5n",
    run: (sql, [t, d, hard]) =>
      documents.deleteDocuments(sql, id(t), ids(d), hard === true),
  },
  "api.purge_documents": {
    api: "api.purge_documents",
    name: "documents.purgeDocuments",
    seed: "004 priority 5",
    pattern:
      "one DELETE of every document (and chunk) of the tenant, all rows locked until it ends",
    args: "tenant",
    modifies: true,
    statements: "1",
    run: (sql, [t]) => documents.purgeDocuments(sql, id(t)),
  },
  "api.new_external_ids": {
    api: "api.new_external_ids",
    name: "documents.newExternalIds",
    seed: "004 priority 6",
    pattern:
      "per external id: an existence check on documents, then on tombstones",
    args: "same",
    modifies: false,
    statements: "n to 2n",
    run: (sql, [t, connector, externalIds]) =>
      documents.newExternalIds(
        sql,
        id(t),
        id(connector),
        externalIds as string[],
      ),
  },
  "api.validate_session": {
    api: "api.validate_session",
    name: "reads.validateSession",
    seed: "001/003 session check",
    pattern:
      "the session, expiry checked in code, then the user: two round trips",
    args: "same",
    modifies: false,
    statements: "2",
    run: (sql, [token]) => reads.validateSession(sql, text(token)),
  },
  "api.user_conversations": {
    api: "api.user_conversations",
    name: "reads.userConversations",
    seed: "003 history endpoints",
    pattern: "LIMIT/OFFSET paging",
    args: "page",
    modifies: false,
    statements: "1",
    run: (sql, [t, u, page, limit]) =>
      reads.userConversations(sql, id(t), id(u), int(page, 0), int(limit, 50)),
  },
  "api.conversation_messages": {
    api: "api.conversation_messages",
    name: "reads.conversationMessages",
    seed: "003 history endpoints",
    pattern: "LIMIT/OFFSET paging",
    args: "page",
    modifies: false,
    statements: "1",
    run: (sql, [t, c, page, limit]) =>
      reads.conversationMessages(
        sql,
        id(t),
        id(c),
        int(page, 0),
        int(limit, 50),
      ),
  },
  "api.agent_by_name": {
    api: "api.agent_by_name",
    name: "reads.agentByName",
    seed: "002 agent registry",
    pattern: "every agent of the tenant loaded, the name found in code",
    args: "same",
    modifies: false,
    statements: "1",
    run: (sql, [t, name]) => reads.agentByName(sql, id(t), text(name)),
  },
  "api.active_agents": {
    api: "api.active_agents",
    name: "reads.activeAgents",
    seed: "002 agent registry",
    pattern: "every agent of the tenant loaded, filtered and sorted in code",
    args: "same",
    modifies: false,
    statements: "1",
    run: (sql, [t, type]) => reads.activeAgents(sql, id(t), optText(type)),
  },
  "api.workflows_by_status": {
    api: "api.workflows_by_status",
    name: "reads.workflowsByStatus",
    seed: "002 workflow router",
    pattern: "LIMIT/OFFSET paging",
    args: "page",
    modifies: false,
    statements: "1",
    run: (sql, [t, status, page, limit]) =>
      reads.workflowsByStatus(
        sql,
        id(t),
        text(status),
        int(page, 0),
        int(limit, 50),
      ),
  },
  "api.workflow_tasks": {
    api: "api.workflow_tasks",
    name: "reads.workflowTasks",
    seed: "002 workflow tasks",
    pattern: "the task ids, then one query per task (N+1)",
    args: "same",
    modifies: false,
    statements: "n + 1",
    run: (sql, [t, w, status]) =>
      reads.workflowTasks(sql, id(t), id(w), optText(status)),
  },
  "api.active_operations": {
    api: "api.active_operations",
    name: "reads.activeOperations",
    seed: "000 active operations panel",
    pattern:
      "every operation of the user loaded, the active ones kept and sorted in code",
    args: "same",
    modifies: false,
    statements: "1",
    run: (sql, [t, u, limit]) =>
      reads.activeOperations(sql, id(t), id(u), int(limit, 100)),
  },
  "api.gap_answers": {
    api: "api.gap_answers",
    name: "reads.gapAnswers",
    seed: "004 gap answers",
    pattern:
      "the gap loaded first (is it ours?), then its answers, sorted in code",
    args: "same",
    modifies: false,
    statements: "2",
    run: (sql, [t, g]) => reads.gapAnswers(sql, id(t), id(g)),
  },
  // --- write api (issue 11, items 5-7): the batch as a JavaScript array (beforeArgs) ---
  "api.start_conversation": {
    api: "api.start_conversation",
    name: "writes.startConversation",
    seed: "001 new conversation",
    pattern:
      "the user loaded (is it the tenant's?), then the conversation inserted",
    args: "same",
    modifies: true,
    statements: "2",
    run: (sql, [t, u, title, ttl]) =>
      writes.startConversation(sql, id(t), id(u), text(title), optText(ttl)),
  },
  "api.add_messages": {
    api: "api.add_messages",
    name: "writes.addMessages",
    seed: "003 citations one by one",
    pattern:
      "the conversation loaded, one INSERT per message, the conversation touched",
    args: "same",
    modifies: true,
    statements: "n + 2",
    run: (sql, [t, c, messages]) =>
      writes.addMessages(sql, id(t), id(c), messages as writes.MessageItem[]),
  },
  "api.open_gaps": {
    api: "api.open_gaps",
    name: "writes.openGaps",
    seed: "004 knowledge gaps",
    pattern: "one INSERT per gap",
    args: "same",
    modifies: true,
    statements: "n",
    run: (sql, [t, gaps]) =>
      writes.openGaps(
        sql,
        id(t),
        gaps as { title: string; category: string }[],
      ),
  },
  "api.answer_gap": {
    api: "api.answer_gap",
    name: "writes.answerGap",
    seed: "004 gap answers",
    pattern: "the gap loaded, the answer inserted, the gap written back",
    args: "same",
    modifies: true,
    statements: "3",
    run: (sql, [t, g, content]) =>
      writes.answerGap(sql, id(t), id(g), text(content)),
  },
  "api.set_gap_status": {
    api: "api.set_gap_status",
    name: "writes.setGapStatus",
    seed: "004 knowledge gaps",
    pattern: "per id: the gap loaded, then updated (N+1)",
    args: "same",
    modifies: true,
    statements: "n to 2n",
    run: (sql, [t, g, status]) =>
      writes.setGapStatus(sql, id(t), ids(g), text(status)),
  },
  "api.upsert_agents": {
    api: "api.upsert_agents",
    name: "writes.upsertAgents",
    seed: "002 agent registry",
    pattern: "per agent: looked up by name, then inserted or updated (N+1)",
    args: "same",
    modifies: true,
    statements: "2n",
    run: (sql, [t, agents]) =>
      writes.upsertAgents(
        sql,
        id(t),
        agents as { name: string; type: string }[],
      ),
  },
  "api.set_agents_active": {
    api: "api.set_agents_active",
    name: "writes.setAgentsActive",
    seed: "002 agent registry",
    pattern: "per id: the agent loaded, then updated (N+1)",
    args: "same",
    modifies: true,
    statements: "n to 2n",
    run: (sql, [t, a, active]) =>
      writes.setAgentsActive(sql, id(t), ids(a), active === true),
  },
  "api.create_workflow": {
    api: "api.create_workflow",
    name: "writes.createWorkflow",
    seed: "002 workflow router",
    pattern:
      "the workflow inserted, then per task its agent loaded and the task inserted",
    args: "same",
    modifies: true,
    statements: "n + 1 to 2n + 1",
    run: (sql, [t, name, tasks, agent]) =>
      writes.createWorkflow(
        sql,
        id(t),
        text(name),
        tasks as { name: string; agent_id?: Id }[],
        (agent ?? null) as Id | null,
      ),
  },
  "api.set_task_status": {
    api: "api.set_task_status",
    name: "writes.setTaskStatus",
    seed: "002 workflow tasks",
    pattern:
      "per task: loaded, then updated; per workflow touched: its tasks loaded, its status written (N+1)",
    args: "same",
    modifies: true,
    statements: "2n + 3w",
    run: (sql, [t, tasks, status]) =>
      writes.setTaskStatus(sql, id(t), ids(tasks), text(status)),
  },
  // --- end write api (items 5-7) ---
  // --- issue 11, items 1 and 2: tenants, users, connectors, collections, sessions (accounts.ts) ---
  "api.create_tenant": {
    api: "api.create_tenant",
    name: "accounts.createTenant",
    seed: "001 tenant signup",
    pattern: "db.add, commit, refresh: an insert, then the row read back",
    args: "same",
    modifies: true,
    statements: "2",
    run: (sql, [name]) => accounts.createTenant(sql, text(name)),
  },
  "api.create_users": {
    api: "api.create_users",
    name: "accounts.createUsers",
    seed: "001 user import",
    pattern: "per item: is the email taken (a query), then an insert (N+1)",
    args: "same",
    modifies: true,
    statements: "n to 2n",
    run: (sql, [t, users]) =>
      accounts.createUsers(
        sql,
        id(t),
        (typeof users === "string" ? JSON.parse(users) : users) as {
          email: string;
          display_name: string;
        }[],
      ),
  },
  "api.user_by_email": {
    api: "api.user_by_email",
    name: "accounts.userByEmail",
    seed: "001 login query",
    pattern: "db.query(User).filter(email).first(): the same single query",
    args: "same",
    modifies: false,
    statements: "1",
    run: (sql, [t, email]) => accounts.userByEmail(sql, id(t), text(email)),
  },
  "api.create_connector": {
    api: "api.create_connector",
    name: "accounts.createConnector",
    seed: "004 connector setup",
    pattern: "the tenant loaded, then the insert",
    args: "same",
    modifies: true,
    statements: "2",
    run: (sql, [t, kind, name]) =>
      accounts.createConnector(sql, id(t), text(kind), text(name)),
  },
  "api.create_collection": {
    api: "api.create_collection",
    name: "accounts.createCollection",
    seed: "000 collection create",
    pattern: "the owner loaded, then the insert",
    args: "same",
    modifies: true,
    statements: "2",
    run: (sql, [t, owner, name]) =>
      accounts.createCollection(sql, id(t), id(owner), text(name)),
  },
  "api.set_collection_status": {
    api: "api.set_collection_status",
    name: "accounts.setCollectionStatus",
    seed: "000 collection status",
    pattern: "per id: load the collection, then update it (N+1)",
    args: "same",
    modifies: true,
    statements: "n to 2n",
    run: (sql, [t, c, status]) =>
      accounts.setCollectionStatus(sql, id(t), ids(c), text(status)),
  },
  "api.create_session": {
    api: "api.create_session",
    name: "accounts.createSession",
    seed: "001/003 login",
    pattern:
      "the user loaded, then the session inserted with a token made in the application",
    args: "same",
    modifies: true,
    statements: "2",
    run: (sql, [t, u, ttl]) =>
      accounts.createSession(sql, id(t), id(u), optText(ttl) ?? undefined),
  },
  "api.touch_session": {
    api: "api.touch_session",
    name: "accounts.touchSession",
    seed: "003 sliding expiry",
    pattern: "the session loaded, expiry checked in code, then updated",
    args: "same",
    modifies: true,
    statements: "2",
    run: (sql, [token, ttl]) =>
      accounts.touchSession(sql, text(token), optText(ttl) ?? undefined),
  },
  "api.revoke_session": {
    api: "api.revoke_session",
    name: "accounts.revokeSession",
    seed: "003 logout",
    pattern: "the session loaded, then deleted",
    args: "same",
    modifies: true,
    statements: "2",
    run: (sql, [token]) => accounts.revokeSession(sql, text(token)),
  },
  "api.revoke_user_sessions": {
    api: "api.revoke_user_sessions",
    name: "accounts.revokeUserSessions",
    seed: "003 logout everywhere",
    pattern: "the user's sessions loaded, then deleted one by one (N+1)",
    args: "same",
    modifies: true,
    statements: "n + 1",
    run: (sql, [t, u]) => accounts.revokeUserSessions(sql, id(t), id(u)),
  },
  // --- end of issue 11, items 1 and 2 ---
  // --- write api, issue 11 items 3 and 4 (w2) ---
  "api.sync_documents": {
    api: "api.sync_documents",
    name: "documentWrites.syncDocuments",
    seed: "004 connector sync",
    pattern:
      "per item: a tombstone check, a lookup by external id, then an insert or an update",
    args: "same",
    modifies: true,
    statements: "2n to 3n",
    run: (sql, [t, connector, collection, docs]) =>
      documentWrites.syncDocuments(
        sql,
        id(t),
        id(connector),
        id(collection),
        docs as string,
      ),
  },
  "api.add_documents": {
    api: "api.add_documents",
    name: "documentWrites.addDocuments",
    seed: "004 upload",
    pattern: "one INSERT ... RETURNING id per document",
    args: "same",
    modifies: true,
    statements: "n",
    run: (sql, [t, collection, docs]) =>
      documentWrites.addDocuments(sql, id(t), id(collection), docs as string),
  },
  "api.replace_chunks": {
    api: "api.replace_chunks",
    name: "documentWrites.replaceChunks",
    seed: "000 chunking",
    pattern:
      "per document: load it, delete its chunks, one INSERT per chunk, update its size",
    args: "same",
    modifies: true,
    statements: "3d + n",
    run: (sql, [t, collection, chunks]) =>
      documentWrites.replaceChunks(
        sql,
        id(t),
        id(collection),
        chunks as string,
      ),
  },
  "api.enqueue_operations": {
    api: "api.enqueue_operations",
    name: "documentWrites.enqueueOperations",
    seed: "000/002 operations",
    pattern: "one INSERT per operation",
    args: "same",
    modifies: true,
    statements: "n",
    run: (sql, [t, collection, type, ops]) =>
      documentWrites.enqueueOperations(
        sql,
        id(t),
        id(collection),
        text(type),
        ops as string,
      ),
  },
  "api.claim_operations": {
    api: "api.claim_operations",
    name: "documentWrites.claimOperations",
    seed: "000/002 operations",
    pattern:
      "select the oldest pending (no lock: workers may take the same), then one UPDATE each",
    args: "same",
    modifies: true,
    statements: "n + 1",
    run: (sql, [t, type, limit]) =>
      documentWrites.claimOperations(sql, id(t), text(type), int(limit, 10)),
  },
  "api.finish_operations": {
    api: "api.finish_operations",
    name: "documentWrites.finishOperations",
    seed: "000/002 operations",
    pattern: "per result: load the operation, then update it (N+1)",
    args: "same",
    modifies: true,
    statements: "2n",
    run: (sql, [t, results]) =>
      documentWrites.finishOperations(sql, id(t), results as string),
  },
  "api.cancel_operations": {
    api: "api.cancel_operations",
    name: "documentWrites.cancelOperations",
    seed: "000/002 operations",
    pattern: "per id: load the operation, then update it (N+1)",
    args: "same",
    modifies: true,
    statements: "2n",
    run: (sql, [t, ids]) =>
      documentWrites.cancelOperations(sql, id(t), ids as Id[]),
  },
  // --- end of the write api block (w2) ---
};

/**
 * Api routines that are a part of another: the batch of api.purge_documents is a security
 * definer function the procedure calls per batch. They have no before side of their own (the
 * seed had no batches: its single DELETE is compared with the whole purge), and a run that
 * measures the whole routine covers them.
 */
export const MEASURED_THROUGH: Record<string, ApiRoutine> = {
  "api.purge_documents_batch": "api.purge_documents",
};

/** Other before forms kept for comparison (not paired by default). */
export const BEFORE_ALTERNATIVES: Partial<Record<ApiRoutine, BeforeSide[]>> = {
  "api.new_external_ids": [
    {
      api: "api.new_external_ids",
      name: "documents.newExternalIdsLoadAll",
      seed: "004 priority 6 (original)",
      pattern:
        "every stored and tombstoned external id of the connector loaded into sets",
      args: "same",
      modifies: false,
      statements: "2",
      run: (sql, [t, connector, externalIds]) =>
        documents.newExternalIdsLoadAll(
          sql,
          id(t),
          id(connector),
          externalIds as string[],
        ),
    },
  ],
};

export function beforeSide(api: string): BeforeSide | undefined {
  return (BEFORE as Record<string, BeforeSide>)[api];
}
