// The "before" side of the statistics family: how the seeds' Python did it, against our
// tables. Seed 000 loaded every chunking operation of a collection and counted in code; the
// chunk statistics load every chunk; seed 004 ran one COUNT query per number. Same arguments
// and same result shape as api.collection_statistics and api.knowledge_gap_stats, for the
// tests (the reference) and the side-by-side benchmark.
import type postgres from "postgres";

export interface CollectionStatistics {
  operations: {
    total: number;
    completed: number;
    failed: number;
    processing: number;
    success_rate: number;
    avg_processing_time: number;
    first_operation_at: string | null;
    last_operation_at: string | null;
  };
  chunks: {
    total: number;
    avg_size: number;
    min_size: number;
    max_size: number;
    unique_documents: number;
  };
  strategies: Record<string, number>;
  as_of: string;
}

export interface KnowledgeGapStats {
  total: number;
  open: number;
  closed: number;
  by_status: Record<string, number>;
  by_category: Record<string, number>;
}

export const GAP_CATEGORIES = [
  "decision",
  "technical",
  "process",
  "context",
  "relationship",
  "timeline",
] as const;
export const GAP_STATUSES = [
  "open",
  "in_progress",
  "answered",
  "closed",
] as const;

/** Seed 000 before: `select(Operation)...scalars().all()`, then len([...]) in code; every chunk loaded too. */
export async function collectionStatistics(
  sql: postgres.Sql,
  tenantId: number | string,
  collectionId: number | string,
): Promise<CollectionStatistics> {
  const asOf = new Date().toISOString();
  const operations = await sql<
    {
      id: string;
      status: string;
      processing_time: number | null;
      metadata: { strategy?: string } | null;
      created_at: Date;
    }[]
  >`
    select id, collection_id, user_id, type, status, processing_time, metadata, created_at, completed_at
    from app.operations
    where tenant_id = ${tenantId} and collection_id = ${collectionId} and type = 'chunking'
    order by created_at desc`;
  const completed = operations.filter((op) => op.status === "completed");
  const times = completed
    .map((op) => op.processing_time)
    .filter((t): t is number => t !== null);
  const created = operations.map((op) => op.created_at.getTime());
  const strategies: Record<string, number> = {};
  for (const op of operations) {
    const strategy = op.metadata?.strategy;
    if (strategy != null)
      strategies[strategy] = (strategies[strategy] ?? 0) + 1;
  }

  const chunks = await sql<{ id: string; document_id: string; size: number }[]>`
    select id, document_id, chunk_index, content, size, created_at
    from app.chunks
    where tenant_id = ${tenantId} and collection_id = ${collectionId}`;
  const sizes = chunks.map((c) => c.size);

  const total = operations.length;
  return {
    operations: {
      total,
      completed: completed.length,
      failed: operations.filter((op) => op.status === "failed").length,
      processing: operations.filter((op) => op.status === "processing").length,
      // percent, 2 decimals: round(10000 c / t) / 100 rounds as numeric round(100.0 * c / t, 2) does
      success_rate:
        total > 0 ? Math.round((10000 * completed.length) / total) / 100 : 0,
      avg_processing_time:
        times.length > 0 ? times.reduce((a, b) => a + b, 0) / times.length : 0,
      first_operation_at:
        created.length > 0
          ? new Date(created.reduce((a, b) => Math.min(a, b))).toISOString()
          : null,
      last_operation_at:
        created.length > 0
          ? new Date(created.reduce((a, b) => Math.max(a, b))).toISOString()
          : null,
    },
    chunks: {
      total: chunks.length,
      avg_size:
        sizes.length > 0 ? sizes.reduce((a, b) => a + b, 0) / sizes.length : 0,
      min_size: sizes.length > 0 ? sizes.reduce((a, b) => Math.min(a, b)) : 0,
      max_size: sizes.length > 0 ? sizes.reduce((a, b) => Math.max(a, b)) : 0,
      unique_documents: new Set(chunks.map((c) => c.document_id)).size,
    },
    strategies,
    as_of: asOf,
  };
}

/** Seed 004 before: one `select count(id)` per number (total, each status, each category). */
export async function knowledgeGapStats(
  sql: postgres.Sql,
  tenantId: number | string,
): Promise<KnowledgeGapStats> {
  const count = async (
    column: "status" | "category" | null,
    value?: string,
  ): Promise<number> => {
    const [row] =
      column === null
        ? await sql<
            { n: number }[]
          >`select count(id)::int as n from app.knowledge_gaps where tenant_id = ${tenantId}`
        : await sql<{ n: number }[]>`
            select count(id)::int as n from app.knowledge_gaps where tenant_id = ${tenantId} and ${sql(column)} = ${value ?? ""}`;
    return row?.n ?? 0;
  };
  const total = await count(null);
  const by_status: Record<string, number> = {};
  for (const status of GAP_STATUSES)
    by_status[status] = await count("status", status);
  const by_category: Record<string, number> = {};
  for (const category of GAP_CATEGORIES)
    by_category[category] = await count("category", category);
  return {
    total,
    open: by_status.open ?? 0,
    closed: by_status.closed ?? 0,
    by_status,
    by_category,
  };
}

export interface DocumentStatusCounts {
  total: number;
  by_status: Record<string, number>;
}

export const DOCUMENT_STATUSES = [
  "pending",
  "processing",
  "classified",
  "confirmed",
  "failed",
  "deleted",
] as const;

/** Seeds 001 and 004 before: one `select count(id)` per status, the total summed in code. */
export async function documentStatusCounts(
  sql: postgres.Sql,
  tenantId: number | string,
): Promise<DocumentStatusCounts> {
  const by_status: Record<string, number> = {};
  for (const status of DOCUMENT_STATUSES) {
    const [row] = await sql<{ n: number }[]>`
      select count(id)::int as n from app.documents where tenant_id = ${tenantId} and status = ${status}`;
    by_status[status] = row?.n ?? 0;
  }
  const total = Object.entries(by_status).reduce(
    (sum, [status, n]) => (status === "deleted" ? sum : sum + n),
    0,
  );
  return { total, by_status };
}
