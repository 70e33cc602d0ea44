// The plan library (scripts/lib/plan) and the plan matchers (test/harness/plan-matchers.ts),
// on plain SQL over the seeded copy: what a plan says is checked against the catalog and the
// data (which partition holds a collection, how many rows a filter drops), and every matcher
// is shown to pass on a right case and to fail, with the rendered plan, on a wrong one.
import { beforeAll, describe, expect, test } from "vitest";
import {
  accessPaths,
  estimateErrors,
  explain,
  explainFunction,
  fingerprint,
  indexesUsed,
  parseAutoExplainNotice,
  partitionsScanned,
  pinPlannerSettings,
  renderPlan,
  rowsRemovedByFilter,
  seqScans,
  sharedBuffers,
  walk,
  type ExplainedPlan,
} from "../scripts/lib/plan/index.ts";
import { useTestDatabase } from "./harness/database.ts";
import "./harness/plan-matchers.ts";
import { prng } from "./harness/random.ts";

const db = useTestDatabase("plan_lib");

// Random subjects, the same on every run.
const rand = prng(20240604);
const pickOne = <T>(items: readonly T[]): T => {
  if (items.length === 0)
    throw new Error("nothing to pick from: has the seed changed?");
  return items[Math.floor(rand() * items.length)]!;
};
/** The one row a query returns. */
async function one<T>(rows: Promise<T[]>): Promise<T> {
  const [row] = await rows;
  if (row === undefined) throw new Error("no row");
  return row;
}

const CHUNK_INDEX =
  "app.chunks_tenant_id_collection_id_document_id_chunk_index_key";

async function someDocument() {
  const docs = await db().sql<
    { tenant_id: number; id: number; collection_id: number }[]
  >`
    select tenant_id::int, id::int, collection_id::int from app.documents where id in (select document_id from app.chunks) order by id`;
  return pickOne(docs);
}

/** The partition that really holds a collection's chunks, from the rows' tableoid. */
async function partitionsHolding(
  tenantId: number,
  collectionIds: number[],
): Promise<string[]> {
  const rows = await db().sql<{ p: string }[]>`
    select distinct n.nspname || '.' || c.relname as p
      from app.chunks k join pg_class c on c.oid = k.tableoid join pg_namespace n on n.oid = c.relnamespace
     where k.tenant_id = ${tenantId} and k.collection_id = any(${collectionIds}::bigint[])`;
  return rows.map((r) => r.p).sort();
}

