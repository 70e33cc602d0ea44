// The typed plan tree, read from EXPLAIN (FORMAT JSON) and auto_explain's JSON. Field names
// follow PostgreSQL's JSON keys ("Node Type" -> nodeType); counts are as PostgreSQL reports
// them: rows and rows removed are averages per loop, buffers include the node's children.

export interface PlanNode {
  /** "Seq Scan", "Index Only Scan", "Append", "Nested Loop", ... */
  nodeType: string;
  /** "Outer", "Inner", "Member" (of an Append), "InitPlan", "SubPlan". */
  parentRelationship?: string;
  /** "InitPlan 1 (returns $0)", "SubPlan 2", "CTE x". */
  subplanName?: string;
  joinType?: string;
  strategy?: string;
  scanDirection?: string;
  /** As in the JSON: unqualified ("chunks_p03"). */
  relationName?: string;
  schema?: string;
  alias?: string;
  /** As in the JSON: unqualified ("chunks_p03_pkey"). */
  indexName?: string;

  /** "app.chunks_p03". A Bitmap Index Scan gets the relation of its Bitmap Heap Scan. */
  relation?: string;
  /** "app.chunks_p03_pkey". */
  index?: string;
  /** Filled from the catalog (resolveNames): the partitioned root, "app.chunks"; the relation itself when it is no partition. */
  rootRelation?: string;
  /** The root's partitioned index for a partition's index, "app.chunks_pkey"; else the index itself. */
  rootIndex?: string;
  /** Leaf partitions of rootRelation when it is partitioned. */
  rootPartitions?: number;
  /** pg_class.reltuples of the scanned relation (-1: never analyzed). */
  relationTuples?: number;

  startupCost?: number;
  totalCost?: number;
  planRows: number;
  planWidth?: number;
  /** Absent without ANALYZE. Per loop. */
  actualRows?: number;
  /** 0 = never executed (run-time pruning, an empty outer side, a Limit reached). */
  actualLoops?: number;
  actualStartupTime?: number;
  actualTotalTime?: number;

  sharedHitBlocks?: number;
  sharedReadBlocks?: number;
  sharedDirtiedBlocks?: number;
  sharedWrittenBlocks?: number;
  tempReadBlocks?: number;
  tempWrittenBlocks?: number;

  indexCond?: string;
  recheckCond?: string;
  filter?: string;
  joinFilter?: string;
  hashCond?: string;
  mergeCond?: string;
  /** Per loop. */
  rowsRemovedByFilter?: number;
  rowsRemovedByIndexRecheck?: number;
  rowsRemovedByJoinFilter?: number;
  heapFetches?: number;
  /** On Append / MergeAppend: partitions pruned when the executor started (generic plans). */
  subplansRemoved?: number;

  /** Children, InitPlans and SubPlans alike (parentRelationship tells which). */
  children: PlanNode[];
  /** Every key PostgreSQL gave, for what is not typed above. */
  raw: Record<string, unknown>;
}

/** One EXPLAIN of one statement. */
export interface ExplainedPlan {
  query: string;
  plan: PlanNode;
  planningMs?: number;
  executionMs?: number;
  /** Buffers touched while planning (catalog lookups), separate from the plan's. */
  planningBuffers?: { hit: number; read: number };
}

/** One statement executed inside a call, as auto_explain logged it. */
export interface ExplainedStatement {
  query: string;
  plan: PlanNode;
  durationMs?: number;
  /** The call itself (`select api.f(...)`), whose plan's buffers include all nested statements. */
  topLevel: boolean;
}

/** What the helpers and matchers accept. */
export type PlanInput =
  | PlanNode
  | ExplainedPlan
  | ExplainedStatement
  | readonly (PlanNode | ExplainedPlan | ExplainedStatement)[];

export const SCAN_NODES = [
  "Seq Scan",
  "Index Scan",
  "Index Only Scan",
  "Bitmap Heap Scan",
  "Bitmap Index Scan",
  "Tid Scan",
  "Tid Range Scan",
  "Sample Scan",
] as const;
/** What counts as index use. */
export const INDEX_NODES = [
  "Index Scan",
  "Index Only Scan",
  "Bitmap Index Scan",
] as const;
