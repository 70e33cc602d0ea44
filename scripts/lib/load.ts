// The load driver (`npm run load`, test/load.test.ts; docs/operations.md "Load"): N clients for a
// fixed time (and at most a fixed number of calls) run a weighted mix of the whole api through
// PgBouncer, with the argument sets of scripts/lib/workload.ts (apiCalls), and beside the api's
// point reads the raw statement each replaces, run by the same clients through the same pooler.
//
//   const calls = await apiCalls(sqlAsOwner);                 // argument sets from the seeded data
//   const result = await runLoad({ appUrl, rawUrl, calls, clients: 64, seconds: 30 });
//
// Writes run in a transaction that is rolled back (BEGIN, the call, ROLLBACK, all on one pooled
// server connection): they take their locks and do their work, under contention, and leave the
// data as it was, so every client can keep using the same argument sets. The procedure
// (api.purge_documents) commits batch by batch and consumes its subject: it is not in the mix.
//
// What the driver checks on every call: the SQLSTATE of each error; the tenant of every row it
// gets back that carries one (`tenant_id`, at any depth of a json result) against the call's
// tenant; and, between calls, a probe (its own pooled transaction) that no tenant setting and no
// other role carried over from an earlier transaction on the same server connection.
import postgres from "postgres";
import { POOLED } from "./pooler.ts";
import {
  INSTRUCTION_CALLS,
  INSTRUCTION_WARMUP,
  type InstructionRatio,
} from "./instructions.ts";
import { percentile, type ApiCall } from "./workload.ts";

/**
 * Relative weights of the workloads in the mix (by workload name); a workload not listed has
 * weight 1, the procedure 0. Reads outweigh writes, as in the seeds' applications: a chat turn
 * reads the history and writes messages, a session is checked on every request, workers claim
 * and finish operations, dashboards read statistics, bulk classify and delete are rare.
 */
export const MIX: Record<string, number> = {
  // chat turns and history
  "api.start_conversation": 2,
  "api.add_messages": 6,
  "api.conversation_messages": 8,
  "api.user_conversations": 6,
  // sessions: checked on every request
  "api.validate_session": 12,
  "api.touch_session": 3,
  "api.create_session": 1,
  "api.revoke_session": 1,
  "api.user_by_email": 4,
  // documents: connector sync, chunk replacement, reads of chunks
  "api.sync_documents": 2,
  "api.replace_chunks": 2,
  "api.new_external_ids": 2,
  "api.chunks_for_documents": 4,
  "api.chunks_page": 4,
  // operation workers
  "api.enqueue_operations": 2,
  "api.claim_operations": 4,
  "api.finish_operations": 3,
  "api.active_operations": 3,
  // statistics reads
  "api.collection_statistics": 4,
  "api.collection_statistics (fresh)": 1,
  "api.knowledge_gap_stats": 2,
  "api.document_status_counts": 2,
  // agents and workflows
  "api.agent_by_name": 4,
  "api.active_agents": 3,
  "api.workflows_by_status": 3,
  "api.workflow_tasks": 6,
  // bulk classify and delete: rare
  "api.classify_documents": 1,
  "api.confirm_classifications": 1,
  "api.delete_documents": 1,
  "api.delete_documents (hard)": 0.5,
  "api.purge_documents_batch": 0.5,
  "api.purge_documents": 0,
};

/**
 * The floor: for a few point reads, the one raw statement the api call replaces (what the
 * seeds' code would send with a single database user that sees every tenant), with the same
 * arguments. Run as the server URL's own role (no row level security in the way, no guards).
 */
export const RAW: Record<
  string,
  { sql: string; args: (apiArgs: readonly unknown[]) => unknown[] }
