// What the statistics maintained by the writes cost, per tier (issue 12, item 3; docs/benchmark.md
// "Statistics"). Three measurements, all on the tier's seeded data in the run that measures
// everything else:
//
// 1. Keeping the statistics, per write routine: every writer appends its change to
//    app.collection_stat_deltas inside its own statement (a data-modifying CTE, or for a few a
//    statement of its own). The call is run with auto_explain (analyze, buffers, timing, nested
//    statements; rolled back) and the plan of every statement it ran is read as a tree: the
//    ModifyTable nodes that insert into app.collection_stat_deltas, with everything under them,
//    are the statistics' part (the aggregate that makes the delta, the insert, its index
//    entry); the call's own root is the whole. CTE Scans under such a node are taken out of
//    the part: a CTE Scan that is the first to read a CTE runs the writer's own statement
//    (the rows written) and is charged with it, and reading a CTE's stored rows costs no
//    buffers. So "without" = the whole call less the statistics' part, from the same calls.
//    Buffers are PostgreSQL's counters (exact); milliseconds come from the instrumented run
//    (timing on every node adds a little to both sides); the client-side p50 of the routine's
//    timed calls is reported next to them.
// 2. The fold: N writes committed (the operation queue's cycle: enqueue, claim, finish, over
//    100 collections), then maint.fold_collection_stat_deltas() timed at the client; several
//    N, so that its cost is seen to follow the writes and not the table sizes.
// 3. Refreshes: the operator view's, when the database has one (OPERATOR_VIEW_REFRESH).
import { readFileSync } from "node:fs";
import postgres from "postgres";
import { enableAutoExplain, parseAutoExplainNotice } from "../plan/index.ts";
import { walk } from "../plan/parse.ts";
import type { ExplainedStatement, PlanNode } from "../plan/index.ts";
import type { Call, WorkloadDefinition } from "../workload.ts";
import { timing } from "./measure-time.ts";
import type {
  FoldMeasurement,
  RefreshMeasurement,
  StatisticsCost,
} from "./types.ts";

/** The table the writers append their statistics' changes to. */
export const STAT_DELTAS_TABLE = "collection_stat_deltas";

/**
 * The platform-level operator view's refresh (issue 12, item 6), timed per tier when the
 * database has it. Until it exists the report says "not in this build".
 */
export const OPERATOR_VIEW_REFRESH = "maint.refresh_tenant_overview";

const round2 = (x: number) => Math.round(x * 100) / 100;
const buffersOf = (n: PlanNode) =>
  (n.sharedHitBlocks ?? 0) + (n.sharedReadBlocks ?? 0);
const msOf = (n: PlanNode) => (n.actualTotalTime ?? 0) * (n.actualLoops ?? 1);

/** Whether a node inserts into app.collection_stat_deltas. */
function isStatDeltaInsert(n: PlanNode): boolean {
  return (
    n.nodeType === "ModifyTable" &&
    n.relationName === STAT_DELTAS_TABLE &&
    (n.schema === undefined || n.schema === "app")
  );
}

/** CTE Scans under `node`, outermost only (one under another is counted in it). */
function cteScansUnder(node: PlanNode): PlanNode[] {
  const found: PlanNode[] = [];
  const visit = (n: PlanNode) => {
    for (const c of n.children) {
      if (c.nodeType === "CTE Scan") found.push(c);
      else visit(c);
    }
  };
  visit(node);
  return found;
}

