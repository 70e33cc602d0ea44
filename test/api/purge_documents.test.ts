// api.purge_documents (seed 004's "delete every document of a tenant"): a procedure that
// deletes in batches, each one call of api.purge_documents_batch committed on its own, checked
// against the seed's "before" code (scripts/lib/before/documents.ts: one big DELETE).
import postgres from "postgres";
import { describe, expect, test } from "vitest";
import { purgeDocuments as purgeBefore } from "../../scripts/lib/before/documents.ts";
import { useTestDatabase } from "../harness/database.ts";
import { sqlState } from "../harness/errors.ts";
import {
  rolledBack,
  sleep,
  stateOf,
  useDocumentFixtures,
} from "../harness/fixtures.ts";
import { pick, prng } from "../harness/random.ts";

const db = useTestDatabase("purge_documents");
const f = useDocumentFixtures(db);

/** The notices api.purge_documents sent on `one`: one per batch. */
const purgeNotices = () =>
  f().notices.filter((n) => n.message.startsWith("purge_documents:"));

interface BigTenant {
  tenantId: string;
  collectionId: string;
  ids: string[];
}

/** A new tenant with `documents` documents in 8 collections, four chunks each. */
async function bigTenant(name: string, documents: number): Promise<BigTenant> {
  const sql = db().sql;
  const [t] = await sql<
    { tenant_id: string }[]
  >`insert into app.tenants (name) values (${name}) returning tenant_id::text`;
  const tenantId = t!.tenant_id;
  const [u] = await sql<{ id: string }[]>`
    insert into app.users (tenant_id, email, display_name) values (${tenantId}, ${name + "@example.com"}, ${name}) returning id::text`;
  const collections = await sql<{ id: string }[]>`
    insert into app.collections (tenant_id, owner_id, name)
    select ${tenantId}, ${u!.id}, 'big ' || g from generate_series(1, 8) g returning id::text`;
  const ids = collections.map((c) => c.id);
  const docs = await sql<{ id: string }[]>`
    insert into app.documents (tenant_id, collection_id, title)
    select ${tenantId}, (${ids}::bigint[])[1 + g % 8], 'big document ' || g from generate_series(1, ${documents}) g
    returning id::text`;
  await sql`
    insert into app.chunks (tenant_id, collection_id, document_id, chunk_index, content, size)
    select d.tenant_id, d.collection_id, d.id, k, repeat('x', 200), 200
    from app.documents d cross join generate_series(0, 3) k
    where d.tenant_id = ${tenantId}`;
  return { tenantId, collectionId: ids[0]!, ids: docs.map((d) => d.id) };
}

interface Writes {
  insertMax: number;
  updateMax: number;
  writes: number;
  ms: number;
}

/**
 * While `purge` runs, a writer on a connection of its own inserts new documents of the tenant
 * and updates random existing ones (an update of a row the purge has deleted but not
 * committed waits for that commit); returns the longest waits.
 */
async function writeDuring(
  purge: Promise<unknown>,
  target: BigTenant,
  seed: number,
): Promise<Writes> {
  const random = prng(seed);
  const writer = postgres(db().url, { max: 1, onnotice: () => {} });
  let done = false;
  const started = performance.now();
  purge.then(
    () => (done = true),
    () => (done = true),
  );
  const w = { insertMax: 0, updateMax: 0, writes: 0 };
  try {
    await writer`select 1`;
    while (!done) {
      let t0 = performance.now();
      await writer`insert into app.documents (tenant_id, collection_id, title) values (${target.tenantId}, ${target.collectionId}, 'written meanwhile')`;
      w.insertMax = Math.max(w.insertMax, performance.now() - t0);
      const id = target.ids[Math.floor(random() * target.ids.length)]!;
      t0 = performance.now();
      await writer`update app.documents set updated_at = now() where tenant_id = ${target.tenantId} and id = ${id}`;
      w.updateMax = Math.max(w.updateMax, performance.now() - t0);
      w.writes++;
      await sleep(5);
    }
    await purge;
    return { ...w, ms: performance.now() - started };
  } finally {
    await writer.end();
  }
}

