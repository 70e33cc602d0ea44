// The planner's generic plan of a workload statement: SQL does it (perf.generic_plan in
// functions/perf/generic_plan.sql prepares the statement, plans it generically with partition
// pruning off and explains it, nothing executed; a psql user can call it too). Each call
// prepares anew, so hypopg's hypothetical indexes added or dropped since are seen.
import type postgres from "postgres";
import { parseExplainJson } from "../plan/parse.ts";
import type { PlanNode } from "../plan/types.ts";
import type { WorkloadStatement } from "./statements.ts";

/**
 * The advisor's session settings. The planner settings of a generic plan (force_generic_plan,
 * partition pruning off, jit off, no parallel workers) are pinned by perf.generic_plan itself.
 */
export const ADVISOR_SETTINGS: Record<string, string> = {
  // statements of functions that write (a DELETE in a CTE) are only explained, never run
  statement_timeout: "30s",
};

export async function applyAdvisorSettings(
  conn: postgres.ReservedSql,
): Promise<void> {
  for (const [name, value] of Object.entries(ADVISOR_SETTINGS))
    await conn.unsafe(`select set_config($1, $2, false)`, [name, value]);
}

export interface GenericPlan {
  plan: PlanNode;
  /** Total cost of the plan's root. */
  cost: number;
}

/** The generic plan of a statement (perf.generic_plan, functions/perf/generic_plan.sql), or an Error saying why it cannot be planned. */
export async function genericPlan(
  conn: postgres.ReservedSql,
  statement: Pick<WorkloadStatement, "runnable" | "paramTypes">,
): Promise<GenericPlan | Error> {
  try {
    const [row] = await conn.unsafe<{ plan: unknown }[]>(
      `select perf.generic_plan($1, $2::text[]) as plan`,
      [statement.runnable, statement.paramTypes.map((t) => t ?? null) as never],
    );
    const explained = parseExplainJson(row?.plan, statement.runnable);
    return { plan: explained.plan, cost: explained.plan.totalCost ?? 0 };
  } catch (error) {
    return error as Error;
  }
}
