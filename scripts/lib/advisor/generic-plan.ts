// The planner's generic plan of a workload statement, on PostgreSQL 15: EXPLAIN (GENERIC_PLAN)
// only came in 16, so the statement is PREPAREd (with the parameter types the function
// declares, the rest inferred), plan_cache_mode = force_generic_plan makes EXECUTE plan it
// without looking at the values, and EXPLAIN EXECUTE shows that plan. The values passed are
// NULLs of the declared types: a generic plan does not depend on them.
//
// Partition pruning is off while explaining: with NULL values, the pruning done when the
// executor starts would remove every partition from the plan, and with them the scans whose
// predicates and indexes the advisor looks at. The cost does not change: the planner costs all
// partitions of an Append whose key is a parameter anyway (it never counts run-time pruning).
//
// A prepared statement keeps its plan: after hypopg adds or drops a hypothetical index the
// statement is prepared again (hypothetical indexes send no invalidation).
import type postgres from "postgres";
import { parseExplainJson } from "../plan/parse.ts";
import type { PlanNode } from "../plan/types.ts";
import type { WorkloadStatement } from "./statements.ts";

/** The session settings of every EXPLAIN of the advisor. */
export const ADVISOR_SETTINGS: Record<string, string> = {
  plan_cache_mode: "force_generic_plan",
  enable_partition_pruning: "off",
  jit: "off",
  max_parallel_workers_per_gather: "0",
  // statements of functions that write (a DELETE in a CTE) are only explained, never run
  statement_timeout: "30s",
};

export async function applyAdvisorSettings(conn: postgres.ReservedSql): Promise<void> {
  for (const [name, value] of Object.entries(ADVISOR_SETTINGS)) await conn.unsafe(`select set_config($1, $2, false)`, [name, value]);
}

export interface GenericPlan {
  plan: PlanNode;
  /** Total cost of the plan's root. */
  cost: number;
}

let counter = 0;

/** The generic plan of a statement, or an Error saying why it cannot be planned. */
export async function genericPlan(conn: postgres.ReservedSql, statement: Pick<WorkloadStatement, "runnable" | "paramTypes">): Promise<GenericPlan | Error> {
  const name = `qb_advisor_${++counter}`;
  let types = declaredTypes(statement);
  for (let attempt = 0; attempt < types.length + 3; attempt++) {
    const typeList = types.length ? `(${types.map((t) => t ?? "unknown").join(", ")})` : "";
    try {
      await conn.unsafe(`prepare ${name}${typeList} as ${statement.runnable}`);
    } catch (error) {
      // "could not determine data type of parameter $n": make it text and try again
      const m = /could not determine data type of parameter \$(\d+)/.exec((error as Error).message);
      if (m) {
        const n = Number(m[1]);
        types = Array.from({ length: Math.max(types.length, n) }, (_, i) => types[i]);
        types[n - 1] = "text";
        continue;
      }
      return error as Error;
    }
    try {
      const [{ parameter_types: actual } = { parameter_types: [] as string[] }] = await conn.unsafe<{ parameter_types: string[] }[]>(
        `select parameter_types::text[] as parameter_types from pg_prepared_statements where name = $1`,
        [name],
      );
      const args = actual.map((t) => `null::${t}`).join(", ");
      const rows = await conn.unsafe(`explain (verbose, format json) execute ${name}${actual.length ? `(${args})` : ""}`);
      const explained = parseExplainJson(rows[0]?.["QUERY PLAN"], statement.runnable);
      return { plan: explained.plan, cost: explained.plan.totalCost ?? 0 };
    } catch (error) {
      return error as Error;
    } finally {
      await conn.unsafe(`deallocate ${name}`).catch(() => {});
    }
  }
  return new Error("could not determine the parameter types");
}

function declaredTypes(statement: Pick<WorkloadStatement, "runnable" | "paramTypes">): (string | undefined)[] {
  // PREPARE needs every position up to the highest $n used; positions the text does not use
  // may stay unknown.
  const used = [...statement.runnable.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
  const highest = Math.max(0, ...used, statement.paramTypes.length);
  return Array.from({ length: highest }, (_, i) => statement.paramTypes[i]);
}
