// The api workload: every api function called a number of times with subjects (tenants,
// collections, documents, users, ...) drawn from the data with a fixed seed, plus the bodies of
// the maintenance jobs. It is what `npm run analyze-indexes` runs before it advises, and what
// test/perf.test.ts runs before it asserts that every index we ship is used. docs/monitoring.md.
//
// Calls that change data (classify, confirm, delete) run in a transaction that is rolled back,
// so the data stays as seeded and the statements still reach pg_stat_statements and the index
// statistics (both count statements of rolled-back transactions). Two calls cannot be rolled
// back, since they commit: api.purge_documents runs on a tenant the driver makes for it, and
// maint.purge_expired deletes what has expired (that is its job; the seed has expired rows).
import type postgres from "postgres";

export interface WorkloadCall {
  /** "api.chunks_page": what the call exercises. */
  name: string;
  /** The function's signature, to check that it exists: "api.chunks_page(bigint,bigint,bigint,integer)". */
  signature: string;
  /** The statement, with $n parameters. */
  sql: string;
  params: unknown[];
  /** Changes data: run in a transaction rolled back. */
  mutates?: boolean;
  /** Commits (a procedure with COMMIT inside): run on its own, outside a transaction. */
  commits?: boolean;
  /** Runs before (setup) or after (cleanup) the call, on the same connection, not measured. */
  setup?: (sql: postgres.ReservedSql) => Promise<unknown[] | void>;
  cleanup?: (sql: postgres.ReservedSql) => Promise<void>;
}

export interface WorkloadOptions {
  /** Calls per api function (each with other subjects). Default 20. */
  callsPerFunction?: number;
  /** PRNG seed for the subjects. Default 42. */
  seed?: number;
  /** Also the bodies of the pg_cron jobs that read with indexes (TTL purge, stats refresh). Default true. */
  maintenance?: boolean;
  /** Also api.purge_documents, on a tenant made for it and removed after. Default true. */
  purge?: boolean;
}

// mulberry32: small, seeded, the same subjects on every run over the same data.
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pickOne = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
function pickSome<T>(rand: () => number, items: readonly T[], n: number): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < n && pool.length) out.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]!);
  return out;
}

/** Up to `limit` rows of a query, drawn evenly over the table (every k-th row in key order): no random() on the server, so the same data gives the same sample. */
async function spread<T extends postgres.Row>(sql: postgres.Sql, query: string, limit = 400): Promise<T[]> {
  const rows = await sql.unsafe<T[]>(`with q as (${query}), n as (select count(*) as n from q)
    select q.* from (select q.*, row_number() over () as rn from q) q, n
    where (q.rn - 1) % greatest(n.n / ${limit}, 1) = 0 limit ${limit}`);
  return rows as unknown as T[];
}

export interface Subjects {
  tenants: string[];
  collections: { tenant_id: string; id: string }[];
  documents: { tenant_id: string; collection_id: string; id: string }[];
  chunks: { tenant_id: string; collection_id: string; id: string }[];
  conversationUsers: { tenant_id: string; user_id: string; created_at: Date }[];
  conversations: { tenant_id: string; id: string; created_at: Date }[];
  workflows: { tenant_id: string; id: string; status: string; created_at: Date }[];
  agents: { tenant_id: string; name: string; type: string }[];
  sessions: { token: string }[];
  connectorIds: { tenant_id: string; connector_id: string; external_id: string }[];
  activeUsers: { tenant_id: string; user_id: string }[];
  answeredGaps: { tenant_id: string; gap_id: string }[];
}

