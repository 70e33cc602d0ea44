// Proof of exactness (issue 12, item 2): after long random mixes of every write routine that
// changes the collection statistics (documents added, synced, classified, confirmed, soft and
// hard deleted, purged; chunks replaced; operations enqueued, claimed, finished, cancelled),
// TTL and a retention drop of an operations partition, 8 connections at once with folds in
// between, perf.collection_stats_drift() (the maintained statistics against a full
// recomputation from the rows) is empty for every collection, and the default
// api.collection_statistics returns the same jsonb as p_fresh => true. And the check can fail:
// a delta left out, or a row written around the api, shows in the drift.
import postgres from "postgres";
import { beforeAll, describe, expect, test } from "vitest";
import { useTestDatabase } from "./harness/database.ts";
import { pick, prng } from "./harness/random.ts";

const db = useTestDatabase("statistics-drift");

interface Collection {
  tenant_id: string;
  collection_id: string;
  connector_id: string | null;
}
interface Drift {
  tenant_id: string;
  collection_id: string;
  field: string;
  maintained: unknown;
  recomputed: unknown;
}

let collections: Collection[];

async function drift(sql: postgres.Sql): Promise<Drift[]> {
  return sql<Drift[]>`
    select tenant_id::text, collection_id::text, field, maintained, recomputed
    from perf.collection_stats_drift()`;
}

/** Collections whose default statistics differ from the fresh ones (as_of apart). */
async function defaultVersusFresh(sql: postgres.Sql): Promise<string[]> {
  const rows = await sql<
    { tenant_id: string; collection_id: string; d: string; f: string }[]
  >`
    select c.tenant_id::text, c.id::text as collection_id,
           (api.collection_statistics(c.tenant_id, c.id) - 'as_of')::text as d,
           (api.collection_statistics(c.tenant_id, c.id, true) - 'as_of')::text as f
    from app.collections c
    where c.tenant_id = any (${collections.map((c) => c.tenant_id)}::bigint[])`;
  return rows
    .filter((r) => r.d !== r.f)
    .map((r) => `${r.tenant_id}/${r.collection_id}: ${r.d} <> ${r.f}`);
}

const content = (random: () => number) =>
  "c".repeat(1 + Math.floor(random() * 2500));

