// The workload: for every api routine, how to call it with realistic arguments chosen from the
// seeded data, what its plan must look like (intended indexes, partitions pruned) and what it
// may cost (shared buffers per call, per tier; p95 time). One definition, shared by the plan
// tests (test/plans.test.ts), the budget tests (test/budgets.test.ts), the fingerprints
// (scripts/accept-plans.ts) and the `npm start` report. docs/budgets.md has the table.
//
//   const calls = await apiCalls(sql);                          // every workload, arguments resolved from the data
//   for (const call of calls) {
//     const { statements } = await explainCall(db, call);       // auto_explain, the 8th call of a session
//     if (call.kind !== "procedure") {
//       const ms = await timeCall(sql, call, call.calls[0]!.args); // one timed call (rolled back if it writes)
//     }
//   }
//   const { batchMs } = await timePurgeBatches(url, tenant, PURGE_BUDGET_BATCH); // the procedure, per batch
//
// Subjects are chosen by rules written in SQL, ordered by size or by hashint8(id): the same
// data gives the same subjects and so the same plans, which the committed fingerprints need.
// The first argument set (`args`) is the plan subject; `calls` are more sets of the same kind,
// rotated over the timed calls.
import { join } from "node:path";
import postgres from "postgres";
import { exactTimestamptz } from "./timestamptz.ts";
import {
  enableAutoExplain,
  explainFunction,
  fingerprint,
  parseAutoExplainNotice,
  partitionsScanned,
  resolveNames,
  sharedBuffers,
  walk,
  type ExplainedStatement,
  type PlanNode,
} from "./plan/index.ts";
import {
  runClock,
  WALL_CLOCK,
  type Mark,
  type RunClock,
  type Timed,
} from "./run-clock.ts";
import { ROOT } from "./sql-files.ts";

/** The two tiers CI proves: seeded rows (chunks and operations). */
export const TIERS = { "10k": 10_000, "1M": 1_000_000 } as const;
export type TierName = keyof typeof TIERS;

/** The seeds' requirement: p95 of warm calls through postgres.js at the 1M tier. */
export const P95_BUDGET_MS = 100;

/** read: no writes. write: changes rows; run each call in a transaction rolled back. procedure: commits batch by batch (consumes its subject). */
export type WorkloadKind = "read" | "write" | "procedure";

export interface Call {
  /** The api routine's arguments, in the order of the $n of `query`. */
  args: unknown[];
  /** The before side's arguments (scripts/lib/before/index.ts, `BEFORE[routine].run`); absent: the same as args. */
  beforeArgs?: unknown[];
}

export interface PartitionExpectation {
  /** The partitioned table, "app.chunks". */
  table: string;
  /**
   * "one": at most one of its partitions scanned in the whole call (the key is a parameter).
   * "one per probe": every Append over its partitions runs at most one member per execution
   *   (a nested loop probing by the partition key, pruned at run time): as many partition scans
   *   as probes, never all partitions per probe.
   * "some": at least one partition pruned (left out of the plan or removed at executor start).
   */
  rule: "one" | "one per probe" | "some";
  /** Why it holds, in a few words. */
  why: string;
  /** The tiers where it is asserted (default: both); docs/budgets.md says why when not both. */
  tiers?: TierName[];
}

export interface WorkloadDefinition {
  /** The workload's name: the routine, with a variant when one routine has two ("api.delete_documents (hard)"). */
  name: string;
  /** The routine, "api.delete_documents" (as in pg_proc and scripts/lib/before/index.ts). */
  routine: string;
  kind: WorkloadKind;
  /** The call, with $n parameters: `select * from api.chunks_page($1, $2, $3, $4)`. */
  query: string;
  /** The subject, in words (docs, reports). */
  subject: string;
  /** Bulk routines: the position of the id array in args. */
  idsArg?: number;
  /** Indexes the plan must use (Index, Index Only or Bitmap Index Scan), parent names, schema-qualified. */
  intendedIndexes: string[];
  /**
   * Intended indexes not required at the 10k tier because their table has fewer than
   * SEQ_SCAN_MIN_ROWS rows there, where reading it whole is right (the plan test checks the size).
   */
  smallAt10k?: string[];
  /** Partitions pruned: the partition key is given. */
  partitions?: PartitionExpectation[];
  /** Shared buffers (hit + read) per call allowed, per tier: the measured ones (test/plans/buffers.json) with a margin (about 25 %, at least 6). For the procedure: per batch. */
  buffers: Record<TierName, number>;
  /**
   * The last p95 measured at 1M, ms, for docs/budgets.md (`npm run docs:generate`), from a full
   * `npx vitest run` (test/budgets.test.ts; the procedure: per batch of PURGE_BUDGET_BATCH). The
   * buffers measured come from test/plans/buffers.json, which `npm run plans:accept` writes.
   */
  measuredP95Ms: number;
  /** Whether buffers at 1M ≤ 2 × buffers at 10k is asserted (the target); when false, `ratioNote` says why not. */
  ratioAsserted: boolean;
  ratioNote?: string;
  /** p95 budget in ms at the 1M tier (P95_BUDGET_MS unless said otherwise); for the procedure: per batch. */
  p95Ms: number;
  /** Argument sets, at most n, chosen from the data, the plan subject first. */
  calls(sql: postgres.Sql, n: number): Promise<Call[]>;
}

/** A workload definition with its arguments resolved from the data. */
export interface ApiCall extends Omit<WorkloadDefinition, "calls"> {
  /** The plan subject: `calls[0].args`. */
  args: unknown[];
  beforeArgs?: unknown[];
  /** Argument sets for timed calls (the plan subject first). */
  calls: Call[];
}

/**
 * The point reads: a call that finds rows runs two statements, itself and its query. Their
 * guards are plpgsql assignments (simple expressions, no statement), the tenant is set without
 * one (app.enter_tenant) and checked only when the query finds no row (functions/app/guards.sql).
 * test/api-cost.test.ts counts them; docs/api.md "What a call costs".
 */
export const POINT_READS = [
  "api.validate_session",
  "api.user_by_email",
  "api.agent_by_name",
  "api.active_agents",
  "api.workflow_tasks",
  "api.workflows_by_status",
  "api.user_conversations",
  "api.conversation_messages",
  "api.gap_answers",
  "api.active_operations",
  "api.chunks_page",
] as const;
/** Statements a point read that finds rows may run (the call and its query). */
export const POINT_READ_STATEMENTS = 2;

/** A Seq Scan of a relation with at least this many rows (pg_class.reltuples) fails a plan test. */
export const SEQ_SCAN_MIN_ROWS = 10_000;

/** Ids in a bulk call. */
export const BULK_IDS = 100;
/** Documents per batch in the purge's plan test (small, so a tenant of the 10k tier gives 10 batches). */
export const PURGE_PLAN_BATCH = 50;
/** Documents per batch in the purge's time budget (docs/budgets.md: the budget is per batch). */
export const PURGE_BUDGET_BATCH = 250;

// Deterministic "random" order: hashint8 of the key.
const byHash = (column: string) => `hashint8((${column})::bigint)`;

async function rows<T>(
  sql: postgres.Sql,
  query: string,
  params: unknown[] = [],
): Promise<T[]> {
  return (await sql.unsafe(query, params as never[])) as unknown as T[];
}

function atLeastOne<T>(name: string, items: T[]): T[] {
  if (items.length === 0)
    throw new Error(
      `workload ${name}: no subject in the data (has the seed changed?)`,
    );
  return items;
}

/** The biggest tenant's live documents in hash order, cut into sets of BULK_IDS (sets of the next tenants after). */
async function bulkDocumentSets(
  sql: postgres.Sql,
  n: number,
): Promise<{ tenant: string; ids: string[] }[]> {
  const found = await rows<{ tenant_id: string; ids: string[] }>(
    sql,
    `with t as (
       select tenant_id from app.documents where status <> 'deleted'
       group by tenant_id having count(*) >= $1 order by count(*) desc, tenant_id limit $2)
     select t.tenant_id::text, array(select d.id::text from app.documents d
                                  where d.tenant_id = t.tenant_id and d.status <> 'deleted'
                                  order by ${byHash("d.id")}, d.id limit $1 * $2) as ids
     from t order by (select count(*) from app.documents d where d.tenant_id = t.tenant_id) desc, t.tenant_id`,
    [BULK_IDS, n],
  );
  const sets: { tenant: string; ids: string[] }[] = [];
  for (const row of found) {
    for (
      let k = 0;
      sets.length < n && (k + 1) * BULK_IDS <= row.ids.length;
      k++
    ) {
      sets.push({
        tenant: row.tenant_id,
        ids: row.ids.slice(k * BULK_IDS, (k + 1) * BULK_IDS),
      });
    }
  }
  return sets;
}

/** Tenants, biggest (by documents) first. */
async function tenantsBySize(sql: postgres.Sql, n: number): Promise<string[]> {
  const found = await rows<{ tenant_id: string }>(
    sql,
    `select t.tenant_id::text from app.tenants t
     order by (select count(*) from app.documents d where d.tenant_id = t.tenant_id) desc, t.tenant_id limit $1`,
    [n],
  );
  return found.map((r) => r.tenant_id);
}

