// Plans as short text: renderPlan for people (failure messages, reports), fingerprint for
// committed files (shape only, so it changes when the plan changes, not when timing does).
import { roots } from "./parse.ts";
import type { PlanInput, PlanNode } from "./types.ts";

const oneLine = (s: string, max = 100) => {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

function nodeLabel(n: PlanNode, names: "plan" | "root"): string {
  const join = n.joinType && n.joinType !== "Inner" ? ` ${n.joinType}` : "";
  const index = names === "root" ? (n.rootIndex ?? n.index) : n.indexName;
  const relation =
    names === "root" ? (n.rootRelation ?? n.relation) : n.relation;
  let label = `${n.nodeType}${join}`;
  if (index) label += ` using ${index}`;
  if (relation && n.relationName) label += ` on ${relation}`;
  if (n.subplanName) label = `${n.subplanName}: ${label}`;
  return label;
}

function nodeFigures(n: PlanNode): string {
  const parts: string[] = [];
  if (n.actualLoops === 0) parts.push("never executed");
  else if (n.actualRows !== undefined)
    parts.push(
      `rows ${n.actualRows}/${n.planRows}${n.actualLoops && n.actualLoops > 1 ? ` x${n.actualLoops}` : ""}`,
    );
  else parts.push(`est. rows ${n.planRows}`);
  if (n.sharedHitBlocks !== undefined)
    parts.push(
      `buffers ${(n.sharedHitBlocks ?? 0) + (n.sharedReadBlocks ?? 0)}`,
    );
  if (n.rowsRemovedByFilter) parts.push(`removed ${n.rowsRemovedByFilter}`);
  if (n.subplansRemoved) parts.push(`subplans removed ${n.subplansRemoved}`);
  return parts.join(", ");
}

function renderNode(n: PlanNode, depth: number, lines: string[]): void {
  lines.push(
    `${"  ".repeat(depth)}${nodeLabel(n, "plan")} (${nodeFigures(n)})`,
  );
  for (const child of n.children) renderNode(child, depth + 1, lines);
}

/**
 * One line per node, indented: "Index Only Scan using chunks_p03_pkey on app.chunks_p03 (rows
 * 12/10, buffers 4)": actual/estimated rows per loop, xN for N loops, buffers hit + read
 * including children. Statements of a call get a header line each.
 */
export function renderPlan(input: PlanInput): string {
  const items = Array.isArray(input) ? input : [input];
  const lines: string[] = [];
  for (const item of items) {
    if ("query" in item && items.length > 1)
      lines.push(
        `-- ${"topLevel" in item && item.topLevel ? "[call] " : ""}${oneLine(item.query)}`,
      );
    renderNode(roots(item)[0]!, items.length > 1 ? 1 : 0, lines);
  }
  return lines.join("\n");
}

function fingerprintNode(n: PlanNode): string[] {
  const head = nodeLabel(n, "root");
  const members = n.children.filter((c) => c.parentRelationship === "Member");
  const others = n.children.filter((c) => c.parentRelationship !== "Member");
  const lines = [head];
  for (const child of others)
    lines.push(...fingerprintNode(child).map((l) => `  ${l}`));
  // Partitions under an Append collapse to their parent: identical subtrees counted, sorted.
  const groups = new Map<string, number>();
  for (const member of members) {
    const text = fingerprintNode(member).join("\n");
    groups.set(text, (groups.get(text) ?? 0) + 1);
  }
  for (const [text, count] of [...groups].sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    const [first, ...rest] = text.split("\n");
    lines.push(
      `  ${first}${members.length > 1 || count > 1 ? ` x${count}` : ""}`,
      ...rest.map((l) => `  ${l}`),
    );
  }
  return lines;
}

/**
 * The plan's shape: node types, join types, tables and indexes (partitions as their parent),
 * with no costs, rows, timing or buffers, so it is stable across runs on the same data and
 * settings. Partitions under an Append are grouped: "Seq Scan on app.chunks x16".
 */
export function fingerprint(input: PlanInput): string {
  const items = Array.isArray(input) ? input : [input];
  const parts: string[] = [];
  for (const item of items) {
    const lines = fingerprintNode(roots(item)[0]!);
    if ("query" in item && items.length > 1)
      parts.push(`-- ${oneLine(item.query)}`, ...lines.map((l) => `  ${l}`));
    else parts.push(...lines);
  }
  return parts.join("\n");
}
