// The statement counter (scripts/lib/query-counter.ts): counts against independent references
// (auto_explain's log of every statement executed, naive row counts, the client's own
// statements), the bulk-function budget (the same statements for 1 id and for 200), nothing
// reset, other databases not counted, and the documented limitation: other sessions of the
// same role in the same database are.
import postgres from "postgres";
import { describe, expect, inject, test } from "vitest";
import {
  explainFunction,
  isForeignKeyCheck,
} from "../scripts/lib/plan/index.ts";
import { countQueries, queryHeaders } from "../scripts/lib/query-counter.ts";
import { useTestDatabase } from "./harness/database.ts";

const db = useTestDatabase("query_counter");

async function aTenantWithDocuments(
  sql: postgres.Sql,
  n: number,
): Promise<{ tenant: string; ids: string[] }> {
  const [row] = await sql<{ tenant_id: string; ids: string[] }[]>`
    select tenant_id, (array_agg(id order by id))[1:${n}]::text[] as ids
    from app.documents where status <> 'deleted' group by tenant_id having count(*) >= ${n} order by tenant_id limit 1`;
  return { tenant: row!.tenant_id, ids: row!.ids };
}

describe("countQueries", () => {
  test("top-level statements are the client's; nested ones are what auto_explain logs inside the call", async () => {
    const { sql } = db();
    const [{ t }] =
      (await sql`select min(tenant_id)::text as t from app.tenants`) as unknown as [
        { t: string },
      ];
    // every connection of the pool open: postgres.js reads the array types on a new connection,
    // a statement that would count (it is one the client runs)
    await Promise.all(
      Array.from({ length: 4 }, () => sql`select pg_sleep(0.01)`),
    );
    const count = await countQueries(sql, async () => {
      await sql`select 1`;
      await sql`select api.knowledge_gap_stats(${t}::bigint)`;
      await sql`select api.knowledge_gap_stats(${t}::bigint)`;
    });
    expect(count.topLevel).toBe(3);
    // the reference: every statement the function runs, as auto_explain logs them (nested ones only)
    const logged = await explainFunction(
      db(),
      "select api.knowledge_gap_stats($1::bigint)",
      [t],
      { runs: 1 },
    );
    const nestedPerCall = logged.filter((s) => !s.topLevel).length;
    expect(nestedPerCall).toBeGreaterThan(0);
    expect(count.nested).toBe(2 * nestedPerCall);
    expect(count.statements).toBe(3 + 2 * nestedPerCall);
    expect(count.transactionControl).toBe(0);
    expect(count.approximate).toBe(false);
  });

  test("rows and time: rows are the statements' result rows; server time is within the client's wall time", async () => {
    const { sql } = db();
    const { tenant } = await aTenantWithDocuments(sql, 1);
    const [{ n }] =
      (await sql`select count(*)::int as n from app.documents where tenant_id = ${tenant}`) as unknown as [
        { n: number },
      ];
    const count = await countQueries(sql, async () => {
      const rows =
        await sql`select id from app.documents where tenant_id = ${tenant}`;
      await sql`select pg_sleep(0.05)`;
      return rows.length;
    });
    expect(count.result).toBe(n);
    expect(count.rows).toBe(n + 1);
    expect(count.execMs).toBeGreaterThanOrEqual(50);
    expect(count.execMs).toBeLessThanOrEqual(count.wallMs);
    expect(count.buffers.total).toBeGreaterThan(0);
    expect(count.buffers.total).toBe(count.buffers.hit + count.buffers.read);
    expect(queryHeaders(count)).toEqual({
      "X-Query-Count": "2",
      "X-Query-Time": `${count.execMs.toFixed(2)}ms`,
      "X-Query-Count-Nested": "0",
    });
  });

  // Issue 3's rule, counted by pg_stat_statements (track = all): each bulk function runs the same
  // statements for 1 id and for 200, whatever the ids (rolled back, so both counts see the same data).
  const bulk: [
    string,
    (
      tx: postgres.TransactionSql,
      tenant: string,
      ids: string[],
    ) => Promise<unknown>,
  ][] = [
    [
      "api.classify_documents",
      (tx, t, ids) =>
        tx`select api.classify_documents(${t}::bigint, ${ids}::bigint[], 'invoice')`,
    ],
    [
      "api.confirm_classifications",
      (tx, t, ids) =>
        tx`select api.confirm_classifications(${t}::bigint, ${ids}::bigint[])`,
    ],
    [
      "api.delete_documents (soft)",
      (tx, t, ids) =>
        tx`select api.delete_documents(${t}::bigint, ${ids}::bigint[])`,
    ],
    [
      "api.delete_documents (hard)",
      (tx, t, ids) =>
        tx`select api.delete_documents(${t}::bigint, ${ids}::bigint[], true)`,
    ],
  ];
  for (const [name, call] of bulk) {
    test(`${name} runs the same statements for 1 id and for 200, transaction control counted apart`, async () => {
      const { sql } = db();
      const { tenant, ids } = await aTenantWithDocuments(sql, 200);
      const count = async (list: string[]) =>
        countQueries(
          sql,
          () =>
            sql
              .begin(async (tx) => {
                await call(tx, tenant, list);
                throw new Error("rollback");
              })
              .catch((e: Error) => {
                if (e.message !== "rollback") throw e;
              }),
          { texts: true },
        );
      // With track = all, PostgreSQL's own foreign key checks are entries too (normalized as
      // `SELECT $n FROM [ONLY] "app"."t" x WHERE ... FOR KEY SHARE OF x`, one call per row
      // checked: isForeignKeyCheck of the plan library): those grow with the ids by design and
      // are counted apart; the statements of our functions must not.
      const ours = (c: Awaited<ReturnType<typeof count>>) =>
        c.perStatement
          .filter((s) => !s.toplevel && !isForeignKeyCheck(s.query ?? ""))
          .reduce((n, s) => n + s.calls, 0);
      const checks = (c: Awaited<ReturnType<typeof count>>) =>
        c.perStatement
          .filter((s) => isForeignKeyCheck(s.query ?? ""))
          .reduce((n, s) => n + s.calls, 0);
      const one = await count(ids.slice(0, 1));
      const many = await count(ids);
      expect(one.topLevel).toBe(1);
      expect(ours(one)).toBeGreaterThan(0);
      expect(ours(many)).toBe(ours(one));
      // The filter is not hiding our statements: only foreign key checks grow.
      expect(many.nested - checks(many)).toBe(ours(many));
    });
  }

  test("nothing is reset; statements of another database are not counted", async () => {
    const { sql } = db();
    const [before] = await sql<{ reset: Date; calls: string }[]>`
      select (select stats_reset from pg_stat_statements_info) as reset, coalesce(sum(calls), 0) as calls from pg_stat_statements`;
    const other = postgres(inject("server").url, {
      max: 1,
      onnotice: () => {},
    });
    try {
      const count = await countQueries(sql, async () => {
        await Promise.all([
          sql`select 42`,
          (async () => {
            for (let i = 0; i < 10; i++) await other`select ${i}::int + 1`;
          })(),
        ]);
      });
      expect(count.topLevel).toBe(1);
    } finally {
      await other.end();
    }
    const [after] = await sql<{ reset: Date; calls: string }[]>`
      select (select stats_reset from pg_stat_statements_info) as reset, coalesce(sum(calls), 0) as calls from pg_stat_statements`;
    expect(after!.reset).toEqual(before!.reset);
    expect(Number(after!.calls)).toBeGreaterThan(Number(before!.calls));
  });

  test("the limitation: another session of the same role in the same database is counted too, and reported", async () => {
    const { sql, url } = db();
    const neighbour = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await neighbour`select 1`;
      const count = await countQueries(
        sql,
        async () => {
          await sql`select 7`;
          for (let i = 0; i < 3; i++) await neighbour`select ${i}::int * 2`;
        },
        { texts: true },
      );
      expect(count.topLevel).toBe(4);
      expect(count.concurrentSessions).toBeGreaterThanOrEqual(1);
      expect(count.perStatement.map((s) => s.query).sort()).toEqual([
        "select $1",
        "select $1::int * $2",
      ]);
    } finally {
      await neighbour.end();
    }
  });
});
