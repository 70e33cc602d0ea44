// Bulk document operations (seed 004): api.classify_documents, api.confirm_classifications,
// api.delete_documents, api.purge_documents and api.new_external_ids, checked against the
// seed's "before" code (scripts/lib/before/documents.ts: one query per id, one big DELETE,
// load-all or per-id deduplication) on the seeded data. Each comparison runs the api function
// and the before code on the same starting state, each in a transaction that is rolled back,
// and compares the results and a checksum of the rows they could have touched.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  classifyDocuments as classifyBefore,
  confirmClassifications as confirmBefore,
  deleteDocuments as deleteBefore,
  newExternalIds as newExternalIdsBefore,
  newExternalIdsLoadAll as newExternalIdsLoadAllBefore,
  purgeDocuments as purgeBefore,
} from "../scripts/lib/before/documents.ts";
import { enableAutoExplain } from "../scripts/lib/plan/index.ts";
import { countRolledBack } from "../scripts/lib/query-counter.ts";
import { useTestDatabase } from "./harness/database.ts";

const db = useTestDatabase("documents");

/** mulberry32: a fixed-seed PRNG, so the "random" picks are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(items: readonly T[], n: number, random: () => number): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < n && pool.length > 0) out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  return out;
}

// Comparisons run 7 rounds on one connection: from the sixth call on, a plpgsql function may
// use its cached generic plan, which must give the same answers (DESIGN.md).
const ROUNDS = 7;

const shuffle = <T>(items: readonly T[], random: () => number): T[] => pick(items, items.length, random);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Notice {
  at: number;
  message: string;
}

// One connection (max: 1) for everything that needs BEGIN ... ROLLBACK or counts notices.
let one: postgres.Sql;
const notices: Notice[] = [];

/** The plans of the statements a call runs inside functions (auto_explain), rolled back after. */
async function nestedPlans(call: () => Promise<unknown>): Promise<{ "Query Text": string; Plan: PlanNode }[]> {
  await one`begin`;
  try {
    await enableAutoExplain(one, { local: true });
    notices.length = 0;
    await call();
    return notices
      .filter((n) => n.message.startsWith("duration:"))
      .map((n) => JSON.parse(n.message.slice(n.message.indexOf("{"))) as { "Query Text": string; Plan: PlanNode });
  } finally {
    await one`rollback`;
  }
}

interface TenantDocs {
  tenant_id: string;
  ids: string[];
  live: string[];
  connector_ids: string[];
}

let tenants: TenantDocs[] = [];
let maxDocumentId = 0n;

beforeAll(async () => {
  one = postgres(db().url, { max: 1, onnotice: (n) => notices.push({ at: performance.now(), message: String(n.message) }) });
  tenants = await db().sql<TenantDocs[]>`
    select t.tenant_id::text,
           coalesce((select array_agg(d.id::text order by d.id) from app.documents d where d.tenant_id = t.tenant_id), '{}') as ids,
           coalesce((select array_agg(d.id::text order by d.id) from app.documents d
                     where d.tenant_id = t.tenant_id and d.status <> 'deleted'), '{}') as live,
           coalesce((select array_agg(c.id::text order by c.id) from app.connectors c where c.tenant_id = t.tenant_id), '{}') as connector_ids
    from app.tenants t
    order by t.tenant_id`;
  const [row] = await db().sql<{ max: string }[]>`select coalesce(max(id), 0)::text as max from app.documents`;
  maxDocumentId = BigInt(row!.max);
});

afterAll(async () => {
  await one?.end({ timeout: 5 });
});

/** A tenant with at least `min` documents, and another tenant, picked at random. */
function twoTenants(random: () => number, min: number): [TenantDocs, TenantDocs] {
  const big = tenants.filter((t) => t.ids.length >= min);
  expect(big.length, `a tenant with ${min} documents`).toBeGreaterThan(0);
  const tenant = pick(big, 1, random)[0]!;
  const other = pick(
    tenants.filter((t) => t.tenant_id !== tenant.tenant_id && t.ids.length > 0),
    1,
    random,
  )[0]!;
  return [tenant, other];
}

/** n documents of the tenant (any status), a few of another tenant, unknown ids and duplicates, shuffled. */
function idMix(random: () => number, tenant: TenantDocs, other: TenantDocs, n: number): string[] {
  const own = pick(tenant.ids, n, random);
  const foreign = pick(other.ids, 5, random);
  const unknown = [1n, 17n, 1000n].map((k) => String(maxDocumentId + k));
  const duplicates = pick(own, 3, random);
  return shuffle([...own, ...foreign, ...unknown, ...duplicates], random);
}

interface TableSum {
  n: number;
  md5: string;
}
interface State {
  documents: TableSum;
  chunks: TableSum;
  tombstones: TableSum;
}

/**
 * A checksum of the documents, chunks and tombstones of the given tenants (or of every tenant
 * but them). Timestamps set by the call are written as 'now' (now() is the transaction's
 * start, which differs between the two transactions compared), others as they are.
 */
