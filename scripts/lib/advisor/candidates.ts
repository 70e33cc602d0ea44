// Candidate indexes from generic plans: what each scan of a table is asked (equality, ranges,
// constant predicates, JSONB keys, the order a Sort wants), turned into single-column,
// two-column, partial and expression indexes. The planner (hypopg) decides which of them help:
// evaluate.ts. docs/monitoring.md "Index advisor".
//
// Plans come from EXPLAIN VERBOSE, where every column is qualified by its range table alias
// (`d.tenant_id`, `k_3.collection_id` for a partition of `k`), conditions are parenthesised
// and joined by AND, and constants carry their casts (`'deleted'::text`).
import { walk } from "../plan/parse.ts";
import type { PlanNode } from "../plan/types.ts";

export type PredicateKind = "eq" | "range" | "other";

/** One thing a statement asks of one table. */
export interface Predicate {
  /** Root table, "app.operations". */
  table: string;
  /** A column ("tenant_id") or a JSONB key expression ("(metadata ->> 'strategy'::text)"). */
  column: string;
  kind: PredicateKind;
  /** The condition without aliases when the other side is a constant: usable as a partial index predicate. */
  constant?: string;
}

export interface ScanDemand {
  table: string;
  predicates: Predicate[];
  /** Columns a Sort above this table's scan orders by, in order. */
  sort: string[];
}

export interface Candidate {
  table: string;
  /** Key columns or expressions, in order. */
  columns: string[];
  /** Partial index predicate, without WHERE. */
  where?: string;
  /** Canonical text: the identity of the candidate. */
  key: string;
}

const CONDITION_KEYS = [
  "Filter",
  "Index Cond",
  "Recheck Cond",
  "Join Filter",
  "Hash Cond",
  "Merge Cond",
  "TID Cond",
];

/** Splits "((a) AND (b))" into ["a", "b"], recursively through nested ANDs, outer parentheses removed. */
export function conjuncts(expression: string): string[] {
  const e = unwrap(expression.trim());
  const parts = splitTopLevel(e, " AND ");
  if (parts.length === 1) return [e];
  return parts.flatMap((p) => conjuncts(p));
}

function unwrap(e: string): string {
  let s = e;
  while (
    s.startsWith("(") &&
    s.endsWith(")") &&
    closingOf(s, 0) === s.length - 1
  )
    s = s.slice(1, -1).trim();
  return s;
}

function closingOf(s: string, open: number): number {
  let depth = 0;
  let quote = false;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === "'") quote = false;
      continue;
    }
    if (c === "'") quote = true;
    else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i;
  }
  return -1;
}

function splitTopLevel(s: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === "'") quote = false;
      continue;
    }
    if (c === "'") quote = true;
    else if (c === "(" || c === "[") depth++;
    else if (c === ")" || c === "]") depth--;
    else if (depth === 0 && s.startsWith(separator, i)) {
      parts.push(s.slice(start, i));
      start = i + separator.length;
      i += separator.length - 1;
    }
  }
  parts.push(s.slice(start));
  return parts.map((p) => p.trim());
}

const OPERATORS = [
  " = ANY ",
  " <> ALL ",
  " <= ",
  " >= ",
  " <> ",
  " = ",
  " < ",
  " > ",
  " ~~ ",
];

/** A column of the alias: "d.tenant_id" → "tenant_id"; a JSONB key "(d.metadata ->> 'k'::text)" → "(metadata ->> 'k'::text)". */
function columnOf(
  operand: string,
  aliases: ReadonlySet<string>,
): { alias: string; column: string } | undefined {
  const o = unwrap(operand.trim());
  let m = /^([a-z_][\w$]*)\.([a-z_][\w$]*|"(?:[^"]|"")+")$/i.exec(o);
  if (m && aliases.has(m[1]!)) return { alias: m[1]!, column: m[2]! };
  m =
    /^([a-z_][\w$]*)\.([a-z_][\w$]*) (->>|->) ('(?:[^']|'')*'::text|\d+)$/i.exec(
      o,
    );
  if (m && aliases.has(m[1]!))
    return { alias: m[1]!, column: `(${m[2]} ${m[3]} ${m[4]})` };
  return undefined;
}

const CONSTANT =
  /^(?:'(?:[^']|'')*'(?:::[\w ]+(?:\[\])?)?|-?\d+(?:\.\d+)?(?:::[\w ]+)?|true|false|ARRAY\[(?:'(?:[^']|'')*'(?:::[\w ]+)?(?:, )?)+\](?:::[\w ]+\[\])?)$/i;

