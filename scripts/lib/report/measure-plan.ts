// The plan step of measuring a workload (docs/benchmark.md "How it measures", 2): auto_explain
// of the call as the plan tests see it (explainCall: the DEFAULT_RUNS-th call of a session,
// writes rolled back; the procedure: its DEFAULT_RUNS-th batch), and what the report keeps of it.
import {
  accessPaths,
  indexesUsed,
  isForeignKeyCheck,
  partitionsScanned,
  SCAN_NODES,
  seqScans,
  sharedBuffers,
  type ExplainedStatement,
} from "../plan/index.ts";
import {
  explainCall,
  SEQ_SCAN_MIN_ROWS,
  type WorkloadDefinition,
} from "../workload.ts";
import type { AccessEntry, FunctionMeasurement } from "./types.ts";

/** What the plan step fills in a FunctionMeasurement. */
export type PlanMeasurement = Pick<
  FunctionMeasurement,
  | "statements"
  | "fkChecks"
  | "buffers"
  | "access"
  | "indexes"
  | "missingIndexes"
  | "largeSeqScans"
  | "statementsWithOneId"
>;

/** Each executed scan once per (table, scan, index), with the partitions scanned of all. */
export function accessOf(statements: ExplainedStatement[]): AccessEntry[] {
  const partitions = new Map(
    partitionsScanned(statements).map((p) => [p.table, p]),
  );
  const seen = new Map<string, AccessEntry>();
  for (const path of accessPaths(statements)) {
    if (
      !path.executed ||
      !(SCAN_NODES as readonly string[]).includes(path.scan)
    )
      continue;
    const key = `${path.table}|${path.scan}|${path.rootIndex ?? ""}`;
    if (seen.has(key)) continue;
    const entry: AccessEntry = { table: path.table, scan: path.scan };
    if (path.rootIndex) entry.index = path.rootIndex;
    const p = partitions.get(path.table);
    if (p) entry.partitions = `${p.scanned.length}/${p.total ?? "?"}`;
    seen.set(key, entry);
  }
  return [...seen.values()];
}

/** The arguments with the id array cut to its first id. */
function withOneId(args: unknown[], idsArg: number): unknown[] {
  const copy = [...args];
  copy[idsArg] = (copy[idsArg] as unknown[]).slice(0, 1);
  return copy;
}

/**
 * The plan of the call with `args`: buffers, access paths, indexes used and missing, large Seq
 * Scans, the statements it ran (PostgreSQL's foreign key checks apart); for bulk routines
 * (not the procedure) the statements again with one id, to show they do not grow.
 */
export async function measurePlan(
  url: string,
  w: WorkloadDefinition,
  args: unknown[],
): Promise<PlanMeasurement> {
  const { statements } = await explainCall(url, {
    kind: w.kind,
    query: w.query,
    args,
  });
  const own = statements.filter((s) => !isForeignKeyCheck(s.query));
  const indexes = indexesUsed(own);
  const result: PlanMeasurement = {
    statements: own.filter((s) => !s.topLevel).length,
    fkChecks: statements.length - own.length,
    buffers: sharedBuffers(statements),
    access: accessOf(own),
    indexes,
    missingIndexes: w.intendedIndexes.filter((ix) => !indexes.includes(ix)),
    largeSeqScans: [
      ...new Set(
        seqScans(own)
          .filter((s) => (s.tuples ?? 0) > SEQ_SCAN_MIN_ROWS)
          .map((s) => s.table),
      ),
    ],
  };
  if (w.idsArg !== undefined && w.kind !== "procedure") {
    const one = await explainCall(
      url,
      { kind: w.kind, query: w.query, args: withOneId(args, w.idsArg) },
      { runs: 2 },
    );
    result.statementsWithOneId = one.statements.filter(
      (s) => !s.topLevel && !isForeignKeyCheck(s.query),
    ).length;
  }
  return result;
}