describe("explain", () => {
  test("a point query by primary key uses the pkey index, with or without schema", async () => {
    const doc = await someDocument();
    const plan = await explain(
      db().sql,
      "select * from app.documents where tenant_id = $1 and id = $2",
      [doc.tenant_id, doc.id],
    );
    expect(plan.plan.nodeType).toMatch(/^Index (Only )?Scan$/);
    expect(plan.plan.actualRows).toBe(1);
    expect(plan.executionMs).toBeGreaterThan(0);
    expect(indexesUsed(plan)).toEqual(["app.documents_pkey"]);
    expect(
      accessPaths(plan).map(({ relation, table, index }) => ({
        relation,
        table,
        index,
      })),
    ).toEqual([
      {
        relation: "app.documents",
        table: "app.documents",
        index: "app.documents_pkey",
      },
    ]);
    expect(plan).toUseIndex("app.documents_pkey");
    expect(plan).toUseIndex("documents_pkey");
    expect(plan).not.toSeqScan();
    // A point lookup reads a root page, a leaf page and a heap page or so.
    expect(sharedBuffers(plan).total).toBeGreaterThan(0);
    expect(plan).toStayWithinBuffers(10);
  });

  test("a filter on an unindexed column seq-scans and the rows it drops match the data", async () => {
    const doc = await someDocument();
    const { title } = await one(
      db().sql<
        { title: string }[]
      >`select title from app.documents where tenant_id = ${doc.tenant_id} and id = ${doc.id}`,
    );
    const plan = await explain(
      db().sql,
      "select id from app.documents where title = $1",
      [title],
    );
    expect(seqScans(plan).map((s) => s.table)).toEqual(["app.documents"]);
    expect(plan).toSeqScan("app.documents");
    expect(plan).not.toUseIndex("app.documents_pkey");
    const { all, matching } = await one(db().sql<
      { all: number; matching: number }[]
    >`
      select count(*)::int as all, count(*) filter (where title = ${title})::int as matching from app.documents`);
    expect(plan.plan.actualRows).toBe(matching);
    expect(rowsRemovedByFilter(plan)).toBe(all - matching);
  });

  test("a chunks query with collection_id scans the one partition that holds the collection", async () => {
    const doc = await someDocument();
    const plan = await explain(
      db().sql,
      "select count(*) from app.chunks where tenant_id = $1 and collection_id = $2",
      [doc.tenant_id, doc.collection_id],
    );
    const [scan] = partitionsScanned(plan, "app.chunks");
    expect(scan?.scanned).toEqual(
      await partitionsHolding(doc.tenant_id, [doc.collection_id]),
    );
    expect(scan?.total).toBe(16);
    expect(plan).toScanPartitions(1);
    expect(plan).toScanPartitions(1, "app.chunks");
    expect(plan).toPrunePartitions();
    expect(plan).toPrunePartitions("chunks");
  });

  test("a chunks query without collection_id scans all 16 partitions", async () => {
    const doc = await someDocument();
    const plan = await explain(
      db().sql,
      "select count(*) from app.chunks where tenant_id = $1",
      [doc.tenant_id],
    );
    const { n } = await one(
      db().sql<
        { n: number }[]
      >`select count(*)::int as n from pg_inherits where inhparent = 'app.chunks'::regclass`,
    );
    expect(n).toBe(16);
    expect(partitionsScanned(plan)[0]?.scanned).toHaveLength(n);
    expect(plan).toScanPartitions(n);
    expect(plan).not.toPrunePartitions();
    // The root's buffers include its children's: the Append's equal the sum over its members.
    const append = [...walk(plan.plan)].find(
      (node) => node.nodeType === "Append",
    )!;
    const members = append.children.reduce(
      (sum, c) => sum + (c.sharedHitBlocks ?? 0) + (c.sharedReadBlocks ?? 0),
      0,
    );
    expect(sharedBuffers(append).total).toBe(members);
    expect(sharedBuffers(plan).total).toBeGreaterThanOrEqual(members);
  });

  test("partition indexes are reported as the parent's index, as the catalog attaches them", async () => {
    const doc = await someDocument();
    const plan = await explain(
      db().sql,
      "select chunk_index from app.chunks where tenant_id = $1 and collection_id = $2 and document_id = $3 order by chunk_index",
      [doc.tenant_id, doc.collection_id, doc.id],
    );
    const [path] = accessPaths(plan).filter((p) => p.index);
    const [partition] = await partitionsHolding(doc.tenant_id, [
      doc.collection_id,
    ]);
    expect(path?.relation).toBe(partition);
    expect(path?.table).toBe("app.chunks");
    // Independently: the partitioned index this partition's index is attached to (pg_inherits over indexes).
    const { parent } = await one(db().sql<{ parent: string }[]>`
      select n.nspname || '.' || p.relname as parent
        from pg_inherits i join pg_class p on p.oid = i.inhparent join pg_namespace n on n.oid = p.relnamespace
       where i.inhrelid = ${path!.index!}::regclass`);
    expect(path?.rootIndex).toBe(parent);
    expect(parent).toBe(CHUNK_INDEX);
    expect(path?.index).not.toBe(parent);
    expect(plan).toUseIndex(CHUNK_INDEX);
    expect(plan).toUseIndex(path!.index!); // the partition's own name works too
  });

  test("run-time pruning: partitions in the plan but never executed are not counted as scanned", async () => {
    // A tenant with few collections (but more than one): most partitions stay unexecuted.
    const tenants = await db().sql<{ tenant_id: number; n: number }[]>`
      select tenant_id::int, count(*)::int as n from app.collections group by 1 having count(*) >= 2 order by 2, 1`;
    const { tenant_id } = pickOne(tenants.filter((t) => t.n === tenants[0]?.n));
    const plan = await explain(
      db().sql,
      `select c.id, x.n from app.collections c
         cross join lateral (select count(*) as n from app.chunks k where k.tenant_id = c.tenant_id and k.collection_id = c.id) x
        where c.tenant_id = $1`,
      [tenant_id],
    );
    const collections = await db().sql<
      { id: number }[]
    >`select id::int from app.collections where tenant_id = ${tenant_id}`;
    const [scan] = partitionsScanned(plan, "app.chunks");
    expect(scan?.scanned).toEqual(
      await partitionsHolding(
        tenant_id,
        collections.map((c) => c.id),
      ),
    );
    // The collection ids come from the outer side at run time: all 16 are planned, few run.
    expect(scan?.inPlan).toHaveLength(16);
    expect(scan!.scanned.length).toBeLessThan(16);
    expect(plan).toScanPartitions(scan!.scanned.length, "app.chunks");
  });

  test("pinned planner settings, and rollback of what the explained statement changed", async () => {
    const conn = await db().sql.reserve();
    try {
      await conn`set jit = on`;
      await pinPlannerSettings(conn);
      const { jit, workers } = await one(
        conn<
          { jit: string; workers: string }[]
        >`select current_setting('jit') as jit, current_setting('max_parallel_workers_per_gather') as workers`,
      );
      expect([jit, workers]).toEqual(["off", "0"]);
    } finally {
      conn.release();
    }
    const doc = await someDocument();
    const plan = await explain(
      db().sql,
      "update app.documents set title = title || ' (edited)' where tenant_id = $1 and id = $2",
      [doc.tenant_id, doc.id],
      { rollback: true },
    );
    expect(plan.plan.nodeType).toBe("ModifyTable");
    // Inside a caller's transaction: a savepoint is rolled back, the transaction goes on.
    const inside = await db().sql.begin(async (tx) => {
      await explain(
        tx,
        "update app.documents set title = title || ' (edited)' where tenant_id = $1 and id = $2",
        [doc.tenant_id, doc.id],
        { rollback: true },
      );
      const { n } = await one(
        tx<
          { n: number }[]
        >`select count(*)::int as n from app.documents where title like '% (edited)'`,
      );
      return n;
    });
    expect(inside).toBe(0);
    const { edited } = await one(
      db().sql<
        { edited: number }[]
      >`select count(*)::int as edited from app.documents where title like '% (edited)'`,
    );
    expect(edited).toBe(0);
  });

  test("estimate errors and the one-line rendering", async () => {
    const doc = await someDocument();
    const plan = await explain(
      db().sql,
      "select count(*) from app.chunks where tenant_id = $1",
      [doc.tenant_id],
    );
    const errors = estimateErrors(plan);
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) {
      expect(e.factor).toBeGreaterThanOrEqual(1);
      expect(e.factor).toBeCloseTo(
        Math.max(e.actualRows, 1) >= Math.max(e.planRows, 1)
          ? Math.max(e.actualRows, 1) / Math.max(e.planRows, 1)
          : Math.max(e.planRows, 1) / Math.max(e.actualRows, 1),
      );
    }
    expect(errors.map((e) => e.factor)).toEqual(
      [...errors.map((e) => e.factor)].sort((a, b) => b - a),
    );
    expect(estimateErrors(plan, 1e9)).toEqual([]);

    const text = renderPlan(plan);
    const lines = text.split("\n");
    expect(lines).toHaveLength([...walk(plan.plan)].length);
    expect(lines[0]).toMatch(/^Aggregate \(rows 1\/1, buffers \d+\)$/);
    expect(
      lines.filter((l) =>
        /^ {4}\S.* on app\.chunks_p\d\d \((rows \d+\/\d+|never executed)/.test(
          l,
        ),
      ),
    ).toHaveLength(16);
  });
});

