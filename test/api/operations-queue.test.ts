// Operations as a work queue (issue 11, item 4): api.enqueue_operations, api.claim_operations,
// api.finish_operations, api.cancel_operations. Calls are made as querybudget_app; results are
// compared with an independent reference read by the superuser from app.operations. Workers
// claiming at once: each on a connection of its own, holding its claimed rows in an open
// transaction while the others claim.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { countRolledBack } from "../../scripts/lib/query-counter.ts";
import { useTestDatabase } from "../harness/database.ts";
import { sqlState } from "../harness/errors.ts";
import { connectAs } from "../harness/roles.ts";

const db = useTestDatabase("operations_queue");

interface Subject {
  tenant: string;
  collection: string;
  user: string;
  otherUser: string; // a user of another tenant
  otherCollection: string;
}

let s: Subject;
let app: postgres.Sql;
let one: postgres.Sql; // superuser, for the statement counts
const json = (v: unknown) => JSON.stringify(v);

beforeAll(async () => {
  const { sql, url } = db();
  const [row] = await sql<Subject[]>`
    with t as (select tenant_id from app.operations where status = 'pending' group by 1 order by count(*) desc, 1 limit 1)
    select t.tenant_id::text as tenant,
           (select c.id::text from app.collections c where c.tenant_id = t.tenant_id order by c.id limit 1) as collection,
           (select u.id::text from app.users u where u.tenant_id = t.tenant_id order by u.id limit 1) as "user",
           (select u.id::text from app.users u where u.tenant_id <> t.tenant_id order by u.id limit 1) as "otherUser",
           (select c.id::text from app.collections c where c.tenant_id <> t.tenant_id order by c.id limit 1) as "otherCollection"
    from t`;
  s = row!;
  app = await connectAs(url, "querybudget_app");
  one = postgres(url, { max: 1, onnotice: () => {} });
});

afterAll(async () => {
  await app?.end();
  await one?.end();
});

/** The tenant's pending operations of a type in claim order (the reference). */
const pendingOf = async (type: string) =>
  (
    await db().sql<{ id: string }[]>`
    select id::text from app.operations where tenant_id = ${s.tenant} and type = ${type} and status = 'pending' order by created_at, id`
  ).map((r) => r.id);

describe("api.enqueue_operations", () => {
  test("one pending operation per item, ids in batch order, metadata and user as given, in a monthly partition (retention drops it in time)", async () => {
    // Setup
    const batch = [
      { metadata: { strategy: "semantic", chunk_size: 512 } },
      {},
      { user_id: Number(s.user), metadata: { strategy: "markdown" } },
    ];
    // Action
    const result = [
      ...(await app<
        { position: number; id: string }[]
      >`select * from api.enqueue_operations(${s.tenant}, ${s.collection}, 'embedding', ${json(batch)}::text::jsonb)`),
    ];
    // Assertions
    expect(result.map((r) => r.position)).toEqual([0, 1, 2]);
    const rows = await db().sql<
      {
        id: string;
        partition: string;
        collection_id: string;
        user_id: string | null;
        type: string;
        status: string;
        metadata: unknown;
        completed_at: Date | null;
      }[]
    >`
      select id::text, tableoid::regclass::text as partition, collection_id::text, user_id::text, type, status, metadata, completed_at
      from app.operations where tenant_id = ${s.tenant} and id = any(${result.map((r) => r.id)}::bigint[]) order by id`;
    expect(rows.map((r) => r.id)).toEqual(result.map((r) => r.id));
    expect(rows.map(({ id: _i, partition: _p, ...r }) => r)).toEqual(
      batch.map((b) => ({
        collection_id: s.collection,
        user_id: b.user_id ? String(b.user_id) : null,
        type: "embedding",
        status: "pending",
        metadata: b.metadata ?? {},
        completed_at: null,
      })),
    );
    // the current month's partition, not the default one: pg_partman's retention covers it
    for (const r of rows)
      expect(r.partition).toMatch(/^app\.operations_p\d{4}_\d{2}$/);
    await db()
      .sql`delete from app.operations where tenant_id = ${s.tenant} and id = any(${result.map((r) => r.id)}::bigint[])`;
  });

  test("another tenant's collection or user: QB009 (the user's position named); an unknown type: QB008; a malformed item: QB011; nothing written", async () => {
    // Action
    let message = "";
    const codes = [
      await sqlState(
        app`select * from api.enqueue_operations(${s.tenant}, ${s.otherCollection}, 'chunking', '[{}]'::jsonb)`,
      ),
      await sqlState(
        app`select * from api.enqueue_operations(${s.tenant}, ${s.collection}, 'chunking', ${json([{}, { user_id: Number(s.otherUser) }])}::text::jsonb)`.catch(
          (e) => {
            message = (e as Error).message;
            throw e;
          },
        ),
      ),
      await sqlState(
        app`select * from api.enqueue_operations(${s.tenant}, ${s.collection}, 'parsing', '[{}]'::jsonb)`,
      ),
      await sqlState(
        app`select * from api.enqueue_operations(${s.tenant}, ${s.collection}, 'chunking', '[{"metadata": "semantic"}]'::jsonb)`,
      ),
      await sqlState(
        app`select * from api.enqueue_operations(${s.tenant}, ${s.collection}, 'chunking', '[{"status": "completed"}]'::jsonb)`,
      ),
    ];
    // Assertions
    expect(codes).toEqual(["QB009", "QB009", "QB008", "QB011", "QB011"]);
    expect(message).toContain("p_operations[1].user_id");
  });

  test("10,000 items in one call; the same statements for 1 item and for 1,000", async () => {
    const run = (n: number) => (conn: postgres.ReservedSql) =>
      conn`select * from api.enqueue_operations(${s.tenant}, ${s.collection}, 'indexing', ${json(Array.from({ length: n }, (_, i) => ({ metadata: { i } })))}::text::jsonb)`;
    const few = await countRolledBack(one, run(1));
    const many = await countRolledBack(one, run(1000));
    const big = await countRolledBack(one, run(10_000));
    expect(many.statements - many.foreignKeyChecks).toBe(
      few.statements - few.foreignKeyChecks,
    );
    expect(big.rows).toBe(10_000);
  });
});