async function stateOf(sql: postgres.Sql, tenantIds: string[], except = false): Promise<State> {
  const [row] = await sql<State[]>`
    with d as (
      select * from app.documents where (tenant_id = any (${tenantIds}::bigint[])) <> ${except}
    ), c as (
      select * from app.chunks where (tenant_id = any (${tenantIds}::bigint[])) <> ${except}
    ), t as (
      select * from app.deleted_documents where (tenant_id = any (${tenantIds}::bigint[])) <> ${except}
    )
    select
      (select json_build_object('n', count(*), 'md5', md5(coalesce(string_agg(row(
                 d.tenant_id, d.id, d.collection_id, d.connector_id, d.external_id, d.title, d.status, d.classification,
                 d.user_confirmed, d.content_size, d.created_at,
                 case when d.user_confirmed_at = now() then 'now' else d.user_confirmed_at::text end,
                 case when d.updated_at = now() then 'now' else d.updated_at::text end)::text, ',' order by d.tenant_id, d.id), '')))
       from d) as documents,
      (select json_build_object('n', count(*), 'md5', md5(coalesce(string_agg(row(
                 c.tenant_id, c.collection_id, c.id, c.document_id, c.chunk_index, c.size, md5(c.content))::text,
                 ',' order by c.tenant_id, c.collection_id, c.id), '')))
       from c) as chunks,
      -- tombstone ids come from a sequence, so the order of inserts would show: left out
      (select json_build_object('n', count(*), 'md5', md5(coalesce(string_agg(row(
                 t.tenant_id, t.connector_id, t.external_id,
                 case when t.deleted_at = now() then 'now' else t.deleted_at::text end)::text,
                 ',' order by t.tenant_id, t.connector_id, t.external_id), '')))
       from t) as tombstones`;
  return row!;
}

/** Runs fn on `one` inside BEGIN ... ROLLBACK; returns its result and the state it left. */
async function rolledBack<T>(tenantIds: string[], fn: (sql: postgres.Sql) => Promise<T>): Promise<{ result: T; state: State }> {
  await one`begin`;
  try {
    const result = await fn(one);
    const state = await stateOf(one, tenantIds);
    return { result, state };
  } finally {
    await one`rollback`;
  }
}

/** The one value `select api.f(...) as r` returns. */
async function value<T>(query: postgres.PendingQuery<{ r: T }[]>): Promise<T> {
  const [row] = await query;
  return row!.r;
}

type Counts = Record<string, number>;
const classifyApi = (sql: postgres.Sql, t: string, ids: string[], c: string) =>
  value(sql<{ r: Counts }[]>`select api.classify_documents(${t}, ${ids}::bigint[], ${c}) as r`);
const confirmApi = (sql: postgres.Sql, t: string, ids: string[]) =>
  value(sql<{ r: Counts }[]>`select api.confirm_classifications(${t}, ${ids}::bigint[]) as r`);
const deleteApi = (sql: postgres.Sql, t: string, ids: string[], hard: boolean) =>
  value(sql<{ r: Counts }[]>`select api.delete_documents(${t}, ${ids}::bigint[], ${hard}) as r`);
const newExternalIdsApi = (sql: postgres.Sql, t: string, connector: string, ids: string[]) =>
  value(sql<{ r: string[] }[]>`select api.new_external_ids(${t}, ${connector}, ${ids}::text[]) as r`);

/** The SQLSTATE a call fails with (or 'ok'). */
async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    return String((error as { code?: string }).code);
  }
}

// pg_stat_statements (track = all) counts every statement that runs, nested ones too
// (countRolledBack of scripts/lib/query-counter.ts). The foreign key triggers' own queries (one per row
// inserted into a referencing table or deleted from a referenced one: PostgreSQL's RI checks,
// not ours) are counted apart.
const statementsOf = (run: (sql: postgres.Sql) => Promise<unknown>) =>
  countRolledBack(one, run).then((c) => ({ own: c.statements - c.foreignKeyChecks, ri: c.foreignKeyChecks }));

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Subplan Name"?: string;
  "Plan Rows"?: number;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

