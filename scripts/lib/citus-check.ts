// Every api routine of the workload (scripts/lib/workload.ts) called on a distributed database:
// whether it works, and how Citus runs it (EXPLAIN: the Task Count of the distributed plan; 1
// means the call goes to one node). The map of docs/citus.md, and what test/citus/ asserts.
import postgres from "postgres";
import { WORKLOAD, type WorkloadKind } from "./workload.ts";

export interface RoutineOutcome {
  /** The workload's name ("api.delete_documents (hard)"). */
  name: string;
  routine: string;
  kind: WorkloadKind;
  /** "works", "fails" (the call raised), "no subject" (its arguments could not be chosen from the data). */
  status: "works" | "fails" | "no subject";
  /** SQLSTATE and message when it failed. */
  code?: string;
  error?: string;
  /** Task Count of the call's distributed plan; null when EXPLAIN shows no Citus plan (runs on the coordinator) or cannot explain it (a procedure). */
  tasks: number | null;
  /** How the call was planned: "delegated" (the whole call runs on a worker), "coordinator" (no Citus node in its plan). */
  explainError?: string;
}

function taskCounts(node: unknown, found: number[] = []): number[] {
  if (Array.isArray(node)) {
    for (const n of node) taskCounts(n, found);
  } else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "Task Count" && typeof v === "number") found.push(v);
      else taskCounts(v, found);
    }
  }
  return found;
}

function failure(error: unknown): { code?: string; error: string } {
  const e = error as { code?: string; message?: string };
  return { code: e.code, error: String(e.message ?? error).split("\n")[0]! };
}

/**
 * Calls each workload once as `role` (default querybudget_app), writes inside a transaction
 * rolled back (the procedure commits: it runs last and consumes its subject), and explains it
 * as the same role. `adminUrl` (a superuser's) chooses the arguments from the data.
 */
export async function checkRoutines(
  url: string,
  options: { role?: string; only?: string[] } = {},
): Promise<RoutineOutcome[]> {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  const u = new URL(url);
  u.username = options.role ?? "querybudget_app";
  u.password = "";
  const app = postgres(u.toString(), { max: 1, onnotice: () => {} });
  const outcomes: RoutineOutcome[] = [];
  const definitions = [...WORKLOAD]
    .filter((d) => !options.only || options.only.includes(d.name))
    .sort(
      (a, b) => Number(a.kind === "procedure") - Number(b.kind === "procedure"),
    );
  try {
    for (const def of definitions) {
      const base = { name: def.name, routine: def.routine, kind: def.kind };
      let args: unknown[];
      try {
        const calls = await def.calls.call(def, admin, 1);
        args = calls[0]!.args;
      } catch (error) {
        outcomes.push({
          ...base,
          status: "no subject",
          tasks: null,
          ...failure(error),
        });
        continue;
      }
      let tasks: number | null = null;
      let explainError: string | undefined;
      if (def.kind !== "procedure") {
        try {
          await app.unsafe("begin");
          const plan = (await app.unsafe(
            `explain (format json) ${def.query}`,
            args as never[],
          )) as unknown as { "QUERY PLAN": unknown }[];
          const counts = taskCounts(plan[0]?.["QUERY PLAN"]);
          tasks = counts.length === 0 ? null : Math.max(...counts);
        } catch (error) {
          explainError = failure(error).error;
        } finally {
          await app.unsafe("rollback");
        }
      }
      try {
        if (def.kind === "read" || def.kind === "procedure") {
          await app.unsafe(def.query, args as never[]);
        } else {
          await app.unsafe("begin");
          try {
            await app.unsafe(def.query, args as never[]);
          } finally {
            await app.unsafe("rollback");
          }
        }
        outcomes.push({ ...base, status: "works", tasks, explainError });
      } catch (error) {
        outcomes.push({
          ...base,
          status: "fails",
          tasks,
          explainError,
          ...failure(error),
        });
      }
    }
  } finally {
    await app.end();
    await admin.end();
  }
  return outcomes;
}

/** The outcomes as the Markdown table of docs/citus.md. */
export function outcomesTable(outcomes: readonly RoutineOutcome[]): string {
  const lines = [
    "| routine | kind | on the cluster | tasks (EXPLAIN) |",
    "|---|---|---|---|",
  ];
  for (const o of outcomes) {
    const result =
      o.status === "works"
        ? "works"
        : `${o.status}: \`${o.code ?? ""}\` ${o.error ?? ""}`.trim();
    const tasks =
      o.tasks === null
        ? o.kind === "procedure"
          ? "(a procedure: not explained)"
          : o.explainError
            ? `EXPLAIN fails: ${o.explainError}`
            : "no Citus node: runs on the coordinator"
        : String(o.tasks);
    lines.push(`| \`${o.name}\` | ${o.kind} | ${result} | ${tasks} |`);
  }
  return lines.join("\n");
}
