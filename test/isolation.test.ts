// The tenant isolation matrix (issue 6, item 5): for every api routine, a call as tenant A with
// ids that belong to tenant B returns nothing of B's and changes nothing of B's. Calls are made
// as querybudget_app; B's rows are read by the superuser (who bypasses row level security):
// their ids to recognise them in a result, and a checksum of every app table's rows of B,
// taken before and after each call. Tenant pairs are drawn with a fixed-seed PRNG among the
// tenants that have data of every kind; a coverage test makes sure no api routine is missing.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { useTestDatabase } from "./harness/database.ts";
import { sqlState } from "./harness/errors.ts";
import { tableChecksums } from "./harness/fixtures.ts";
import { pick, prng } from "./harness/random.ts";
import { connectAs } from "./harness/roles.ts";

const db = useTestDatabase("isolation");

/** What one tenant has: ids of its rows per kind, and values the api takes. */
interface Holdings {
  tenant: string;
  collections: string[];
  documents: string[];
  documentsOfCollection: string[]; // documents of collections[0]
  chunks: string[];
  users: string[];
  conversations: string[];
  messages: string[];
  workflows: string[];
  tasks: string[];
  agents: string[];
  agentNames: string[];
  connectors: string[];
  externalIds: string[];
  gaps: number;
  answeredGaps: string[];
  activeUsers: string[];
  documentCount: number;
  tokens: string[];
  operations: string[]; // write api (w2)
}

async function holdings(sql: postgres.Sql, tenant: string): Promise<Holdings> {
  const ids = async (table: string, column = "id", where = "") =>
    (
      await sql.unsafe(
        `select ${column}::text as v from app.${table} where tenant_id = $1 ${where} order by 1`,
        [tenant],
      )
    ).map((r) => (r as unknown as { v: string }).v);
  const collections = await ids(
    "collections",
    "id",
    "and exists (select from app.chunks k where k.tenant_id = collections.tenant_id and k.collection_id = collections.id)",
  );
  return {
    tenant,
    collections,
    documents: await ids("documents"),
    documentsOfCollection: await ids(
      "documents",
      "id",
      `and collection_id = ${Number(collections[0])}`,
    ),
    chunks: await ids("chunks"),
    users: await ids("users"),
    conversations: await ids("conversations"),
    messages: await ids("messages"),
    workflows: await ids("workflows"),
    tasks: await ids("workflow_tasks"),
    agents: await ids("agents"),
    agentNames: await ids("agents", "name"),
    connectors: await ids(
      "connectors",
      "id",
      "and exists (select from app.documents d where d.tenant_id = connectors.tenant_id and d.connector_id = connectors.id)",
    ),
    externalIds: await ids(
      "documents",
      "external_id",
      "and external_id is not null",
    ),
    gaps: (await ids("knowledge_gaps")).length,
    answeredGaps: await ids("gap_answers", "knowledge_gap_id"),
    activeUsers: await ids(
      "operations",
      "user_id",
      "and status in ('pending', 'processing') and user_id is not null",
    ),
    documentCount: (await ids("documents")).length,
    tokens: await ids(
      "user_sessions",
      "token",
      "and expires_at > now() + interval '1 hour'",
    ),
    operations: await ids("operations"), // write api (w2)
  };
}

/** The values of every id column anywhere in a result (`id` and `..._id` keys of rows and jsonb), as text. */
function idsIn(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => idsIn(v, into));
  else if (
    value !== null &&
    typeof value === "object" &&
    !(value instanceof Date)
  ) {
    for (const [key, v] of Object.entries(value)) {
      if (
        (key === "id" || key.endsWith("_id")) &&
        v !== null &&
        v !== undefined &&
        typeof v !== "object"
      )
        into.add(String(v));
      else idsIn(v, into);
    }
  }
  return into;
}

type Check = (
  a: Holdings,
  b: Holdings,
  app: postgres.Sql,
) => Promise<{
  result: unknown;
  bIds: string[];
  expect?: (result: unknown) => void;
}>;

const first = <T>(xs: T[]): T => {
  if (xs.length === 0) throw new Error("no subject");
  return xs[0]!;
};
// A finite cursor after every seeded row (the data's clock is at most now).
const FAR_CURSOR = "9999-01-01 00:00:00+00";
const rowsOf = (r: unknown) => [...(r as Iterable<unknown>)];