/** Live sessions (expiring in more than a day) in hash order: their tokens. */
async function liveSessionTokens(
  sql: postgres.Sql,
  n: number,
): Promise<{ token: string }[]> {
  return rows<{ token: string }>(
    sql,
    `select token::text from app.user_sessions where expires_at > now() + interval '1 day' order by ${byHash("id")}, id limit $1`,
    [n],
  );
}

/** Users in hash order: (tenant_id, id). */
async function usersByHash(
  sql: postgres.Sql,
  n: number,
): Promise<{ tenant_id: string; id: string }[]> {
  return rows<{ tenant_id: string; id: string }>(
    sql,
    `select tenant_id::text, id::text from app.users order by ${byHash("id")}, id limit $1`,
    [n],
  );
}

const CHUNKS_ONE_PARTITION: PartitionExpectation = {
  table: "app.chunks",
  rule: "one",
  why: "the collection (partition key) is an argument",
};
const CHUNKS_PER_DOCUMENT: PartitionExpectation = {
  table: "app.chunks",
  rule: "one per probe",
  why: "each document's chunks are probed by (tenant, collection, document): one partition per document, pruned at run time",
};

export const WORKLOAD: WorkloadDefinition[] = [
  {
    name: "api.collection_statistics",
    routine: "api.collection_statistics",
    kind: "read",
    query: "select api.collection_statistics($1, $2)",
    subject:
      "the biggest collection (by chunks), then others in hash order; the default: the totals the writers maintain plus the pending deltas",
    intendedIndexes: ["app.collection_stat_totals_pkey"],
    smallAt10k: [
      "app.collection_stat_totals_pkey",
      "app.collection_stat_deltas_pkey",
    ],
    buffers: { "10k": 10, "1M": 12 },
    measuredP95Ms: 0.43,
    ratioAsserted: false,
    ratioNote:
      "5 buffers against 2, and constant: at 10k the tenant check reads the one page of app.tenants and the totals' index has one level; at 1M both are B-tree lookups. It does not grow with the data",
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; collection_id: string }>(
        sql,
        `select tenant_id::text, collection_id::text from app.collection_stat_totals
         order by chunks_total desc, collection_id limit 1`,
      );
      const others = await rows<{ tenant_id: string; collection_id: string }>(
        sql,
        `select tenant_id::text, collection_id::text from app.collection_stat_totals order by ${byHash("collection_id")}, collection_id limit $1`,
        [n],
      );
      return atLeastOne(this.name, [
        ...found,
        ...others.filter((o) => o.collection_id !== found[0]?.collection_id),
      ])
        .slice(0, n)
        .map((r) => ({ args: [r.tenant_id, r.collection_id] }));
    },
  },
  {
    name: "api.collection_statistics (fresh)",
    routine: "api.collection_statistics",
    kind: "read",
    query: "select api.collection_statistics($1, $2, true)",
    subject:
      "collections of middle size (between the 25th and 75th percentile of chunks) in hash order; p_fresh => true: computed live",
    intendedIndexes: ["app.operations_tenant_id_collection_id_type_status_idx"],
    partitions: [CHUNKS_ONE_PARTITION],
    buffers: { "10k": 200, "1M": 950 },
    measuredP95Ms: 5.8,
    ratioAsserted: false,
    ratioNote:
      "computed live: reads the collection's operations and chunks, so it grows with the collection (the middle half: 90 to 190 chunks at 10k, 380 to 1,010 at 1M)",
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; collection_id: string }>(
        sql,
        `with q as (select percentile_disc(0.25) within group (order by chunks_total) as lo,
                           percentile_disc(0.75) within group (order by chunks_total) as hi
                    from app.collection_stat_totals)
         select s.tenant_id::text, s.collection_id::text from app.collection_stat_totals s, q
         where s.chunks_total between q.lo and q.hi
         order by ${byHash("s.collection_id")}, s.collection_id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.collection_id],
      }));
    },
  },
  {
    name: "api.knowledge_gap_stats",
    routine: "api.knowledge_gap_stats",
    kind: "read",
    query: "select api.knowledge_gap_stats($1)",
    subject: "the biggest tenant (half of all gaps), then the next biggest",
    intendedIndexes: ["app.knowledge_gaps_tenant_id_category_status_idx"],
    smallAt10k: ["app.knowledge_gaps_tenant_id_category_status_idx"],
    buffers: { "10k": 12, "1M": 25 },
    measuredP95Ms: 2.7,
    ratioAsserted: false,
    ratioNote:
      "an index-only scan of all the tenant's gaps: grows with the tenant (tenant 1 holds half the gaps at every tier)",
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      return (await tenantsBySize(sql, n)).map((t) => ({ args: [t] }));
    },
  },
  {
    name: "api.document_status_counts",
    routine: "api.document_status_counts",
    kind: "read",
    query: "select api.document_status_counts($1)",
    subject:
      "the biggest tenant (half of all documents), then the next biggest",
    intendedIndexes: ["app.documents_tenant_id_status_idx"],
    buffers: { "10k": 10, "1M": 60 },
    measuredP95Ms: 1.8,
    ratioAsserted: false,
    ratioNote:
      "an index-only scan of all the tenant's documents: grows with the tenant",
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      return (await tenantsBySize(sql, n)).map((t) => ({ args: [t] }));
    },
  },
  {
    name: "api.chunks_for_documents",
    routine: "api.chunks_for_documents",
    kind: "read",
    query: "select * from api.chunks_for_documents($1, $2, $3::bigint[], $4)",
    subject: `${BULK_IDS} documents (hash order) of the biggest collections having that many`,
    idsArg: 2,
    intendedIndexes: [
      "app.chunks_tenant_id_collection_id_document_id_chunk_index_key",
    ],
    partitions: [CHUNKS_ONE_PARTITION],
    buffers: { "10k": 400, "1M": 520 },
    measuredP95Ms: 12.1,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{
        tenant_id: string;
        collection_id: string;
        ids: string[];
      }>(
        sql,
        `select tenant_id::text, collection_id::text,
                (array_agg(id::text order by ${byHash("id")}, id))[1:$1] as ids
         from app.documents group by tenant_id, collection_id having count(*) >= $1
         order by count(*) desc, collection_id limit $2`,
        [BULK_IDS, n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.collection_id, r.ids, 1000],
      }));
    },
  },
  {
    name: "api.chunks_page",
    routine: "api.chunks_page",
    kind: "read",
    query: "select * from api.chunks_page($1, $2, $3, $4)",
    subject:
      "a page of 100 in the middle of the biggest collections (the cursor: the last id of the page before)",
    intendedIndexes: ["app.chunks_pkey"],
    partitions: [CHUNKS_ONE_PARTITION],
    buffers: { "10k": 12, "1M": 16 },
    measuredP95Ms: 6.4,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{
        tenant_id: string;
        collection_id: string;
        page: number;
        after_id: string;
      }>(
        sql,
        `with c as (
           select tenant_id, collection_id, chunks_total from app.collection_stat_totals where chunks_total >= 300
           order by chunks_total desc, collection_id limit $1)
         select c.tenant_id::text, c.collection_id::text, (c.chunks_total / 200 + 1)::int as page,
                (select k.id::text from app.chunks k where k.tenant_id = c.tenant_id and k.collection_id = c.collection_id
                 order by k.id offset (c.chunks_total / 200) * 100 - 1 limit 1) as after_id
         from c order by c.chunks_total desc, c.collection_id`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.collection_id, r.after_id, 100],
        beforeArgs: [r.tenant_id, r.collection_id, r.page, 100],
      }));
    },
  },
  {
    name: "api.classify_documents",
    routine: "api.classify_documents",
    kind: "write",
    query: "select api.classify_documents($1, $2::bigint[], $3)",
    subject: `${BULK_IDS} live documents (hash order) of the biggest tenant`,
    idsArg: 1,
    intendedIndexes: ["app.documents_pkey"],
    buffers: { "10k": 2600, "1M": 3700 },
    measuredP95Ms: 5.0,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      return atLeastOne(this.name, await bulkDocumentSets(sql, n)).map((s) => ({
        args: [s.tenant, s.ids, "contract"],
      }));
    },
  },
  {
    name: "api.confirm_classifications",
    routine: "api.confirm_classifications",
    kind: "write",
    query: "select api.confirm_classifications($1, $2::bigint[])",
    subject: `${BULK_IDS} live documents (hash order) of the biggest tenant`,
    idsArg: 1,
    intendedIndexes: ["app.documents_pkey"],
    buffers: { "10k": 3200, "1M": 3800 },
    measuredP95Ms: 8.4,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      return atLeastOne(this.name, await bulkDocumentSets(sql, n)).map((s) => ({
        args: [s.tenant, s.ids],
      }));
    },
  },
  {
    name: "api.delete_documents",
    routine: "api.delete_documents",
    kind: "write",
    query: "select api.delete_documents($1, $2::bigint[], $3)",
    subject: `soft delete of ${BULK_IDS} live documents (hash order) of the biggest tenant`,
    idsArg: 1,
    intendedIndexes: ["app.documents_pkey"],
    buffers: { "10k": 3800, "1M": 4500 },
    measuredP95Ms: 4.1,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      return atLeastOne(this.name, await bulkDocumentSets(sql, n)).map((s) => ({
        args: [s.tenant, s.ids, false],
      }));
    },
  },
  {
    name: "api.delete_documents (hard)",
    routine: "api.delete_documents",
    kind: "write",
    query: "select api.delete_documents($1, $2::bigint[], $3)",
    subject: `hard delete of ${BULK_IDS} live documents (hash order) of the biggest tenant, with their chunks`,
    idsArg: 1,
    intendedIndexes: [
      "app.documents_pkey",
      "app.chunks_tenant_id_collection_id_document_id_chunk_index_key",
    ],
    partitions: [CHUNKS_PER_DOCUMENT],
    buffers: { "10k": 5500, "1M": 6600 },
    measuredP95Ms: 9.1,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      return atLeastOne(this.name, await bulkDocumentSets(sql, n)).map((s) => ({
        args: [s.tenant, s.ids, true],
      }));
    },
  },
  {
    name: "api.purge_documents",
    routine: "api.purge_documents",
    kind: "procedure",
    query: "call api.purge_documents($1, $2)",
    subject: `plans: the 8th batch of ${PURGE_PLAN_BATCH} documents of the smallest tenant with at least 9 such batches; time: every batch of ${PURGE_BUDGET_BATCH} of the biggest tenant`,
    intendedIndexes: [
      "app.documents_pkey",
      "app.chunks_tenant_id_collection_id_document_id_chunk_index_key",
    ],
    partitions: [
      {
        ...CHUNKS_PER_DOCUMENT,
        tiers: ["1M"],
        why: `${CHUNKS_PER_DOCUMENT.why}; at 10k the 16 partitions (under 2,500 rows each) are rightly hashed whole`,
      },
    ],
    buffers: { "10k": 4700, "1M": 5700 },
    measuredP95Ms: 26.8,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string }>(
        sql,
        `select d.tenant_id::text from app.documents d group by d.tenant_id having count(*) >= 9 * $1
         order by count(*), d.tenant_id limit $2`,
        [PURGE_PLAN_BATCH, n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, PURGE_PLAN_BATCH],
        beforeArgs: [r.tenant_id],
      }));
    },
  },
  {
    name: "api.purge_documents_batch",
    routine: "api.purge_documents_batch",
    kind: "write",
    query: "select * from api.purge_documents_batch($1, $2, $3, false)",
    subject: `one batch of ${BULK_IDS} documents (and their chunks) of the biggest tenants, after the middle of their ids (keyset)`,
    intendedIndexes: [
      "app.documents_pkey",
      "app.chunks_tenant_id_collection_id_document_id_chunk_index_key",
    ],
    partitions: [
      {
        ...CHUNKS_PER_DOCUMENT,
        tiers: ["1M"],
        why: `${CHUNKS_PER_DOCUMENT.why}; at 10k the 16 partitions (under 2,500 rows each) are rightly hashed whole`,
      },
    ],
    buffers: { "10k": 4500, "1M": 5100 },
    measuredP95Ms: 9.8,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; after_id: string }>(
        sql,
        `select d.tenant_id::text, (percentile_disc(0.5) within group (order by d.id))::text as after_id
         from app.documents d group by d.tenant_id having count(*) >= 2 * $1
         order by count(*) desc, d.tenant_id limit $2`,
        [BULK_IDS, n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, BULK_IDS, r.after_id],
        beforeArgs: [r.tenant_id],
      }));
    },
  },
  {
    name: "api.new_external_ids",
    routine: "api.new_external_ids",
    kind: "read",
    query: "select api.new_external_ids($1, $2, $3::text[])",
    subject: `${BULK_IDS} external ids for the biggest connectors: up to 60 it has, up to 20 it tombstoned, the rest new`,
    idsArg: 2,
    intendedIndexes: [
      "app.documents_tenant_id_connector_id_external_id_key",
      "app.deleted_documents_tenant_id_connector_id_external_id_key",
    ],
    buffers: { "10k": 410, "1M": 500 },
    measuredP95Ms: 0.79,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{
        tenant_id: string;
        connector_id: string;
        stored: string[];
        tombstoned: string[];
      }>(
        sql,
        `with c as (
           select d.tenant_id, d.connector_id, count(*) as n from app.documents d
           where d.connector_id is not null group by 1, 2 order by n desc, d.connector_id limit $1)
         select c.tenant_id::text, c.connector_id::text,
                array(select d.external_id from app.documents d where d.tenant_id = c.tenant_id and d.connector_id = c.connector_id
                      order by ${byHash("d.id")}, d.id limit 60) as stored,
                array(select x.external_id from app.deleted_documents x where x.tenant_id = c.tenant_id and x.connector_id = c.connector_id
                      order by ${byHash("x.id")}, x.id limit 20) as tombstoned
         from c order by c.n desc, c.connector_id`,
        [n],
      );
      return atLeastOne(this.name, found).map((r, i) => {
        const ids = [...r.stored, ...r.tombstoned];
        for (let k = 0; ids.length < BULK_IDS; k++)
          ids.push(`workload-new-${i}-${k}`);
        return { args: [r.tenant_id, r.connector_id, ids] };
      });
    },
  },
  {
    name: "api.validate_session",
    routine: "api.validate_session",
    kind: "read",
    query: "select * from api.validate_session($1::uuid)",
    subject: "live sessions (expiring in more than a day) in hash order",
    intendedIndexes: ["app.user_sessions_token_idx", "app.users_pkey"],
    smallAt10k: ["app.users_pkey"],
    buffers: { "10k": 14, "1M": 18 },
    measuredP95Ms: 0.67,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await liveSessionTokens(sql, n);
      return atLeastOne(this.name, found).map((r) => ({ args: [r.token] }));
    },
  },
  {
    name: "api.user_conversations",
    routine: "api.user_conversations",
    kind: "read",
    query:
      "select * from api.user_conversations($1, $2, $3::timestamptz, $4, $5)",
    subject: "the first page of 50 of the users with the most conversations",
    intendedIndexes: ["app.conversations_tenant_id_user_id_created_at_id_idx"],
    smallAt10k: ["app.conversations_tenant_id_user_id_created_at_id_idx"],
    buffers: { "10k": 10, "1M": 30 },
    measuredP95Ms: 2.4,
    ratioAsserted: false,
    ratioNote:
      "at 10k the user's conversations are a 200-row table read whole (4 buffers); at 1M a page of up to 50 rows costs about one heap page per row (22 buffers), whatever the table's size",
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; user_id: string }>(
        sql,
        `select tenant_id::text, user_id::text from app.conversations group by 1, 2 order by count(*) desc, user_id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.user_id, null, 50, null],
        beforeArgs: [r.tenant_id, r.user_id, 0, 50],
      }));
    },
  },
  {
    name: "api.conversation_messages",
    routine: "api.conversation_messages",
    kind: "read",
    query:
      "select * from api.conversation_messages($1, $2, $3::timestamptz, $4, $5)",
    subject:
      "the second page of 20 (exact cursor: the 20th newest message) of the live conversations with the most messages",
    intendedIndexes: [
      "app.messages_tenant_id_conversation_id_created_at_id_idx",
      "app.conversations_pkey",
    ],
    smallAt10k: ["app.conversations_pkey"],
    partitions: [
      {
        table: "app.messages",
        rule: "some",
        why: "the cursor bounds created_at, the partition key: the months after it are pruned",
      },
    ],
    buffers: { "10k": 30, "1M": 50 },
    measuredP95Ms: 1.7,
    ratioAsserted: false,
    ratioNote:
      "a page of 20 messages of a busy conversation costs about a heap page per message at 1M (the messages of 20,000 conversations interleave in time), 4 to 7 at 10k: bounded by the page size plus a few index pages, not by the table",
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{
        tenant_id: string;
        conversation_id: string;
        cursor: string;
        cursor_id: string;
      }>(
        sql,
        `with c as (select m.tenant_id, m.conversation_id, count(*) as n from app.messages m
                    join app.conversations v on v.tenant_id = m.tenant_id and v.id = m.conversation_id
                    where v.expires_at is null or v.expires_at > now()
                    group by 1, 2 order by n desc, m.conversation_id limit $1)
         select c.tenant_id::text, c.conversation_id::text, k.cursor, k.cursor_id
         from c
         left join lateral (
           select m.created_at::text as cursor, m.id::text as cursor_id from app.messages m
           where m.tenant_id = c.tenant_id and m.conversation_id = c.conversation_id
             and (m.expires_at is null or m.expires_at > now())
           order by m.created_at desc, m.id desc offset 19 limit 1) k on true
         order by c.n desc, c.conversation_id`,
        [n],
      );
      return atLeastOne(
        this.name,
        found.filter((r) => r.cursor !== null),
      ).map((r) => ({
        args: [
          r.tenant_id,
          r.conversation_id,
          exactTimestamptz(r.cursor),
          20,
          r.cursor_id,
        ],
        beforeArgs: [r.tenant_id, r.conversation_id, 1, 20],
      }));
    },
  },
  {
    name: "api.gap_answers",
    routine: "api.gap_answers",
    kind: "read",
    query: "select * from api.gap_answers($1, $2)",
    subject: "the knowledge gaps with the most answers",
    intendedIndexes: ["app.gap_answers_tenant_id_knowledge_gap_id_idx"],
    smallAt10k: ["app.gap_answers_tenant_id_knowledge_gap_id_idx"],
    buffers: { "10k": 10, "1M": 16 },
    measuredP95Ms: 0.38,
    ratioAsserted: false,
    ratioNote:
      "at 10k app.gap_answers is a 100-row table read whole (3 buffers); at 1M an index lookup and a heap page per answer (10 buffers), whatever the table's size",
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; knowledge_gap_id: string }>(
        sql,
        `select tenant_id::text, knowledge_gap_id::text from app.gap_answers group by 1, 2
         order by count(*) desc, knowledge_gap_id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.knowledge_gap_id],
      }));
    },
  },
  {
    name: "api.active_operations",
    routine: "api.active_operations",
    kind: "read",
    query: "select * from api.active_operations($1, $2, $3)",
    subject:
      "the users with the most operations, their pending and processing ones (at most 100)",
    intendedIndexes: ["app.operations_tenant_id_user_id_status_idx"],
    buffers: { "10k": 45, "1M": 110 },
    measuredP95Ms: 0.8,
    ratioAsserted: false,
    ratioNote:
      "one partial-index probe per monthly partition and a heap page per active operation: it grows with the user's active operations (the subject has 28 at 10k, 72 at 1M; at most the limit of 100), not with the table",
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; user_id: string }>(
        sql,
        `select tenant_id::text, user_id::text from app.operations where user_id is not null group by 1, 2
         order by count(*) desc, user_id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.user_id, 100],
      }));
    },
  },
  {
    name: "api.agent_by_name",
    routine: "api.agent_by_name",
    kind: "read",
    query: "select * from api.agent_by_name($1, $2)",
    subject: "agents in hash order, by their name",
    intendedIndexes: ["app.agents_tenant_id_name_key"],
    smallAt10k: ["app.agents_tenant_id_name_key"],
    buffers: { "10k": 12, "1M": 12 },
    measuredP95Ms: 1.7,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; name: string }>(
        sql,
        `select tenant_id::text, name from app.agents order by ${byHash("id")}, id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.name],
      }));
    },
  },
  {
    name: "api.active_agents",
    routine: "api.active_agents",
    kind: "read",
    query: "select * from api.active_agents($1, $2)",
    subject: "all active agents of the biggest tenants",
    intendedIndexes: ["app.agents_tenant_id_is_active_type_idx"],
    smallAt10k: ["app.agents_tenant_id_is_active_type_idx"],
    buffers: { "10k": 12, "1M": 12 },
    measuredP95Ms: 0.4,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      return (await tenantsBySize(sql, n)).map((t) => ({ args: [t, null] }));
    },
  },
  {
    name: "api.workflows_by_status",
    routine: "api.workflows_by_status",
    kind: "read",
    query:
      "select * from api.workflows_by_status($1, $2, $3::timestamptz, $4, $5)",
    subject: "a page of 50 in the middle of the biggest (tenant, status) lists",
    intendedIndexes: ["app.workflows_tenant_id_status_created_at_id_idx"],
    smallAt10k: ["app.workflows_tenant_id_status_created_at_id_idx"],
    buffers: { "10k": 10, "1M": 14 },
    measuredP95Ms: 0.63,
    ratioAsserted: false,
    ratioNote:
      "at 10k the workflows are a 100-row table read whole (3 buffers); at 1M a page of 50 rows costs about 5 index and heap pages, at any depth",
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{
        tenant_id: string;
        status: string;
        page: number;
        cursor: string | null;
        cursor_id: string | null;
      }>(
        sql,
        `with s as (
           select tenant_id, status, count(*) as n from app.workflows group by 1, 2
           order by count(*) desc, tenant_id, status limit $1)
         select s.tenant_id::text, s.status, (s.n / 100)::int as page, k.cursor, k.cursor_id
         from s
         left join lateral (
           select w.created_at::text as cursor, w.id::text as cursor_id from app.workflows w
           where w.tenant_id = s.tenant_id and w.status = s.status
           order by w.created_at desc, w.id desc offset greatest((s.n / 100) * 50 - 1, 0) limit 1) k on true
         order by s.n desc, s.tenant_id, s.status`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [
          r.tenant_id,
          r.status,
          r.page === 0 ? null : exactTimestamptz(r.cursor),
          50,
          r.page === 0 ? null : r.cursor_id,
        ],
        beforeArgs: [r.tenant_id, r.status, r.page, 50],
      }));
    },
  },
  {
    name: "api.workflow_tasks",
    routine: "api.workflow_tasks",
    kind: "read",
    query: "select * from api.workflow_tasks($1, $2, $3)",
    subject: "workflows in hash order, all their tasks",
    intendedIndexes: ["app.workflow_tasks_tenant_id_workflow_id_status_idx"],
    buffers: { "10k": 10, "1M": 12 },
    measuredP95Ms: 0.35,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; id: string }>(
        sql,
        `select tenant_id::text, id::text from app.workflows order by ${byHash("id")}, id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.id, null],
      }));
    },
  },
  // --- write api (issue 11, items 5-7): batches of BULK_IDS items, sent as jsonb text ---------
  {
    name: "api.start_conversation",
    routine: "api.start_conversation",
    kind: "write",
    query: "select * from api.start_conversation($1, $2, $3, $4::interval)",
    subject:
      "a conversation with a 30-day TTL for the users with the most conversations",
    intendedIndexes: ["app.users_pkey"],
    smallAt10k: ["app.users_pkey"],
    buffers: { "10k": 20, "1M": 28 },
    measuredP95Ms: 2.7,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; user_id: string }>(
        sql,
        `select tenant_id::text, user_id::text from app.conversations group by 1, 2 order by count(*) desc, user_id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.user_id, "workload conversation", "30 days"],
      }));
    },
  },
  {
    name: "api.add_messages",
    routine: "api.add_messages",
    kind: "write",
    query: "select * from api.add_messages($1, $2, $3::text::jsonb)",
    subject: `a chat turn of ${BULK_IDS} messages (a question, tool and citation messages, an answer) to the live conversations with the most messages`,
    intendedIndexes: ["app.conversations_pkey"],
    smallAt10k: ["app.conversations_pkey"],
    buffers: { "10k": 1150, "1M": 1550 },
    measuredP95Ms: 7.3,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; conversation_id: string }>(
        sql,
        `select m.tenant_id::text, m.conversation_id::text from app.messages m
         join app.conversations v on v.tenant_id = m.tenant_id and v.id = m.conversation_id
         where v.expires_at is null or v.expires_at > now() + interval '1 day'
         group by m.tenant_id, m.conversation_id order by count(*) desc, m.conversation_id limit $1`,
        [n],
      );
      const turn = Array.from({ length: BULK_IDS }, (_, i) => ({
        role: i === 0 ? "user" : i === BULK_IDS - 1 ? "assistant" : "tool",
        content:
          i === 0
            ? "What does the contract say about liability?"
            : `citation ${i}: contract.pdf, page ${i}`,
        token_count: 10 + i,
      }));
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.conversation_id, JSON.stringify(turn)],
        beforeArgs: [r.tenant_id, r.conversation_id, turn],
      }));
    },
  },
  {
    name: "api.open_gaps",
    routine: "api.open_gaps",
    kind: "write",
    query: "select * from api.open_gaps($1, $2::text::jsonb)",
    subject: `${BULK_IDS} new knowledge gaps for the biggest tenants`,
    intendedIndexes: [],
    buffers: { "10k": 1260, "1M": 1260 },
    measuredP95Ms: 3.7,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const categories = [
        "decision",
        "technical",
        "process",
        "context",
        "relationship",
        "timeline",
      ];
      const gaps = Array.from({ length: BULK_IDS }, (_, i) => ({
        title: `Workload question ${i}`,
        category: categories[i % categories.length]!,
      }));
      return (await tenantsBySize(sql, n)).map((t) => ({
        args: [t, JSON.stringify(gaps)],
        beforeArgs: [t, gaps],
      }));
    },
  },
  {
    name: "api.answer_gap",
    routine: "api.answer_gap",
    kind: "write",
    query: "select * from api.answer_gap($1, $2, $3)",
    subject: "open knowledge gaps in hash order, one answer each",
    intendedIndexes: ["app.knowledge_gaps_pkey"],
    smallAt10k: ["app.knowledge_gaps_pkey"],
    buffers: { "10k": 40, "1M": 42 },
    measuredP95Ms: 2.6,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; id: string }>(
        sql,
        `select tenant_id::text, id::text from app.knowledge_gaps where status = 'open' order by ${byHash("id")}, id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [
          r.tenant_id,
          r.id,
          "Workload answer: see the decision log of March.",
        ],
      }));
    },
  },
  {
    name: "api.set_gap_status",
    routine: "api.set_gap_status",
    kind: "write",
    query: "select api.set_gap_status($1, $2::bigint[], $3)",
    subject: `${BULK_IDS} knowledge gaps (hash order) of the biggest tenants closed`,
    idsArg: 1,
    intendedIndexes: ["app.knowledge_gaps_pkey"],
    smallAt10k: ["app.knowledge_gaps_pkey"],
    buffers: { "10k": 1900, "1M": 2060 },
    measuredP95Ms: 3.2,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; ids: string[] }>(
        sql,
        `select tenant_id::text, (array_agg(id::text order by ${byHash("id")}, id))[1:$1] as ids
         from app.knowledge_gaps group by tenant_id having count(*) >= $1 order by count(*) desc, tenant_id limit $2`,
        [BULK_IDS, n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.ids, "closed"],
      }));
    },
  },
  {
    name: "api.upsert_agents",
    routine: "api.upsert_agents",
    kind: "write",
    query: "select * from api.upsert_agents($1, $2::text::jsonb)",
    subject: `${BULK_IDS} agents for the biggest tenants: its existing ones by name (updated), the rest new`,
    intendedIndexes: ["app.agents_pkey"],
    smallAt10k: ["app.agents_pkey"],
    buffers: { "10k": 2000, "1M": 2000 },
    measuredP95Ms: 5.7,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; names: string[] }>(
        sql,
        `select t.tenant_id::text, array(select a.name from app.agents a where a.tenant_id = t.tenant_id order by a.id) as names
         from app.tenants t order by (select count(*) from app.documents d where d.tenant_id = t.tenant_id) desc, t.tenant_id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => {
        const agents = Array.from({ length: BULK_IDS }, (_, i) =>
          i < r.names.length
            ? {
                name: r.names[i]!,
                type: "specialist",
                config: { model: "workload" },
              }
            : { name: `workload-agent-${i}`, type: "worker" },
        );
        return {
          args: [r.tenant_id, JSON.stringify(agents)],
          beforeArgs: [r.tenant_id, agents],
        };
      });
    },
  },
  {
    name: "api.set_agents_active",
    routine: "api.set_agents_active",
    kind: "write",
    query: "select api.set_agents_active($1, $2::bigint[], $3)",
    subject: "every agent of the biggest tenants deactivated",
    idsArg: 1,
    intendedIndexes: ["app.agents_pkey"],
    smallAt10k: ["app.agents_pkey"],
    buffers: { "10k": 255, "1M": 255 },
    measuredP95Ms: 2.4,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; ids: string[] }>(
        sql,
        `select t.tenant_id::text, array(select a.id::text from app.agents a where a.tenant_id = t.tenant_id order by a.id) as ids
         from app.tenants t order by (select count(*) from app.documents d where d.tenant_id = t.tenant_id) desc, t.tenant_id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.ids, false],
      }));
    },
  },
  {
    name: "api.create_workflow",
    routine: "api.create_workflow",
    kind: "write",
    query: "select * from api.create_workflow($1, $2, $3::text::jsonb, $4)",
    subject: `a workflow of ${BULK_IDS} tasks run by the tenant's specialists and workers, for the biggest tenants`,
    intendedIndexes: ["app.agents_pkey"],
    smallAt10k: ["app.agents_pkey"],
    buffers: { "10k": 2400, "1M": 2660 },
    measuredP95Ms: 7.4,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{
        tenant_id: string;
        orchestrator: string;
        others: string[];
      }>(
        sql,
        `select t.tenant_id::text,
                (select a.id::text from app.agents a where a.tenant_id = t.tenant_id and a.type = 'orchestrator' order by a.id limit 1) as orchestrator,
                array(select a.id::text from app.agents a where a.tenant_id = t.tenant_id and a.type <> 'orchestrator' order by a.id) as others
         from app.tenants t order by (select count(*) from app.documents d where d.tenant_id = t.tenant_id) desc, t.tenant_id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => {
        const tasks = Array.from({ length: BULK_IDS }, (_, i) => ({
          name: `Step ${i + 1}`,
          agent_id: Number(r.others[i % r.others.length]),
        }));
        return {
          args: [
            r.tenant_id,
            "Workload run",
            JSON.stringify(tasks),
            r.orchestrator,
          ],
          beforeArgs: [r.tenant_id, "Workload run", tasks, r.orchestrator],
        };
      });
    },
  },
  {
    name: "api.set_task_status",
    routine: "api.set_task_status",
    kind: "write",
    query: "select api.set_task_status($1, $2::bigint[], $3)",
    subject: `the tasks of workflows in hash order of the biggest tenants, ${BULK_IDS} in all, set running`,
    idsArg: 1,
    intendedIndexes: [
      "app.workflow_tasks_pkey",
      "app.workflows_pkey",
      "app.workflow_tasks_tenant_id_workflow_id_status_idx",
    ],
    smallAt10k: [
      "app.workflow_tasks_pkey",
      "app.workflows_pkey",
      "app.workflow_tasks_tenant_id_workflow_id_status_idx",
    ],
    buffers: { "10k": 2130, "1M": 3700 },
    measuredP95Ms: 2.9,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      // whole workflows (about 20 of 5 tasks), so a call touches as many workflows at every tier
      const found = await rows<{ tenant_id: string; ids: string[] }>(
        sql,
        `select w.tenant_id::text,
                (array_agg(t.id::text order by ${byHash("w.id")}, w.id, t.execution_order, t.id))[1:$1] as ids
         from app.workflows w join app.workflow_tasks t on t.tenant_id = w.tenant_id and t.workflow_id = w.id
         group by w.tenant_id having count(*) >= $1 order by count(*) desc, w.tenant_id limit $2`,
        [BULK_IDS, n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.ids, "running"],
      }));
    },
  },
  // --- end write api (items 5-7) ---
  // --- issue 11, items 1 and 2: tenants, users, connectors, collections, sessions ---
  {
    name: "api.create_tenant",
    routine: "api.create_tenant",
    kind: "write",
    query: "select * from api.create_tenant($1)",
    subject:
      "a new tenant (the id from the identity sequence, written under row level security)",
    intendedIndexes: [],
    buffers: { "10k": 12, "1M": 12 },
    measuredP95Ms: 3.2,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(_sql, n) {
      return Array.from({ length: n }, (_, i) => ({
        args: [`Workload tenant ${i}`],
      }));
    },
  },
  {
    name: "api.create_users",
    routine: "api.create_users",
    kind: "write",
    query: "select * from api.create_users($1, $2::text::jsonb)",
    subject: `a batch of ${BULK_IDS} users of the biggest tenants: ${BULK_IDS - 20} new emails, 20 it has (hash order)`,
    intendedIndexes: ["app.users_tenant_id_email_key"],
    smallAt10k: ["app.users_tenant_id_email_key"],
    buffers: { "10k": 1130, "1M": 1630 },
    measuredP95Ms: 5.9,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; emails: string[] }>(
        sql,
        `select t.tenant_id::text,
                array(select u.email from app.users u where u.tenant_id = t.tenant_id order by ${byHash("u.id")}, u.id limit 20) as emails
         from app.tenants t
         order by (select count(*) from app.users u where u.tenant_id = t.tenant_id) desc, t.tenant_id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r, i) => {
        const items = [
          ...Array.from({ length: BULK_IDS - r.emails.length }, (_, k) => ({
            email: `workload-${i}-${k}@new.example.com`,
            display_name: `Workload ${i} ${k}`,
          })),
          ...r.emails.map((email) => ({
            email,
            display_name: "Already there",
          })),
        ];
        return { args: [r.tenant_id, JSON.stringify(items)] };
      });
    },
  },
  {
    name: "api.user_by_email",
    routine: "api.user_by_email",
    kind: "read",
    query: "select * from api.user_by_email($1, $2)",
    subject: "users in hash order, by their email (the login lookup)",
    intendedIndexes: ["app.users_tenant_id_email_key"],
    smallAt10k: ["app.users_tenant_id_email_key"],
    buffers: { "10k": 9, "1M": 11 },
    measuredP95Ms: 2.2,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; email: string }>(
        sql,
        `select tenant_id::text, email from app.users order by ${byHash("id")}, id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.email],
      }));
    },
  },
  {
    name: "api.create_connector",
    routine: "api.create_connector",
    kind: "write",
    query: "select * from api.create_connector($1, $2, $3)",
    subject: "a new web connector of the biggest tenants",
    intendedIndexes: [],
    buffers: { "10k": 13, "1M": 16 },
    measuredP95Ms: 3.7,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      return (await tenantsBySize(sql, n)).map((t) => ({
        args: [t, "web", "Workload connector"],
      }));
    },
  },
  {
    name: "api.create_collection",
    routine: "api.create_collection",
    kind: "write",
    query: "select * from api.create_collection($1, $2, $3)",
    subject: "a new collection owned by users in hash order",
    intendedIndexes: ["app.users_pkey"],
    smallAt10k: ["app.users_pkey"],
    buffers: { "10k": 19, "1M": 23 },
    measuredP95Ms: 3.5,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await usersByHash(sql, n);
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.id, "Workload collection"],
      }));
    },
  },
  {
    name: "api.set_collection_status",
    routine: "api.set_collection_status",
    kind: "write",
    query: "select api.set_collection_status($1, $2::bigint[], $3)",
    subject: `up to ${BULK_IDS} collections (hash order) of the tenant with the most, archived`,
    idsArg: 1,
    intendedIndexes: ["app.collections_pkey"],
    smallAt10k: ["app.collections_pkey"],
    buffers: { "10k": 220, "1M": 1400 },
    measuredP95Ms: 1.3,
    ratioAsserted: false,
    ratioNote:
      "grows with the batch, not the table: the biggest tenant has a handful of collections at 10k and over 100 at 1M (the batch takes up to 100), and each row rewritten costs about 12 buffers (its new version and primary key entry)",
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      // every set the same: the tenant with the most collections (sets of other tenants would
      // be smaller, and the report compares statement counts per id)
      const found = await rows<{ tenant_id: string; ids: string[] }>(
        sql,
        `select tenant_id::text, (array_agg(id::text order by ${byHash("id")}, id))[1:$1] as ids
         from app.collections group by tenant_id order by count(*) desc, tenant_id limit 1`,
        [BULK_IDS],
      );
      const [set] = atLeastOne(this.name, found);
      return Array.from({ length: n }, () => ({
        args: [set!.tenant_id, set!.ids, "archived"],
      }));
    },
  },
  {
    name: "api.create_session",
    routine: "api.create_session",
    kind: "write",
    query: "select * from api.create_session($1, $2, $3::interval)",
    subject: "a 30-day session of users in hash order",
    intendedIndexes: ["app.users_pkey"],
    smallAt10k: ["app.users_pkey"],
    buffers: { "10k": 25, "1M": 43 },
    measuredP95Ms: 4.7,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await usersByHash(sql, n);
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.id, "30 days"],
      }));
    },
  },
  {
    name: "api.touch_session",
    routine: "api.touch_session",
    kind: "write",
    query: "select * from api.touch_session($1::uuid, $2::interval)",
    subject:
      "live sessions (expiring in more than a day) in hash order, extended to 30 days from now",
    intendedIndexes: ["app.user_sessions_token_idx"],
    buffers: { "10k": 43, "1M": 40 },
    measuredP95Ms: 3.1,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await liveSessionTokens(sql, n);
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.token, "30 days"],
      }));
    },
  },
  {
    name: "api.revoke_session",
    routine: "api.revoke_session",
    kind: "write",
    query: "select api.revoke_session($1::uuid)",
    subject: "live sessions (expiring in more than a day) in hash order",
    intendedIndexes: ["app.user_sessions_token_idx"],
    buffers: { "10k": 13, "1M": 15 },
    measuredP95Ms: 3.8,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await liveSessionTokens(sql, n);
      return atLeastOne(this.name, found).map((r) => ({ args: [r.token] }));
    },
  },
  {
    name: "api.revoke_user_sessions",
    routine: "api.revoke_user_sessions",
    kind: "write",
    query: "select api.revoke_user_sessions($1, $2)",
    subject: "the users with the most sessions",
    intendedIndexes: ["app.user_sessions_tenant_id_user_id_idx"],
    smallAt10k: ["app.user_sessions_tenant_id_user_id_idx"],
    buffers: { "10k": 85, "1M": 145 },
    measuredP95Ms: 4.0,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; user_id: string }>(
        sql,
        `select tenant_id::text, user_id::text from app.user_sessions group by 1, 2 order by count(*) desc, user_id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.user_id],
      }));
    },
  },
  // --- end of issue 11, items 1 and 2 ---
  // --- write api, issue 11 items 3 and 4 (w2) ------------------------------------------------
  {
    name: "api.sync_documents",
    routine: "api.sync_documents",
    kind: "write",
    query: "select api.sync_documents($1, $2, $3, $4::text::jsonb)",
    subject: `a sync of ${BULK_IDS} items for the biggest connectors: up to 60 stored (retitled: updated), up to 20 tombstoned (skipped), the rest new (inserted into the connector's biggest collection)`,
    intendedIndexes: [
      "app.documents_tenant_id_connector_id_external_id_key",
      "app.deleted_documents_tenant_id_connector_id_external_id_key",
    ],
    smallAt10k: [
      "app.deleted_documents_tenant_id_connector_id_external_id_key",
    ],
    buffers: { "10k": 2850, "1M": 4150 },
    measuredP95Ms: 3.8,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{
        tenant_id: string;
        connector_id: string;
        collection_id: string;
        stored: string[];
        tombstoned: string[];
      }>(
        sql,
        `with c as (
           select d.tenant_id, d.connector_id, count(*) as n from app.documents d
           where d.connector_id is not null group by 1, 2 order by n desc, d.connector_id limit $1)
         select c.tenant_id::text, c.connector_id::text,
                (select d.collection_id::text from app.documents d where d.tenant_id = c.tenant_id and d.connector_id = c.connector_id
                 group by d.collection_id order by count(*) desc, d.collection_id limit 1) as collection_id,
                array(select d.external_id from app.documents d where d.tenant_id = c.tenant_id and d.connector_id = c.connector_id
                      order by ${byHash("d.id")}, d.id limit 60) as stored,
                array(select x.external_id from app.deleted_documents x where x.tenant_id = c.tenant_id and x.connector_id = c.connector_id
                      order by ${byHash("x.id")}, x.id limit 20) as tombstoned
         from c order by c.n desc, c.connector_id`,
        [n],
      );
      return atLeastOne(this.name, found).map((r, i) => {
        const items = [
          ...r.stored.map((e) => ({ external_id: e, title: `Synced ${e}` })),
          ...r.tombstoned.map((e) => ({ external_id: e, title: "Tombstoned" })),
        ];
        for (let k = 0; items.length < BULK_IDS; k++)
          items.push({
            external_id: `workload-sync-${i}-${k}`,
            title: `New ${k}`,
          });
        return {
          args: [
            r.tenant_id,
            r.connector_id,
            r.collection_id,
            JSON.stringify(items),
          ],
        };
      });
    },
  },
  {
    name: "api.add_documents",
    routine: "api.add_documents",
    kind: "write",
    query: "select * from api.add_documents($1, $2, $3::text::jsonb)",
    subject: `an upload of ${BULK_IDS} documents into the biggest collections`,
    intendedIndexes: ["app.collections_pkey"],
    smallAt10k: ["app.collections_pkey"],
    buffers: { "10k": 1900, "1M": 2500 },
    measuredP95Ms: 2.5,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; collection_id: string }>(
        sql,
        `select tenant_id::text, collection_id::text from app.documents group by 1, 2 order by count(*) desc, collection_id limit $1`,
        [n],
      );
      const items = JSON.stringify(
        Array.from({ length: BULK_IDS }, (_, k) => ({
          title: `Upload ${k}`,
          content_size: 1000 + k,
        })),
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.collection_id, items],
      }));
    },
  },
  {
    name: "api.replace_chunks",
    routine: "api.replace_chunks",
    kind: "write",
    query: "select api.replace_chunks($1, $2, $3::text::jsonb)",
    subject: `${BULK_IDS} new chunks (10 documents of the biggest collections, in hash order, 10 chunks each) replacing theirs`,
    intendedIndexes: [
      "app.documents_pkey",
      "app.chunks_tenant_id_collection_id_document_id_chunk_index_key",
    ],
    partitions: [CHUNKS_ONE_PARTITION],
    buffers: { "10k": 2550, "1M": 2950 },
    measuredP95Ms: 4.0,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{
        tenant_id: string;
        collection_id: string;
        ids: string[];
      }>(
        sql,
        `select tenant_id::text, collection_id::text,
                (array_agg(id::text order by ${byHash("id")}, id) filter (where status <> 'deleted'))[1:10] as ids
         from app.documents group by tenant_id, collection_id having count(*) filter (where status <> 'deleted') >= 10
         order by count(*) desc, collection_id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [
          r.tenant_id,
          r.collection_id,
          JSON.stringify(
            r.ids.flatMap((d) =>
              Array.from({ length: 10 }, (_, k) => ({
                document_id: Number(d),
                chunk_index: k,
                content: `workload chunk ${k} of ${d} `.padEnd(500, "x"),
              })),
            ),
          ),
        ],
      }));
    },
  },
  {
    name: "api.enqueue_operations",
    routine: "api.enqueue_operations",
    kind: "write",
    query: "select * from api.enqueue_operations($1, $2, $3, $4::text::jsonb)",
    subject: `${BULK_IDS} chunking operations (a strategy each, a user on half) on the biggest collections`,
    intendedIndexes: ["app.collections_pkey", "app.users_pkey"],
    smallAt10k: ["app.collections_pkey", "app.users_pkey"],
    buffers: { "10k": 2100, "1M": 2500 },
    measuredP95Ms: 3.0,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{
        tenant_id: string;
        collection_id: string;
        user_id: string;
      }>(
        sql,
        `select o.tenant_id::text, o.collection_id::text, min(o.user_id)::text as user_id from app.operations o
         where o.user_id is not null group by o.tenant_id, o.collection_id order by count(*) desc, o.collection_id limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [
          r.tenant_id,
          r.collection_id,
          "chunking",
          JSON.stringify(
            Array.from({ length: BULK_IDS }, (_, k) => ({
              metadata: {
                strategy: ["recursive", "semantic"][k % 2],
                chunk_size: 512,
              },
              ...(k % 2 ? { user_id: Number(r.user_id) } : {}),
            })),
          ),
        ],
      }));
    },
  },
  {
    name: "api.claim_operations",
    routine: "api.claim_operations",
    kind: "write",
    query: "select * from api.claim_operations($1, $2, $3)",
    subject:
      "10 of the oldest pending chunking operations of the tenants with the most",
    intendedIndexes: [
      "app.operations_tenant_id_type_created_at_id_pending_idx",
    ],
    buffers: { "10k": 270, "1M": 350 },
    measuredP95Ms: 1.0,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string }>(
        sql,
        `select tenant_id::text from app.operations where status = 'pending' and type = 'chunking' group by 1 order by count(*) desc, 1 limit $1`,
        [n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, "chunking", 10],
      }));
    },
  },
  {
    name: "api.finish_operations",
    routine: "api.finish_operations",
    kind: "write",
    query: "select api.finish_operations($1, $2::text::jsonb)",
    subject: `${BULK_IDS} processing operations (hash order) of the biggest tenants, completed or failed with an error; found by (tenant_id, id) on every monthly partition`,
    intendedIndexes: ["app.operations_pkey"],
    buffers: { "10k": 3500, "1M": 4500 },
    measuredP95Ms: 4.8,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; ids: string[] }>(
        sql,
        `select tenant_id::text, (array_agg(id::text order by ${byHash("id")}, id))[1:$1] as ids from app.operations
         where status = 'processing' group by 1 order by count(*) desc, 1 limit $2`,
        [BULK_IDS, n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [
          r.tenant_id,
          JSON.stringify(
            r.ids.map((id, k) =>
              k % 5
                ? {
                    id: Number(id),
                    status: "completed",
                    processing_time: 1 + k / 10,
                  }
                : {
                    id: Number(id),
                    status: "failed",
                    processing_time: 0.5,
                    error: "timeout",
                  },
            ),
          ),
        ],
      }));
    },
  },
  {
    name: "api.cancel_operations",
    routine: "api.cancel_operations",
    kind: "write",
    query: "select api.cancel_operations($1, $2::bigint[])",
    subject: `${BULK_IDS} pending operations (hash order) of the biggest tenants; found by (tenant_id, id) on every monthly partition`,
    idsArg: 1,
    intendedIndexes: ["app.operations_pkey"],
    buffers: { "10k": 3500, "1M": 4500 },
    measuredP95Ms: 3.9,
    ratioAsserted: true,
    p95Ms: P95_BUDGET_MS,
    async calls(sql, n) {
      const found = await rows<{ tenant_id: string; ids: string[] }>(
        sql,
        `select tenant_id::text, (array_agg(id::text order by ${byHash("id")}, id))[1:$1] as ids from app.operations
         where status = 'pending' group by 1 order by count(*) desc, 1 limit $2`,
        [BULK_IDS, n],
      );
      return atLeastOne(this.name, found).map((r) => ({
        args: [r.tenant_id, r.ids],
      }));
    },
  },
  // --- end of the write api block (w2) ---
];