/** The statistics' part of the statements of one call, and the whole call (its top-level statement). */
export function statisticsPart(statements: readonly ExplainedStatement[]): {
  nodes: number;
  buffers: number;
  ms: number;
  wholeBuffers: number;
  wholeMs: number;
} {
  let nodes = 0;
  let buffers = 0;
  let ms = 0;
  for (const s of statements) {
    if (s.topLevel) continue;
    for (const n of walk(s.plan)) {
      if (!isStatDeltaInsert(n) || (n.actualLoops ?? 1) === 0) continue;
      nodes++;
      const ctes = cteScansUnder(n);
      buffers += buffersOf(n) - ctes.reduce((sum, c) => sum + buffersOf(c), 0);
      ms += msOf(n) - ctes.reduce((sum, c) => sum + msOf(c), 0);
    }
  }
  const top = statements.find((s) => s.topLevel);
  return {
    nodes,
    buffers,
    ms: Math.max(0, ms),
    wholeBuffers: top ? buffersOf(top.plan) : 0,
    wholeMs: top?.durationMs ?? (top ? msOf(top.plan) : 0),
  };
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Calls a write workload `samples` times (after `warmup` calls), rotating over its argument
 * sets, each in a transaction rolled back, with auto_explain on; the medians of the whole
 * call and of its statistics' part. Undefined when the routine keeps no statistics.
 */
export async function sampleStatisticsCost(
  url: string,
  w: Pick<WorkloadDefinition, "name" | "kind" | "query">,
  calls: Call[],
  options: { samples?: number; warmup?: number } = {},
): Promise<StatisticsCost | undefined> {
  const { samples = 15, warmup = 3 } = options;
  if (w.kind !== "write") return undefined;
  let notices: string[] = [];
  const sql = postgres(url, {
    max: 1,
    onnotice: (n) => notices.push(String(n.message)),
  });
  const rows: ReturnType<typeof statisticsPart>[] = [];
  try {
    await enableAutoExplain(sql, { pin: true });
    for (let i = 0; i < warmup + samples; i++) {
      const args = calls[i % calls.length]!.args;
      notices = [];
      await sql.unsafe("begin");
      try {
        await sql.unsafe(w.query, args as never[]);
      } finally {
        await sql.unsafe("rollback");
      }
      if (i < warmup) continue;
      const parsed = notices
        .map(parseAutoExplainNotice)
        .filter((s) => s !== undefined);
      const last = parsed
        .map((s) => s.query.trim())
        .lastIndexOf(w.query.trim());
      rows.push(
        statisticsPart(parsed.map((s, k) => ({ ...s, topLevel: k === last }))),
      );
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
  if (!rows.some((r) => r.nodes > 0)) return undefined;
  const withBuffers = median(rows.map((r) => r.wholeBuffers));
  const statsBuffers = median(rows.map((r) => r.buffers));
  const withMs = median(rows.map((r) => r.wholeMs));
  const statsMs = median(rows.map((r) => r.ms));
  return {
    samples: rows.length,
    deltaInserts: median(rows.map((r) => r.nodes)),
    withBuffers,
    statisticsBuffers: statsBuffers,
    withoutBuffers: withBuffers - statsBuffers,
    withMs: round2(withMs),
    statisticsMs: round2(statsMs),
    withoutMs: round2(Math.max(0, withMs - statsMs)),
    share: withMs > 0 ? Math.round((statsMs / withMs) * 1000) / 1000 : 0,
  };
}

/** Runs `sql` on a connection of its own and returns the milliseconds at the client. */
async function timed(
  sql: postgres.Sql,
  statement: string,
): Promise<{ ms: number; rows: postgres.RowList<postgres.Row[]> }> {
  const t = performance.now();
  const rows = await sql.unsafe(statement);
  return { ms: performance.now() - t, rows };
}

/**
 * The fold after `writes` committed writes, for each count of `writeCounts`, `rounds` times
 * each (once above 1,000 writes): the writes cycle over 100 collections (the ones with the most chunking operations)
 * through the operation queue: enqueue 2 chunking operations, claim 2 of the tenant's oldest
 * pending ones, finish them (one completed, one failed). Each is an api call that appends one
 * delta per collection it changed. Pending deltas are folded first (not timed). Changes the
 * data (committed): run it after everything else of the tier.
 */
export async function measureFold(
  url: string,
  options: { writeCounts?: number[]; rounds?: number } = {},
): Promise<FoldMeasurement[]> {
  const { writeCounts = [100, 1000, 5000], rounds = 3 } = options;
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const out: FoldMeasurement[] = [];
  try {
    const [exists] = await sql<{ ok: boolean }[]>`
      select to_regprocedure('maint.fold_collection_stat_deltas()') is not null as ok`;
    if (!exists?.ok) return [];
    const targets = await sql<{ tenant_id: string; collection_id: string }[]>`
      select tenant_id::text, collection_id::text from app.collection_stat_totals
      order by chunking_total desc, tenant_id, collection_id limit 100`;
    if (targets.length === 0) return [];
    const items = JSON.stringify([
      { metadata: { strategy: "fold" } },
      { metadata: { strategy: "fold" } },
    ]);
    // per target: enqueue 2, claim 2 of the tenant's oldest pending, finish what was claimed
    let k = 0;
    let claimed: { tenant_id: string; ids: string[] } | undefined;
    const write = async (): Promise<void> => {
      const t = targets[Math.floor(k / 3) % targets.length]!;
      const step = k % 3;
      k++;
      if (step === 0 || (step === 2 && !claimed?.ids.length)) {
        await sql`select id from api.enqueue_operations(${t.tenant_id}, ${t.collection_id}, 'chunking', ${items}::text::jsonb)`;
      } else if (step === 1) {
        const rows = await sql<{ id: string }[]>`
          select id::text from api.claim_operations(${t.tenant_id}, 'chunking', 2)`;
        claimed = { tenant_id: t.tenant_id, ids: rows.map((r) => r.id) };
      } else {
        const results = claimed!.ids.map((id, i) => ({
          id: Number(id),
          status: i === 0 ? "completed" : "failed",
          processing_time: 0.25 + i,
          ...(i === 0 ? {} : { error: "timeout" }),
        }));
        await sql`select api.finish_operations(${claimed!.tenant_id}, ${JSON.stringify(results)}::text::jsonb)`;
        claimed = undefined;
      }
    };
    await sql`select maint.fold_collection_stat_deltas()`;
    const [{ pid }] = (await sql<
      { pid: number }[]
    >`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
    for (const writes of writeCounts) {
      const runsMs: number[] = [];
      const cpuMs: number[] = [];
      const waitMs: number[] = [];
      let deltas = 0;
      let collections = 0;
      for (let r = 0; r < (writes > 1000 ? 1 : rounds); r++) {
        for (let i = 0; i < writes; i++) await write();
        const [pending] = await sql<{ deltas: number; collections: number }[]>`
          select count(*)::int as deltas, count(distinct (tenant_id, collection_id))::int as collections
          from app.collection_stat_deltas`;
        const before = schedstat(pid);
        const { ms, rows } = await timed(
          sql,
          "select maint.fold_collection_stat_deltas()::bigint as folded",
        );
        const after = schedstat(pid);
        if (before && after) {
          cpuMs.push(round2(after.cpuMs - before.cpuMs));
          waitMs.push(round2(after.waitMs - before.waitMs));
        }
        const folded = Number((rows[0] as { folded: string }).folded);
        if (folded !== pending!.deltas)
          throw new Error(
            `the fold folded ${folded} deltas, ${pending!.deltas} were pending`,
          );
        runsMs.push(round2(ms));
        deltas = pending!.deltas;
        collections = pending!.collections;
      }
      const m: FoldMeasurement = {
        writes,
        deltas,
        collections,
        runsMs,
        medianMs: round2(median(runsMs)),
      };
      if (cpuMs.length === runsMs.length) {
        m.cpuMs = cpuMs;
        m.runQueueMs = waitMs;
        // what the fold took less the time its backend waited for a CPU, round by round
        m.medianBusyMs = round2(
          median(runsMs.map((r, i) => Math.max(0, r - waitMs[i]!))),
        );
      }
      out.push(m);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
  return out;
}

/**
 * The operator view's refresh (OPERATOR_VIEW_REFRESH), `runs` times, when the database has it
 * (a function or a procedure without arguments); undefined otherwise.
 */
export async function measureOperatorRefresh(
  url: string,
  runs = 3,
): Promise<RefreshMeasurement | undefined> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [found] = await sql<{ kind: string }[]>`
      select p.prokind::text as kind from pg_proc p
      where p.oid = to_regprocedure(${`${OPERATOR_VIEW_REFRESH}()`})`;
    if (!found) return undefined;
    const statement =
      found.kind === "p"
        ? `call ${OPERATOR_VIEW_REFRESH}()`
        : `select ${OPERATOR_VIEW_REFRESH}()`;
    const runsMs: number[] = [];
    for (let i = 0; i < runs; i++)
      runsMs.push(round2((await timed(sql, statement)).ms));
    return {
      routine: `${OPERATOR_VIEW_REFRESH}()`,
      runsMs,
      medianMs: timing(runsMs).p50,
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * On-CPU and run-queue time of a process of this machine so far, ms (Linux
 * /proc/<pid>/schedstat: nanoseconds on a CPU, nanoseconds runnable but waiting for one);
 * undefined when the server is elsewhere or the file is not readable.
 */
export function schedstat(
  pid: number,
): { cpuMs: number; waitMs: number } | undefined {
  try {
    const [cpu, wait] = readFileSync(`/proc/${pid}/schedstat`, "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    if (!Number.isFinite(cpu) || !Number.isFinite(wait)) return undefined;
    return { cpuMs: cpu! / 1e6, waitMs: wait! / 1e6 };
  } catch {
    return undefined;
  }
}