describe("api.classify_documents", () => {
  test("same result and same rows as the per-id before code, on random documents of random tenants", async () => {
    const random = prng(4001);
    for (let round = 0; round < ROUNDS; round++) {
      const [tenant, other] = twoTenants(random, 30);
      const ids = idMix(random, tenant, other, 5 + Math.floor(random() * 25));
      const classification = pick(["invoice", "contract", "policy", "meeting_notes"], 1, random)[0]!;
      const scope = [tenant.tenant_id, other.tenant_id];
      const initial = await stateOf(db().sql, scope);
      const api = await rolledBack(scope, (sql) => classifyApi(sql, tenant.tenant_id, ids, classification));
      const before = await rolledBack(scope, (sql) => classifyBefore(sql, tenant.tenant_id, ids, classification));
      const label = `tenant ${tenant.tenant_id}, ${ids.length} ids`;
      expect(api.result, label).toEqual(before.result);
      expect(api.result.updated!, label).toBeGreaterThan(0);
      expect(api.state, label).toEqual(before.state);
      expect(api.state.documents, `${label}: the call changed rows`).not.toEqual(initial.documents);
    }
  });

  test("duplicates count once; other tenants' ids, unknown ids and soft-deleted documents are not_found", async () => {
    const [tenant, other] = twoTenants(prng(4002), 30);
    const deleted = tenant.ids.find((id) => !tenant.live.includes(id));
    expect(deleted, "a soft-deleted document in the seed").toBeDefined();
    const live = tenant.live.slice(0, 2);
    const ids = [...live, live[0]!, deleted!, other.ids[0]!, String(maxDocumentId + 5n)];
    const { result } = await rolledBack([], (sql) => classifyApi(sql, tenant.tenant_id, ids, "report"));
    expect(result).toEqual({ updated: 2, not_found: 3 });
  });

  test("runs the same statements for 1 id and for 500", async () => {
    const [tenant] = twoTenants(prng(4003), 400);
    const few = await statementsOf((sql) => classifyApi(sql, tenant.tenant_id, tenant.live.slice(0, 1), "x"));
    const many = await statementsOf((sql) => classifyApi(sql, tenant.tenant_id, tenant.ids.slice(0, 500), "x"));
    expect(few.own).toBeGreaterThan(0);
    expect(many.own).toBe(few.own);
    expect(many.ri).toBe(0);
  });

  test("bad input is refused with the documented codes", async () => {
    const sql = db().sql;
    const t = tenants[0]!.tenant_id;
    expect(await codeOf(sql`select api.classify_documents(${null}, ${[1]}::bigint[], 'x')`)).toBe("QB001");
    expect(await codeOf(sql`select api.classify_documents(${-1}, ${[1]}::bigint[], 'x')`)).toBe("QB005");
    expect(await codeOf(sql`select api.classify_documents(${t}, ${null}::bigint[], 'x')`)).toBe("QB001");
    expect(await codeOf(sql`select api.classify_documents(${t}, ${[]}::bigint[], 'x')`)).toBe("QB002");
    expect(await codeOf(sql`select api.classify_documents(${t}, array(select generate_series(1, 10001))::bigint[], 'x')`)).toBe("QB003");
    expect(await codeOf(sql`select api.classify_documents(${t}, array[1, null]::bigint[], 'x')`)).toBe("QB007");
    expect(await codeOf(sql`select api.classify_documents(${t}, ${[1]}::bigint[], ${null})`)).toBe("QB001");
    expect(await codeOf(sql`select api.classify_documents(${t}, ${[1]}::bigint[], ${"  "})`)).toBe("QB008");
  });
});

describe("api.confirm_classifications", () => {
  test("same result and same rows as bulk_confirm's one call per id", async () => {
    const random = prng(4011);
    for (let round = 0; round < ROUNDS; round++) {
      const [tenant, other] = twoTenants(random, 30);
      const ids = idMix(random, tenant, other, 5 + Math.floor(random() * 25));
      const scope = [tenant.tenant_id, other.tenant_id];
      const initial = await stateOf(db().sql, scope);
      const api = await rolledBack(scope, (sql) => confirmApi(sql, tenant.tenant_id, ids));
      const before = await rolledBack(scope, (sql) => confirmBefore(sql, tenant.tenant_id, ids));
      const label = `tenant ${tenant.tenant_id}, ${ids.length} ids`;
      expect(api.result, label).toEqual(before.result);
      expect(api.result.confirmed!, label).toBeGreaterThan(0);
      expect(api.state, label).toEqual(before.state);
      expect(api.state.documents, `${label}: the call changed rows`).not.toEqual(initial.documents);
    }
  });

  test("runs the same statements for 1 id and for 500", async () => {
    const [tenant] = twoTenants(prng(4012), 400);
    const few = await statementsOf((sql) => confirmApi(sql, tenant.tenant_id, tenant.live.slice(0, 1)));
    const many = await statementsOf((sql) => confirmApi(sql, tenant.tenant_id, tenant.ids.slice(0, 500)));
    expect(few.own).toBeGreaterThan(0);
    expect(many.own).toBe(few.own);
  });

  test("bad input is refused with the documented codes", async () => {
    const sql = db().sql;
    const t = tenants[0]!.tenant_id;
    expect(await codeOf(sql`select api.confirm_classifications(${null}, ${[1]}::bigint[])`)).toBe("QB001");
    expect(await codeOf(sql`select api.confirm_classifications(${-1}, ${[1]}::bigint[])`)).toBe("QB005");
    expect(await codeOf(sql`select api.confirm_classifications(${t}, ${[]}::bigint[])`)).toBe("QB002");
    expect(await codeOf(sql`select api.confirm_classifications(${t}, array(select generate_series(1, 10001))::bigint[])`)).toBe("QB003");
    expect(await codeOf(sql`select api.confirm_classifications(${t}, array[null]::bigint[])`)).toBe("QB007");
  });
});

