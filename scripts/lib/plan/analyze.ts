// Questions asked of a plan tree (or of all the statements of a call). Partitions count as
// their parent table and partition indexes as the parent's index once resolveNames ran
// (explain and explainFunction do); without it, names stay as the plan gives them.
import { allNodes, roots, walk } from "./parse.ts";
import { INDEX_NODES, type PlanInput, type PlanNode } from "./types.ts";

const executed = (n: PlanNode) =>
  n.actualLoops === undefined || n.actualLoops > 0;
const tableOf = (n: PlanNode) => n.rootRelation ?? n.relation;
const indexOf = (n: PlanNode) => n.rootIndex ?? n.index;

export interface AccessPath {
  /** The scanned relation, "app.chunks_p03". */
  relation: string;
  /** Its parent when it is a partition, else itself: "app.chunks". */
  table: string;
  /** "Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan" (one entry per bitmap index), ... */
  scan: string;
  /** The index as the plan names it, "app.chunks_p03_pkey". */
  index?: string;
  /** The parent's index for a partition index, else the same: "app.chunks_pkey". */
  rootIndex?: string;
  /** False when the node is in the plan but never ran (run-time pruning, empty outer side). */
  executed: boolean;
  node: PlanNode;
}

/** How each relation is read: one entry per scan node (per bitmap index for bitmap scans). */
export function accessPaths(input: PlanInput): AccessPath[] {
  const paths: AccessPath[] = [];
  for (const node of allNodes(input)) {
    if (!node.relationName || !node.relation) continue; // Bitmap Index Scans are reported with their heap scan
    const base = {
      relation: node.relation,
      table: tableOf(node)!,
      scan: node.nodeType,
      executed: executed(node),
      node,
    };
    if (node.nodeType === "Bitmap Heap Scan") {
      for (const child of node.children.flatMap((c) => [...walk(c)])) {
        if (child.nodeType === "Bitmap Index Scan")
          paths.push({
            ...base,
            index: child.index,
            rootIndex: indexOf(child),
          });
      }
    } else {
      paths.push(
        node.index
          ? { ...base, index: node.index, rootIndex: indexOf(node) }
          : base,
      );
    }
  }
  return paths;
}

/** The nodes that use an index: Index Scan, Index Only Scan, Bitmap Index Scan. */
export function indexNodes(input: PlanInput): PlanNode[] {
  return allNodes(input).filter(
    (n) => (INDEX_NODES as readonly string[]).includes(n.nodeType) && n.index,
  );
}

/** Distinct indexes used, partition indexes given as their parent index, sorted. */
export function indexesUsed(input: PlanInput): string[] {
  return [...new Set(indexNodes(input).map((n) => indexOf(n)!))].sort();
}

/** Seq Scan nodes, with the scanned relation, its parent table and its size from pg_class. */
export function seqScans(
  input: PlanInput,
): { relation: string; table: string; tuples?: number; node: PlanNode }[] {
  return allNodes(input)
    .filter((n) => n.nodeType === "Seq Scan" && n.relation)
    .map((n) => ({
      relation: n.relation!,
      table: tableOf(n)!,
      tuples: n.relationTuples,
      node: n,
    }));
}

export interface PartitionScan {
  /** The partitioned table, "app.chunks". */
  table: string;
  /** Its leaf partitions (from the catalog). */
  total?: number;
  /** Partitions in the plan after planning and executor-start pruning. */
  inPlan: string[];
  /** Partitions actually scanned: in the plan and executed at least once (all of inPlan without ANALYZE). */
  scanned: string[];
  /** Sum of "Subplans Removed" of the Appends over this table: pruned when the executor started. */
  subplansRemoved: number;
}

/**
 * Per partitioned table, which partitions a plan reads. Pruning shows three ways: at planning
 * (the partition is absent), at executor start for generic plans (absent, counted in "Subplans
 * Removed"), during execution (present but never executed). `scanned` accounts for all three.
 */