describe("api.purge_documents", () => {
  test("deletes every document and chunk of the tenant in batches, as many as the one big DELETE, and nothing else", async () => {
    // Setup: a tenant of 20 to 100 documents, what it has, and the before code's answer
    const random = prng(4041);
    const tenant = pick(
      f().tenants.filter((t) => t.ids.length >= 20 && t.ids.length <= 100),
      1,
      random,
    )[0]!;
    const batch = 3 + Math.floor(random() * 5);
    const [expected] = await db().sql<{ documents: number; chunks: number }[]>`
      select (select count(*)::int from app.documents where tenant_id = ${tenant.tenant_id}) as documents,
             (select count(*)::int from app.chunks where tenant_id = ${tenant.tenant_id}) as chunks`;
    const before = await rolledBack(f().one, [tenant.tenant_id], (sql) =>
      purgeBefore(sql, tenant.tenant_id),
    );
    const othersBefore = await stateOf(db().sql, [tenant.tenant_id], true);
    const ownTombstones = (await stateOf(db().sql, [tenant.tenant_id]))
      .tombstones;

    // Action
    f().notices.length = 0;
    const [row] = await f().one<
      { p_deleted: string }[]
    >`call api.purge_documents(${tenant.tenant_id}, ${batch})`;

    // Assertions
    const label = `tenant ${tenant.tenant_id}, batches of ${batch}`;
    expect(Number(row!.p_deleted), label).toBe(expected!.documents);
    expect(before.result, label).toBe(expected!.documents);
    expect(purgeNotices().length, `${label}: one notice per batch`).toBe(
      Math.ceil(expected!.documents / batch),
    );
    const after = await stateOf(db().sql, [tenant.tenant_id]);
    expect(after.documents.n, label).toBe(0);
    expect(after.chunks.n, label).toBe(0);
    expect(
      before.state.documents.n + before.state.chunks.n,
      `${label}: the before code too`,
    ).toBe(0);
    expect(after.tombstones, `${label}: tombstones kept, none written`).toEqual(
      ownTombstones,
    );
    expect(
      await stateOf(db().sql, [tenant.tenant_id], true),
      `${label}: other tenants untouched`,
    ).toEqual(othersBefore);
    expect(expected!.chunks).toBeGreaterThan(0);

    // a second purge finds nothing
    const [again] = await f().one<
      { p_deleted: string }[]
    >`call api.purge_documents(${tenant.tenant_id})`;
    expect(Number(again!.p_deleted)).toBe(0);
  });

  test("holds no lock longer than about one batch: a second connection writes to the tenant meanwhile", async () => {
    // Setup: two big tenants of the same size, one for api.purge_documents in small batches,
    // one for the before code's single DELETE
    const documents = 12000;
    const a = await bigTenant("purge-batched", documents);
    const b = await bigTenant("purge-at-once", documents);
    await db().sql`analyze app.documents`;
    await db().sql`analyze app.chunks`;

    // Action: each purge with a writer at work meanwhile
    f().notices.length = 0;
    const duringBatched = await writeDuring(
      f().one`call api.purge_documents(${a.tenantId}, ${100})`,
      a,
      4042,
    );
    const batchTimes = purgeNotices().map((n) => n.at);
    const longestBatch = Math.max(
      ...batchTimes.slice(1).map((t, i) => t - batchTimes[i]!),
    );
    const atOnce = postgres(db().url, { max: 1, onnotice: () => {} });
    const duringAtOnce = await writeDuring(
      purgeBefore(atOnce, b.tenantId),
      b,
      4043,
    ).finally(() => atOnce.end());

    // Assertions
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
    expect(duringBatched.updateMax, report).toBeLessThan(
      duringAtOnce.updateMax / 2,
    );
    // everything of the seed's data is gone; what the writer inserted after the purge passed may remain
    const [left] = await db().sql<{ old: number; chunks: number }[]>`
      select (select count(*)::int from app.documents where tenant_id = ${a.tenantId} and id <= ${a.ids[a.ids.length - 1]!}) as old,
             (select count(*)::int from app.chunks where tenant_id = ${a.tenantId}) as chunks`;
    expect(left).toEqual({ old: 0, chunks: 0 });
  });

  test("must be called outside a transaction block (it commits)", async () => {
    // Setup
    const t = f().tenants[0]!.tenant_id;
    await f().one`begin`;
    try {
      // Action, Assertions
      expect(
        await sqlState(f().one`call api.purge_documents(${t}, ${10})`),
      ).toBe("2D000");
    } finally {
      await f().one`rollback`;
    }
  });

  test("bad input is refused with the documented codes", async () => {
    // Setup
    const sql = db().sql;
    const t = f().tenants[0]!.tenant_id;

    // Action, Assertions
    expect(await sqlState(sql`call api.purge_documents(${null}, ${10})`)).toBe(
      "QB001",
    );
    expect(await sqlState(sql`call api.purge_documents(${-1}, ${10})`)).toBe(
      "QB005",
    );
    expect(await sqlState(sql`call api.purge_documents(${t}, ${null})`)).toBe(
      "QB001",
    );
    expect(await sqlState(sql`call api.purge_documents(${t}, ${0})`)).toBe(
      "QB004",
    );
    expect(await sqlState(sql`call api.purge_documents(${t}, ${10001})`)).toBe(
      "QB004",
    );
    const [n] = await sql<
      { n: number }[]
    >`select count(*)::int as n from app.documents where tenant_id = ${t}`;
    expect(n!.n, "a refused call deleted nothing").toBe(
      f().tenants[0]!.ids.length,
    );
  });
});