> = {
  "api.workflow_tasks": {
    sql: `select t.id, t.workflow_id, t.agent_id, t.name, t.status, t.execution_order, t.created_at
          from app.workflow_tasks t where t.tenant_id = $1 and t.workflow_id = $2
          order by t.execution_order, t.id`,
    args: (a) => [a[0], a[1]],
  },
  "api.agent_by_name": {
    sql: `select a.id, a.name, a.type, a.is_active, a.config, a.created_at
          from app.agents a where a.tenant_id = $1 and a.name = $2`,
    args: (a) => [a[0], a[1]],
  },
  "api.active_agents": {
    sql: `select a.id, a.name, a.type, a.config, a.created_at
          from app.agents a where a.tenant_id = $1 and a.is_active order by a.type, a.id`,
    args: (a) => [a[0]],
  },
  "api.user_by_email": {
    sql: `select u.id, u.email, u.display_name, u.created_at
          from app.users u where u.tenant_id = $1 and u.email = $2`,
    args: (a) => [a[0], a[1]],
  },
  "api.user_conversations": {
    sql: `select c.id, c.user_id, c.title, c.created_at, c.updated_at, c.expires_at
          from app.conversations c where c.tenant_id = $1 and c.user_id = $2
            and (c.expires_at is null or c.expires_at > now())
          order by c.created_at desc, c.id desc limit $3`,
    args: (a) => [a[0], a[1], a[3]],
  },
  "api.validate_session": {
    sql: `select s.tenant_id, s.user_id, u.email, u.display_name, s.expires_at
          from app.user_sessions s join app.users u on u.tenant_id = s.tenant_id and u.id = s.user_id
          where s.token = $1::uuid and s.expires_at > now()`,
    args: (a) => [a[0]],
  },
};

/** Seconds each side of a floor routine runs, uncounted, before its first round. */
export const FLOOR_WARMUP = 0.5;

/** How often a client probes for a setting carried over (one probe per this many calls). */
export const PROBE_EVERY = 25;

export interface LoadOptions {
  /** The database through the pooler, as querybudget_app. */
  appUrl: string;
  /** The database through the pooler, as the role the raw statements run as. */
  rawUrl: string;
  /** The workloads with their argument sets (apiCalls of scripts/lib/workload.ts). */
  calls: ApiCall[];
  clients: number;
  seconds: number;
  /** A bound on calls in all (default 5,000,000). */
  maxCalls?: number;
  /** Session token to its tenant (validate_session and friends take no tenant argument). */
  sessionTenants?: Map<string, string>;
  /** PgBouncer's admin console ("pgbouncer" database), sampled once a second for pool waits. */
  poolerAdminUrl?: string;
  /** Called about every 250 ms: seconds elapsed, calls done. */
  onProgress?: (seconds: number, calls: number) => void;
  /** Seed of the clients' choices (deterministic choice sequence per client). */
  seed?: number;
  /** Seconds per side of the floor (api call alone, then its raw statement alone); 0: no floor. */
  floorSeconds?: number;
  /** Clients of the floor's throughput side (default 8, the measure); its latency side runs one. */
  floorClients?: number;
  /**
   * Rounds the floor's seconds are cut into, api and raw back to back in each (api first in even
   * rounds, raw first in odd ones; default 6): a busy machine slows both sides of a round alike,
   * so the ratio is the median of the rounds' ratios, not one side's long run against the other's.
   */
  floorRounds?: number;
  /** Called when a phase starts: "mix", or the floor's routine ("raw: ..." for the raw side). */
  onPhase?: (name: string, seconds: number) => void;
}

