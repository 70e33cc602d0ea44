// Which candidates help, according to the planner: each statement's generic plan is costed
// with each candidate as a hypothetical index (hypopg), and indexes are chosen greedily. A
// candidate is recommended only when, next to the indexes already chosen, it lowers the
// planner's cost of at least one statement by `minCostDrop` (50 %) and that plan uses it.
// docs/monitoring.md "Index advisor".
import type postgres from "postgres";
import { resolveNames } from "../plan/explain.ts";
import { walk } from "../plan/parse.ts";
import type { PlanNode } from "../plan/types.ts";
import { candidatesFor, indexDdl, type Candidate } from "./candidates.ts";
import { scanDemands } from "./candidates.ts";
import { genericPlan } from "./generic-plan.ts";
import type { WorkloadStatement } from "./statements.ts";

export interface PlannedStatement extends WorkloadStatement {
  plan: PlanNode;
  cost: number;
  /** Root tables the plan scans (user tables only). */
  tables: string[];
}

export interface SkippedStatement {
  statement: WorkloadStatement;
  reason: string;
}

export interface StatementGain {
  queryid: string;
  toplevel: boolean;
  query: string;
  origin?: string;
  calls: number;
  /** Planner cost with the indexes chosen before this one. */
  costBefore: number;
  /** With this one too. */
  costAfter: number;
  /** The cost with none of the recommended indexes (what the database has now). */
  costBaseline: number;
}

export interface Recommendation {
  candidate: Candidate;
  /** Statements whose cost it lowers by minCostDrop or more (and whose plan uses it). */
  gains: StatementGain[];
  /** Σ calls × (costBefore − costAfter): what the greedy choice maximised. */
  benefit: number;
  /** hypopg's estimate of the index size, bytes. */
  estimatedBytes: number;
}

export interface EvaluateOptions {
  /** Fraction the cost must drop by, 0..1. Default 0.5. */
  minCostDrop?: number;
  /** Statements whose generic plan costs less are not worth an index. Default 50. */
  minCost?: number;
  /** At most this many recommendations. Default 10. */
  maxIndexes?: number;
  partial?: boolean;
  onProgress?: (done: number, total: number, phase: string) => void;
}

export interface Evaluation {
  planned: PlannedStatement[];
  skipped: SkippedStatement[];
  candidates: Candidate[];
  recommendations: Recommendation[];
  /** Number of EXPLAINs run. */
  explains: number;
}

/** The user tables of the database: everything outside the system schemas, extension members left out. */
export async function userTables(
  conn: postgres.ReservedSql,
): Promise<Set<string>> {
  const rows = await conn<{ name: string }[]>`
    select n.nspname || '.' || c.relname as name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p', 'm')
      and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp_)'
      and not exists (select from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')`;
  return new Set(rows.map((r) => r.name));
}

interface ExistingIndex {
  table: string;
  columns: string[];
  where: string | null;
}

async function existingIndexes(
  conn: postgres.ReservedSql,
): Promise<ExistingIndex[]> {
  const rows = await conn<
    { table: string; columns: string[]; where: string | null }[]
  >`
    select n.nspname || '.' || t.relname as table,
           array(select pg_get_indexdef(i.indexrelid, k, true) from generate_series(1, i.indnkeyatts) k order by k) as columns,
           pg_get_expr(i.indpred, i.indrelid, true) as where
    from pg_index i
    join pg_class ic on ic.oid = i.indexrelid
    join pg_class t on t.oid = i.indrelid
    join pg_namespace n on n.oid = t.relnamespace
    where not ic.relispartition and i.indisvalid`;
  return rows;
}

const norm = (s: string) =>
  s
    .replace(/\s+/g, "")
    .replace(/::text/g, "")
    .replace(/^\((.*)\)$/, "$1")
    .toLowerCase();

/** An existing index already leads with the candidate's columns (same predicate, or none on the existing one). */
function alreadyIndexed(
  c: Candidate,
  existing: readonly ExistingIndex[],
): boolean {
  return existing.some(
    (e) =>
      e.table === c.table &&
      e.columns.length >= c.columns.length &&
      c.columns.every((col, i) => norm(col) === norm(e.columns[i]!)) &&
      (e.where === null ||
        (c.where !== undefined && norm(e.where) === norm(c.where))),
  );
}

const hypotheticalIn = (plan: PlanNode, oid: number) =>
  [...walk(plan)].some((n) => n.indexName?.startsWith(`<${oid}>`));

/**
 * Plans every statement, derives the candidates and picks the recommendations greedily.
 * `conn` must be a connection of its own in the analysed database, with hypopg created there.
 */