/** Subjects from the data: evenly spread rows of each table, in key order. */
export async function sampleSubjects(sql: postgres.Sql): Promise<Subjects> {
  const [tenants, collections, documents, chunks, conversationUsers, conversations, workflows, agents, sessions, connectorIds, activeUsers, answeredGaps] = await Promise.all([
    sql<{ tenant_id: string }[]>`select tenant_id from app.tenants order by tenant_id`,
    spread<Subjects["collections"][number]>(sql, "select tenant_id, id from app.collections order by tenant_id, id"),
    spread<Subjects["documents"][number]>(sql, "select tenant_id, collection_id, id from app.documents where status <> 'deleted' order by tenant_id, id", 2000),
    spread<Subjects["chunks"][number]>(sql, "select tenant_id, collection_id, id from app.chunks order by tenant_id, collection_id, id"),
    spread<Subjects["conversationUsers"][number]>(sql, "select tenant_id, user_id, created_at from app.conversations order by tenant_id, id"),
    spread<Subjects["conversations"][number]>(
      sql,
      "select c.tenant_id, c.id, max(m.created_at) as created_at from app.conversations c join app.messages m on m.tenant_id = c.tenant_id and m.conversation_id = c.id group by c.tenant_id, c.id order by c.tenant_id, c.id",
    ),
    spread<Subjects["workflows"][number]>(sql, "select tenant_id, id, status, created_at from app.workflows order by tenant_id, id"),
    spread<Subjects["agents"][number]>(sql, "select tenant_id, name, type from app.agents order by tenant_id, id"),
    spread<Subjects["sessions"][number]>(sql, "select token::text as token from app.user_sessions order by tenant_id, id"),
    spread<Subjects["connectorIds"][number]>(
      sql,
      "select tenant_id, connector_id, external_id from app.documents where connector_id is not null order by tenant_id, id",
    ),
    spread<Subjects["activeUsers"][number]>(
      sql,
      "select distinct tenant_id, user_id from app.operations where status in ('pending', 'processing') and user_id is not null order by tenant_id, user_id",
    ),
    spread<Subjects["answeredGaps"][number]>(sql, "select distinct tenant_id, knowledge_gap_id as gap_id from app.gap_answers order by 1, 2"),
  ]);
  return {
    tenants: tenants.map((t) => t.tenant_id),
    collections, documents, chunks, conversationUsers, conversations, workflows, agents, sessions, connectorIds, activeUsers, answeredGaps,
  };
}

const WORKFLOW_STATUSES = ["pending", "executing", "completed", "failed", "cancelled"];
const TASK_STATUSES = ["pending", "running", "completed", "failed", "skipped"];
const AGENT_TYPES = ["orchestrator", "specialist", "worker"];

/**
 * The calls: every api function `callsPerFunction` times with other subjects, in a fixed
 * order. Functions whose subjects are missing from the data (an empty table) are left out.
 */
