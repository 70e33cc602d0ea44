// Shared fixtures of the document api tests (test/api/*.test.ts): the seeded tenants and their
// documents, a mix of ids to call with, a snapshot of the rows a call may change, work run in a
// transaction that is rolled back, and the api calls themselves.
import postgres from "postgres";
import { afterAll, beforeAll, expect } from "vitest";
import { countRolledBack } from "../../scripts/lib/query-counter.ts";
import type { TestDatabase } from "./database.ts";
import { pick } from "./random.ts";

// Comparisons run 7 rounds on one connection: from the sixth call on, a plpgsql function may
// use its cached generic plan, which must give the same answers (DESIGN.md).
export const ROUNDS = 7;

export const sleep = (ms: number) =>
  new Promise((resolve) => setTimeout(resolve, ms));
export const shuffle = <T>(items: readonly T[], random: () => number): T[] =>
  pick(items, items.length, random);

/** One seeded tenant: its documents (any status, and live ones) and connectors, ids as text. */
export interface TenantDocs {
  tenant_id: string;
  ids: string[];
  live: string[];
  connector_ids: string[];
}

interface TableSum {
  n: number;
  md5: string;
}
/** A checksum of the rows a document call may change. */
export interface State {
  documents: TableSum;
  chunks: TableSum;
  tombstones: TableSum;
}

export interface Notice {
  at: number;
  message: string;
}

export interface DocumentFixtures {
  /** One connection (max: 1) for everything that needs BEGIN ... ROLLBACK or counts notices. */
  one: postgres.Sql;
  /** The notices `one` received (cleared by whoever reads them). */
  notices: Notice[];
  tenants: TenantDocs[];
  maxDocumentId: bigint;
}

/** In a test file, after useTestDatabase: `const f = useDocumentFixtures(db)`, then `f().tenants` inside tests. */
export function useDocumentFixtures(
  db: () => TestDatabase,
): () => DocumentFixtures {
  let fixtures: DocumentFixtures | undefined;
  beforeAll(async () => {
    const notices: Notice[] = [];
    const one = postgres(db().url, {
      max: 1,
      onnotice: (n) =>
        notices.push({ at: performance.now(), message: String(n.message) }),
    });
    const tenants = await db().sql<TenantDocs[]>`
      select t.tenant_id::text,
             coalesce((select array_agg(d.id::text order by d.id) from app.documents d where d.tenant_id = t.tenant_id), '{}') as ids,
             coalesce((select array_agg(d.id::text order by d.id) from app.documents d
                       where d.tenant_id = t.tenant_id and d.status <> 'deleted'), '{}') as live,
             coalesce((select array_agg(c.id::text order by c.id) from app.connectors c where c.tenant_id = t.tenant_id), '{}') as connector_ids
      from app.tenants t
      order by t.tenant_id`;
    const [row] = await db().sql<
      { max: string }[]
    >`select coalesce(max(id), 0)::text as max from app.documents`;
    fixtures = {
      one,
      notices,
      tenants: [...tenants],
      maxDocumentId: BigInt(row!.max),
    };
  });
  afterAll(async () => {
    await fixtures?.one.end({ timeout: 5 });
  });
  return () => {
    if (!fixtures)
      throw new Error(
        "the document fixtures are made in beforeAll; use them inside a test",
      );
    return fixtures;
  };
}