export interface RoutineResult {
  name: string;
  kind: "read" | "write" | "raw";
  calls: number;
  errors: number;
  callsPerSecond: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

export interface LoadResult {
  clients: number;
  seconds: number;
  calls: number;
  callsPerSecond: number;
  routines: RoutineResult[];
  /** SQLSTATE (or "client:<message>" for a driver-side failure) to count, and one message of each. */
  errors: Record<
    string,
    { count: number; example: string; routines: string[] }
  >;
  /** Rows checked for their tenant, and those of another tenant than the call's. */
  rowsChecked: number;
  crossTenantRows: number;
  crossTenantExamples: string[];
  /** Probes run, and those that found a tenant setting or another role from an earlier transaction. */
  probes: number;
  leaks: number;
  /**
   * api point reads against their raw statement, each alone, in interleaved rounds: with
   * `clients` clients, ratio = api calls/s ÷ raw calls/s (median of the rounds' ratios, calls/s
   * over all rounds); with one client, the p50 latencies (median of the rounds' p50s).
   */
  floor: {
    routine: string;
    clients: number;
    rounds: number;
    apiCallsPerSecond: number;
    rawCallsPerSecond: number;
    /** Each round's api/raw. */
    ratios: number[];
    ratio: number;
    /** One client: p50 of each side, ms, and their difference. */
    apiP50Ms: number;
    rawP50Ms: number;
    latencyDiffMs: number;
  }[];
  /** Per second: calls, errors, p95 of the calls that ended in it; pool waits from PgBouncer. */
  timeline: {
    second: number;
    calls: number;
    errors: number;
    p95Ms: number;
    clWaiting?: number;
    maxWaitMs?: number;
  }[];
  /** The longest a client waited for a server connection (PgBouncer's maxwait), ms. */
  maxPoolWaitMs?: number;
}

/** A small deterministic generator (mulberry32): each client its own sequence. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Op {
  name: string;
  kind: "read" | "write" | "raw";
  query: string;
  weight: number;
  argSets: unknown[][];
  /** The tenant each argument set is for (undefined: unknown). */
  tenants: (string | undefined)[];
}

const ROLLBACK = Symbol("rollback");

/** The call's tenant: the first argument when the routine takes p_tenant_id first, the session's for a token. */
function tenantOf(
  query: string,
  args: readonly unknown[],
  sessions: Map<string, string> | undefined,
): string | undefined {
  const first = args[0];
  if (query.includes("$1::uuid")) return sessions?.get(String(first));
  if (typeof first === "string" && /^\d+$/.test(first)) return first;
  if (typeof first === "number" || typeof first === "bigint")
    return String(first);
  return undefined;
}

/** Every `tenant_id` in a result, at any depth (rows, json objects, arrays). */
function tenantIds(value: unknown, found: string[], depth = 0): void {
  if (depth > 6 || value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    for (const v of value) tenantIds(v, found, depth + 1);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    if (k === "tenant_id" && v !== null && typeof v !== "object")
      found.push(String(v));
    else if (typeof v === "object") tenantIds(v, found, depth + 1);
  }
}

/** The mix's operations (api calls), and for the floor the raw statements of RAW ("raw: <name>"). */
export function buildOps(
  calls: readonly ApiCall[],
  sessions?: Map<string, string>,
): { mix: Op[]; raw: Op[] } {
  const ops: Op[] = [];
  const raws: Op[] = [];
  for (const call of calls) {
    const weight = MIX[call.name] ?? (call.kind === "procedure" ? 0 : 1);
    if (weight <= 0 || call.kind === "procedure") continue;
    const argSets = call.calls.map((c) => c.args);
    const tenants = argSets.map((a) => tenantOf(call.query, a, sessions));
    ops.push({
      name: call.name,
      kind: call.kind === "write" ? "write" : "read",
      query: call.query,
      weight,
      argSets,
      tenants,
    });
    const raw = RAW[call.name];
    if (raw)
      raws.push({
        name: `raw: ${call.name}`,
        kind: "raw",
        query: raw.sql,
        weight,
        argSets: argSets.map((a) => raw.args(a)),
        tenants,
      });
  }
  return { mix: ops, raw: raws };
}