describe("api.delete_documents", () => {
  for (const hard of [false, true]) {
    test(`${hard ? "hard" : "soft"}: same result, documents, chunks and tombstones as the before code's two loops`, async () => {
      const random = prng(hard ? 4021 : 4022);
      for (let round = 0; round < ROUNDS; round++) {
        const [tenant, other] = twoTenants(random, 30);
        const ids = idMix(random, tenant, other, 5 + Math.floor(random() * 40));
        const scope = [tenant.tenant_id, other.tenant_id];
        const initial = await stateOf(db().sql, scope);
        const api = await rolledBack(scope, (sql) => deleteApi(sql, tenant.tenant_id, ids, hard));
        const before = await rolledBack(scope, (sql) => deleteBefore(sql, tenant.tenant_id, ids, hard));
        const label = `${hard ? "hard" : "soft"}, tenant ${tenant.tenant_id}, ${ids.length} ids`;
        expect(api.result, label).toEqual(before.result);
        expect(api.result.deleted!, label).toBeGreaterThan(0);
        expect(api.state, label).toEqual(before.state);
        expect(api.state.documents, `${label}: the call changed rows`).not.toEqual(initial.documents);
        if (hard) expect(api.state.chunks.n, `${label}: chunks went with their documents`).toBeLessThan(initial.chunks.n);
        else expect(api.state.chunks, `${label}: a soft delete keeps the chunks`).toEqual(initial.chunks);
      }
    });
  }

  test("tombstones connector documents once, and a sync then treats them as not new", async () => {
    const [tenant] = twoTenants(prng(4023), 100);
    const rows = await db().sql<{ id: string; connector_id: string; external_id: string }[]>`
      select id::text, connector_id::text, external_id from app.documents
      where tenant_id = ${tenant.tenant_id} and connector_id is not null and status <> 'deleted'
      order by id limit 6`;
    expect(rows.length).toBe(6);
    const soft = rows.slice(0, 3);
    const { result } = await rolledBack([], async (sql) => {
      const first = await deleteApi(sql, tenant.tenant_id, soft.map((r) => r.id), false);
      // hard-deleting documents that are soft-deleted already: they are found; their tombstones exist already
      const second = await deleteApi(sql, tenant.tenant_id, rows.map((r) => r.id), true);
      const again = await deleteApi(sql, tenant.tenant_id, rows.map((r) => r.id), true);
      const remaining = await sql<{ n: number }[]>`
        select count(*)::int as n from app.documents where tenant_id = ${tenant.tenant_id} and id = any (${rows.map((r) => r.id)}::bigint[])`;
      const fresh = await Promise.all(
        [...new Set(rows.map((r) => r.connector_id))].map((c) =>
          newExternalIdsApi(sql, tenant.tenant_id, c, rows.filter((r) => r.connector_id === c).map((r) => r.external_id)),
        ),
      );
      return { first, second, again, remaining: remaining[0]!.n, fresh: fresh.flat() };
    });
    expect(result.first).toEqual({ deleted: 3, not_found: 0, tombstoned: 3 });
    expect(result.second).toEqual({ deleted: 6, not_found: 0, tombstoned: 3 });
    expect(result.again).toEqual({ deleted: 0, not_found: 6, tombstoned: 0 });
    expect(result.remaining).toBe(0);
    expect(result.fresh, "tombstoned external ids are not new").toEqual([]);
  });

  test("runs the same statements for 1 id and for 500 (soft and hard)", async () => {
    const [tenant] = twoTenants(prng(4024), 400);
    for (const hard of [false, true]) {
      const few = await statementsOf((sql) => deleteApi(sql, tenant.tenant_id, tenant.live.slice(0, 1), hard));
      const many = await statementsOf((sql) => deleteApi(sql, tenant.tenant_id, tenant.ids.slice(0, 500), hard));
      expect(few.own, hard ? "hard" : "soft").toBeGreaterThan(0);
      expect(many.own, hard ? "hard" : "soft").toBe(few.own);
    }
  });

  test("plans a hard delete of hundreds of ids as primary key probes (the 1M tier: test/plans.test.ts)", async () => {
    const [tenant] = twoTenants(prng(4027), 400);
    const ids = pick(tenant.ids, 300, prng(4028));
    const plans = await nestedPlans(() => deleteApi(one, tenant.tenant_id, ids, true));
    const main = plans.find((p) => p["Query Text"].includes("delete from app.chunks"));
    expect(main, "the delete statement's plan").toBeDefined();
    // The ids are read through a scalar subquery, so the planner expects a handful of targets
    // (not 300) and probes the primary key for them (functions/api/documents.sql, "Plans").
    const target = nodes(main!.Plan).find((n) => n["Subplan Name"] === "CTE target");
    expect(target?.["Actual Rows"]).toBe(ids.length);
    expect(target?.["Plan Rows"]).toBeLessThan(50);
    expect(nodes(target!).filter((n) => n["Node Type"] === "Seq Scan")).toEqual([]);
    expect(nodes(target!).flatMap((n) => n["Index Name"] ?? [])).toEqual(["documents_pkey"]);
    // With that estimate, the chunk delete is a nested loop pruned at run time to one partition
    // per document. At the 10k tier all 16 chunk partitions are small enough that scanning
    // them whole may rightly cost less; at the 1M tier it must not: test/plans.test.ts,
    // "api.delete_documents (hard) of 300 ids at 1M".
  });

  test("locks its rows in id order, whatever the order of the ids given", async () => {
    const [tenant] = twoTenants(prng(4025), 100);
    const live = tenant.live;
    const [low, middle, high] = [live[0]!, live[Math.floor(live.length / 2)]!, live[live.length - 1]!];
    const holder = postgres(db().url, { max: 1, onnotice: () => {} });
    const caller = postgres(db().url, { max: 1, onnotice: () => {} });
    const probe = postgres(db().url, { max: 1, onnotice: () => {} });
    try {
      await holder`begin`;
      await holder`select id from app.documents where tenant_id = ${tenant.tenant_id} and id = ${middle} for update`;
      const [me] = await caller<{ pid: number }[]>`select pg_backend_pid() as pid`;
      const pid = me!.pid;
      await caller`begin`;
      const call = deleteApi(caller, tenant.tenant_id, [high, middle, low], false);
      // wait until the call is blocked on the row the holder has
      for (let i = 0; i < 200; i++) {
        const [row] = await probe<{ waiting: boolean }[]>`
          select wait_event_type = 'Lock' as waiting from pg_stat_activity where pid = ${pid}`;
        if (row?.waiting) break;
        await sleep(10);
      }
      await probe`begin`;
      const free = await probe<{ id: string }[]>`
        select id::text from app.documents
        where tenant_id = ${tenant.tenant_id} and id = any (${[low, middle, high]}::bigint[])
        for update skip locked`;
      await probe`rollback`;
      // the lowest id is locked by the call, the middle one by the holder, the highest not yet
      expect(free.map((r) => r.id)).toEqual([high]);
      await holder`rollback`;
      expect(await call).toEqual({ deleted: 3, not_found: 0, tombstoned: expect.any(Number) });
      await caller`rollback`;
    } finally {
      await Promise.all([holder.end(), caller.end(), probe.end()]);
    }
  });

  test("concurrent bulk calls over overlapping ids all finish (no deadlock)", async () => {
    const random = prng(4026);
    const [tenant] = twoTenants(random, 200);
    const pool = postgres(db().url, { max: 6, onnotice: () => {} });
    try {
      const calls = Array.from({ length: 6 }, (_, k) =>
        pool.begin(async (tx) => {
          const ids = shuffle(pick(tenant.live, 150, random), random);
          const [row] =
            k % 3 === 0
              ? await tx`select api.classify_documents(${tenant.tenant_id}, ${ids}::bigint[], 'concurrent') as r`
              : k % 3 === 1
                ? await tx`select api.confirm_classifications(${tenant.tenant_id}, ${ids}::bigint[]) as r`
                : await tx`select api.delete_documents(${tenant.tenant_id}, ${ids}::bigint[]) as r`;
          // hold the locks a moment so the calls overlap
          await tx`select pg_sleep(0.02)`;
          await tx`select 1/0`; // roll back: the seeded data stays as it is
          return row;
        }).catch((error: { code?: string }) => error.code),
      );
      const codes = await Promise.all(calls);
      expect(codes).toEqual(Array(6).fill("22012"));
    } finally {
      await pool.end();
    }
  });

  test("bad input is refused with the documented codes", async () => {
    const sql = db().sql;
    const t = tenants[0]!.tenant_id;
    expect(await codeOf(sql`select api.delete_documents(${null}, ${[1]}::bigint[])`)).toBe("QB001");
    expect(await codeOf(sql`select api.delete_documents(${-1}, ${[1]}::bigint[], true)`)).toBe("QB005");
    expect(await codeOf(sql`select api.delete_documents(${t}, ${[]}::bigint[])`)).toBe("QB002");
    expect(await codeOf(sql`select api.delete_documents(${t}, array(select generate_series(1, 10001))::bigint[])`)).toBe("QB003");
    expect(await codeOf(sql`select api.delete_documents(${t}, array[1, null]::bigint[])`)).toBe("QB007");
    expect(await codeOf(sql`select api.delete_documents(${t}, ${[1]}::bigint[], ${null})`)).toBe("QB001");
  });
});