/** The routines the workload covers, distinct, sorted. */
export function workloadRoutines(): string[] {
  return [...new Set(WORKLOAD.map((w) => w.routine))].sort();
}

/** Every workload with its arguments resolved from the data: `sets` argument sets each (default 30). */
export async function apiCalls(
  sql: postgres.Sql,
  options: { sets?: number; only?: string[] } = {},
): Promise<ApiCall[]> {
  const { sets = 30, only } = options;
  const result: ApiCall[] = [];
  for (const def of WORKLOAD) {
    if (only && !only.includes(def.name)) continue;
    const { calls: resolve, ...rest } = def;
    const calls = await resolve.call(def, sql, sets);
    result.push({
      ...rest,
      args: calls[0]!.args,
      beforeArgs: calls[0]!.beforeArgs,
      calls,
    });
  }
  return result;
}

/** The tier whose budget applies to a database of `rows` seeded rows: the nearest on a log scale. */
export function tierOf(rows: number): TierName {
  return Math.log10(rows) >=
    (Math.log10(TIERS["10k"]) + Math.log10(TIERS["1M"])) / 2
    ? "1M"
    : "10k";
}

// --- the data the workload runs on ---------------------------------------------------------

/**
 * Turns autovacuum off (`on` false) or back on for every table and partition of schema app,
 * for plans that are the same run to run: the workloads that write run in transactions rolled
 * back, whose dead rows (at the 10k tier, 800 versions of a 1,000-row table per workload) make
 * autovacuum analyze a table at a moment nobody chose, and the plans explained after it
 * change (a purge batch's documents delete between documents_pkey and a bitmap scan). Only
 * for a throwaway copy: the plan tests and scripts/accept-plans.ts call it on theirs.
 */