export function apiWorkload(subjects: Subjects, options: WorkloadOptions = {}): WorkloadCall[] {
  const { callsPerFunction = 20, seed = 42, maintenance = true, purge = true } = options;
  const rand = prng(seed);
  const calls: WorkloadCall[] = [];
  const repeat = (fn: (i: number) => WorkloadCall | undefined) => {
    for (let i = 0; i < callsPerFunction; i++) {
      const call = fn(i);
      if (call) calls.push(call);
    }
  };
  const s = subjects;
  const docsByCollection = new Map<string, Subjects["documents"]>();
  for (const d of s.documents) {
    const key = `${d.tenant_id}/${d.collection_id}`;
    docsByCollection.set(key, [...(docsByCollection.get(key) ?? []), d]);
  }
  const collectionsWithDocs = [...docsByCollection.values()];
  const tenantDocs = new Map<string, string[]>();
  for (const d of s.documents) tenantDocs.set(d.tenant_id, [...(tenantDocs.get(d.tenant_id) ?? []), d.id]);
  const tenantsWithDocs = [...tenantDocs.keys()];

  if (s.sessions.length) {
    repeat((i) => ({
      name: "api.validate_session",
      signature: "api.validate_session(uuid)",
      sql: "select * from api.validate_session($1::uuid)",
      // one in five an unknown token: the index probe that finds nothing
      params: [i % 5 === 4 ? "00000000-0000-4000-8000-000000000000" : pickOne(rand, s.sessions).token],
    }));
  }
  if (s.chunks.length) {
    repeat((i) => {
      const c = pickOne(rand, s.chunks);
      return {
        name: "api.chunks_page",
        signature: "api.chunks_page(bigint,bigint,bigint,integer)",
        sql: "select * from api.chunks_page($1::bigint, $2::bigint, $3::bigint, $4::integer)",
        params: [c.tenant_id, c.collection_id, i % 2 === 0 ? null : c.id, 100],
      };
    });
  }
  if (collectionsWithDocs.length) {
    repeat(() => {
      const docs = pickOne(rand, collectionsWithDocs);
      const ids = pickSome(rand, docs, 1 + Math.floor(rand() * 20)).map((d) => d.id);
      return {
        name: "api.chunks_for_documents",
        signature: "api.chunks_for_documents(bigint,bigint,bigint[],integer)",
        sql: "select * from api.chunks_for_documents($1::bigint, $2::bigint, $3::bigint[], $4::integer)",
        params: [docs[0]!.tenant_id, docs[0]!.collection_id, ids, 1000],
      };
    });
  }
  if (s.collections.length) {
    repeat((i) => {
      const c = pickOne(rand, s.collections);
      return {
        name: "api.collection_statistics",
        signature: "api.collection_statistics(bigint,bigint,boolean)",
        sql: "select api.collection_statistics($1::bigint, $2::bigint, $3::boolean)",
        // the view lookup, and every other call computed live
        params: [c.tenant_id, c.id, i % 2 === 1],
      };
    });
  }
  if (s.tenants.length) {
    repeat(() => ({
      name: "api.knowledge_gap_stats",
      signature: "api.knowledge_gap_stats(bigint)",
      sql: "select api.knowledge_gap_stats($1::bigint)",
      params: [pickOne(rand, s.tenants)],
    }));
    repeat(() => ({
      name: "api.document_status_counts",
      signature: "api.document_status_counts(bigint)",
      sql: "select api.document_status_counts($1::bigint)",
      params: [pickOne(rand, s.tenants)],
    }));
  }
  if (s.activeUsers.length) {
    repeat(() => {
      const u = pickOne(rand, s.activeUsers);
      return {
        name: "api.active_operations",
        signature: "api.active_operations(bigint,bigint,integer)",
        sql: "select * from api.active_operations($1::bigint, $2::bigint, $3::integer)",
        params: [u.tenant_id, u.user_id, 100],
      };
    });
  }
  if (s.answeredGaps.length) {
    repeat(() => {
      const g = pickOne(rand, s.answeredGaps);
      return {
        name: "api.gap_answers",
        signature: "api.gap_answers(bigint,bigint)",
        sql: "select * from api.gap_answers($1::bigint, $2::bigint)",
        params: [g.tenant_id, g.gap_id],
      };
    });
  }
  if (s.conversationUsers.length) {
    repeat((i) => {
      const u = pickOne(rand, s.conversationUsers);
      return {
        name: "api.user_conversations",
        signature: "api.user_conversations(bigint,bigint,timestamp with time zone,integer)",
        sql: "select * from api.user_conversations($1::bigint, $2::bigint, $3::timestamptz, $4::integer)",
        params: [u.tenant_id, u.user_id, i % 2 === 0 ? null : u.created_at, 20],
      };
    });
  }
  if (s.conversations.length) {
    repeat((i) => {
      const c = pickOne(rand, s.conversations);
      return {
        name: "api.conversation_messages",
        signature: "api.conversation_messages(bigint,bigint,timestamp with time zone,integer)",
        sql: "select * from api.conversation_messages($1::bigint, $2::bigint, $3::timestamptz, $4::integer)",
        params: [c.tenant_id, c.id, i % 2 === 0 ? null : c.created_at, 20],
      };
    });
  }
  if (s.agents.length) {
    repeat((i) => {
      const a = pickOne(rand, s.agents);
      return {
        name: "api.agent_by_name",
        signature: "api.agent_by_name(bigint,text)",
        sql: "select * from api.agent_by_name($1::bigint, $2::text)",
        params: [a.tenant_id, i % 5 === 4 ? `${a.name} (no such agent)` : a.name],
      };
    });
    repeat((i) => ({
      name: "api.active_agents",
      signature: "api.active_agents(bigint,text)",
      sql: "select * from api.active_agents($1::bigint, $2::text)",
      params: [pickOne(rand, s.agents).tenant_id, i % 4 === 3 ? null : pickOne(rand, AGENT_TYPES)],
    }));
  }
  if (s.workflows.length) {
    repeat((i) => {
      const w = pickOne(rand, s.workflows);
      return {
        name: "api.workflows_by_status",
        signature: "api.workflows_by_status(bigint,text,timestamp with time zone,integer)",
        sql: "select * from api.workflows_by_status($1::bigint, $2::text, $3::timestamptz, $4::integer)",
        params: [w.tenant_id, i % 3 === 0 ? w.status : pickOne(rand, WORKFLOW_STATUSES), i % 2 === 0 ? null : w.created_at, 20],
      };
    });
    repeat((i) => {
      const w = pickOne(rand, s.workflows);
      return {
        name: "api.workflow_tasks",
        signature: "api.workflow_tasks(bigint,bigint,text)",
        sql: "select * from api.workflow_tasks($1::bigint, $2::bigint, $3::text)",
        params: [w.tenant_id, w.id, i % 2 === 0 ? null : pickOne(rand, TASK_STATUSES)],
      };
    });
  }
  if (tenantsWithDocs.length) {
    const idsOf = () => {
      const t = pickOne(rand, tenantsWithDocs);
      return [t, pickSome(rand, tenantDocs.get(t)!, 1 + Math.floor(rand() * 50))] as const;
    };
    repeat(() => {
      const [t, ids] = idsOf();
      return {
        name: "api.classify_documents",
        signature: "api.classify_documents(bigint,bigint[],text)",
        sql: "select api.classify_documents($1::bigint, $2::bigint[], $3::text)",
        params: [t, ids, "contract"],
        mutates: true,
      };
    });
    repeat(() => {
      const [t, ids] = idsOf();
      return {
        name: "api.confirm_classifications",
        signature: "api.confirm_classifications(bigint,bigint[])",
        sql: "select api.confirm_classifications($1::bigint, $2::bigint[])",
        params: [t, ids],
        mutates: true,
      };
    });
    repeat((i) => {
      const [t, ids] = idsOf();
      return {
        name: "api.delete_documents",
        signature: "api.delete_documents(bigint,bigint[],boolean)",
        sql: "select api.delete_documents($1::bigint, $2::bigint[], $3::boolean)",
        params: [t, ids, i % 2 === 1],
        mutates: true,
      };
    });
  }
  if (tenantsWithDocs.length) {
    repeat((i) => {
      const t = pickOne(rand, tenantsWithDocs);
      const ids = tenantDocs.get(t)!;
      return {
        name: "api.purge_documents_batch",
        signature: "api.purge_documents_batch(bigint,integer,bigint,boolean)",
        sql: "select * from api.purge_documents_batch($1::bigint, $2::integer, $3::bigint, $4::boolean)",
        // from the first document, or after one of them (the keyset cursor)
        params: [t, 100, i % 2 === 0 ? null : pickOne(rand, ids), false],
        mutates: true,
      };
    });
  }
  if (s.connectorIds.length) {
    repeat((i) => {
      const c = pickOne(rand, s.connectorIds);
      const known = pickSome(rand, s.connectorIds.filter((x) => x.tenant_id === c.tenant_id && x.connector_id === c.connector_id), 20).map((x) => x.external_id);
      const fresh = Array.from({ length: 5 }, (_, k) => `advisor-new-${i}-${k}`);
      return {
        name: "api.new_external_ids",
        signature: "api.new_external_ids(bigint,bigint,text[])",
        sql: "select api.new_external_ids($1::bigint, $2::bigint, $3::text[])",
        params: [c.tenant_id, c.connector_id, [...known, ...fresh]],
      };
    });
  }
  if (purge) {
    // A tenant of its own with a few documents, purged in batches of 2, then removed.
    calls.push({
      name: "api.purge_documents",
      signature: "api.purge_documents(bigint,integer,bigint)",
      sql: "call api.purge_documents($1::bigint, $2::integer)",
      params: [],
      commits: true,
      setup: async (conn) => {
        const [row] = await conn.unsafe<{ tenant_id: string }[]>(`
          with t as (insert into app.tenants (name) values ('index advisor workload: purge') returning tenant_id),
               u as (insert into app.users (tenant_id, email, display_name) select tenant_id, 'purge@example.invalid', 'purge' from t returning tenant_id, id),
               c as (insert into app.collections (tenant_id, owner_id, name) select tenant_id, id, 'purge' from u returning tenant_id, id),
               d as (insert into app.documents (tenant_id, collection_id, title) select c.tenant_id, c.id, 'purge ' || g from c, generate_series(1, 5) g returning 1)
          select tenant_id from t where (select count(*) from d) = 5`);
        return [row!.tenant_id, 2];
      },
      cleanup: async (conn) => {
        // Deleting the user and the tenant makes PostgreSQL check every table that references
        // them (operations by (tenant_id, user_id) has no index for that: perf.missing_fk_indexes),
        // statements no api function runs, which would then count as workload. Nothing
        // references these rows, so the checks are skipped where this role may (replica role);
        // otherwise the rows are left in place.
        const [may] = await conn<{ ok: boolean }[]>`select has_parameter_privilege('session_replication_role', 'SET') as ok`;
        if (!may?.ok) return;
        await conn.unsafe("begin");
        try {
          await conn.unsafe("set local session_replication_role = replica");
          await conn.unsafe(`
            with t as (select tenant_id from app.tenants where name = 'index advisor workload: purge'),
                 c as (delete from app.collections where tenant_id in (select tenant_id from t) returning 1),
                 u as (delete from app.users where tenant_id in (select tenant_id from t) returning 1)
            delete from app.tenants where tenant_id in (select tenant_id from t)`);
          await conn.unsafe("commit");
        } catch (error) {
          await conn.unsafe("rollback");
          throw error;
        }
      },
    });
  }
  if (maintenance) {
    calls.push(
      { name: "maint.purge_expired", signature: "maint.purge_expired(integer,integer,bigint,bigint,bigint)", sql: "call maint.purge_expired()", params: [], commits: true },
      { name: "maint.refresh_collection_stats", signature: "maint.refresh_collection_stats()", sql: "select maint.refresh_collection_stats()", params: [] },
    );
  }
  return calls;
}