describe("api.new_external_ids", () => {
  async function externalIdMix(random: () => number, tenant: TenantDocs, connectorId: string, n: number): Promise<string[]> {
    const stored = await db().sql<{ external_id: string }[]>`
      select external_id from app.documents where tenant_id = ${tenant.tenant_id} and connector_id = ${connectorId}`;
    const tombstoned = await db().sql<{ external_id: string }[]>`
      select external_id from app.deleted_documents where tenant_id = ${tenant.tenant_id} and connector_id = ${connectorId}`;
    const elsewhere = await db().sql<{ external_id: string }[]>`
      select external_id from app.documents where connector_id is not null and connector_id <> ${connectorId} limit 200`;
    const fresh = Array.from({ length: n }, (_, i) => `new-${Math.floor(random() * 1e9)}-${i}`);
    const ids = [
      ...pick(stored.map((r) => r.external_id), n, random),
      ...pick(tombstoned.map((r) => r.external_id), n, random),
      ...pick(elsewhere.map((r) => r.external_id), n, random),
      ...fresh,
    ];
    return shuffle([...ids, ...pick(ids, 5, random)], random);
  }

  test("the same ids, in the same order, as the load-all and the per-id before code", async () => {
    const random = prng(4031);
    for (let round = 0; round < ROUNDS; round++) {
      const [tenant] = twoTenants(random, 30);
      const connectorId = pick(tenant.connector_ids, 1, random)[0]!;
      const ids = await externalIdMix(random, tenant, connectorId, 5 + Math.floor(random() * 30));
      const api = await newExternalIdsApi(one, tenant.tenant_id, connectorId, ids);
      const loadAll = await newExternalIdsLoadAllBefore(db().sql, tenant.tenant_id, connectorId, ids);
      const perId = await newExternalIdsBefore(db().sql, tenant.tenant_id, connectorId, ids);
      const label = `tenant ${tenant.tenant_id}, connector ${connectorId}, ${ids.length} ids`;
      expect(api, label).toEqual(loadAll);
      expect(api, label).toEqual(perId);
      expect(api.length, `${label}: some are new`).toBeGreaterThan(0);
      expect(api.length, `${label}: some are not`).toBeLessThan(new Set(ids).size);
    }
  });

  test("an empty array when nothing is new; soft-deleted documents are not new", async () => {
    const [row] = await db().sql<{ tenant_id: string; connector_id: string; external_id: string }[]>`
      select tenant_id::text, connector_id::text, external_id from app.documents
      where connector_id is not null and status = 'deleted' order by id limit 1`;
    expect(row).toBeDefined();
    expect(await newExternalIdsApi(db().sql, row!.tenant_id, row!.connector_id, [row!.external_id])).toEqual([]);
  });

  test("probes the unique indexes once per distinct id, with the cached generic plan too", async () => {
    const random = prng(4033);
    const [tenant] = twoTenants(random, 400);
    const connectorId = tenant.connector_ids[0]!;
    const ids = await externalIdMix(random, tenant, connectorId, 100);
    const distinct = new Set(ids).size;
    for (let call = 0; call < 6; call++) await newExternalIdsApi(one, tenant.tenant_id, connectorId, ids);
    const plans = await nestedPlans(() => newExternalIdsApi(one, tenant.tenant_id, connectorId, ids));
    const main = plans.find((p) => p["Query Text"].includes("app.deleted_documents"));
    expect(main, "the statement's plan").toBeDefined();
    const probes = (index: string) =>
      nodes(main!.Plan)
        .filter((n) => n["Index Name"] === index)
        .map((n) => n["Actual Loops"]);
    const stored = probes("documents_tenant_id_connector_id_external_id_key");
    const tombstoned = probes("deleted_documents_tenant_id_connector_id_external_id_key");
    // every distinct id is looked up among the documents; those not found, among the tombstones
    expect(stored).toEqual([distinct]);
    expect(tombstoned.length).toBe(1);
    expect(tombstoned[0]).toBeGreaterThan(0);
    expect(tombstoned[0]).toBeLessThan(distinct);
    expect(nodes(main!.Plan).filter((n) => n["Node Type"] === "Seq Scan")).toEqual([]);
  });

  test("runs the same statements for 1 id and for 500", async () => {
    const random = prng(4032);
    const [tenant] = twoTenants(random, 400);
    const connectorId = tenant.connector_ids[0]!;
    const mix = await externalIdMix(random, tenant, connectorId, 100);
    const ids = [...mix, ...Array.from({ length: 500 }, (_, i) => `padding-${i}`)].slice(0, 500);
    const few = await statementsOf((sql) => newExternalIdsApi(sql, tenant.tenant_id, connectorId, ids.slice(0, 1)));
    const many = await statementsOf((sql) => newExternalIdsApi(sql, tenant.tenant_id, connectorId, ids.slice(0, 500)));
    expect(ids.length).toBeGreaterThanOrEqual(500);
    expect(few.own).toBeGreaterThan(0);
    expect(many.own).toBe(few.own);
  });

  test("bad input is refused with the documented codes; a connector of another tenant is QB009", async () => {
    const sql = db().sql;
    const [a, b] = tenants.filter((t) => t.connector_ids.length > 0);
    const t = a!.tenant_id;
    const c = a!.connector_ids[0]!;
    expect(await codeOf(sql`select api.new_external_ids(${null}, ${c}, ${["x"]}::text[])`)).toBe("QB001");
    expect(await codeOf(sql`select api.new_external_ids(${-1}, ${c}, ${["x"]}::text[])`)).toBe("QB005");
    expect(await codeOf(sql`select api.new_external_ids(${t}, ${null}, ${["x"]}::text[])`)).toBe("QB001");
    expect(await codeOf(sql`select api.new_external_ids(${t}, ${c}, ${null}::text[])`)).toBe("QB001");
    expect(await codeOf(sql`select api.new_external_ids(${t}, ${c}, ${[]}::text[])`)).toBe("QB002");
    expect(await codeOf(sql`select api.new_external_ids(${t}, ${c}, array(select g::text from generate_series(1, 10001) g))`)).toBe("QB003");
    expect(await codeOf(sql`select api.new_external_ids(${t}, ${c}, array['a', null])`)).toBe("QB007");
    expect(await codeOf(sql`select api.new_external_ids(${t}, ${b!.connector_ids[0]!}, ${["x"]}::text[])`)).toBe("QB009");
    expect(await codeOf(sql`select api.new_external_ids(${t}, ${-1}, ${["x"]}::text[])`)).toBe("QB009");
  });
});