/** One random write through the api on one connection; returns its name. */
async function randomWrite(
  sql: postgres.ReservedSql,
  random: () => number,
  tag: string,
): Promise<string> {
  const c = collections[Math.floor(random() * collections.length)]!;
  const docs = async (n: number, anyCollection = false) =>
    (
      await sql<{ id: string }[]>`
        select id::text from app.documents
        where tenant_id = ${c.tenant_id} and (${anyCollection} or collection_id = ${c.collection_id})
        order by md5(id::text || ${tag}) limit ${n}`
    ).map((r) => Number(r.id));
  const ops = async (n: number) =>
    (
      await sql<{ id: string }[]>`
        select id::text from app.operations
        where tenant_id = ${c.tenant_id} and status in ('pending', 'processing')
        order by md5(id::text || ${tag}) limit ${n}`
    ).map((r) => Number(r.id));
  const kind = Math.floor(random() * 12);
  switch (kind) {
    case 0:
      await sql`select * from api.add_documents(${c.tenant_id}, ${c.collection_id},
        ${JSON.stringify([{ title: `${tag}-a` }, { title: `${tag}-b` }])}::text::jsonb)`;
      return "add_documents";
    case 1:
      if (!c.connector_id) return "skip";
      await sql`select api.sync_documents(${c.tenant_id}, ${c.connector_id}, ${c.collection_id},
        ${JSON.stringify([
          { external_id: `${tag}-x`, title: "x" },
          { external_id: `drift-${Math.floor(random() * 5)}`, title: tag },
        ])}::text::jsonb)`;
      return "sync_documents";
    case 2:
      await sql`select api.classify_documents(${c.tenant_id}, ${await docs(3)}::bigint[], 'drift')`;
      return "classify_documents";
    case 3:
      await sql`select api.confirm_classifications(${c.tenant_id}, ${await docs(3)}::bigint[])`;
      return "confirm_classifications";
    case 4:
      await sql`select api.delete_documents(${c.tenant_id}, ${await docs(2)}::bigint[])`;
      return "delete_documents soft";
    case 5:
      await sql`select api.delete_documents(${c.tenant_id}, ${await docs(2, true)}::bigint[], true)`;
      return "delete_documents hard";
    case 6: {
      const ids = (
        await sql<{ id: string }[]>`
          select id::text from app.documents
          where tenant_id = ${c.tenant_id} and collection_id = ${c.collection_id} and status <> 'deleted'
          order by md5(id::text || ${tag}) limit 3`
      ).map((r) => Number(r.id));
      const items = ids.flatMap((d) =>
        Array.from({ length: 1 + Math.floor(random() * 4) }, (_, i) => ({
          document_id: d,
          chunk_index: i,
          content: content(random),
        })),
      );
      if (!items.length) return "skip";
      await sql`select api.replace_chunks(${c.tenant_id}, ${c.collection_id}, ${JSON.stringify(items)}::text::jsonb)`;
      return "replace_chunks";
    }
    case 7: {
      const type = pick(
        ["chunking", "chunking", "indexing", "embedding"],
        1,
        random,
      )[0]!;
      const strategy = pick(["semantic", "fixed", "recursive"], 1, random)[0]!;
      await sql`select * from api.enqueue_operations(${c.tenant_id}, ${c.collection_id}, ${type},
        ${JSON.stringify([{ metadata: { strategy } }, {}])}::text::jsonb)`;
      return "enqueue_operations";
    }
    case 8: {
      const type = pick(["chunking", "indexing"], 1, random)[0]!;
      await sql`select * from api.claim_operations(${c.tenant_id}, ${type}, 3)`;
      return "claim_operations";
    }
    case 9: {
      const results = (await ops(3)).map((id, i) => ({
        id,
        status: random() < 0.7 ? "completed" : "failed",
        ...(i % 3 === 2
          ? {}
          : { processing_time: Math.floor(random() * 1e6) / 1e3 }),
      }));
      if (!results.length) return "skip";
      await sql`select api.finish_operations(${c.tenant_id}, ${JSON.stringify(results)}::text::jsonb)`;
      return "finish_operations";
    }
    case 10:
      await sql`select api.cancel_operations(${c.tenant_id}, ${await ops(2)}::bigint[])`;
      return "cancel_operations";
    default: {
      const [last] = await sql<{ id: string | null }[]>`
        select (min(id) + ${Math.floor(random() * 50)})::text as id from app.documents where tenant_id = ${c.tenant_id}`;
      await sql`select * from api.purge_documents_batch(${c.tenant_id}, 5, ${last?.id ?? null}::bigint, true)`;
      return "purge_documents_batch";
    }
  }
}

beforeAll(async () => {
  const { sql } = db();
  // Tenants with a connector and chunks: six of their collections, the biggest first
  collections = await sql<Collection[]>`
    select c.tenant_id::text, c.id::text as collection_id,
           (select min(k.id) from app.connectors k where k.tenant_id = c.tenant_id)::text as connector_id
    from app.collections c
    where exists (select from app.chunks k where k.tenant_id = c.tenant_id and k.collection_id = c.id)
    order by (select count(*) from app.chunks k where k.tenant_id = c.tenant_id and k.collection_id = c.id) desc, c.id
    limit 6`;
  expect(collections.length).toBe(6);
});

