// Every api routine of the workload (scripts/lib/workload.ts) called on a distributed database:
// whether it works, and how Citus runs it (EXPLAIN: the Task Count of the distributed plan; 1
// means the call goes to one node). The map of docs/scaling.md, and what test/citus/ asserts.
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
  /** Why EXPLAIN failed, when it did. */
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

/** A workload with its first argument set chosen from the data. */
export interface ResolvedCall {
  name: string;
  routine: string;
  kind: WorkloadKind;
  query: string;
  /** null: the arguments could not be chosen (the error says why). */
  args: unknown[] | null;
  error?: string;
}

/**
 * Chooses each workload's arguments from the data (its first argument set). Run it before
 * distributing: several of the workload's choosing queries are plain SQL over many tenants
 * that Citus cannot plan on distributed tables (correlated subqueries, joins not on
 * tenant_id), and the data does not change when it is distributed.
 */
export async function resolveCalls(
  url: string,
  options: { only?: string[] } = {},
): Promise<ResolvedCall[]> {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  const resolved: ResolvedCall[] = [];
  try {
    for (const def of WORKLOAD) {
      if (options.only && !options.only.includes(def.name)) continue;
      const base = {
        name: def.name,
        routine: def.routine,
        kind: def.kind,
        query: def.query,
      };
      try {
        const calls = await def.calls.call(def, admin, 1);
        resolved.push({ ...base, args: calls[0]!.args });
      } catch (error) {
        resolved.push({ ...base, args: null, error: failure(error).error });
      }
    }
  } finally {
    await admin.end();
  }
  return resolved;
}

/** A call's outcome plus, for a read that worked, its rows (to compare with one node's). */
export interface RoutineRun extends RoutineOutcome {
  rows?: unknown[];
}

/**
 * Calls each resolved workload once as `role` (default querybudget_app): reads as they are,
 * writes inside a transaction rolled back, the procedure (it commits) last, consuming its
 * subject; and explains each (not the procedure) as the same role. `explain: false` skips
 * EXPLAIN (a database that is not distributed has no Task Count to read).
 */