export function partitionsScanned(
  input: PlanInput,
  table?: string,
): PartitionScan[] {
  const byTable = new Map<
    string,
    PartitionScan & { inPlanSet: Set<string>; scannedSet: Set<string> }
  >();
  const entry = (t: string, total?: number) => {
    let e = byTable.get(t);
    if (!e)
      byTable.set(
        t,
        (e = {
          table: t,
          total,
          inPlan: [],
          scanned: [],
          subplansRemoved: 0,
          inPlanSet: new Set(),
          scannedSet: new Set(),
        }),
      );
    if (total !== undefined) e.total = total;
    return e;
  };
  for (const node of allNodes(input)) {
    if (
      node.relationName &&
      node.relation &&
      node.rootRelation &&
      node.rootRelation !== node.relation
    ) {
      const e = entry(node.rootRelation, node.rootPartitions);
      e.inPlanSet.add(node.relation);
      if (executed(node)) e.scannedSet.add(node.relation);
    }
    if (node.subplansRemoved) {
      // An Append names no table: take it from the first partition scan below it.
      const member = [...walk(node)].find(
        (n) =>
          n.relationName && n.rootRelation && n.rootRelation !== n.relation,
      );
      if (member)
        entry(member.rootRelation!, member.rootPartitions).subplansRemoved +=
          node.subplansRemoved;
    }
  }
  const result = [...byTable.values()].map(
    ({ inPlanSet, scannedSet, ...e }) => ({
      ...e,
      inPlan: [...inPlanSet].sort(),
      scanned: [...scannedSet].sort(),
    }),
  );
  return table
    ? result.filter((e) => sameName(e.table, table))
    : result.sort((a, b) => a.table.localeCompare(b.table));
}

export interface Buffers {
  hit: number;
  read: number;
  total: number;
}

/**
 * Shared buffers (hit + read) of the execution. A node's counts include its children's, so the
 * root's are the statement's (planning is counted apart, in ExplainedPlan.planningBuffers).
 * For the statements of a call, the top-level call's root includes every nested statement;
 * without a top-level statement (CALL), the roots are summed, which counts a statement nested
 * two levels deep twice.
 */
export function sharedBuffers(input: PlanInput): Buffers {
  const items = Array.isArray(input) ? input : [input];
  const top = items.find((item) => "topLevel" in item && item.topLevel);
  const nodes = top ? roots(top) : roots(input);
  const hit = nodes.reduce((sum, n) => sum + (n.sharedHitBlocks ?? 0), 0);
  const read = nodes.reduce((sum, n) => sum + (n.sharedReadBlocks ?? 0), 0);
  return { hit, read, total: hit + read };
}

/** Rows read and then thrown away by a Filter, over all loops of all nodes. */
export function rowsRemovedByFilter(input: PlanInput): number {
  return allNodes(input).reduce(
    (sum, n) =>
      sum + (n.rowsRemovedByFilter ?? 0) * Math.max(n.actualLoops ?? 1, 1),
    0,
  );
}

export interface EstimateError {
  node: PlanNode;
  planRows: number;
  actualRows: number;
  /** actual / estimated; below 1 the planner overestimated. */
  ratio: number;
  /** How far off, either way: max(ratio, 1 / ratio), at least 1. */
  factor: number;
}

/** Executed nodes whose row estimate is off by at least minFactor (default 1: all), worst first. Rows are per loop on both sides. */
export function estimateErrors(
  input: PlanInput,
  minFactor = 1,
): EstimateError[] {
  return allNodes(input)
    .filter((n) => n.actualRows !== undefined && (n.actualLoops ?? 0) > 0)
    .map((node) => {
      const planRows = Math.max(node.planRows, 1);
      const actualRows = node.actualRows!;
      const ratio = actualRows / planRows;
      const factor =
        Math.max(actualRows, 1) / planRows >= 1
          ? Math.max(actualRows, 1) / planRows
          : planRows / Math.max(actualRows, 1);
      return { node, planRows: node.planRows, actualRows, ratio, factor };
    })
    .filter((e) => e.factor >= minFactor)
    .sort((a, b) => b.factor - a.factor);
}

/** "app.x" matches "app.x"; "x" matches any schema's x. */
export function sameName(actual: string | undefined, wanted: string): boolean {
  if (!actual) return false;
  return wanted.includes(".")
    ? actual === wanted
    : actual.slice(actual.indexOf(".") + 1) === wanted;
}

/**
 * Whether a statement is one of PostgreSQL's referential integrity checks (ri_triggers.c: the
 * `SELECT 1 FROM [ONLY] t x WHERE ... FOR KEY SHARE OF x` run per row a foreign key touches),
 * not the routine's own. Takes the text as auto_explain logs it (`SELECT 1`) or as
 * pg_stat_statements normalizes it (`SELECT $1`).
 */
export function isForeignKeyCheck(query: string): boolean {
  return /^\s*SELECT (?:1|\$\d+) FROM (?:ONLY )?\S+ x WHERE .* FOR KEY SHARE OF x\s*$/s.test(
    query,
  );
}