describe("api.claim_operations", () => {
  test("claims the oldest pending operations of the type, marks them processing, returns them oldest first (reference: the table)", async () => {
    // Setup
    const expected = (await pendingOf("chunking")).slice(0, 5);
    // Action
    const conn = await app.reserve();
    await conn`begin`;
    const claimed = [
      ...(await conn<
        { id: string; status: string; type: string }[]
      >`select * from api.claim_operations(${s.tenant}, 'chunking', 5)`),
    ];
    await conn`rollback`;
    conn.release();
    // Assertions
    expect(claimed.map((c) => c.id)).toEqual(expected);
    expect(
      claimed.every((c) => c.status === "processing" && c.type === "chunking"),
    ).toBe(true);
    expect(Object.keys(claimed[0]!)[0]).toBe("id");
  });

  test("4 workers at once get disjoint operations, and none waits for another's locked rows", async () => {
    // Setup: 4 workers, each in an open transaction; a claim that waited for a row lock would hit the lock timeout
    const pending = await pendingOf("chunking");
    expect(pending.length).toBeGreaterThanOrEqual(12);
    const workers = await Promise.all(
      [0, 1, 2, 3].map(() => connectAs(db().url, "querybudget_app")),
    );
    try {
      for (const w of workers) {
        await w`begin`;
        await w`set local lock_timeout = '200ms'`;
      }
      // Action: worker 0 claims and keeps its rows locked; then the other three claim at once
      const times: number[] = [];
      const claim = async (w: postgres.Sql) => {
        const t = performance.now();
        const rows = [
          ...(await w<
            { id: string }[]
          >`select id from api.claim_operations(${s.tenant}, 'chunking', 3)`),
        ].map((r) => r.id);
        times.push(performance.now() - t);
        return rows;
      };
      const first = await claim(workers[0]!);
      const rest = await Promise.all(workers.slice(1).map(claim));
      const all = [first, ...rest];
      // Assertions
      const flat = all.flat();
      expect(new Set(flat).size, "no operation claimed twice").toBe(
        flat.length,
      );
      expect(all.every((ids) => ids.length === 3)).toBe(true);
      expect(first).toEqual(pending.slice(0, 3));
      expect(new Set(flat)).toEqual(new Set(pending.slice(0, 12)));
      expect(Math.max(...times), "no claim waited").toBeLessThan(150);
    } finally {
      await Promise.all(
        workers.map(async (w) => {
          await w`rollback`.catch(() => undefined);
          await w.end();
        }),
      );
    }
  });

  test("p_limit out of range: QB004; an unknown type: QB008; an empty queue: no rows", async () => {
    const codes = [
      await sqlState(
        app`select * from api.claim_operations(${s.tenant}, 'chunking', 0)`,
      ),
      await sqlState(
        app`select * from api.claim_operations(${s.tenant}, 'chunking', 1001)`,
      ),
      await sqlState(
        app`select * from api.claim_operations(${s.tenant}, 'Chunking', 1)`,
      ),
    ];
    const [tenantWithout] = await db().sql<{ t: string }[]>`
      select t.tenant_id::text as t from app.tenants t where not exists (select from app.operations o where o.tenant_id = t.tenant_id and o.status = 'pending' and o.type = 'reindexing') order by 1 limit 1`;
    expect(codes).toEqual(["QB004", "QB004", "QB008"]);
    if (tenantWithout)
      expect([
        ...(await app`select * from api.claim_operations(${tenantWithout.t}, 'reindexing', 10)`),
      ]).toEqual([]);
  });
});