function errorCode(error: unknown): { code: string; message: string } {
  const e = error as { code?: unknown; message?: unknown };
  const message = String(e?.message ?? error);
  if (typeof e?.code === "string" && /^[0-9A-Z]{5}$/.test(e.code))
    return { code: e.code, message };
  return {
    code: `client:${typeof e?.code === "string" ? e.code : message.slice(0, 60)}`,
    message,
  };
}

interface PhaseStats {
  latencies: Map<string, number[]>;
  errorsBy: Map<string, number>;
  perSecond: { calls: number; errors: number; ms: number[] }[];
  pool: { clWaiting: number; maxWaitMs: number }[];
  seconds: number;
}

interface Phase {
  app: postgres.Sql;
  raw: postgres.Sql;
  admin?: postgres.Sql;
  ops: Op[];
  clients: number;
  seconds: number;
  maxCalls: number;
  seed: number;
  /** Tenant and setting checks, errors: shared by the phases of a run. */
  checks: Checks;
  probe: boolean;
  onProgress?: (seconds: number, calls: number) => void;
}

interface Checks {
  errors: LoadResult["errors"];
  rowsChecked: number;
  crossTenantRows: number;
  crossTenantExamples: string[];
  probes: number;
  leaks: number;
}

/** One phase: `clients` loops over `ops` (by weight) until `seconds` pass or `maxCalls` are done. */
async function drive(phase: Phase): Promise<PhaseStats> {
  const { app, raw, admin, ops, clients, seconds, maxCalls, checks } = phase;
  const totalWeight = ops.reduce((s, o) => s + o.weight, 0);
  const latencies = new Map<string, number[]>(ops.map((o) => [o.name, []]));
  const errorsBy = new Map<string, number>(ops.map((o) => [o.name, 0]));
  const perSecond: PhaseStats["perSecond"] = [];
  const pool: PhaseStats["pool"] = [];
  let done = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const bucket = (t: number) => {
    const s = Math.floor((t - start) / 1000);
    while (perSecond.length <= s)
      perSecond.push({ calls: 0, errors: 0, ms: [] });
    return perSecond[s]!;
  };
  const record = (name: string, error: unknown) => {
    const { code, message } = errorCode(error);
    const entry = (checks.errors[code] ??= {
      count: 0,
      example: message,
      routines: [],
    });
    entry.count++;
    if (!entry.routines.includes(name)) entry.routines.push(name);
    errorsBy.set(name, (errorsBy.get(name) ?? 0) + 1);
  };
  const pick = (r: number): Op => {
    let x = r * totalWeight;
    for (const op of ops) {
      x -= op.weight;
      if (x < 0) return op;
    }
    return ops[ops.length - 1]!;
  };

  async function client(k: number): Promise<void> {
    const random = generator(phase.seed * 1_000_003 + k);
    let n = 0;
    while (performance.now() < deadline && done < maxCalls) {
      n++;
      if (phase.probe && n % PROBE_EVERY === 0) {
        // its own pooled transaction: whatever server connection it lands on, it must be clean
        try {
          const [row] = await app<{ t: string | null; who: string }[]>`
            select current_setting('querybudget.tenant_id', true) as t, current_user::text as who`;
          checks.probes++;
          if ((row?.t ?? "") !== "" || row?.who !== "querybudget_app")
            checks.leaks++;
        } catch (error) {
          record("probe", error);
        }
        continue;
      }
      const op = pick(random());
      const which = Math.floor(random() * op.argSets.length);
      const args = op.argSets[which]!;
      const tenant = op.tenants[which];
      const t0 = performance.now();
      let rows: unknown[] | undefined;
      try {
        if (op.kind === "write") {
          await app
            .begin(async (tx) => {
              rows = await tx.unsafe(op.query, args as never[]);
              throw ROLLBACK;
            })
            .catch((e) => {
              if (e !== ROLLBACK) throw e;
            });
        } else {
          rows = await (op.kind === "raw" ? raw : app).unsafe(
            op.query,
            args as never[],
          );
        }
        const t1 = performance.now();
        const ms = t1 - t0;
        latencies.get(op.name)!.push(ms);
        const b = bucket(t1);
        b.calls++;
        b.ms.push(ms);
        if (tenant !== undefined && rows) {
          const found: string[] = [];
          tenantIds(rows, found);
          checks.rowsChecked += found.length;
          for (const t of found)
            if (t !== tenant) {
              checks.crossTenantRows++;
              if (checks.crossTenantExamples.length < 5)
                checks.crossTenantExamples.push(
                  `${op.name} for tenant ${tenant} returned a row of tenant ${t}`,
                );
            }
        }
      } catch (error) {
        record(op.name, error);
        bucket(performance.now()).errors++;
      }
      done++;
    }
  }

  let sampling = true;
  const sampler = (async () => {
    while (sampling && admin) {
      try {
        const rows = (await admin.unsafe("show pools").simple()) as unknown as {
          database: string;
          cl_waiting: number;
          maxwait: number;
          maxwait_us: number;
        }[];
        const mine = rows.filter((r) => r.database !== "pgbouncer");
        pool.push({
          clWaiting: mine.reduce((s, r) => s + Number(r.cl_waiting), 0),
          maxWaitMs: Math.max(
            0,
            ...mine.map(
              (r) => Number(r.maxwait) * 1000 + Number(r.maxwait_us) / 1000,
            ),
          ),
        });
      } catch {
        pool.push({ clWaiting: -1, maxWaitMs: -1 });
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  const ticker = setInterval(
    () => phase.onProgress?.((performance.now() - start) / 1000, done),
    250,
  );
  try {
    await Promise.all(Array.from({ length: clients }, (_, k) => client(k)));
  } finally {
    clearInterval(ticker);
    sampling = false;
    await sampler;
  }
  const elapsedS = (performance.now() - start) / 1000;
  phase.onProgress?.(elapsedS, done);
  return { latencies, errorsBy, perSecond, pool, seconds: elapsedS };
}

function routineResults(ops: Op[], stats: PhaseStats): RoutineResult[] {
  return ops.map((op) => {
    const ms = stats.latencies.get(op.name)!;
    const sum = ms.reduce((s, v) => s + v, 0);
    return {
      name: op.name,
      kind: op.kind,
      calls: ms.length,
      errors: stats.errorsBy.get(op.name) ?? 0,
      callsPerSecond: ms.length / stats.seconds,
      meanMs: ms.length ? sum / ms.length : NaN,
      p50Ms: ms.length ? percentile(ms, 50) : NaN,
      p95Ms: ms.length ? percentile(ms, 95) : NaN,
      p99Ms: ms.length ? percentile(ms, 99) : NaN,
    };
  });
}

/**
 * The mixed phase (the whole api by MIX, writes rolled back), then, when `floorSeconds` > 0,
 * the floor: for each point read of RAW, all clients run only the api call for floorSeconds,
 * then only its raw statement, through the same pooler; api/raw = calls/s of one over the other.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const {
    clients,
    seconds,
    maxCalls = 5_000_000,
    seed = 1,
    floorSeconds = 0,
    floorClients = 8,
    floorRounds = 6,
  } = options;
  const { mix, raw: rawOps } = buildOps(options.calls, options.sessionTenants);
  if (mix.length === 0) throw new Error("load: no workload in the mix");
  const app = postgres(options.appUrl, { ...POOLED, max: clients });
  const raw = postgres(options.rawUrl, { ...POOLED, max: clients });
  const admin = options.poolerAdminUrl
    ? postgres(options.poolerAdminUrl, {
        ...POOLED,
        fetch_types: false,
        max: 1,
      })
    : undefined;
  const checks: Checks = {
    errors: {},
    rowsChecked: 0,
    crossTenantRows: 0,
    crossTenantExamples: [],
    probes: 0,
    leaks: 0,
  };
  const floor: LoadResult["floor"] = [];
  let floorApp: postgres.Sql | undefined;
  let floorRaw: postgres.Sql | undefined;
  let stats: PhaseStats;
  try {
    options.onPhase?.("mix", seconds);
    stats = await drive({
      app,
      raw,
      admin,
      ops: mix,
      clients,
      seconds,
      maxCalls,
      seed,
      checks,
      probe: true,
      onProgress: options.onProgress,
    });
    if (floorSeconds > 0) {
      const median = (xs: number[]) =>
        [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const roundSeconds = floorSeconds / floorRounds;
      // Both sides alike, on the client and in the pooler. The mix's clients go: the api's
      // postgres.js client kept the 64 connections of the mix while the raw side's had 8, and
      // that alone cost the api side up to 30% of its throughput (100k tier, the same run
      // twice: api/raw of api.user_by_email 0.71, rounds 0.66 to 0.77; with a client of 8
      // connections per side 0.93). Each side gets a client of floorClients connections.
      // And the mix may have opened reserve connections for the api's role (64 clients wait
      // for 4 servers): PgBouncer closes them, so that both sides run on default_pool_size
      // server connections each.
      await Promise.all([app.end({ timeout: 5 }), raw.end({ timeout: 5 })]);
      floorApp = postgres(options.appUrl, { ...POOLED, max: floorClients });
      floorRaw = postgres(options.rawUrl, { ...POOLED, max: floorClients });
      await admin?.unsafe("reconnect").simple();
      for (const r of rawOps) {
        const name = r.name.replace(/^raw: /, "");
        const api = mix.find((o) => o.name === name);
        if (!api) continue;
        const side = async (op: Op, n: number, seconds = roundSeconds) => {
          options.onPhase?.(
            `${op.name} (${n} client${n === 1 ? "" : "s"}${seconds === roundSeconds ? "" : ", warm-up"})`,
            seconds,
          );
          const s = await drive({
            app: floorApp!,
            raw: floorRaw!,
            ops: [op],
            clients: n,
            seconds,
            maxCalls,
            seed,
            checks,
            probe: false,
            onProgress: options.onProgress,
          });
          return routineResults([op], s)[0]!;
        };
        // Warm-up, not counted: both sides' server connections open and cache the statement's
        // plan (PL/pgSQL's for the api) before the first round.
        for (const op of [api, r]) await side(op, floorClients, FLOOR_WARMUP);
        const ratios: number[] = [];
        const calls = { api: 0, raw: 0, seconds: 0 };
        const p50 = { api: [] as number[], raw: [] as number[] };
        const diffs: number[] = [];
        // the two sides of a round in turn, api first in even rounds, raw first in odd ones: a
        // machine that gets busier or quieter within a round favours neither side in the median
        const both = async (rawFirst: boolean) => {
          if (rawFirst) {
            const b = await side(r, floorClients);
            return [await side(api, floorClients), b] as const;
          }
          const a = await side(api, floorClients);
          return [a, await side(r, floorClients)] as const;
        };
        for (let k = 0; k < floorRounds; k++) {
          const [a, b] = await both(k % 2 === 1);
          ratios.push(a.callsPerSecond / b.callsPerSecond);
          calls.api += a.calls;
          calls.raw += b.calls;
          calls.seconds += roundSeconds;
          // latency: one client whose calls alternate at random between the two sides, so
          // that each side's calls see the machine as the other's do, call by call (the
          // round's length for each side)
          options.onPhase?.(
            `${api.name} and its raw statement (1 client)`,
            2 * roundSeconds,
          );
          const [a1, b1] = routineResults(
            [api, r],
            await drive({
              app: floorApp!,
              raw: floorRaw!,
              ops: [
                { ...api, weight: 1 },
                { ...r, weight: 1 },
              ],
              clients: 1,
              seconds: 2 * roundSeconds,
              maxCalls,
              seed: seed + k,
              checks,
              probe: false,
              onProgress: options.onProgress,
            }),
          ) as [RoutineResult, RoutineResult];
          p50.api.push(a1.p50Ms);
          p50.raw.push(b1.p50Ms);
          diffs.push(a1.p50Ms - b1.p50Ms);
        }
        floor.push({
          routine: name,
          clients: floorClients,
          rounds: floorRounds,
          apiCallsPerSecond: calls.api / calls.seconds,
          rawCallsPerSecond: calls.raw / calls.seconds,
          ratios,
          ratio: median(ratios),
          apiP50Ms: median(p50.api),
          rawP50Ms: median(p50.raw),
          latencyDiffMs: median(diffs),
        });
      }
    }
  } finally {
    await Promise.all([
      app.end({ timeout: 5 }),
      raw.end({ timeout: 5 }),
      floorApp?.end({ timeout: 5 }),
      floorRaw?.end({ timeout: 5 }),
      admin?.end({ timeout: 5 }),
    ]);
  }
  const routines = routineResults(mix, stats);
  const completed = routines.reduce((s, r) => s + r.calls, 0);
  return {
    clients,
    seconds: stats.seconds,
    calls: completed,
    callsPerSecond: completed / stats.seconds,
    routines,
    ...checks,
    floor,
    timeline: stats.perSecond.map((b, second) => ({
      second,
      calls: b.calls,
      errors: b.errors,
      p95Ms: b.ms.length ? percentile(b.ms, 95) : 0,
      clWaiting: stats.pool[second]?.clWaiting,
      maxWaitMs: stats.pool[second]?.maxWaitMs,
    })),
    maxPoolWaitMs: stats.pool.length
      ? Math.max(...stats.pool.map((p) => p.maxWaitMs))
      : undefined,
  };
}

/** Session tokens of the argument sets to their tenant (validate_session and friends take a token only). */
export async function sessionTenants(
  sql: postgres.Sql,
  calls: readonly ApiCall[],
): Promise<Map<string, string>> {
  const tokens = new Set<string>();
  for (const call of calls)
    if (call.query.includes("$1::uuid"))
      for (const c of call.calls) tokens.add(String(c.args[0]));
  if (tokens.size === 0) return new Map();
  const rows = await sql<{ token: string; tenant_id: string }[]>`
    select token::text, tenant_id::text from app.user_sessions where token = any(${[...tokens]}::uuid[])`;
  return new Map(rows.map((r) => [r.token, r.tenant_id]));
}

const fmt = (v: number, digits = 2) =>
  Number.isFinite(v) ? v.toFixed(digits) : "–";

/** reports/load.md */
export function renderLoadMarkdown(
  result: LoadResult,
  context: {
    rows: number;
    pooler: string;
    when?: string;
    /** The floor in CPU instructions (scripts/lib/instructions.ts), or why it was not measured. */
    instructions?: InstructionRatio[] | string;
  },
): string {
  const lines: string[] = [];
  lines.push("# Load through PgBouncer", "");
  lines.push(
    `${result.clients} clients, ${fmt(result.seconds, 1)} s, ${context.rows.toLocaleString("en-US")} seeded rows, ${context.pooler}.`,
    "",
    `**${result.calls.toLocaleString("en-US")} calls, ${fmt(result.callsPerSecond, 0)} calls/s.** ` +
      `Errors: ${Object.values(result.errors).reduce((s, e) => s + e.count, 0)}. ` +
      `Rows checked for their tenant: ${result.rowsChecked.toLocaleString("en-US")}, of another tenant: ${result.crossTenantRows}. ` +
      `Setting probes: ${result.probes}, leaks: ${result.leaks}.` +
      (result.maxPoolWaitMs !== undefined
        ? ` Longest pool wait: ${fmt(result.maxPoolWaitMs, 1)} ms.`
        : ""),
    "",
  );
  lines.push(
    "## api against its raw statement (point reads, each alone, same pooler)",
    "",
  );
  if (result.floor.length === 0)
    lines.push("Not measured (--floor-seconds 0).");
  else
    lines.push(
      `Throughput with ${result.floor[0]!.clients} clients, latency with one; ${result.floor[0]!.rounds} rounds, api and raw back to back in each (api first in even rounds, raw first in odd ones), after an uncounted warm-up; api/raw is the median of the rounds' ratios (each round's in brackets). Latency: one client whose calls alternate at random between the api and its raw statement, so both see the same machine; the p50s are the median of the rounds' p50s, api − raw the median of the rounds' differences.`,
      "",
      "| routine | api calls/s | raw calls/s | api/raw | api p50 ms (1 client) | raw p50 ms (1 client) | api − raw ms |",
      "|---|---:|---:|---:|---:|---:|---:|",
    );
  for (const f of result.floor)
    lines.push(
      `| ${f.routine} | ${fmt(f.apiCallsPerSecond, 0)} | ${fmt(f.rawCallsPerSecond, 0)} | ${fmt(f.ratio)} (${f.ratios.map((x) => fmt(x)).join(", ")}) | ${fmt(f.apiP50Ms, 3)} | ${fmt(f.rawP50Ms, 3)} | ${fmt(f.latencyDiffMs, 3)} |`,
    );
  if (context.instructions !== undefined) {
    lines.push(
      "",
      "## api against its raw statement in CPU instructions (callgrind)",
      "",
    );
    if (typeof context.instructions === "string")
      lines.push(context.instructions);
    else
      lines.push(
        `Instructions per call of a single-user backend (the kernel's share not counted), ${INSTRUCTION_CALLS} calls after ${INSTRUCTION_WARMUP} of warm-up, the workload's argument sets; a count, which a busy machine does not change (docs/operations.md).`,
        "",
        "| routine | api | raw | api/raw |",
        "|---|---:|---:|---:|",
        ...context.instructions.map(
          (r) =>
            `| ${r.routine} | ${fmt(r.api, 0)} | ${fmt(r.raw, 0)} | ${fmt(r.ratio, 3)} |`,
        ),
      );
  }
  lines.push("", "## Per routine", "");
  lines.push(
    "| routine | kind | calls | calls/s | errors | p50 ms | p95 ms | p99 ms |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  );
  for (const r of [...result.routines].sort((a, b) => b.calls - a.calls))
    lines.push(
      `| ${r.name} | ${r.kind} | ${r.calls} | ${fmt(r.callsPerSecond, 1)} | ${r.errors} | ${fmt(r.p50Ms)} | ${fmt(r.p95Ms)} | ${fmt(r.p99Ms)} |`,
    );
  lines.push("", "## Errors by SQLSTATE", "");
  const errs = Object.entries(result.errors).sort(
    (a, b) => b[1].count - a[1].count,
  );
  if (errs.length === 0) lines.push("None.");
  else {
    lines.push(
      "| SQLSTATE | count | routines | example |",
      "|---|---:|---|---|",
    );
    for (const [code, e] of errs)
      lines.push(
        `| ${code} | ${e.count} | ${e.routines.join(", ")} | ${e.example.replaceAll("|", "\\|").slice(0, 120)} |`,
      );
  }
  lines.push("", "## Over time", "");
  lines.push(
    "| second | calls | errors | p95 ms | clients waiting | max pool wait ms |",
    "|---:|---:|---:|---:|---:|---:|",
  );
  for (const t of result.timeline)
    lines.push(
      `| ${t.second} | ${t.calls} | ${t.errors} | ${fmt(t.p95Ms)} | ${t.clWaiting ?? "–"} | ${t.maxWaitMs === undefined ? "–" : fmt(t.maxWaitMs, 1)} |`,
    );
  lines.push("");
  return lines.join("\n");
}