/** The api functions and procedures of the database that no call of the workload exercises. */
export async function functionsNotDriven(sql: postgres.Sql, calls: readonly WorkloadCall[]): Promise<string[]> {
  const driven = new Set(calls.map((c) => c.name));
  const rows = await sql<{ name: string }[]>`
    select distinct n.nspname || '.' || p.proname as name
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'api' order by 1`;
  return rows.map((r) => r.name).filter((name) => !driven.has(name));
}

export interface WorkloadReport {
  calls: number;
  /** Calls per function. */
  byFunction: Record<string, number>;
  /** Functions of the workload the database does not have (by signature): skipped. */
  missing: string[];
  /** Calls that raised an error. */
  failures: { name: string; message: string; params: unknown[] }[];
  seconds: number;
}

export interface RunOptions {
  /** Called after each call: done, total. */
  onProgress?: (done: number, total: number) => void;
  /** Run a call `repeat` times in a row (default 1). */
  repeat?: number;
  /**
   * Settings of the workload's session, e.g. { enable_seqscan: "off" }: on small data the
   * planner rightly reads small tables whole, which says nothing about which index a query
   * uses on big data (test/perf.test.ts asks that question at the 10k tier).
   */
  settings?: Record<string, string>;
}

/**
 * Runs the calls on one connection of its own, which it closes at the end, so the cumulative
 * statistics of the calls (index scans) are flushed when it returns (a backend flushes them
 * at exit; otherwise up to a few seconds later).
 */