export async function setAutovacuum(
  sql: postgres.Sql,
  on: boolean,
): Promise<number> {
  const tables = await rows<{ name: string; kind: string }>(
    sql,
    `select format('%I.%I', n.nspname, c.relname) as name, case c.relkind when 'm' then 'materialized view' else 'table' end as kind
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'app' and c.relkind in ('r', 'm') order by 1`,
  );
  for (const t of tables) {
    await sql.unsafe(
      on
        ? `alter ${t.kind} ${t.name} reset (autovacuum_enabled)`
        : `alter ${t.kind} ${t.name} set (autovacuum_enabled = off)`,
    );
  }
  return tables.length;
}

// --- plans ---------------------------------------------------------------------------------

/** Calls (or purge batches) in a session up to the one whose plans are asserted. */
export const DEFAULT_RUNS = 8;

export interface ExplainCallOptions {
  /**
   * Calls in one session, the last one's plans kept (reads, writes): default 8. PL/pgSQL may
   * switch to a cached generic plan at the 6th execution; building it opens every partition
   * of a partitioned table for the first time in the session, so the 6th call's buffers carry
   * that one-time catalog reading (chunks_page at 10k: 1,280 buffers on the 6th call, 6 on
   * every other). The 8th call is the steady state, after seven.
   */
  runs?: number;
  /** Procedure: the batch whose plans are kept (1-based; default 8, after seven batches). */
  batch?: number;
}