// One or more calls per api routine: tenant A, B's ids. Each returns what it got, the ids of B
// that must not be in it, and possibly a further expectation.
const MATRIX: Record<string, Check[]> = {
  agent_by_name: [
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.agent_by_name(${a.tenant}, ${first(b.agentNames)})`,
      ),
      bIds: b.agents,
    }),
  ],
  active_agents: [
    async (a, b, app) => ({
      result: rowsOf(await app`select * from api.active_agents(${a.tenant})`),
      bIds: b.agents,
      expect: (r) =>
        expect(
          rowsOf(r).every((x) =>
            a.agents.includes(String((x as { id: string }).id)),
          ),
        ).toBe(true),
    }),
  ],
  chunks_for_documents: [
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.chunks_for_documents(${a.tenant}, ${first(b.collections)}, ${b.documentsOfCollection}::bigint[])`,
      ),
      bIds: [...b.chunks, ...b.documents],
      expect: (r) => expect(r).toEqual([]),
    }),
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.chunks_for_documents(${a.tenant}, ${first(a.collections)}, ${b.documentsOfCollection}::bigint[])`,
      ),
      bIds: [...b.chunks, ...b.documents],
      expect: (r) => expect(r).toEqual([]),
    }),
  ],
  chunks_page: [
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.chunks_page(${a.tenant}, ${first(b.collections)}, ${null}, ${1000})`,
      ),
      bIds: b.chunks,
      expect: (r) => expect(r).toEqual([]),
    }),
  ],
  collection_statistics: [
    async (a, b, app) => {
      const codes = [
        await sqlState(
          app`select api.collection_statistics(${a.tenant}, ${first(b.collections)})`,
        ),
        await sqlState(
          app`select api.collection_statistics(${a.tenant}, ${first(b.collections)}, ${true})`,
        ),
      ];
      return {
        result: codes,
        bIds: [],
        expect: (r) => expect(r).toEqual(["QB009", "QB009"]),
      };
    },
  ],
  user_conversations: [
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.user_conversations(${a.tenant}, ${first(b.users)}, ${null}, ${1000})`,
      ),
      bIds: b.conversations,
      expect: (r) => expect(r).toEqual([]),
    }),
    // an exact cursor naming B's row: still nothing of B
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.user_conversations(${a.tenant}, ${first(b.users)}, ${FAR_CURSOR}::timestamptz, ${1000}, ${first(b.conversations)})`,
      ),
      bIds: b.conversations,
      expect: (r) => expect(r).toEqual([]),
    }),
  ],
  conversation_messages: [
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.conversation_messages(${a.tenant}, ${first(b.conversations)}, ${null}, ${1000})`,
      ),
      bIds: b.messages,
      expect: (r) => expect(r).toEqual([]),
    }),
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.conversation_messages(${a.tenant}, ${first(b.conversations)}, ${FAR_CURSOR}::timestamptz, ${1000}, ${first(b.messages)})`,
      ),
      bIds: b.messages,
      expect: (r) => expect(r).toEqual([]),
    }),
  ],
  document_status_counts: [
    async (a, _b, app) => {
      const [row] = await app<
        { c: { by_status: Record<string, number> } }[]
      >`select api.document_status_counts(${a.tenant}) as c`;
      const counted = Object.values(row!.c.by_status).reduce(
        (x, y) => x + y,
        0,
      );
      return {
        result: counted,
        bIds: [],
        expect: (r) => expect(r).toBe(a.documentCount),
      };
    },
  ],
  active_operations: [
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.active_operations(${a.tenant}, ${first(b.activeUsers)}, ${1000})`,
      ),
      bIds: [],
      expect: (r) => expect(r).toEqual([]),
    }),
  ],
  gap_answers: [
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.gap_answers(${a.tenant}, ${first(b.answeredGaps)})`,
      ),
      bIds: [],
      expect: (r) => expect(r).toEqual([]),
    }),
  ],
  knowledge_gap_stats: [
    async (a, _b, app) => {
      const [row] = await app<
        { s: { total: number } }[]
      >`select api.knowledge_gap_stats(${a.tenant}) as s`;
      return {
        result: row!.s.total,
        bIds: [],
        expect: (r) => expect(r).toBe(a.gaps),
      };
    },
  ],
  workflows_by_status: [
    async (a, b, app) => {
      const rows: unknown[] = [];
      for (const status of [
        "pending",
        "executing",
        "completed",
        "failed",
        "cancelled",
      ]) {
        rows.push(
          ...rowsOf(
            await app`select * from api.workflows_by_status(${a.tenant}, ${status}, ${null}, ${1000})`,
          ),
        );
        // an exact cursor naming B's workflow pages A's own rows only
        rows.push(
          ...rowsOf(
            await app`select * from api.workflows_by_status(${a.tenant}, ${status}, ${FAR_CURSOR}::timestamptz, ${1000}, ${first(b.workflows)})`,
          ),
        );
      }
      return {
        result: rows,
        bIds: b.workflows,
        expect: (r) =>
          expect(
            rowsOf(r).every((x) =>
              a.workflows.includes(String((x as { id: string }).id)),
            ),
          ).toBe(true),
      };
    },
  ],
  workflow_tasks: [
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.workflow_tasks(${a.tenant}, ${first(b.workflows)})`,
      ),
      bIds: b.tasks,
      expect: (r) => expect(r).toEqual([]),
    }),
  ],
  validate_session: [
    // No tenant argument: the token decides. B's token gives B's session and nothing else.
    async (_a, b, app) => ({
      result: rowsOf(
        await app`select * from api.validate_session(${first(b.tokens)}::uuid)`,
      ),
      bIds: [],
      expect: (r) =>
        expect(
          rowsOf(r).map((x) => String((x as { tenant_id: string }).tenant_id)),
        ).toEqual([b.tenant]),
    }),
  ],
  classify_documents: [
    async (a, b, app) => ({
      result: (
        await app`select api.classify_documents(${a.tenant}, ${b.documents}::bigint[], 'isolation') as r`
      )[0]!.r,
      bIds: [],
      expect: (r) =>
        expect(r).toEqual({ updated: 0, not_found: b.documents.length }),
    }),
  ],
  confirm_classifications: [
    async (a, b, app) => ({
      result: (
        await app`select api.confirm_classifications(${a.tenant}, ${b.documents}::bigint[]) as r`
      )[0]!.r,
      bIds: [],
      expect: (r) =>
        expect(r).toEqual({ confirmed: 0, not_found: b.documents.length }),
    }),
  ],
  delete_documents: [
    async (a, b, app) => ({
      result: (
        await app`select api.delete_documents(${a.tenant}, ${b.documents}::bigint[]) as r`
      )[0]!.r,
      bIds: [],
      expect: (r) =>
        expect(r).toEqual({
          deleted: 0,
          not_found: b.documents.length,
          tombstoned: 0,
        }),
    }),
    async (a, b, app) => ({
      result: (
        await app`select api.delete_documents(${a.tenant}, ${b.documents}::bigint[], ${true}) as r`
      )[0]!.r,
      bIds: [],
      expect: (r) =>
        expect(r).toEqual({
          deleted: 0,
          not_found: b.documents.length,
          tombstoned: 0,
        }),
    }),
  ],
  new_external_ids: [
    async (a, b, app) => ({
      result: await sqlState(
        app`select api.new_external_ids(${a.tenant}, ${first(b.connectors)}, ${b.externalIds.slice(0, 100)}::text[])`,
      ),
      bIds: [],
      expect: (r) => expect(r).toBe("QB009"),
    }),
    // A's own connector, B's external ids: all new to A, so the answer says nothing about B
    async (a, b, app) => {
      const asked = [...new Set(b.externalIds.slice(0, 100))].filter(
        (e) => !a.externalIds.includes(e),
      );
      const [row] = await app<
        { r: string[] }[]
      >`select api.new_external_ids(${a.tenant}, ${first(a.connectors)}, ${asked}::text[]) as r`;
      return {
        result: row!.r,
        bIds: [],
        expect: (r) => expect(r).toEqual(asked),
      };
    },
  ],
  // --- write api (issue 11, items 5-7): A writes its own rows only; B's ids are not found ---
  start_conversation: [
    async (a, b, app) => ({
      result: await sqlState(
        app`select * from api.start_conversation(${a.tenant}, ${first(b.users)}, 'isolation')`,
      ),
      bIds: [],
      expect: (r) => expect(r).toBe("QB009"),
    }),
  ],
  add_messages: [
    async (a, b, app) => ({
      result: await sqlState(
        app`select * from api.add_messages(${a.tenant}, ${first(b.conversations)}, ${JSON.stringify([{ role: "user", content: "x" }])}::text::jsonb)`,
      ),
      bIds: [],
      expect: (r) => expect(r).toBe("QB009"),
    }),
  ],
  open_gaps: [
    async (a, _b, app) => ({
      result: rowsOf(
        await app`select * from api.open_gaps(${a.tenant}, ${JSON.stringify([{ title: "isolation", category: "process" }])}::text::jsonb)`,
      ),
      bIds: [],
      expect: (r) => expect(rowsOf(r)).toHaveLength(1),
    }),
  ],
  answer_gap: [
    async (a, b, app) => ({
      result: await sqlState(
        app`select * from api.answer_gap(${a.tenant}, ${first(b.answeredGaps)}, 'isolation')`,
      ),
      bIds: [],
      expect: (r) => expect(r).toBe("QB009"),
    }),
  ],
  set_gap_status: [
    async (a, b, app) => ({
      result: (
        await app`select api.set_gap_status(${a.tenant}, ${b.answeredGaps}::bigint[], 'closed') as r`
      )[0]!.r,
      bIds: [],
      expect: (r) =>
        expect(r).toEqual({
          updated: 0,
          unchanged: 0,
          not_found: new Set(b.answeredGaps).size,
        }),
    }),
  ],
  upsert_agents: [
    // B's agent names are A's own agents (names are unique per tenant, not across tenants)
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.upsert_agents(${a.tenant}, ${JSON.stringify(b.agentNames.slice(0, 3).map((name) => ({ name, type: "worker" })))}::text::jsonb)`,
      ),
      bIds: b.agents,
      expect: (r) =>
        expect(
          rowsOf(r).every(
            (x) => !b.agents.includes(String((x as { id: string }).id)),
          ),
        ).toBe(true),
    }),
  ],
  set_agents_active: [
    async (a, b, app) => ({
      result: (
        await app`select api.set_agents_active(${a.tenant}, ${b.agents}::bigint[], false) as r`
      )[0]!.r,
      bIds: [],
      expect: (r) =>
        expect(r).toEqual({
          updated: 0,
          unchanged: 0,
          not_found: b.agents.length,
        }),
    }),
  ],
  create_workflow: [
    async (a, b, app) => ({
      result: [
        await sqlState(
          app`select * from api.create_workflow(${a.tenant}, 'isolation', ${JSON.stringify([{ name: "t", agent_id: Number(first(b.agents)) }])}::text::jsonb)`,
        ),
        await sqlState(
          app`select * from api.create_workflow(${a.tenant}, 'isolation', ${JSON.stringify([{ name: "t" }])}::text::jsonb, ${first(b.agents)})`,
        ),
      ],
      bIds: [],
      expect: (r) => expect(r).toEqual(["QB009", "QB009"]),
    }),
  ],
  set_task_status: [
    async (a, b, app) => ({
      result: (
        await app`select api.set_task_status(${a.tenant}, ${b.tasks}::bigint[], 'failed') as r`
      )[0]!.r,
      bIds: [],
      expect: (r) =>
        expect(r).toEqual({
          updated: 0,
          unchanged: 0,
          not_found: b.tasks.length,
          workflows: [],
        }),
    }),
  ],
  // --- end write api (items 5-7) ---
  // --- issue 11, items 1 and 2: tenants, users, connectors, collections, sessions ---
  // No tenant argument: a new tenant is neither A nor B, and B's rows stay as they were.
  create_tenant: [
    async (a, b, app) => ({
      result: rowsOf(await app`select * from api.create_tenant('isolation')`),
      bIds: [b.tenant, a.tenant],
    }),
  ],
  // (before create_users, which copies B's emails into A)
  user_by_email: [
    async (a, b, app) => {
      const [u] = await db().sql<{ email: string }[]>`
        select email from app.users u where tenant_id = ${b.tenant}
          and not exists (select from app.users x where x.tenant_id = ${a.tenant} and x.email = u.email) order by id limit 1`;
      return {
        result: rowsOf(
          await app`select * from api.user_by_email(${a.tenant}, ${u!.email})`,
        ),
        bIds: b.users,
        expect: (r) => expect(r).toEqual([]),
      };
    },
  ],
  // B's emails, in A: new users of A (emails are unique per tenant), none of B's ids.
  create_users: [
    async (a, b, app) => {
      const emails = (
        await db().sql<
          { email: string }[]
        >`select email from app.users where tenant_id = ${b.tenant} order by id limit 20`
      ).map((r) => r.email);
      const items = emails.map((email) => ({
        email,
        display_name: "isolation",
      }));
      const rows = rowsOf(
        await app`select * from api.create_users(${a.tenant}, ${app.json(items)})`,
      ) as { status: string }[];
      return {
        result: rows,
        bIds: b.users,
        expect: (r) => expect(rowsOf(r).length).toBe(items.length),
      };
    },
  ],
  create_connector: [
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.create_connector(${a.tenant}, 'web', 'isolation')`,
      ),
      bIds: b.connectors,
    }),
  ],
  create_collection: [
    async (a, b, app) => ({
      result: await sqlState(
        app`select * from api.create_collection(${a.tenant}, ${first(b.users)}, 'isolation')`,
      ),
      bIds: [],
      expect: (r) => expect(r).toBe("QB009"),
    }),
  ],
  set_collection_status: [
    async (a, b, app) => ({
      result: (
        await app`select api.set_collection_status(${a.tenant}, ${b.collections}::bigint[], 'archived') as r`
      )[0]!.r,
      bIds: [],
      expect: (r) =>
        expect(r).toEqual({
          updated: 0,
          unchanged: 0,
          not_found: b.collections.length,
        }),
    }),
  ],
  create_session: [
    async (a, b, app) => ({
      result: await sqlState(
        app`select * from api.create_session(${a.tenant}, ${first(b.users)})`,
      ),
      bIds: [],
      expect: (r) => expect(r).toBe("QB009"),
    }),
  ],
  revoke_user_sessions: [
    async (a, b, app) => ({
      result: (
        await app`select api.revoke_user_sessions(${a.tenant}, ${first(b.users)}) as n`
      )[0]!.n,
      bIds: [],
      expect: (r) => expect(r).toBe(0),
    }),
  ],
  // The token routines take no tenant (as validate_session): B's token reaches B's session
  // only. A touch shorter than the session's remaining life writes nothing; a revoke of B's
  // expired (or an unknown) token ends nothing.
  touch_session: [
    async (_a, b, app) => ({
      result: rowsOf(
        await app`select * from api.touch_session(${first(b.tokens)}::uuid, interval '1 minute')`,
      ),
      bIds: [],
      expect: (r) =>
        expect(
          rowsOf(r).map((x) => String((x as { tenant_id: string }).tenant_id)),
        ).toEqual([b.tenant]),
    }),
  ],
  revoke_session: [
    async (_a, b, app) => {
      const [dead] = await db().sql<{ token: string }[]>`
        select token::text from app.user_sessions where tenant_id = ${b.tenant} and expires_at <= now() order by id limit 1`;
      const result = (
        await app`select api.revoke_session(${dead?.token ?? "00000000-0000-4000-8000-000000000000"}::uuid) as r`
      )[0]!.r;
      return { result, bIds: [], expect: (r) => expect(r).toBe(false) };
    },
  ],
  // --- end of issue 11, items 1 and 2 ---
  // --- write api, issue 11 items 3 and 4 (w2) ---
  sync_documents: [
    async (a, b, app) => {
      const items = JSON.stringify(
        b.externalIds
          .slice(0, 20)
          .map((e) => ({ external_id: e, title: "isolation" })),
      );
      const codes = [
        await sqlState(
          app`select api.sync_documents(${a.tenant}, ${first(b.connectors)}, ${first(a.collections)}, ${items}::text::jsonb)`,
        ),
        await sqlState(
          app`select api.sync_documents(${a.tenant}, ${first(a.connectors)}, ${first(b.collections)}, ${items}::text::jsonb)`,
        ),
      ];
      return {
        result: codes,
        bIds: [],
        expect: (r) => expect(r).toEqual(["QB009", "QB009"]),
      };
    },
  ],
  add_documents: [
    async (a, b, app) => ({
      result: await sqlState(
        app`select * from api.add_documents(${a.tenant}, ${first(b.collections)}, '[{"title": "isolation"}]'::jsonb)`,
      ),
      bIds: [],
      expect: (r) => expect(r).toBe("QB009"),
    }),
  ],
  replace_chunks: [
    // B's documents, named in A's collection and in B's: not found, B's chunks untouched
    async (a, b, app) => {
      const chunk = (d: string) => ({
        document_id: Number(d),
        chunk_index: 0,
        content: "isolation",
      });
      const items = JSON.stringify(
        b.documentsOfCollection.slice(0, 50).map(chunk),
      );
      const results = [
        (
          await app<
            { r: unknown }[]
          >`select api.replace_chunks(${a.tenant}, ${first(a.collections)}, ${items}::text::jsonb) as r`
        )[0]!.r,
        (
          await app<
            { r: unknown }[]
          >`select api.replace_chunks(${a.tenant}, ${first(b.collections)}, ${items}::text::jsonb) as r`
        )[0]!.r,
      ];
      const n = Math.min(50, b.documentsOfCollection.length);
      return {
        result: results,
        bIds: [],
        expect: (r) =>
          expect(r).toEqual(
            [0, 1].map(() => ({
              replaced: 0,
              chunks_inserted: 0,
              chunks_deleted: 0,
              not_found: n,
            })),
          ),
      };
    },
  ],
  enqueue_operations: [
    async (a, b, app) => {
      const codes = [
        await sqlState(
          app`select * from api.enqueue_operations(${a.tenant}, ${first(b.collections)}, 'chunking', '[{}]'::jsonb)`,
        ),
        await sqlState(
          app`select * from api.enqueue_operations(${a.tenant}, ${first(a.collections)}, 'chunking', ${JSON.stringify([{ user_id: Number(first(b.users)) }])}::text::jsonb)`,
        ),
      ];
      return {
        result: codes,
        bIds: [],
        expect: (r) => expect(r).toEqual(["QB009", "QB009"]),
      };
    },
  ],
  claim_operations: [
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.claim_operations(${a.tenant}, 'chunking', ${1000})`,
      ),
      bIds: b.operations,
      expect: (r) =>
        expect(
          rowsOf(r).every((x) =>
            a.operations.includes(String((x as { id: string }).id)),
          ),
        ).toBe(true),
    }),
  ],
  finish_operations: [
    async (a, b, app) => {
      const ids = b.operations
        .filter((o) => !a.operations.includes(o))
        .slice(0, 1000);
      const items = JSON.stringify(
        ids.map((id) => ({
          id: Number(id),
          status: "completed",
          processing_time: 1,
        })),
      );
      return {
        result: (
          await app<
            { r: unknown }[]
          >`select api.finish_operations(${a.tenant}, ${items}::text::jsonb) as r`
        )[0]!.r,
        bIds: [],
        expect: (r) =>
          expect(r).toEqual({
            finished: 0,
            already_finished: 0,
            not_found: ids.length,
          }),
      };
    },
  ],
  cancel_operations: [
    async (a, b, app) => {
      const ids = b.operations
        .filter((o) => !a.operations.includes(o))
        .slice(0, 1000);
      return {
        result: (
          await app<
            { r: unknown }[]
          >`select api.cancel_operations(${a.tenant}, ${ids}::bigint[]) as r`
        )[0]!.r,
        bIds: [],
        expect: (r) =>
          expect(r).toEqual({
            cancelled: 0,
            already_finished: 0,
            not_found: ids.length,
          }),
      };
    },
  ],
  // --- end of the write api block (w2) ---
  // The two that delete A's documents run last (see the order below).
  purge_documents_batch: [
    async (a, b, app) => ({
      result: rowsOf(
        await app`select * from api.purge_documents_batch(${a.tenant}, ${10}, ${String(BigInt(first(b.documents)) - 1n)}, ${false})`,
      ),
      bIds: b.documents,
    }),
  ],
  purge_documents: [
    async (a, _b, app) => {
      const [row] = await app<
        { p_deleted: string }[]
      >`call api.purge_documents(${a.tenant}, ${500})`;
      return {
        result: row,
        bIds: [],
        expect: () =>
          expect(Number(row!.p_deleted)).toBeLessThanOrEqual(a.documentCount),
      };
    },
  ],
};
const WRITES_A = ["purge_documents_batch", "purge_documents"];