describe("perf.collection_stats_drift", () => {
  test("empty after the seed (rebuilt), and the default equals fresh", async () => {
    const { sql } = db();
    expect(await drift(sql)).toEqual([]);
    expect(await defaultVersusFresh(sql)).toEqual([]);
  });

  test("detects a delta left out: a write whose delta row is removed drifts by exactly that write", async () => {
    const { sql } = db();
    const c = collections[0]!;
    await sql
      .begin(async (tx) => {
        await tx`select * from api.add_documents(${c.tenant_id}, ${c.collection_id}, ${JSON.stringify([{ title: "skipped" }])}::text::jsonb)`;
        // the writer "forgot" its delta
        await tx`delete from app.collection_stat_deltas
               where id = (select max(id) from app.collection_stat_deltas)`;
        const found = await drift(tx as unknown as postgres.Sql);
        expect(found).toHaveLength(1);
        expect(found[0]).toMatchObject({
          tenant_id: c.tenant_id,
          collection_id: c.collection_id,
          field: "documents_by_status",
        });
        const maintained = found[0]!.maintained as Record<string, number>;
        const recomputed = found[0]!.recomputed as Record<string, number>;
        expect(recomputed.pending).toBe((maintained.pending ?? 0) + 1);
        throw new Error("roll back"); // nothing of this stays
      })
      .catch((e: Error) => expect(e.message).toBe("roll back"));
    expect(await drift(sql)).toEqual([]);
  });

  test("detects a row written around the api (a chunk's size changed in place)", async () => {
    const { sql } = db();
    const c = collections[1]!;
    await sql
      .begin(async (tx) => {
        await tx`update app.chunks set size = size + 7
                 where tenant_id = ${c.tenant_id} and collection_id = ${c.collection_id}
                   and id = (select min(id) from app.chunks where tenant_id = ${c.tenant_id} and collection_id = ${c.collection_id})`;
        const found = await drift(tx as unknown as postgres.Sql);
        expect(found.map((f) => f.field)).toContain("chunk_size_sum");
        expect(found.every((f) => f.collection_id === c.collection_id)).toBe(
          true,
        );
        throw new Error("roll back");
      })
      .catch((e: Error) => expect(e.message).toBe("roll back"));
    expect(await drift(sql)).toEqual([]);
  });

  test("empty after a long random mix of every writer on 8 connections at once, with folds, TTL and a retention drop of operations", async () => {
    const { url, sql } = db();
    const pool = postgres(url, { max: 8, onnotice: () => {} });
    try {
      const connections = await Promise.all(
        Array.from({ length: 8 }, () => pool.reserve()),
      );
      const done: Record<string, number> = {};
      const round = async (r: number) => {
        await Promise.all(
          connections.map(async (conn, w) => {
            const random = prng(1000 * r + w + 1);
            for (let i = 0; i < 20; i++) {
              const name = await randomWrite(conn, random, `r${r}w${w}i${i}`);
              done[name] = (done[name] ?? 0) + 1;
              // a fold now and then, racing the writers (a second one at once returns 0)
              if (random() < 0.08)
                await conn`select maint.fold_collection_stat_deltas()`;
            }
          }),
        );
      };
      await round(1);
      expect(await drift(sql)).toEqual([]);
      // TTL: expired messages, conversations and sessions go (no statistic moves)
      await connections[0]!`call maint.purge_expired()`;
      await round(2);
      // retention drops the oldest month of operations (the seed fills the three months
      // before the current one) and rebuilds the totals in the same transaction
      const [before] = await sql<
        { n: number }[]
      >`select count(*)::int as n from app.operations`;
      await sql`update partman.part_config set retention = '2 months' where parent_table = 'app.operations'`;
      await connections[0]!`call maint.run_partition_maintenance()`;
      const [after] = await sql<
        { n: number }[]
      >`select count(*)::int as n from app.operations`;
      expect(after!.n).toBeLessThan(before!.n);
      await round(3);
      for (const conn of connections) conn.release();

      // every routine ran
      for (const name of [
        "add_documents",
        "sync_documents",
        "classify_documents",
        "confirm_classifications",
        "delete_documents soft",
        "delete_documents hard",
        "replace_chunks",
        "enqueue_operations",
        "claim_operations",
        "finish_operations",
        "cancel_operations",
        "purge_documents_batch",
      ])
        expect(done[name] ?? 0, name).toBeGreaterThan(0);

      // pending deltas and folded totals alike
      expect(await drift(sql)).toEqual([]);
      expect(await defaultVersusFresh(sql)).toEqual([]);
      await sql`select maint.fold_collection_stat_deltas()`;
      expect(await drift(sql)).toEqual([]);
      expect(await defaultVersusFresh(sql)).toEqual([]);
    } finally {
      await pool.end();
    }
  }, 600_000);

  test("maint.rebuild_collection_stats() writes what the drift compares with: a rebuilt database has no drift and no pending delta", async () => {
    const { sql } = db();
    await sql`select maint.rebuild_collection_stats()`;
    expect(await drift(sql)).toEqual([]);
    const [pending] = await sql<
      { n: number }[]
    >`select count(*)::int as n from app.collection_stat_deltas`;
    expect(pending!.n).toBe(0);
  });
});
