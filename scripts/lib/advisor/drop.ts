// What to drop (the advisor's step 3): duplicate indexes and indexes unused since the
// statistics were reset, from the perf functions of the analysed database (functions/perf/).
import type postgres from "postgres";

export interface DropSuggestion {
  index: string;
  table: string;
  reason: string;
  sizeBytes: number;
  statement: string;
}

export type StatisticsAge = {
  stats_reset: Date | null;
  stats_age: string;
  stats_age_exact: boolean;
} | null;

/** The duplicate and unused indexes (over `maxUnusedScans` scans), duplicates first; undefined when the database has no perf functions. */
export async function dropSuggestions(
  sql: postgres.Sql,
  maxUnusedScans: number,
): Promise<{ drop: DropSuggestion[]; statistics: StatisticsAge } | undefined> {
  const [hasPerf] = await sql<
    { ok: boolean }[]
  >`select to_regprocedure('perf.unused_indexes(bigint)') is not null and to_regprocedure('perf.duplicate_indexes()') is not null as ok`;
  if (!hasPerf?.ok) return undefined;
  const unused = await sql<
    {
      schema_name: string;
      table_name: string;
      index_name: string;
      scans: string;
      size_bytes: string;
      table_rows: string;
      supports_foreign_key: boolean;
      drop_statement: string;
    }[]
  >`
    select * from perf.unused_indexes(${maxUnusedScans})`;
  const duplicates = await sql<
    {
      schema_name: string;
      table_name: string;
      index_name: string;
      kind: string;
      covered_by: string;
      size_bytes: string;
      drop_statement: string;
    }[]
  >`
    select * from perf.duplicate_indexes()`;
  const [age] = await sql<
    { stats_reset: Date | null; stats_age: string; stats_age_exact: boolean }[]
  >`select stats_reset, stats_age::text, stats_age_exact from perf.statistics_age()`;
  const statistics = age ?? null;
  const drop = [
    ...duplicates.map((d) => ({
      index: `${d.schema_name}.${d.index_name}`,
      table: `${d.schema_name}.${d.table_name}`,
      reason: `${d.kind} of ${d.covered_by}`,
      sizeBytes: Number(d.size_bytes),
      statement: d.drop_statement,
    })),
    ...unused
      .filter(
        (u) =>
          !duplicates.some(
            (d) =>
              d.schema_name === u.schema_name && d.index_name === u.index_name,
          ),
      )
      .map((u) => ({
        index: `${u.schema_name}.${u.index_name}`,
        table: `${u.schema_name}.${u.table_name}`,
        reason:
          `${Number(u.scans) === 0 ? "never scanned" : `scanned ${u.scans} times`} since ${statistics?.stats_age_exact ? "the statistics reset" : "the counters began"}` +
          (Number(u.table_rows) < 10_000
            ? `; the table has ${Number(u.table_rows).toLocaleString("en-US")} rows: read whole at this size, the index may serve it when it grows`
            : "") +
          (u.supports_foreign_key
            ? "; the only index for a foreign key: deletes in the referenced table scan this table without it"
            : ""),
        sizeBytes: Number(u.size_bytes),
        statement: u.drop_statement,
      })),
  ];
  return { drop, statistics };
}