/** Which aliases an expression mentions. */
function aliasesIn(
  expression: string,
  aliases: ReadonlySet<string>,
): Set<string> {
  const found = new Set<string>();
  const stripped = expression.replace(/'(?:[^']|'')*'/g, "''");
  for (const m of stripped.matchAll(/\b([a-z_][\w$]*)\.[a-z_"]/gi))
    if (aliases.has(m[1]!)) found.add(m[1]!);
  return found;
}

/**
 * What each scanned table is asked, across the whole plan: every condition of every node,
 * attributed to the alias whose column it compares with something else (a parameter, a
 * constant, a column of another table: a join key is an equality the inner side of a nested
 * loop can look up).
 */
export function scanDemands(
  plan: PlanNode,
  isUserTable: (table: string) => boolean,
): ScanDemand[] {
  const nodes = [...walk(plan)];
  const aliasTable = new Map<string, string>();
  for (const n of nodes) {
    const table = n.rootRelation ?? n.relation;
    if (n.alias && table && n.relationName && isUserTable(table))
      aliasTable.set(n.alias, table);
  }
  // Sort keys of a partitioned table name the parent's alias ("o"), scans the partitions' ("o_1").
  const resolveAlias = (alias: string): string | undefined => {
    if (aliasTable.has(alias)) return aliasTable.get(alias);
    const tables = new Set(
      [...aliasTable]
        .filter(([a]) => new RegExp(`^${alias}_\\d+$`).test(a))
        .map(([, t]) => t),
    );
    return tables.size === 1 ? [...tables][0] : undefined;
  };
  const aliases = new Set([...aliasTable.keys()]);
  const demands = new Map<string, ScanDemand>();
  const demandOf = (table: string) => {
    let d = demands.get(table);
    if (!d) demands.set(table, (d = { table, predicates: [], sort: [] }));
    return d;
  };

  for (const n of nodes) {
    for (const key of CONDITION_KEYS) {
      const condition = n.raw[key];
      if (typeof condition !== "string") continue;
      for (const c of conjuncts(condition)) {
        const p = predicateOf(c, aliases);
        if (!p) continue;
        const table = aliasTable.get(p.alias);
        if (table)
          addPredicate(demandOf(table), {
            table,
            column: p.column,
            kind: p.kind,
            constant: p.constant,
          });
      }
    }
    const sortKeys = (n.raw["Sort Key"] ?? n.raw["Group Key"]) as
      string[] | undefined;
    if (Array.isArray(sortKeys) && sortKeys.length) {
      const cols = sortKeys.map((k) =>
        /^([a-z_][\w$]*)\.([a-z_][\w$]*)(?: (?:DESC|ASC))?(?: NULLS (?:FIRST|LAST))?$/i.exec(
          k.trim(),
        ),
      );
      const first = cols[0];
      const table = first ? resolveAlias(first[1]!) : undefined;
      if (table && cols.every((m) => m && resolveAlias(m[1]!) === table)) {
        const d = demandOf(table);
        if (d.sort.length === 0) d.sort = cols.map((m) => m![2]!);
      }
    }
  }
  // a table scanned without conditions (a Seq Scan of all of it) has nothing an index could answer
  return [...demands.values()].filter(
    (d) => d.predicates.length > 0 || d.sort.length > 0,
  );
}

function addPredicate(d: ScanDemand, p: Predicate): void {
  if (
    !d.predicates.some(
      (q) =>
        q.column === p.column && q.kind === p.kind && q.constant === p.constant,
    )
  )
    d.predicates.push(p);
}

function predicateOf(
  conjunct: string,
  aliases: ReadonlySet<string>,
):
  | { alias: string; column: string; kind: PredicateKind; constant?: string }
  | undefined {
  const c = unwrap(conjunct);
  // col IS [NOT] NULL
  let m = /^(.+) IS (NOT )?NULL$/.exec(c);
  if (m) {
    const col = columnOf(m[1]!, aliases);
    if (!col) return undefined;
    return {
      ...col,
      kind: m[2] ? "other" : "eq",
      constant: `${col.column} IS ${m[2] ?? ""}NULL`,
    };
  }
  // a boolean column alone, or negated
  m = /^(NOT )?([a-z_][\w$]*\.[a-z_][\w$]*)$/i.exec(c);
  if (m) {
    const col = columnOf(m[2]!, aliases);
    if (!col) return undefined;
    return { ...col, kind: "eq", constant: `${m[1] ?? ""}${col.column}` };
  }
  for (const op of OPERATORS) {
    const parts = splitTopLevel(c, op);
    if (parts.length !== 2) continue;
    const [left, right] = parts as [string, string];
    const kind: PredicateKind =
      op === " = " || op === " = ANY "
        ? "eq"
        : op === " <> " || op === " <> ALL " || op === " ~~ "
          ? "other"
          : "range";
    for (const [side, other, flipped] of [
      [left, right, false],
      [right, left, true],
    ] as const) {
      const col = columnOf(side, aliases);
      if (!col) continue;
      // the other side must not read this alias (a comparison of two of its own columns)
      if (aliasesIn(other, aliases).has(col.alias)) continue;
      const value = unwrap(other);
      const isConstant =
        CONSTANT.test(value) ||
        (op.includes("ANY") || op.includes("ALL")
          ? /^'\{.*\}'(?:::[\w ]+\[\])?$/.test(value)
          : false);
      const operator = op.trim();
      const text =
        flipped && !op.includes("ANY") && !op.includes("ALL")
          ? `${value} ${operator} ${col.column}`
          : `${col.column} ${operator} ${op.includes("ANY") || op.includes("ALL") ? `(${value})` : value}`;
      return { ...col, kind, constant: isConstant ? text : undefined };
    }
    return undefined;
  }
  // anything else that reads one column of one alias and only constants (an OR of constants)
  const found = aliasesIn(c, aliases);
  if (found.size === 1 && !/\$\d|SubPlan|InitPlan|now\(\)|CURRENT_/i.test(c)) {
    const alias = [...found][0]!;
    const columns = new Set(
      [
        ...c
          .replace(/'(?:[^']|'')*'/g, "''")
          .matchAll(new RegExp(`\\b${alias}\\.([a-z_][\\w$]*)`, "gi")),
      ].map((x) => x[1]!),
    );
    if (columns.size === 1) {
      const column = [...columns][0]!;
      return {
        alias,
        column,
        kind: "other",
        constant: c.replace(new RegExp(`\\b${alias}\\.`, "g"), ""),
      };
    }
  }
  return undefined;
}

export interface CandidateOptions {
  /** Partial indexes for constant predicates. Default true. */
  partial?: boolean;
}

/** Candidates for one scan demand: single columns, two-column orders, expression and partial indexes. */
export function candidatesFor(
  d: ScanDemand,
  options: CandidateOptions = {},
): Candidate[] {
  const { partial = true } = options;
  const eq = unique(
    d.predicates
      .filter((p) => p.kind === "eq" && !p.constant)
      .map((p) => p.column),
  );
  const eqConst = unique(
    d.predicates
      .filter((p) => p.kind === "eq" && p.constant)
      .map((p) => p.column),
  );
  const range = unique(
    d.predicates.filter((p) => p.kind === "range").map((p) => p.column),
  );
  const allEq = unique([...eq, ...eqConst]);
  const seconds = unique([...allEq, ...range, ...d.sort]);
  const out: Candidate[] = [];
  const add = (columns: string[], where?: string) => {
    if (columns.length === 0 || new Set(columns).size !== columns.length)
      return;
    out.push(candidate(d.table, columns, where));
  };
  for (const c of unique([...allEq, ...range, ...d.sort])) add([c]);
  for (const a of allEq) for (const b of seconds) if (a !== b) add([a, b]);
  if (partial) {
    const constants = d.predicates.filter((p) => p.constant);
    for (const p of constants) {
      const keys = unique([...allEq, ...range, ...d.sort]).filter(
        (c) => c !== p.column,
      );
      for (const a of keys) add([a], p.constant);
      for (const a of allEq.filter((c) => c !== p.column))
        for (const b of keys) if (a !== b) add([a, b], p.constant);
    }
  }
  return dedupe(out);
}

export function candidate(
  table: string,
  columns: string[],
  where?: string,
): Candidate {
  return {
    table,
    columns,
    where,
    key: `${table} (${columns.join(", ")})${where ? ` where ${where}` : ""}`,
  };
}

const unique = <T>(xs: T[]): T[] => [...new Set(xs)];
function dedupe(cs: Candidate[]): Candidate[] {
  const seen = new Map<string, Candidate>();
  for (const c of cs) if (!seen.has(c.key)) seen.set(c.key, c);
  return [...seen.values()];
}

/** The index DDL of a candidate: `create index [concurrently] name on table (cols) [where ...]`. */
export function indexDdl(
  c: Candidate,
  name?: string,
  concurrently = false,
): string {
  return `create index ${concurrently ? "concurrently " : ""}${name ? `${name} ` : ""}on ${c.table} (${c.columns.join(", ")})${c.where ? ` where ${c.where}` : ""}`;
}

/** `<table>_<columns>_idx` (docs: naming convention 9), with `_partial` for a partial one, at most 63 bytes. */
export function indexName(c: Candidate): string {
  const table = c.table.slice(c.table.indexOf(".") + 1);
  const cols = c.columns.map((col) =>
    col
      .replace(/'[^']*'/g, (s) => s.slice(1, -1))
      .replace(/::\w+/g, "")
      .replace(/[^\w]+/g, "_")
      .replace(/^_|_$/g, ""),
  );
  const base = `${table}_${cols.join("_")}${c.where ? "_partial" : ""}`;
  return `${base.slice(0, 59).replace(/_$/, "")}_idx`;
}