describe("api.finish_operations and api.cancel_operations", () => {
  test("finish: processing time, completed_at and the error text (metadata.error); a replay changes nothing and is reported; the live statistics see it", async () => {
    // Setup: claim 3, committed on rows the test restores at the end
    const { sql } = db();
    const claimed = [
      ...(await app<
        { id: string; collection_id: string }[]
      >`select id, collection_id from api.claim_operations(${s.tenant}, 'chunking', 3)`),
    ];
    const [a, b, c] = claimed.map((r) => Number(r.id));
    const results = [
      { id: a, status: "completed", processing_time: 1.25 },
      {
        id: b,
        status: "failed",
        processing_time: 0.5,
        error: "parser crashed",
      },
      { id: 987654321, status: "completed" },
    ];
    const statsBefore = (
      await app<
        {
          s: {
            operations: {
              completed: number;
              failed: number;
              processing: number;
            };
          };
        }[]
      >`
      select api.collection_statistics(${s.tenant}, ${claimed[0]!.collection_id}, true) as s`
    )[0]!.s.operations;
    try {
      // Action
      const [first] = await app<
        { r: unknown }[]
      >`select api.finish_operations(${s.tenant}, ${json(results)}::text::jsonb) as r`;
      const [replay] = await app<
        { r: unknown }[]
      >`select api.finish_operations(${s.tenant}, ${json([{ ...results[0], status: "failed" }, results[1]])}::text::jsonb) as r`;
      const [cancel] = await app<
        { r: unknown }[]
      >`select api.cancel_operations(${s.tenant}, ${[a!, c!, c!, 987654321]}::bigint[]) as r`;
      const [cancelAgain] = await app<
        { r: unknown }[]
      >`select api.cancel_operations(${s.tenant}, ${[c!]}::bigint[]) as r`;
      const statsAfter = (
        await app<
          {
            s: {
              operations: {
                completed: number;
                failed: number;
                processing: number;
              };
            };
          }[]
        >`
        select api.collection_statistics(${s.tenant}, ${claimed[0]!.collection_id}, true) as s`
      )[0]!.s.operations;
      // Assertions
      expect(first!.r).toEqual({
        finished: 2,
        already_finished: 0,
        not_found: 1,
      });
      expect(replay!.r).toEqual({
        finished: 0,
        already_finished: 2,
        not_found: 0,
      });
      expect(cancel!.r).toEqual({
        cancelled: 1,
        already_finished: 1,
        not_found: 1,
      });
      expect(cancelAgain!.r).toEqual({
        cancelled: 0,
        already_finished: 1,
        not_found: 0,
      });
      const rows = await sql<
        {
          id: string;
          status: string;
          processing_time: number | null;
          error: string | null;
          done: boolean;
        }[]
      >`
        select id::text, status, processing_time, metadata ->> 'error' as error, completed_at is not null as done
        from app.operations where tenant_id = ${s.tenant} and id in (${a!}, ${b!}, ${c!}) order by id`;
      expect(rows).toEqual([
        {
          id: String(a),
          status: "completed",
          processing_time: 1.25,
          error: null,
          done: true,
        },
        {
          id: String(b),
          status: "failed",
          processing_time: 0.5,
          error: "parser crashed",
          done: true,
        },
        {
          id: String(c),
          status: "cancelled",
          processing_time: null,
          error: null,
          done: false,
        },
      ]);
      const sameCollection = claimed
        .filter((r) => r.collection_id === claimed[0]!.collection_id)
        .map((r) => Number(r.id));
      const delta = (id: number | undefined) =>
        sameCollection.includes(id!) ? 1 : 0;
      expect(statsAfter.completed - statsBefore.completed).toBe(delta(a));
      expect(statsAfter.failed - statsBefore.failed).toBe(delta(b));
    } finally {
      await sql`update app.operations set status = 'pending', processing_time = null, completed_at = null, metadata = metadata - 'error'
                where tenant_id = ${s.tenant} and id in (${a!}, ${b!}, ${c!})`;
    }
  });

  test("an id twice in one finish batch: QB011 naming both positions; an unknown status or a negative time: QB011; other tenants' ids: not_found", async () => {
    // Setup
    const [other] = await db().sql<{ tenant: string; id: string }[]>`
      select tenant_id::text as tenant, id::text from app.operations where tenant_id <> ${s.tenant} and status = 'processing' order by id limit 1`;
    // Action
    let message = "";
    const code = await sqlState(
      app`select api.finish_operations(${s.tenant}, ${json([
        { id: 1, status: "completed" },
        { id: 1, status: "failed" },
      ])}::text::jsonb)`.catch((e) => {
        message = (e as Error).message;
        throw e;
      }),
    );
    const codes = [
      await sqlState(
        app`select api.finish_operations(${s.tenant}, ${json([{ id: 1, status: "cancelled" }])}::text::jsonb)`,
      ),
      await sqlState(
        app`select api.finish_operations(${s.tenant}, ${json([{ id: 1, status: "completed", processing_time: -1 }])}::text::jsonb)`,
      ),
    ];
    const [r] = await app<
      { r: unknown }[]
    >`select api.finish_operations(${s.tenant}, ${json([{ id: Number(other!.id), status: "completed" }])}::text::jsonb) as r`;
    const [c] = await app<
      { r: unknown }[]
    >`select api.cancel_operations(${s.tenant}, ${[other!.id]}::bigint[]) as r`;
    const [still] = await db().sql<
      { status: string }[]
    >`select status from app.operations where tenant_id = ${other!.tenant} and id = ${other!.id}`;
    // Assertions
    expect(code).toBe("QB011");
    expect(message).toContain("p_results[1].id");
    expect(message).toContain("p_results[0]");
    expect(codes).toEqual(["QB011", "QB011"]);
    expect(r!.r).toEqual({ finished: 0, already_finished: 0, not_found: 1 });
    expect(c!.r).toEqual({ cancelled: 0, already_finished: 0, not_found: 1 });
    expect(still!.status).toBe("processing");
  });

  test("the same statements for 1 result and for 1,000; 10,000 in one call", async () => {
    const { sql } = db();
    const ids = (
      await sql<
        { id: string }[]
      >`select id::text from app.operations where tenant_id = ${s.tenant} order by id limit 1000`
    ).map((r) => Number(r.id));
    const run = (n: number) => (conn: postgres.ReservedSql) =>
      conn`select api.finish_operations(${s.tenant}, ${json(ids.slice(0, n).map((id) => ({ id, status: "completed", processing_time: 1 })))}::text::jsonb)`;
    const few = await countRolledBack(one, run(1));
    const many = await countRolledBack(one, run(1000));
    const cancelFew = await countRolledBack(
      one,
      (conn) =>
        conn`select api.cancel_operations(${s.tenant}, ${ids.slice(0, 1)}::bigint[])`,
    );
    const cancelMany = await countRolledBack(
      one,
      (conn) =>
        conn`select api.cancel_operations(${s.tenant}, ${ids}::bigint[])`,
    );
    const big = await countRolledBack(
      one,
      (conn) =>
        conn`select api.finish_operations(${s.tenant}, ${json(Array.from({ length: 10_000 }, (_, i) => ({ id: i + 1, status: "failed" })))}::text::jsonb) as r`,
    );
    expect(many.statements - many.foreignKeyChecks).toBe(
      few.statements - few.foreignKeyChecks,
    );
    expect(cancelMany.statements - cancelMany.foreignKeyChecks).toBe(
      cancelFew.statements - cancelFew.foreignKeyChecks,
    );
    expect(big.rows).toBe(1);
  });
});
