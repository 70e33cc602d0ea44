// Validation, which the planner's word alone cannot give: each recommended index is built for
// real on a throwaway copy of the analysed database (CREATE DATABASE ... TEMPLATE), the parts
// of the workload that run the statements it should speed up are replayed before and after,
// under auto_explain (log_analyze: the EXPLAIN ANALYZE of every statement they execute, nested
// ones included) and with pg_stat_statements differences (time and buffers per statement),
// and the index's size and the slowdown it causes to inserts are measured.
// docs/monitoring.md "Index advisor".
import postgres from "postgres";
import { randomBytes } from "node:crypto";
import { parseAutoExplainNotice, walk } from "../plan/parse.ts";
import {
  disableAutoExplain,
  enableAutoExplain,
  resolveNames,
} from "../plan/explain.ts";
import type { ExplainedStatement } from "../plan/types.ts";
import { withDatabase } from "../server-contract.ts";
import { countQueries } from "../query-counter.ts";
import { indexDdl, indexName } from "./candidates.ts";
import type { Recommendation } from "./evaluate.ts";

/** A piece of the workload that can be run again: one api call, one query of a file. */
export interface ReplayUnit {
  label: string;
  run: (conn: postgres.ReservedSql) => Promise<void>;
}

export interface StatementMeasure {
  queryid: string;
  calls: number;
  /** Execution time per call, ms (pg_stat_statements). */
  msPerCall: number;
  /** Shared buffers hit + read per call. */
  buffersPerCall: number;
}

export interface IndexValidation {
  name: string;
  ddl: string;
  /** Replay units that run the statements the index should help. */
  units: number;
  before: StatementMeasure[];
  after: StatementMeasure[];
  /** Over the affected statements, weighted by calls: ms and buffers per replay of the units. */
  totals: {
    beforeMs: number;
    afterMs: number;
    beforeBuffers: number;
    afterBuffers: number;
  };
  /** The after-plans (auto_explain, EXPLAIN ANALYZE) use the new index. */
  usedAfter: boolean;
  /** Access paths to the table before and after: "Seq Scan x8", "Index Scan using ...". */
  plansBefore: string[];
  plansAfter: string[];
  sizeBytes: number;
  buildMs: number;
  /** Median time of inserting `insertRows` rows without and with the index (a copy of the table with its other indexes), ms. */
  insert: {
    rows: number;
    withoutMs: number;
    withMs: number;
    slowdownPercent: number;
  } | null;
  verdict: "confirmed" | "not confirmed" | "not measured";
  reason: string;
}

export interface ValidateOptions {
  /** Replays of the affected units per measurement. Default 3. */
  repeat?: number;
  /** Rows per insert measurement. Default 2000. */
  insertRows?: number;
  /** Measured buffers must fall by this fraction (or the time by twice it) to confirm. Default 0.25. */
  minMeasuredDrop?: number;
  onProgress?: (done: number, total: number, phase: string) => void;
}