export async function evaluate(
  conn: postgres.ReservedSql,
  statements: readonly WorkloadStatement[],
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  const {
    minCostDrop = 0.5,
    minCost = 50,
    maxIndexes = 10,
    partial = true,
    onProgress,
  } = options;
  await conn`select hypopg_reset()`;
  const tables = await userTables(conn);
  const existing = await existingIndexes(conn);
  let explains = 0;

  // 1. the generic plan of each statement, and what its scans ask of each table
  const planned: PlannedStatement[] = [];
  const skipped: SkippedStatement[] = [];
  const byKey = new Map<string, Candidate>();
  statements.forEach((s, i) => onProgress?.(i, statements.length, "planning"));
  for (const [i, s] of statements.entries()) {
    const result = await genericPlan(conn, s);
    explains++;
    onProgress?.(i + 1, statements.length, "planning");
    if (result instanceof Error) {
      skipped.push({
        statement: s,
        reason: `cannot be planned: ${result.message.split("\n")[0]}`,
      });
      continue;
    }
    await resolveNames(conn, result.plan);
    const demands = scanDemands(result.plan, (t) => tables.has(t));
    const scanned = [
      ...new Set(
        [...walk(result.plan)]
          .map((n) => n.rootRelation ?? n.relation)
          .filter((t): t is string => !!t && tables.has(t)),
      ),
    ];
    if (scanned.length === 0) {
      skipped.push({ statement: s, reason: "reads no table" });
      continue;
    }
    planned.push({
      ...s,
      plan: result.plan,
      cost: result.cost,
      tables: scanned,
    });
    if (result.cost < minCost) continue; // cheap already: no candidates from it
    for (const d of demands)
      for (const c of candidatesFor(d, { partial }))
        if (!alreadyIndexed(c, existing)) byKey.set(c.key, c);
  }
  const candidates = [...byKey.values()].sort((a, b) =>
    a.key.localeCompare(b.key),
  );

  // 2. greedy: the candidate with the largest weighted cost saving, next to those chosen before
  const chosen: { candidate: Candidate; oid: number }[] = [];
  const recommendations: Recommendation[] = [];
  const current = new Map(planned.map((s) => [s.queryid + s.toplevel, s.cost]));
  const baseline = new Map(current);
  const relevant = (c: Candidate) =>
    planned.filter(
      (s) =>
        s.tables.includes(c.table) &&
        (current.get(s.queryid + s.toplevel) ?? 0) >= minCost,
    );
  while (recommendations.length < maxIndexes) {
    const remaining = candidates.filter(
      (c) => !chosen.some((x) => x.candidate.key === c.key),
    );
    const total = remaining.reduce((n, c) => n + relevant(c).length, 0);
    let done = 0;
    let best:
      | {
          candidate: Candidate;
          gains: StatementGain[];
          benefit: number;
          bytes: number;
        }
      | undefined;
    for (const c of remaining) {
      const statementsOfTable = relevant(c);
      if (statementsOfTable.length === 0) continue;
      const [hypo] = await conn<
        { indexrelid: number }[]
      >`select indexrelid from hypopg_create_index(${indexDdl(c)})`;
      const oid = hypo!.indexrelid;
      const gains: StatementGain[] = [];
      try {
        for (const s of statementsOfTable) {
          const r = await genericPlan(conn, s);
          explains++;
          onProgress?.(
            ++done,
            total,
            `evaluating (${recommendations.length} chosen)`,
          );
          if (r instanceof Error) continue;
          const before = current.get(s.queryid + s.toplevel)!;
          if (
            r.cost <= before * (1 - minCostDrop) &&
            hypotheticalIn(r.plan, oid)
          ) {
            gains.push({
              queryid: s.queryid,
              toplevel: s.toplevel,
              query: s.literal ? s.runnable : s.query,
              origin: s.origin,
              calls: s.calls,
              costBefore: before,
              costAfter: r.cost,
              costBaseline: baseline.get(s.queryid + s.toplevel)!,
            });
          }
        }
        const benefit = gains.reduce(
          (sum, g) => sum + g.calls * (g.costBefore - g.costAfter),
          0,
        );
        const [size] = await conn<
          { bytes: string }[]
        >`select hypopg_relation_size(${oid})::bigint as bytes`;
        const bytes = Number(size?.bytes ?? 0);
        // the larger saving wins; on a tie the narrower index, then the smaller one
        if (
          gains.length > 0 &&
          (!best ||
            benefit > best.benefit * 1.0001 ||
            (benefit >= best.benefit * 0.9999 &&
              (c.columns.length < best.candidate.columns.length ||
                (c.columns.length === best.candidate.columns.length &&
                  bytes < best.bytes))))
        ) {
          best = { candidate: c, gains, benefit, bytes };
        }
      } finally {
        await conn`select hypopg_drop_index(${oid})`;
      }
    }
    if (!best) break;
    const [hypo] = await conn<
      { indexrelid: number }[]
    >`select indexrelid from hypopg_create_index(${indexDdl(best.candidate)})`;
    chosen.push({ candidate: best.candidate, oid: hypo!.indexrelid });
    recommendations.push({
      candidate: best.candidate,
      gains: best.gains,
      benefit: best.benefit,
      estimatedBytes: best.bytes,
    });
    // the costs of every statement of the table, now with this index too
    for (const s of planned.filter((p) =>
      p.tables.includes(best!.candidate.table),
    )) {
      const r = await genericPlan(conn, s);
      explains++;
      if (!(r instanceof Error)) current.set(s.queryid + s.toplevel, r.cost);
    }
  }
  await conn`select hypopg_reset()`;
  return { planned, skipped, candidates, recommendations, explains };
}