/** A tenant with at least `min` documents, and another tenant, picked at random. */
export function twoTenants(
  tenants: TenantDocs[],
  random: () => number,
  min: number,
): [TenantDocs, TenantDocs] {
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

/**
 * n documents of the tenant (any status, so soft-deleted ones too), a few of another tenant,
 * unknown ids (above the highest document id) and duplicates, shuffled.
 */
export function idMix(
  random: () => number,
  tenant: TenantDocs,
  other: TenantDocs,
  n: number,
  maxDocumentId: bigint,
): string[] {
  const own = pick(tenant.ids, n, random);
  const foreign = pick(other.ids, 5, random);
  const unknown = [1n, 17n, 1000n].map((k) => String(maxDocumentId + k));
  const duplicates = pick(own, 3, random);
  return shuffle([...own, ...foreign, ...unknown, ...duplicates], random);
}

/**
 * A checksum of the documents, chunks and tombstones of the given tenants (or of every tenant
 * but them). Timestamps set by the call are written as 'now' (now() is the transaction's
 * start, which differs between the two transactions compared), others as they are.
 */
export async function stateOf(
  sql: postgres.Sql,
  tenantIds: string[],
  except = false,
): Promise<State> {
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

/** Runs fn on `one` (a client with max: 1) inside BEGIN ... ROLLBACK; returns its result and the state it left. */
export async function rolledBack<T>(
  one: postgres.Sql,
  tenantIds: string[],
  fn: (sql: postgres.Sql) => Promise<T>,
): Promise<{ result: T; state: State }> {
  await one`begin`;
  try {
    const result = await fn(one);
    const state = await stateOf(one, tenantIds);
    return { result, state };
  } finally {
    await one`rollback`;
  }
}

/**
 * The statements a call runs, counted by pg_stat_statements (track = all) on `one`, rolled back
 * (countRolledBack of scripts/lib/query-counter.ts): `own` are the function's, `ri` the foreign
 * key triggers' (PostgreSQL's RI checks, one per row inserted into a referencing table or deleted
 * from a referenced one), counted apart.
 */
export const statementsOf = (
  one: postgres.Sql,
  run: (conn: postgres.ReservedSql) => Promise<unknown>,
) =>
  countRolledBack(one, run).then((c) => ({
    own: c.statements - c.foreignKeyChecks,
    ri: c.foreignKeyChecks,
  }));

/** A document call's answer: updated, confirmed or deleted; not_found; tombstoned. */
export type Counts = Record<string, number>;

/** The one value `select api.f(...) as r` returns. */
async function value<T>(query: postgres.PendingQuery<{ r: T }[]>): Promise<T> {
  const [row] = await query;
  return row!.r;
}

/** The bulk document routines of schema api, called as an application would. */
export const documentsApi = {
  classify: (sql: postgres.Sql, t: string, ids: string[], c: string) =>
    value(
      sql<
        { r: Counts }[]
      >`select api.classify_documents(${t}, ${ids}::bigint[], ${c}) as r`,
    ),
  confirm: (sql: postgres.Sql, t: string, ids: string[]) =>
    value(
      sql<
        { r: Counts }[]
      >`select api.confirm_classifications(${t}, ${ids}::bigint[]) as r`,
    ),
  delete: (sql: postgres.Sql, t: string, ids: string[], hard: boolean) =>
    value(
      sql<
        { r: Counts }[]
      >`select api.delete_documents(${t}, ${ids}::bigint[], ${hard}) as r`,
    ),
  newExternalIds: (
    sql: postgres.Sql,
    t: string,
    connector: string,
    ids: string[],
  ) =>
    value(
      sql<
        { r: string[] }[]
      >`select api.new_external_ids(${t}, ${connector}, ${ids}::text[]) as r`,
    ),
};

export interface Comparison<T, U> {
  label: string;
  /** The state before either ran. */
  initial: State;
  api: { result: T; state: State };
  before: { result: U; state: State };
}

/**
 * One round of "the api function against the seed's before code": a tenant with at least 30
 * documents and another one, an idMix of `5 + up to spread` of its documents, then `draw` (a
 * further argument, e.g. a classification), both run on the same starting state, each rolled
 * back, with the state of both tenants after each.
 */
export async function compareWithBefore<T, U, A = undefined>(
  f: DocumentFixtures,
  random: () => number,
  spread: number,
  call: {
    api: (
      sql: postgres.Sql,
      tenant: string,
      ids: string[],
      arg: A,
    ) => Promise<T>;
    before: (
      sql: postgres.Sql,
      tenant: string,
      ids: string[],
      arg: A,
    ) => Promise<U>;
    draw?: (random: () => number) => A;
  },
): Promise<Comparison<T, U>> {
  const [tenant, other] = twoTenants(f.tenants, random, 30);
  const ids = idMix(
    random,
    tenant,
    other,
    5 + Math.floor(random() * spread),
    f.maxDocumentId,
  );
  const arg = call.draw?.(random) as A;
  const scope = [tenant.tenant_id, other.tenant_id];
  const initial = await stateOf(f.one, scope);
  return {
    label: `tenant ${tenant.tenant_id}, ${ids.length} ids`,
    initial,
    api: await rolledBack(f.one, scope, (sql) =>
      call.api(sql, tenant.tenant_id, ids, arg),
    ),
    before: await rolledBack(f.one, scope, (sql) =>
      call.before(sql, tenant.tenant_id, ids, arg),
    ),
  };
}

/**
 * A count and an md5 of the rows of every app table (partitioned ones through their parent) and
 * of the stats view; of one tenant's rows only when `tenant` is given.
 */
export async function tableChecksums(
  sql: postgres.Sql,
  tenant?: string,
): Promise<Record<string, string>> {
  const tables = await sql<{ name: string }[]>`
    select c.oid::regclass::text as name from pg_class c
    where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p', 'm') and not c.relispartition
    order by 1`;
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    const where = tenant === undefined ? "" : " where t.tenant_id = $1";
    const [r] = await sql.unsafe(
      `select count(*)::text || ' ' || md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as sum from ${name} t${where}`,
      tenant === undefined ? [] : [tenant],
    );
    out[name] = (r as unknown as { sum: string }).sum;
  }
  return out;
}
