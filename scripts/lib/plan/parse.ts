// JSON plans to typed trees. Plans are read as trees, never by matching EXPLAIN's text.
import type {
  ExplainedPlan,
  ExplainedStatement,
  PlanInput,
  PlanNode,
} from "./types.ts";

type Json = Record<string, unknown>;

const num = (v: unknown): number | undefined =>
  typeof v === "number" ? v : undefined;
const str = (v: unknown): string | undefined =>
  typeof v === "string" ? v : undefined;

/** One node of EXPLAIN's JSON ("Plan"), with its children. `heap` is the table of an enclosing Bitmap Heap Scan. */
export function parsePlanNode(
  json: Json,
  heap?: { schema?: string; relationName?: string },
): PlanNode {
  const schema =
    str(json["Schema"]) ??
    (str(json["Relation Name"]) ? undefined : heap?.schema);
  const relationName =
    str(json["Relation Name"]) ??
    (json["Node Type"] === "Bitmap Index Scan"
      ? heap?.relationName
      : undefined);
  const indexName = str(json["Index Name"]);
  const qualify = (name: string | undefined) =>
    name === undefined ? undefined : schema ? `${schema}.${name}` : name;
  const node: PlanNode = {
    nodeType: String(json["Node Type"]),
    parentRelationship: str(json["Parent Relationship"]),
    subplanName: str(json["Subplan Name"]),
    joinType: str(json["Join Type"]),
    strategy: str(json["Strategy"]),
    scanDirection: str(json["Scan Direction"]),
    relationName: str(json["Relation Name"]),
    schema: str(json["Schema"]),
    alias: str(json["Alias"]),
    indexName,
    relation: qualify(relationName),
    index: qualify(indexName),
    startupCost: num(json["Startup Cost"]),
    totalCost: num(json["Total Cost"]),
    planRows: num(json["Plan Rows"]) ?? 0,
    planWidth: num(json["Plan Width"]),
    actualRows: num(json["Actual Rows"]),
    actualLoops: num(json["Actual Loops"]),
    actualStartupTime: num(json["Actual Startup Time"]),
    actualTotalTime: num(json["Actual Total Time"]),
    sharedHitBlocks: num(json["Shared Hit Blocks"]),
    sharedReadBlocks: num(json["Shared Read Blocks"]),
    sharedDirtiedBlocks: num(json["Shared Dirtied Blocks"]),
    sharedWrittenBlocks: num(json["Shared Written Blocks"]),
    tempReadBlocks: num(json["Temp Read Blocks"]),
    tempWrittenBlocks: num(json["Temp Written Blocks"]),
    indexCond: str(json["Index Cond"]),
    recheckCond: str(json["Recheck Cond"]),
    filter: str(json["Filter"]),
    joinFilter: str(json["Join Filter"]),
    hashCond: str(json["Hash Cond"]),
    mergeCond: str(json["Merge Cond"]),
    rowsRemovedByFilter: num(json["Rows Removed by Filter"]),
    rowsRemovedByIndexRecheck: num(json["Rows Removed by Index Recheck"]),
    rowsRemovedByJoinFilter: num(json["Rows Removed by Join Filter"]),
    heapFetches: num(json["Heap Fetches"]),
    subplansRemoved: num(json["Subplans Removed"]),
    children: [],
    raw: Object.fromEntries(
      Object.entries(json).filter(([k]) => k !== "Plans"),
    ),
  };
  // Bitmap Index Scans carry no table name: hand them their Bitmap Heap Scan's.
  const heapOfChildren =
    node.nodeType === "Bitmap Heap Scan"
      ? { schema, relationName }
      : node.nodeType.startsWith("Bitmap")
        ? heap
        : undefined;
  const plans = Array.isArray(json["Plans"]) ? (json["Plans"] as Json[]) : [];
  node.children = plans.map((child) => parsePlanNode(child, heapOfChildren));
  // Drop undefined keys so printed nodes stay readable.
  for (const key of Object.keys(node) as (keyof PlanNode)[])
    if (node[key] === undefined) delete node[key];
  return node;
}

/** The result of EXPLAIN (FORMAT JSON): an array of one object, as text or already parsed. */
export function parseExplainJson(value: unknown, query = ""): ExplainedPlan {
  const parsed = typeof value === "string" ? JSON.parse(value) : value;
  const top = (Array.isArray(parsed) ? parsed[0] : parsed) as Json | undefined;
  if (!top || typeof top["Plan"] !== "object")
    throw new Error("not an EXPLAIN (FORMAT JSON) result");
  const planning = top["Planning"] as Json | undefined;
  return {
    query,
    plan: parsePlanNode(top["Plan"] as Json),
    planningMs: num(top["Planning Time"]),
    executionMs: num(top["Execution Time"]),
    planningBuffers: planning
      ? {
          hit: num(planning["Shared Hit Blocks"]) ?? 0,
          read: num(planning["Shared Read Blocks"]) ?? 0,
        }
      : undefined,
  };
}

/**
 * One auto_explain message with log_format = json: "duration: 0.083 ms  plan:\n{ "Query Text": ..., "Plan": ... }".
 * Returns undefined for any other notice.
 */
export function parseAutoExplainNotice(
  message: string,
): Omit<ExplainedStatement, "topLevel"> | undefined {
  const match = /^duration: ([\d.]+) ms\s+plan:\n/.exec(message);
  if (!match) return undefined;
  const json = JSON.parse(message.slice(match[0].length)) as Json;
  if (typeof json["Plan"] !== "object") return undefined;
  return {
    query: String(json["Query Text"] ?? ""),
    plan: parsePlanNode(json["Plan"] as Json),
    durationMs: Number(match[1]),
  };
}

/** Every node, depth first, parents before children. */
export function* walk(node: PlanNode): Generator<PlanNode> {
  yield node;
  for (const child of node.children) yield* walk(child);
}

/** The root plans of whatever was passed: one plan, one EXPLAIN, or the statements of a call. */
export function roots(input: PlanInput): PlanNode[] {
  const items = Array.isArray(input) ? input : [input];
  return items.map((item) => ("plan" in item ? item.plan : item) as PlanNode);
}

/** Every node of every plan in the input. */
export function allNodes(input: PlanInput): PlanNode[] {
  return roots(input).flatMap((root) => [...walk(root)]);
}