describe("fingerprint", () => {
  test("is the same across runs and collapses partitions to their parent", async () => {
    const doc = await someDocument();
    const q = "select count(*) from app.chunks where tenant_id = $1";
    const a = await explain(db().sql, q, [doc.tenant_id]);
    const b = await explain(db().sql, q, [doc.tenant_id]);
    expect(fingerprint(a)).toBe(fingerprint(b));
    expect(fingerprint(a)).not.toMatch(/chunks_p\d\d|rows|buffers|\d+\.\d+/);
    // The member counts of the grouped lines add up to the partitions in the plan.
    const counts = [...fingerprint(a).matchAll(/on app\.chunks x(\d+)$/gm)].map(
      (m) => Number(m[1]),
    );
    expect(counts.reduce((x, y) => x + y, 0)).toBe(16);
    const pruned = await explain(
      db().sql,
      "select count(*) from app.chunks where tenant_id = $1 and collection_id = $2",
      [doc.tenant_id, doc.collection_id],
    );
    expect(fingerprint(pruned)).not.toBe(fingerprint(a));
  });
});

describe("explainFunction", () => {
  test("returns the plans of the statements inside a security definer function call", async () => {
    await db().sql.unsafe(`
      create schema if not exists plantest;
      create or replace function plantest.pending_documents(p_tenant_id bigint) returns bigint
      language plpgsql stable security definer set search_path = pg_catalog, pg_temp as $$
      declare n bigint;
      begin
        perform 1 from app.tenants where tenant_id = p_tenant_id;
        select count(*) into n from app.documents where tenant_id = p_tenant_id and status = 'pending';
        return n;
      end $$;
      create or replace function plantest.chunk_count(p_tenant_id bigint, p_collection_id bigint) returns bigint
      language sql stable security definer set search_path = pg_catalog, pg_temp as $$
        select count(*) from app.chunks where tenant_id = p_tenant_id and collection_id = p_collection_id
      $$;`);
    const doc = await someDocument();
    const statements = await explainFunction(
      db(),
      "select plantest.pending_documents($1)",
      [doc.tenant_id],
    );
    expect(statements.map((s) => s.query.replace(/\s+/g, " ").trim())).toEqual([
      "SELECT 1 from app.tenants where tenant_id = p_tenant_id",
      // PL/pgSQL blanks out INTO
      "select count(*) from app.documents where tenant_id = p_tenant_id and status = 'pending'",
      "select plantest.pending_documents($1)",
    ]);
    expect(statements.map((s) => s.topLevel)).toEqual([false, false, true]);
    expect(statements).toUseIndex("app.documents_tenant_id_status_idx");
    const { pending } = await one(
      db().sql<
        { pending: number }[]
      >`select count(*)::int as pending from app.documents where tenant_id = ${doc.tenant_id} and status = 'pending'`,
    );
    expect(statements[1]!.plan.actualRows).toBe(1);
    expect(
      [...walk(statements[1]!.plan)].find((n) => n.relation === "app.documents")
        ?.actualRows,
    ).toBe(pending);
    // The call's buffers include the nested statements' (a warm sixth call: no compiling).
    const nested = sharedBuffers(statements.slice(0, 2)).total;
    expect(nested).toBeGreaterThan(0);
    expect(sharedBuffers(statements).total).toBeGreaterThanOrEqual(nested);
    expect(statements).toStayWithinBuffers(sharedBuffers(statements).total);
  });

  test("a language sql function is planned generically: partitions removed at executor start", async () => {
    const doc = await someDocument();
    const statements = await explainFunction(
      db(),
      "select plantest.chunk_count($1, $2)",
      [doc.tenant_id, doc.collection_id],
      { runs: 1 },
    );
    const [scan] = partitionsScanned(statements, "app.chunks");
    expect(scan?.scanned).toEqual(
      await partitionsHolding(doc.tenant_id, [doc.collection_id]),
    );
    expect(scan?.subplansRemoved).toBe(15);
    expect(statements).toPrunePartitions("app.chunks");
    expect(statements).toScanPartitions(1);
    expect(statements).toUseIndex(CHUNK_INDEX);
  });

  test("non-plan notices are ignored", () => {
    expect(
      parseAutoExplainNotice('relation "x" already exists, skipping'),
    ).toBeUndefined();
  });
});