let app: postgres.Sql;
let pairs: [Holdings, Holdings][] = [];
const tally = { calls: 0, routines: new Set<string>(), leaks: 0, changed: 0 };

beforeAll(async () => {
  const { sql, url } = db();
  const candidates = await sql<{ tenant: string }[]>`
    select t.tenant_id::text as tenant from app.tenants t
    where exists (select from app.chunks k where k.tenant_id = t.tenant_id)
      and exists (select from app.messages m where m.tenant_id = t.tenant_id)
      and exists (select from app.workflow_tasks w where w.tenant_id = t.tenant_id)
      and exists (select from app.agents a where a.tenant_id = t.tenant_id)
      and exists (select from app.documents d where d.tenant_id = t.tenant_id and d.connector_id is not null)
      and exists (select from app.user_sessions s where s.tenant_id = t.tenant_id and s.expires_at > now() + interval '1 hour')
      and exists (select from app.conversations c where c.tenant_id = t.tenant_id)
      and exists (select from app.gap_answers g where g.tenant_id = t.tenant_id)
      and exists (select from app.operations o where o.tenant_id = t.tenant_id and o.status in ('pending', 'processing'))
    order by t.tenant_id`;
  const random = prng(5005);
  const chosen = pick(
    candidates.map((c) => c.tenant),
    5,
    random,
  );
  const held = await Promise.all(chosen.map((t) => holdings(sql, t)));
  // three ordered pairs (A, B): 0 -> 1, 1 -> 2, 2 -> 0; and 3 -> 4 for the routines that delete A's documents
  pairs = [
    [held[0]!, held[1]!],
    [held[1]!, held[2]!],
    [held[2]!, held[0]!],
  ];
  if (held.length >= 5) pairs.push([held[3]!, held[4]!]);
  app = await connectAs(url, "querybudget_app");
});