/** The explained statements of a call, and for the procedure the batch they belong to. */
export interface ExplainedCall {
  statements: ExplainedStatement[];
  /** Procedure only: documents deleted per batch, in order, from its notices. */
  batches?: number[];
}

/**
 * The plans of the statements a call runs, from auto_explain with nested statements.
 * - read: explainFunction (the same call `runs` times in one session; the last run's plans).
 * - write: the same, but each run in its own transaction, rolled back, so every run does the
 *   same work (a second soft delete of the same ids would find nothing) and nothing is kept.
 * - procedure (purge): one CALL; its statements are cut into batches at its per-batch notice
 *   and the statements of batch `batch` are returned (each statement ran batch times by then).
 *   It commits: the subject tenant's documents are gone afterwards.
 */
export async function explainCall(
  target: string | { url: string },
  call: Pick<ApiCall, "kind" | "query" | "args">,
  options: ExplainCallOptions = {},
): Promise<ExplainedCall> {
  const { runs = DEFAULT_RUNS, batch = DEFAULT_RUNS } = options;
  const url = typeof target === "string" ? target : target.url;
  if (call.kind === "read")
    return {
      statements: await explainFunction(url, call.query, call.args, { runs }),
    };

  let notices: string[] = [];
  const sql = postgres(url, {
    max: 1,
    onnotice: (notice) => notices.push(String(notice.message)),
  });
  try {
    await enableAutoExplain(sql, { pin: true });
    if (call.kind === "write") {
      for (let run = 1; run <= runs; run++) {
        notices = [];
        await sql.unsafe("begin");
        try {
          await sql.unsafe(call.query, call.args as never[]);
        } finally {
          await sql.unsafe("rollback");
        }
      }
      const statements = toStatements(notices, call.query);
      await resolveNames(sql, statements);
      return { statements };
    }
    notices = [];
    await sql.unsafe(call.query, call.args as never[]);
    // Cut at the procedure's notice that ends each batch ("purge_documents: ... in this batch").
    const groups: string[][] = [[]];
    const batches: number[] = [];
    for (const message of notices) {
      const done = /deleted (\d+) documents .* in this batch/.exec(message);
      if (done) {
        batches.push(Number(done[1]));
        groups.push([]);
      } else {
        groups.at(-1)!.push(message);
      }
    }
    const kept = groups[batch - 1];
    if (!kept || batches.length < batch)
      throw new Error(
        `${call.query}: ${batches.length} batches, batch ${batch} wanted (the subject is too small)`,
      );
    const statements = toStatements(kept, call.query);
    await resolveNames(sql, statements);
    return { statements, batches };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function toStatements(
  notices: string[],
  callQuery: string,
): ExplainedStatement[] {
  const parsed = notices
    .map(parseAutoExplainNotice)
    .filter((s) => s !== undefined);
  const call = callQuery.trim();
  const last = parsed.map((s) => s.query.trim()).lastIndexOf(call);
  return parsed.map((s, i) => ({ ...s, topLevel: i === last }));
}

// --- what a plan must show ---------------------------------------------------------------------

export interface Finding {
  pass: boolean;
  /** What was found, for a failure message or a report. */
  found: string;
}

/** Whether the call's plans prune the table's partitions as the expectation says. */
export function checkPartitions(
  statements: readonly ExplainedStatement[],
  expectation: PartitionExpectation,
): Finding {
  const { table, rule } = expectation;
  if (rule === "one per probe") {
    const appends = statements.flatMap((s) =>
      [...walk(s.plan)]
        .filter((n) => n.nodeType === "Append" || n.nodeType === "Merge Append")
        .map((append) => ({
          append,
          members: append.children.filter(
            (c) =>
              c.parentRelationship === "Member" &&
              c.rootRelation === table &&
              c.relation !== table,
          ),
        }))
        .filter((a) => a.members.length > 0),
    );
    if (appends.length === 0)
      return {
        pass: false,
        found: `no Append over the partitions of ${table}`,
      };
    const lines = appends.map(({ append, members }) => {
      const executions = append.actualLoops ?? 0;
      const scans = members.reduce((sum, m) => sum + (m.actualLoops ?? 0), 0);
      return {
        pass: scans <= executions,
        text: `Append over ${members.length} partitions of ${table}: executed ${executions} times, ${scans} partition scans`,
      };
    });
    return {
      pass: lines.every((l) => l.pass),
      found: lines.map((l) => l.text).join("; "),
    };
  }
  const scans = partitionsScanned(statements, table);
  if (scans.length === 0)
    return { pass: false, found: `no partition of ${table} in the plans` };
  const text = scans
    .map(
      (s) =>
        `${s.scanned.length} of ${s.total ?? "?"} partitions of ${table} scanned, ${s.inPlan.length} in the plan, ${s.subplansRemoved} removed at executor start`,
    )
    .join("; ");
  if (rule === "one")
    return { pass: scans.every((s) => s.scanned.length <= 1), found: text };
  return {
    pass: scans.every(
      (s) => s.total !== undefined && s.inPlan.length < s.total,
    ),
    found: text,
  };
}

const oneLine = (s: string, max = 100) => {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

/**
 * The shape of a call, one line per plan node (fingerprint() of scripts/lib/plan, which has no
 * costs, rows, timing or buffers, and collapses partitions under an Append to their parent with
 * a count), for committed files and readable diffs:
 * - each statement starts with `-- <its query text>` (`-- [call] ...` for the call itself);
 * - identical statements are listed once, where they first ran, with their count: `(x100)` for
 *   the foreign key checks PostgreSQL runs per deleted row.
 * Nothing in it depends on the date: the seed lays out every monthly partition the same way
 * whatever the data's clock (seed/00-setup.sql), and test/calendar.test.ts proves it.
 */
export function callFingerprint(
  statements: readonly ExplainedStatement[],
): string[] {
  const blocks = new Map<
    string,
    { header: string; body: string[]; count: number }
  >();
  for (const statement of statements) {
    const header = `-- ${statement.topLevel ? "[call] " : ""}${oneLine(statement.query)}`;
    const body = fingerprint(statement.plan)
      .split("\n")
      .map((line) => `  ${line}`);
    const key = [header, ...body].join("\n");
    const block = blocks.get(key);
    if (block) block.count++;
    else blocks.set(key, { header, body, count: 1 });
  }
  return [...blocks.values()].flatMap((b) => [
    b.count > 1 ? `${b.header} (x${b.count})` : b.header,
    ...b.body,
  ]);
}

/** Workloads in the order one database can run them all: the procedure, which commits (it deletes its subject tenant), last. */
export function inRunOrder(
  workloads: readonly WorkloadDefinition[],
): WorkloadDefinition[] {
  return [
    ...workloads.filter((w) => w.kind !== "procedure"),
    ...workloads.filter((w) => w.kind === "procedure"),
  ];
}

/** The workloads in the order one database can run them all (inRunOrder). */
export const WORKLOAD_RUN_ORDER: readonly WorkloadDefinition[] =
  inRunOrder(WORKLOAD);

export interface WorkloadShape {
  statements: ExplainedStatement[];
  fingerprint: string[];
  /** Shared buffers (hit + read) of the call, as the plan tests count them. */
  buffers: number;
}

/**
 * Every workload's plans, fingerprint and shared buffers on one seeded database, in
 * WORKLOAD_RUN_ORDER, with autovacuum off as in the plan tests. The purge commits: the
 * database is spent afterwards. Used by `npm run plans:accept` and test/calendar.test.ts.
 */
export async function workloadShapes(
  url: string,
  sql: postgres.Sql,
): Promise<Map<string, WorkloadShape>> {
  await setAutovacuum(sql, false);
  const calls = new Map(
    (await apiCalls(sql, { sets: 1 })).map((c) => [c.name, c]),
  );
  const shapes = new Map<string, WorkloadShape>();
  for (const def of WORKLOAD_RUN_ORDER) {
    const { statements } = await explainCall(url, calls.get(def.name)!);
    shapes.set(def.name, {
      statements,
      fingerprint: callFingerprint(statements),
      buffers: sharedBuffers(statements).total,
    });
  }
  return shapes;
}

/** The committed fingerprints of a tier, { workload name: lines }: test/plans/<tier>.json. */
export function fingerprintFile(tier: TierName): string {
  return join(ROOT, "test", "plans", `${tier}.json`);
}

/** The buffers per call measured by the last `npm run plans:accept`, { workload name: { tier: buffers } }: test/plans/buffers.json. */
export function measuredBuffersFile(): string {
  return join(ROOT, "test", "plans", "buffers.json");
}

/** The nodes of all statements (for checks the plan library has no helper for). */
export function nodesOf(statements: readonly ExplainedStatement[]): PlanNode[] {
  return statements.flatMap((s) => [...walk(s.plan)]);
}

// --- time ----------------------------------------------------------------------------------

/**
 * One call through postgres.js, round trip included, timed by `clock` (scripts/lib/run-clock.ts:
 * wall time minus the run-queue delays of the backend and of this process, when `sql` is one
 * connection to a server on this machine; the wall time otherwise). Writes run inside a
 * transaction that is rolled back (the begin and rollback are not timed).
 */
export async function timeCallTimed(
  sql: postgres.Sql | postgres.ReservedSql,
  call: Pick<ApiCall, "kind" | "query">,
  args: unknown[],
  clock: RunClock = WALL_CLOCK,
): Promise<Timed> {
  if (call.kind === "procedure")
    throw new Error(
      "the procedure commits: time it per batch (timePurgeBatches)",
    );
  if (call.kind === "read")
    return clock.time(() => sql.unsafe(call.query, args as never[]));
  await sql.unsafe("begin");
  try {
    return await clock.time(() => sql.unsafe(call.query, args as never[]));
  } finally {
    await sql.unsafe("rollback");
  }
}

/** Milliseconds of one call (timeCallTimed's `ms`): the wall time unless a run clock is given. */
export async function timeCall(
  sql: postgres.Sql | postgres.ReservedSql,
  call: Pick<ApiCall, "kind" | "query">,
  args: unknown[],
  clock: RunClock = WALL_CLOCK,
): Promise<number> {
  return (await timeCallTimed(sql, call, args, clock)).ms;
}

/**
 * Runs the purge on a tenant with batches of `batchSize` and returns each batch's time in ms:
 * the interval between the per-batch notices (the first from the call's start), as they
 * arrive at the client, less the run-queue delays of the backend and of this process over it
 * (scripts/lib/run-clock.ts; `corrected` false: a server elsewhere, wall time). `batchWallMs`
 * are the wall times. Deletes the tenant's documents for good.
 */
export async function timePurgeBatches(
  url: string,
  tenantId: unknown,
  batchSize: number,
): Promise<{
  batchMs: number[];
  batchWallMs: number[];
  corrected: boolean;
  deleted: number;
  totalMs: number;
}> {
  const marks: Mark[] = [];
  let clock: RunClock = WALL_CLOCK;
  const sql = postgres(url, {
    max: 1,
    onnotice: (notice) => {
      if (/in this batch/.test(String(notice.message)))
        marks.push(clock.mark());
    },
  });
  try {
    clock = await runClock(sql);
    const start = clock.mark();
    const [row] = await sql.unsafe<{ p_deleted: string }[]>(
      "call api.purge_documents($1, $2)",
      [tenantId, batchSize] as never[],
    );
    const total = clock.since(start);
    const batches = marks.map((m, i) =>
      clock.between(i === 0 ? start : marks[i - 1]!, m),
    );
    return {
      batchMs: batches.map((b) => b.ms),
      batchWallMs: batches.map((b) => b.wallMs),
      corrected: clock.corrected,
      deleted: Number(row?.p_deleted ?? 0),
      totalMs: total.ms,
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The p-th percentile (0..100) of the values, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(
      sorted.length - 1,
      Math.max(0, Math.ceil((p / 100) * sorted.length) - 1),
    )
  ]!;
}