describe("api.purge_documents", () => {
  const purgeNotices = () => notices.filter((n) => n.message.startsWith("purge_documents:"));

  test("deletes every document and chunk of the tenant in batches, as many as the one big DELETE, and nothing else", async () => {
    const random = prng(4041);
    const candidates = tenants.filter((t) => t.ids.length >= 20 && t.ids.length <= 100);
    const tenant = pick(candidates, 1, random)[0]!;
    const batch = 3 + Math.floor(random() * 5);
    const [expected] = await db().sql<{ documents: number; chunks: number }[]>`
      select (select count(*)::int from app.documents where tenant_id = ${tenant.tenant_id}) as documents,
             (select count(*)::int from app.chunks where tenant_id = ${tenant.tenant_id}) as chunks`;
    const before = await rolledBack([tenant.tenant_id], (sql) => purgeBefore(sql, tenant.tenant_id));
    const othersBefore = await stateOf(db().sql, [tenant.tenant_id], true);
    const ownTombstones = (await stateOf(db().sql, [tenant.tenant_id])).tombstones;

    notices.length = 0;
    const [row] = await one<{ p_deleted: string }[]>`call api.purge_documents(${tenant.tenant_id}, ${batch})`;
    const label = `tenant ${tenant.tenant_id}, batches of ${batch}`;
    expect(Number(row!.p_deleted), label).toBe(expected!.documents);
    expect(before.result, label).toBe(expected!.documents);
    expect(purgeNotices().length, `${label}: one notice per batch`).toBe(Math.ceil(expected!.documents / batch));
    const after = await stateOf(db().sql, [tenant.tenant_id]);
    expect(after.documents.n, label).toBe(0);
    expect(after.chunks.n, label).toBe(0);
    expect(before.state.documents.n + before.state.chunks.n, `${label}: the before code too`).toBe(0);
    expect(after.tombstones, `${label}: tombstones kept, none written`).toEqual(ownTombstones);
    expect(await stateOf(db().sql, [tenant.tenant_id], true), `${label}: other tenants untouched`).toEqual(othersBefore);
    expect(expected!.chunks).toBeGreaterThan(0);

    // a second purge finds nothing
    const [again] = await one<{ p_deleted: string }[]>`call api.purge_documents(${tenant.tenant_id})`;
    expect(Number(again!.p_deleted)).toBe(0);
  });

  test("holds no lock longer than about one batch: a second connection writes to the tenant meanwhile", async () => {
    // Two big tenants of the same size: one purged by api.purge_documents in small batches,
    // one by the before code's single DELETE. A writer inserts new documents of the tenant and
    // updates random existing ones while each purge runs; an update of a row the purge has
    // deleted but not committed waits for that commit.
    const documents = 12000;
    const setup = db().sql;
    async function bigTenant(name: string) {
      const [t] = await setup<{ tenant_id: string }[]>`insert into app.tenants (name) values (${name}) returning tenant_id::text`;
      const tenantId = t!.tenant_id;
      const [u] = await setup<{ id: string }[]>`
        insert into app.users (tenant_id, email, display_name) values (${tenantId}, ${name + "@example.com"}, ${name}) returning id::text`;
      const collections = await setup<{ id: string }[]>`
        insert into app.collections (tenant_id, owner_id, name)
        select ${tenantId}, ${u!.id}, 'big ' || g from generate_series(1, 8) g returning id::text`;
      const ids = collections.map((c) => c.id);
      const docs = await setup<{ id: string }[]>`
        insert into app.documents (tenant_id, collection_id, title)
        select ${tenantId}, (${ids}::bigint[])[1 + g % 8], 'big document ' || g from generate_series(1, ${documents}) g
        returning id::text`;
      await setup`
        insert into app.chunks (tenant_id, collection_id, document_id, chunk_index, content, size)
        select d.tenant_id, d.collection_id, d.id, k, repeat('x', 200), 200
        from app.documents d cross join generate_series(0, 3) k
        where d.tenant_id = ${tenantId}`;
      return { tenantId, collectionId: ids[0]!, ids: docs.map((d) => d.id) };
    }
    const a = await bigTenant("purge-batched");
    const b = await bigTenant("purge-at-once");
    await setup`analyze app.documents`;
    await setup`analyze app.chunks`;

    async function writeDuring(
      purge: Promise<unknown>,
      target: { tenantId: string; collectionId: string; ids: string[] },
      seed: number,
    ): Promise<{ insertMax: number; updateMax: number; writes: number; ms: number }> {
      const random = prng(seed);
      const writer = postgres(db().url, { max: 1, onnotice: () => {} });
      let done = false;
      const started = performance.now();
      purge.then(
        () => (done = true),
        () => (done = true),
      );
      let insertMax = 0;
      let updateMax = 0;
      let writes = 0;
      try {
        await writer`select 1`;
        while (!done) {
          let t0 = performance.now();
          await writer`insert into app.documents (tenant_id, collection_id, title) values (${target.tenantId}, ${target.collectionId}, 'written meanwhile')`;
          insertMax = Math.max(insertMax, performance.now() - t0);
          const id = target.ids[Math.floor(random() * target.ids.length)]!;
          t0 = performance.now();
          await writer`update app.documents set updated_at = now() where tenant_id = ${target.tenantId} and id = ${id}`;
          updateMax = Math.max(updateMax, performance.now() - t0);
          writes++;
          await sleep(5);
        }
        await purge;
        return { insertMax, updateMax, writes, ms: performance.now() - started };
      } finally {
        await writer.end();
      }
    }

    notices.length = 0;
    const batched = one`call api.purge_documents(${a.tenantId}, ${100})`;
    const duringBatched = await writeDuring(batched, a, 4042);
    const batchTimes = purgeNotices().map((n) => n.at);
    const longestBatch = Math.max(...batchTimes.slice(1).map((t, i) => t - batchTimes[i]!));

    const atOnce = postgres(db().url, { max: 1, onnotice: () => {} });
    let duringAtOnce;
    try {
      duringAtOnce = await writeDuring(purgeBefore(atOnce, b.tenantId), b, 4043);
    } finally {
      await atOnce.end();
    }

    const report =
      `batched: ${duringBatched.ms.toFixed(0)} ms, ${batchTimes.length} batches (longest ${longestBatch.toFixed(0)} ms), ` +
      `${duringBatched.writes} writes, max insert ${duringBatched.insertMax.toFixed(0)} ms, max update ${duringBatched.updateMax.toFixed(0)} ms; ` +
      `at once: ${duringAtOnce.ms.toFixed(0)} ms, ${duringAtOnce.writes} writes, max insert ${duringAtOnce.insertMax.toFixed(0)} ms, ` +
      `max update ${duringAtOnce.updateMax.toFixed(0)} ms`;
    console.log(report);
    expect(batchTimes.length, report).toBeGreaterThanOrEqual(documents / 100);
    expect(duringBatched.writes, report).toBeGreaterThan(5);
    // the reference shows what the test can see: the single DELETE blocks the writer for most of its run
    expect(duringAtOnce.updateMax, report).toBeGreaterThan(duringAtOnce.ms / 2);
    // the batched purge does not: a write waits at most about one batch
    const bound = Math.max(4 * longestBatch, 150);
    expect(duringBatched.updateMax, report).toBeLessThan(bound);
    expect(duringBatched.insertMax, report).toBeLessThan(bound);
    expect(duringBatched.updateMax, report).toBeLessThan(duringAtOnce.updateMax / 2);

    // everything of the seed's data is gone; what the writer inserted after the purge passed may remain
    const [left] = await setup<{ old: number; chunks: number }[]>`
      select (select count(*)::int from app.documents where tenant_id = ${a.tenantId} and id <= ${a.ids[a.ids.length - 1]!}) as old,
             (select count(*)::int from app.chunks where tenant_id = ${a.tenantId}) as chunks`;
    expect(left).toEqual({ old: 0, chunks: 0 });
  });

  test("must be called outside a transaction block (it commits)", async () => {
    const t = tenants[0]!.tenant_id;
    await one`begin`;
    try {
      expect(await codeOf(one`call api.purge_documents(${t}, ${10})`)).toBe("2D000");
    } finally {
      await one`rollback`;
    }
  });

  test("bad input is refused with the documented codes", async () => {
    const sql = db().sql;
    const t = tenants[0]!.tenant_id;
    expect(await codeOf(sql`call api.purge_documents(${null}, ${10})`)).toBe("QB001");
    expect(await codeOf(sql`call api.purge_documents(${-1}, ${10})`)).toBe("QB005");
    expect(await codeOf(sql`call api.purge_documents(${t}, ${null})`)).toBe("QB001");
    expect(await codeOf(sql`call api.purge_documents(${t}, ${0})`)).toBe("QB004");
    expect(await codeOf(sql`call api.purge_documents(${t}, ${10001})`)).toBe("QB004");
    const [n] = await sql<{ n: number }[]>`select count(*)::int as n from app.documents where tenant_id = ${t}`;
    expect(n!.n, "a refused call deleted nothing").toBe(tenants[0]!.ids.length);
  });
});