afterAll(async () => {
  await app?.end();
});

describe("tenant isolation matrix: tenant A's calls with tenant B's ids", () => {
  test("the matrix covers every api routine", async () => {
    const names = (
      await db().sql<
        { name: string }[]
      >`select distinct proname as name from pg_proc where pronamespace = 'api'::regnamespace order by 1`
    ).map((r) => r.name);
    expect(Object.keys(MATRIX).sort()).toEqual(names);
    // three pairs for the readers, a fourth whose A the purges may wipe
    expect(pairs.length, "tenant pairs with data of every kind").toBe(4);
  });

  const order = [
    ...Object.keys(MATRIX).filter((n) => !WRITES_A.includes(n)),
    ...WRITES_A,
  ];
  for (const name of order) {
    test(`api.${name}: nothing of B's returned, nothing of B's changed`, async () => {
      const { sql } = db();
      let calls = 0;
      // the writers of A wipe A: one pair each is enough, and they take the last pair
      const subjects = WRITES_A.includes(name) ? pairs.slice(-1) : pairs;
      for (const [a, b] of subjects) {
        for (const check of MATRIX[name]!) {
          const before = await tableChecksums(sql, b.tenant);
          const { result, bIds, expect: more } = await check(a, b, app);
          const after = await tableChecksums(sql, b.tenant);
          const label = `api.${name}, A = tenant ${a.tenant}, B = tenant ${b.tenant}`;
          const leaked = bIds.filter((id) => idsIn(result).has(id));
          tally.calls++;
          tally.routines.add(name);
          if (leaked.length) tally.leaks++;
          if (JSON.stringify(after) !== JSON.stringify(before)) tally.changed++;
          expect(leaked, `${label}: ids of B in the result`).toEqual([]);
          expect(after, `${label}: B's rows changed`).toEqual(before);
          more?.(result);
          calls++;
        }
      }
      expect(calls).toBeGreaterThan(0);
    });
  }

  test("tenant B's rows are still all there after the whole matrix", async () => {
    const { sql } = db();
    console.log(
      `isolation: ${tally.calls} calls as tenant A with tenant B's ids across ${tally.routines.size} api routines, ` +
        `${tally.leaks} returned something of B's, ${tally.changed} changed B's rows`,
    );
    for (const [, b] of pairs) {
      const [n] = await sql<{ documents: number; chunks: number }[]>`
        select (select count(*)::int from app.documents where tenant_id = ${b.tenant}) as documents,
               (select count(*)::int from app.chunks where tenant_id = ${b.tenant}) as chunks`;
      // the last pair's A is wiped by purge_documents, and in pairs 0..2 every tenant is a B
      expect(n!.documents, `tenant ${b.tenant}`).toBe(b.documentCount);
      expect(n!.chunks, `tenant ${b.tenant}`).toBe(b.chunks.length);
    }
  });
});