export async function runCalls(
  url: string,
  calls: readonly ResolvedCall[],
  options: { role?: string; explain?: boolean } = {},
): Promise<RoutineRun[]> {
  const u = new URL(url);
  u.username = options.role ?? "querybudget_app";
  u.password = "";
  const app = postgres(u.toString(), { max: 1, onnotice: () => {} });
  const runs: RoutineRun[] = [];
  const ordered = [...calls].sort(
    (a, b) => Number(a.kind === "procedure") - Number(b.kind === "procedure"),
  );
  try {
    for (const call of ordered) {
      const base = { name: call.name, routine: call.routine, kind: call.kind };
      if (call.args === null) {
        runs.push({
          ...base,
          status: "no subject",
          tasks: null,
          error: call.error,
        });
        continue;
      }
      const args = call.args as never[];
      let tasks: number | null = null;
      let explainError: string | undefined;
      if (call.kind !== "procedure" && options.explain !== false) {
        try {
          await app.unsafe("begin");
          const plan = (await app.unsafe(
            `explain (format json) ${call.query}`,
            args,
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
        let rows: unknown[] | undefined;
        if (call.kind === "read") {
          rows = [...(await app.unsafe(call.query, args))];
        } else if (call.kind === "procedure") {
          await app.unsafe(call.query, args);
        } else {
          await app.unsafe("begin");
          try {
            await app.unsafe(call.query, args);
          } finally {
            await app.unsafe("rollback");
          }
        }
        runs.push({ ...base, status: "works", tasks, explainError, rows });
      } catch (error) {
        runs.push({
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
  }
  return runs;
}

/** resolveCalls, then runCalls: the map of an already distributed database. */
export async function checkRoutines(
  url: string,
  options: { role?: string; only?: string[] } = {},
): Promise<RoutineOutcome[]> {
  return runCalls(url, await resolveCalls(url, options), options);
}

/** An outcome in one line, as test/citus/expected.ts records it: "works" or "fails: <SQLSTATE> <message>". */
export function outcomeText(o: RoutineOutcome): string {
  return o.status === "works"
    ? "works"
    : `${o.status}: ${o.code ?? ""} ${o.error ?? ""}`
        .replace(/\s+/g, " ")
        .trim();
}

/** The outcomes as the Markdown table of docs/scaling.md. */
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

/** The workloads timed by measureLatency: point reads and single-tenant writes of the seeds' hot paths. */
export const MEASURED = [
  "api.validate_session",
  "api.user_by_email",
  "api.agent_by_name",
  "api.chunks_page",
  "api.conversation_messages",
  "api.knowledge_gap_stats",
  "api.create_session",
  "api.start_conversation",
  "api.add_messages",
  "api.classify_documents",
] as const;

export interface Latency {
  name: string;
  kind: WorkloadKind;
  /** Calls timed (after the warm-up). */
  calls: number;
  p50Ms: number;
  p95Ms: number;
  /** Set when a call failed: nothing was timed. */
  error?: string;
}

function percentile(sorted: readonly number[], p: number): number {
  const i = Math.min(
    sorted.length - 1,
    Math.ceil((p / 100) * sorted.length) - 1,
  );
  return sorted[Math.max(0, i)]!;
}

/**
 * Times each call of `names` (default MEASURED) `iterations` times on one connection as
 * querybudget_app, after `warmup` untimed calls (plans cached, connections to the workers
 * open): the client's round trip of the call statement. Writes run inside a transaction rolled
 * back after each call (the time is the call's, not the commit's), so the data stays as it was.
 * On one node and on the cluster with the same data, this is the comparison of docs/scaling.md.
 */
export async function measureLatency(
  url: string,
  calls: readonly ResolvedCall[],
  options: {
    names?: readonly string[];
    iterations?: number;
    warmup?: number;
    role?: string;
  } = {},
): Promise<Latency[]> {
  const names = options.names ?? MEASURED;
  const iterations = options.iterations ?? 200;
  const warmup = options.warmup ?? 20;
  const u = new URL(url);
  u.username = options.role ?? "querybudget_app";
  u.password = "";
  const app = postgres(u.toString(), { max: 1, onnotice: () => {} });
  const out: Latency[] = [];
  try {
    for (const name of names) {
      const call = calls.find((c) => c.name === name);
      if (!call || call.args === null || call.kind === "procedure") continue;
      const args = call.args as never[];
      const times: number[] = [];
      try {
        for (let i = 0; i < warmup + iterations; i++) {
          let ms: number;
          if (call.kind === "read") {
            const t0 = performance.now();
            await app.unsafe(call.query, args);
            ms = performance.now() - t0;
          } else {
            await app.unsafe("begin");
            try {
              const t0 = performance.now();
              await app.unsafe(call.query, args);
              ms = performance.now() - t0;
            } finally {
              await app.unsafe("rollback");
            }
          }
          if (i >= warmup) times.push(ms);
        }
      } catch (error) {
        out.push({
          name,
          kind: call.kind,
          calls: 0,
          p50Ms: NaN,
          p95Ms: NaN,
          error: failure(error).error,
        });
        continue;
      }
      times.sort((a, b) => a - b);
      out.push({
        name,
        kind: call.kind,
        calls: times.length,
        p50Ms: percentile(times, 50),
        p95Ms: percentile(times, 95),
      });
    }
  } finally {
    await app.end();
  }
  return out;
}

/** One node's latencies next to the cluster's, as the Markdown table of docs/scaling.md. */
export function latencyTable(
  oneNode: readonly Latency[],
  cluster: readonly Latency[],
): string {
  const ms = (v: number | undefined) =>
    v === undefined || Number.isNaN(v) ? "-" : v.toFixed(2);
  const lines = [
    "| routine | kind | one node p50 / p95 (ms) | cluster p50 / p95 (ms) | p50 ratio |",
    "|---|---|---|---|---|",
  ];
  for (const c of cluster) {
    const o = oneNode.find((x) => x.name === c.name);
    lines.push(
      `| \`${c.name}\` | ${c.kind} | ${ms(o?.p50Ms)} / ${ms(o?.p95Ms)} | ${ms(c.p50Ms)} / ${ms(c.p95Ms)} | ${o ? (c.p50Ms / o.p50Ms).toFixed(1) : "-"} |`,
    );
  }
  return lines.join("\n");
}