/** A copy of the database to build indexes in; the source must have no other sessions. */
export async function createCopy(
  adminUrl: string,
  sourceUrl: string,
): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const source = decodeURIComponent(new URL(sourceUrl).pathname.slice(1));
  const name = `qb_advisor_${randomBytes(4).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(
      `create database ${name} template "${source.replace(/"/g, '""')}"`,
    );
  } catch (error) {
    const message = (error as Error).message;
    throw new Error(
      `cannot copy database ${source} for validation: ${message}` +
        (/being accessed by other users/.test(message)
          ? " (CREATE DATABASE ... TEMPLATE needs the source without other sessions: pg_cron's launcher stays connected to its database; run the advisor on another database, or pass --no-validate)"
          : ""),
      { cause: error },
    );
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(sourceUrl, name),
    name,
    drop: async () => {
      const a = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}

interface Replay {
  perStatement: Map<
    string,
    { calls: number; totalMs: number; buffers: number }
  >;
  plans: ExplainedStatement[];
}

/** Runs the units `repeat` times on a client with auto_explain, and the pg_stat_statements differences around it. */
async function replay(
  copyUrl: string,
  pool: postgres.Sql,
  units: readonly ReplayUnit[],
  repeat: number,
  plans: boolean,
): Promise<Replay> {
  const notices: string[] = [];
  const client = postgres(copyUrl, {
    max: 1,
    onnotice: (n) => notices.push(String(n.message)),
  });
  try {
    const conn = await client.reserve();
    try {
      if (plans) {
        await enableAutoExplain(conn, {
          settings: { "auto_explain.log_timing": "off" },
        });
      }
      const count = await countQueries(pool, async () => {
        for (let r = 0; r < repeat; r++)
          for (const u of units) await u.run(conn);
      });
      if (plans) await disableAutoExplain(conn);
      const perStatement = new Map<
        string,
        { calls: number; totalMs: number; buffers: number }
      >();
      for (const s of count.perStatement) {
        const key = `${s.queryid}:${s.toplevel}`;
        perStatement.set(key, {
          calls: s.calls,
          totalMs: s.totalMs,
          buffers: s.sharedHit + s.sharedRead,
        });
      }
      const explained = notices
        .map(parseAutoExplainNotice)
        .filter((x) => x !== undefined)
        .map((x) => ({ ...x, topLevel: false }));
      if (explained.length) await resolveNames(conn, explained);
      return { perStatement, plans: explained };
    } finally {
      conn.release();
    }
  } finally {
    await client.end({ timeout: 5 });
  }
}

/** How the plans read one table: each distinct access path once, with a count. */
function accessSummary(
  plans: readonly ExplainedStatement[],
  table: string,
): string[] {
  const counts = new Map<string, number>();
  for (const p of plans) {
    for (const n of walk(p.plan)) {
      if ((n.rootRelation ?? n.relation) !== table || !n.relationName) continue;
      const index =
        n.nodeType === "Bitmap Heap Scan"
          ? n.children
              .map((c) => c.rootIndex ?? c.index)
              .filter(Boolean)
              .join(" + ")
          : (n.rootIndex ?? n.index);
      const label = `${n.nodeType}${index ? ` using ${index}` : ""}`;
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([label, n]) => `${label} x${n}`);
}

/** Which units run which statements (queryid:toplevel), from one run of each. Also warms the cache. */
export async function mapUnits(
  copyUrl: string,
  pool: postgres.Sql,
  units: readonly ReplayUnit[],
  onProgress?: ValidateOptions["onProgress"],
): Promise<Map<ReplayUnit, Set<string>>> {
  const client = postgres(copyUrl, { max: 1, onnotice: () => {} });
  const map = new Map<ReplayUnit, Set<string>>();
  try {
    const conn = await client.reserve();
    try {
      for (const [i, u] of units.entries()) {
        const count = await countQueries(pool, () => u.run(conn));
        map.set(
          u,
          new Set(count.perStatement.map((s) => `${s.queryid}:${s.toplevel}`)),
        );
        onProgress?.(i + 1, units.length, "mapping the workload to statements");
      }
    } finally {
      conn.release();
    }
  } finally {
    await client.end({ timeout: 5 });
  }
  return map;
}

async function insertSlowdown(
  conn: postgres.ReservedSql,
  table: string,
  rec: Recommendation,
  rows: number,
): Promise<IndexValidation["insert"]> {
  // A copy of the table with its other indexes, a regular table (shared buffers and WAL, as the
  // real one), in the same schema, made and dropped inside one transaction of the throwaway copy.
  const probe = `${table.slice(0, table.indexOf("."))}.qb_advisor_probe`;
  const probeIndex = indexDdl({ ...rec.candidate, table: probe });
  const median = (xs: number[]) =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const executionMs = async () => {
    const out = await conn.unsafe(
      `explain (analyze, timing off, summary on, format json) insert into ${probe} select * from pg_temp.qb_advisor_source`,
    );
    const plan = out[0]?.["QUERY PLAN"] as { "Execution Time": number }[];
    return plan[0]!["Execution Time"];
  };
  await conn.unsafe("begin");
  try {
    await conn.unsafe(
      `create temp table qb_advisor_source as select * from ${table} limit ${rows}`,
    );
    const [{ n } = { n: 0 }] = await conn.unsafe<{ n: number }[]>(
      `select count(*)::int as n from pg_temp.qb_advisor_source`,
    );
    if (n === 0) return null;
    await conn.unsafe(
      `create table ${probe} (like ${table} including defaults including constraints including indexes)`,
    );
    const without: number[] = [];
    const withIndex: number[] = [];
    // without and with, alternately (the machine's noise hits both alike); the first round warms the caches
    for (let rep = 0; rep < 8; rep++) {
      await conn.unsafe("savepoint a");
      const a = await executionMs();
      await conn.unsafe("rollback to savepoint a");
      await conn.unsafe(probeIndex);
      const b = await executionMs();
      await conn.unsafe("rollback to savepoint a");
      if (rep > 0) {
        without.push(a);
        withIndex.push(b);
      }
    }
    const w = median(without);
    const x = median(withIndex);
    return {
      rows: n,
      withoutMs: w,
      withMs: x,
      slowdownPercent: w > 0 ? Math.round((x / w - 1) * 1000) / 10 : 0,
    };
  } finally {
    await conn.unsafe("rollback");
  }
}

/**
 * Builds each recommendation in turn (they stay, as the greedy choice assumed the earlier ones)
 * in the copy at `copyUrl`, measuring the affected units before and after.
 */
export async function validate(
  copyUrl: string,
  recommendations: readonly Recommendation[],
  units: readonly ReplayUnit[],
  options: ValidateOptions = {},
): Promise<IndexValidation[]> {
  const {
    repeat = 3,
    insertRows = 2000,
    minMeasuredDrop = 0.25,
    onProgress,
  } = options;
  const pool = postgres(copyUrl, { max: 2, onnotice: () => {} });
  const results: IndexValidation[] = [];
  try {
    const unitStatements = await mapUnits(copyUrl, pool, units, onProgress);
    for (const [i, rec] of recommendations.entries()) {
      onProgress?.(i, recommendations.length, "validating");
      const name = indexName(rec.candidate);
      const ddl = indexDdl(rec.candidate, name);
      const keys = new Set(rec.gains.map((g) => `${g.queryid}:${g.toplevel}`));
      const affected = units.filter((u) =>
        [...(unitStatements.get(u) ?? [])].some((k) => keys.has(k)),
      );
      const base: IndexValidation = {
        name,
        ddl,
        units: affected.length,
        before: [],
        after: [],
        totals: { beforeMs: 0, afterMs: 0, beforeBuffers: 0, afterBuffers: 0 },
        usedAfter: false,
        plansBefore: [],
        plansAfter: [],
        sizeBytes: 0,
        buildMs: 0,
        insert: null,
        verdict: "not measured",
        reason: "",
      };
      const before = affected.length
        ? await replay(copyUrl, pool, affected, repeat, true)
        : undefined;

      const conn = await pool.reserve();
      try {
        const started = performance.now();
        await conn.unsafe(ddl);
        base.buildMs = performance.now() - started;
        // an expression index has statistics of its own, gathered by ANALYZE
        if (rec.candidate.columns.some((c) => c.startsWith("(")))
          await conn.unsafe(`analyze ${rec.candidate.table}`);
        const [size] = await conn.unsafe<{ bytes: string }[]>(
          `select coalesce((select sum(pg_relation_size(p.relid)) from pg_partition_tree($1::regclass) p where p.isleaf), pg_relation_size($1::regclass))::bigint as bytes`,
          [
            `${rec.candidate.table.slice(0, rec.candidate.table.indexOf(".") + 1)}${name}`,
          ],
        );
        base.sizeBytes = Number(size?.bytes ?? 0);
        base.insert = await insertSlowdown(
          conn,
          rec.candidate.table,
          rec,
          insertRows,
        );
      } finally {
        conn.release();
      }

      if (!before) {
        base.reason =
          "no replayable part of the workload runs the statements it helps (pg_stat_statements alone has no parameter values)";
        results.push(base);
        continue;
      }
      const after = await replay(copyUrl, pool, affected, repeat, true);
      const measures = (r: Replay) =>
        [...keys].map((k) => {
          const m = r.perStatement.get(k);
          return {
            queryid: k.split(":")[0]!,
            calls: m?.calls ?? 0,
            msPerCall: m && m.calls ? m.totalMs / m.calls : 0,
            buffersPerCall: m && m.calls ? m.buffers / m.calls : 0,
          };
        });
      base.before = measures(before);
      base.after = measures(after);
      const total = (
        ms: StatementMeasure[],
        f: (m: StatementMeasure) => number,
      ) => ms.reduce((s, m) => s + f(m) * m.calls, 0) / repeat;
      base.totals = {
        beforeMs: total(base.before, (m) => m.msPerCall),
        afterMs: total(base.after, (m) => m.msPerCall),
        beforeBuffers: total(base.before, (m) => m.buffersPerCall),
        afterBuffers: total(base.after, (m) => m.buffersPerCall),
      };
      base.plansBefore = accessSummary(before.plans, rec.candidate.table);
      base.plansAfter = accessSummary(after.plans, rec.candidate.table);
      base.usedAfter = after.plans.some((p) =>
        [...walk(p.plan)].some((n) =>
          (n.rootIndex ?? n.index)?.endsWith(`.${name}`),
        ),
      );
      // Confirmed: used, and buffers (the stable measure) fell by at least minMeasuredDrop while the
      // time did not rise by more than 10 % (noise); or the time fell by twice that (an index that
      // saves a sort may read as many pages) while the buffers did not rise by more than 10 %.
      const t = base.totals;
      const drop = (before: number, after: number) =>
        before > 0 ? (before - after) / before : 0;
      const bufferDrop = drop(t.beforeBuffers, t.afterBuffers);
      const timeDrop = drop(t.beforeMs, t.afterMs);
      const describe = `buffers ${Math.round(t.beforeBuffers)} → ${Math.round(t.afterBuffers)}, time ${t.beforeMs.toFixed(2)} → ${t.afterMs.toFixed(2)} ms per replay`;
      if (!base.usedAfter) {
        base.verdict = "not confirmed";
        base.reason =
          "the executed plans do not use it (the statements run with custom plans, or the planner prefers another index with the real values)";
      } else if (
        (bufferDrop >= minMeasuredDrop && timeDrop >= -0.1) ||
        (timeDrop >= 2 * minMeasuredDrop && bufferDrop >= -0.1)
      ) {
        base.verdict = "confirmed";
        base.reason = `used; ${describe}`;
      } else {
        base.verdict = "not confirmed";
        base.reason = `used, but the measured gain is below ${Math.round(minMeasuredDrop * 100)} %: ${describe}`;
      }
      if (base.verdict === "not confirmed") {
        // not recommended after all: the next ones are measured without it
        await pool.unsafe(
          `drop index ${rec.candidate.table.slice(0, rec.candidate.table.indexOf(".") + 1)}${name}`,
        );
      }
      results.push(base);
    }
  } finally {
    await pool.end({ timeout: 5 });
  }
  return results;
}