describe("matchers fail with the plan in the message", () => {
  let point: ExplainedPlan;
  let all: ExplainedPlan;
  let scan: ExplainedPlan;
  beforeAll(async () => {
    const doc = await someDocument();
    point = await explain(
      db().sql,
      "select * from app.documents where tenant_id = $1 and id = $2",
      [doc.tenant_id, doc.id],
    );
    all = await explain(
      db().sql,
      "select count(*) from app.chunks where tenant_id = $1",
      [doc.tenant_id],
    );
    scan = await explain(
      db().sql,
      "select id from app.documents where title = $1",
      ["no such title"],
    );
  });
  const rendered = () =>
    renderPlan(point).split("\n")[0]!.replace(/[()]/g, "\\$&");

  test("toUseIndex", () => {
    expect(() =>
      expect(point).toUseIndex("app.documents_tenant_id_status_idx"),
    ).toThrow(
      /to use index app\.documents_tenant_id_status_idx\nindexes used: app\.documents_pkey/,
    );
    expect(() =>
      expect(point).toUseIndex("documents_tenant_id_status_idx"),
    ).toThrow(new RegExp(rendered()));
    expect(() => expect(point).not.toUseIndex("app.documents_pkey")).toThrow(
      /not to use index app\.documents_pkey/,
    );
  });

  test("toSeqScan", () => {
    expect(scan).toSeqScan("app.documents");
    expect(scan).toSeqScan("documents");
    expect(() => expect(scan).not.toSeqScan("app.documents")).toThrow(
      /not to seq scan app\.documents\nseq scans: app\.documents \(\d+ rows\)\n\nplan:\nSeq Scan on app\.documents/,
    );
    expect(scan).not.toSeqScan("app.documents", { minRows: 1e9 }); // small tables may be read whole
    expect(scan).not.toSeqScan("app.chunks");
    expect(() => expect(point).toSeqScan("app.documents")).toThrow(
      /seq scans: none/,
    );
  });

  test("toPrunePartitions and toScanPartitions", () => {
    expect(() => expect(all).toPrunePartitions("app.chunks")).toThrow(
      /at most 1 partition\(s\) of app\.chunks\nfound: app\.chunks: 16 of 16 partitions scanned[\s\S]*Append/,
    );
    expect(() => expect(all).toScanPartitions(1)).toThrow(
      /exactly 1 partition/,
    );
    expect(() => expect(point).toPrunePartitions()).toThrow(
      /found: no partitioned table/,
    );
    expect(() => expect(point).toScanPartitions(1)).toThrow(
      new RegExp(rendered()),
    );
  });

  test("toStayWithinBuffers", () => {
    const total = sharedBuffers(all).total;
    expect(all).toStayWithinBuffers(total);
    expect(() => expect(all).toStayWithinBuffers(total - 1)).toThrow(
      new RegExp(`within ${total - 1} shared buffers\\nfound: ${total} `),
    );
  });

  test("anything but a plan is a usage error", () => {
    expect(() => expect({ rows: [] }).toUseIndex("x")).toThrow(TypeError);
  });
});