export async function runWorkload(url: string, calls: readonly WorkloadCall[], options: RunOptions = {}): Promise<WorkloadReport> {
  const { default: postgresClient } = await import("postgres");
  const sql = postgresClient(url, { max: 1, onnotice: () => {}, connection: { application_name: "querybudget index advisor workload", ...options.settings } });
  const started = performance.now();
  const report: WorkloadReport = { calls: 0, byFunction: {}, missing: [], failures: [], seconds: 0 };
  try {
    const signatures = [...new Set(calls.map((c) => c.signature))];
    const exists = await sql<{ signature: string; ok: boolean }[]>`
      select s as signature, to_regprocedure(s) is not null as ok from unnest(${signatures}::text[]) s`;
    const missing = new Set(exists.filter((e) => !e.ok).map((e) => e.signature));
    report.missing = [...missing].sort();
    const conn = await sql.reserve();
    try {
      const runnable = calls.filter((c) => !missing.has(c.signature));
      const repeat = options.repeat ?? 1;
      let done = 0;
      for (const call of runnable) {
        for (let r = 0; r < repeat; r++) {
          try {
            await runCall(conn, call);
            report.calls++;
            report.byFunction[call.name] = (report.byFunction[call.name] ?? 0) + 1;
          } catch (error) {
            await conn.unsafe("rollback").catch(() => {});
            report.failures.push({ name: call.name, message: (error as Error).message, params: call.params });
          }
        }
        options.onProgress?.(++done, runnable.length);
      }
    } finally {
      conn.release();
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

/** One call on a reserved connection: rolled back when it changes data, set up and cleaned up around. */
export async function runCall(conn: postgres.ReservedSql, call: WorkloadCall): Promise<void> {
  const params = (call.setup ? ((await call.setup(conn)) ?? call.params) : call.params) as never[];
  try {
    if (call.mutates) {
      await conn.unsafe("begin");
      try {
        await conn.unsafe(call.sql, params);
      } finally {
        await conn.unsafe("rollback");
      }
    } else {
      await conn.unsafe(call.sql, params);
    }
  } finally {
    if (call.cleanup) await call.cleanup(conn);
  }
}
