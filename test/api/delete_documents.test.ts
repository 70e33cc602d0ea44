// api.delete_documents, soft and hard (seed 004's bulk delete), checked against the seed's
// "before" code (scripts/lib/before/documents.ts: two loops, one query per id) on the seeded
// data, both rolled back (test/harness/fixtures.ts). Its lock order and races:
// test/concurrency.test.ts, "races".
import { describe, expect, test } from "vitest";
import { deleteDocuments as deleteBefore } from "../../scripts/lib/before/documents.ts";
import { explainFunction, walk } from "../../scripts/lib/plan/index.ts";
import { useTestDatabase } from "../harness/database.ts";
import { sqlState } from "../harness/errors.ts";
import {
  compareWithBefore,
  documentsApi,
  ROUNDS,
  rolledBack,
  statementsOf,
  twoTenants,
  useDocumentFixtures,
} from "../harness/fixtures.ts";
import { pick, prng } from "../harness/random.ts";

const db = useTestDatabase("delete_documents");
const f = useDocumentFixtures(db);

describe("api.delete_documents", () => {
  for (const hard of [false, true]) {
    test(`${hard ? "hard" : "soft"}: same result, documents, chunks and tombstones as the before code's two loops`, async () => {
      const random = prng(hard ? 4021 : 4022);
      for (let round = 0; round < ROUNDS; round++) {
        // Setup, Action
        const compared = await compareWithBefore(f(), random, 40, {
          api: (sql, t, ids) => documentsApi.delete(sql, t, ids, hard),
          before: (sql, t, ids) => deleteBefore(sql, t, ids, hard),
        });
        const { initial, api, before } = compared;
        const label = `${hard ? "hard" : "soft"}, ${compared.label}`;

        // Assertions
        expect(api.result, label).toEqual(before.result);
        expect(api.result.deleted!, label).toBeGreaterThan(0);
        expect(api.state, label).toEqual(before.state);
        expect(
          api.state.documents,
          `${label}: the call changed rows`,
        ).not.toEqual(initial.documents);
        if (hard)
          expect(
            api.state.chunks.n,
            `${label}: chunks went with their documents`,
          ).toBeLessThan(initial.chunks.n);
        else
          expect(
            api.state.chunks,
            `${label}: a soft delete keeps the chunks`,
          ).toEqual(initial.chunks);
      }
    });
  }

  test("tombstones connector documents once, and a sync then treats them as not new", async () => {
    // Setup: six live connector documents of a tenant
    const [tenant] = twoTenants(f().tenants, prng(4023), 100);
    const rows = await db().sql<
      { id: string; connector_id: string; external_id: string }[]
    >`
      select id::text, connector_id::text, external_id from app.documents
      where tenant_id = ${tenant.tenant_id} and connector_id is not null and status <> 'deleted'
      order by id limit 6`;
    expect(rows.length).toBe(6);
    const t = tenant.tenant_id;
    const ids = rows.map((r) => r.id);

    // Action: soft-delete three, then hard-delete all six (three of them soft-deleted already:
    // they are found; their tombstones exist already), twice; then ask a sync what is new
    const { result } = await rolledBack(f().one, [], async (sql) => ({
      first: await documentsApi.delete(sql, t, ids.slice(0, 3), false),
      second: await documentsApi.delete(sql, t, ids, true),
      again: await documentsApi.delete(sql, t, ids, true),
      remaining: (
        await sql<{ n: number }[]>`
        select count(*)::int as n from app.documents where tenant_id = ${t} and id = any (${ids}::bigint[])`
      )[0]!.n,
      fresh: (
        await Promise.all(
          [...new Set(rows.map((r) => r.connector_id))].map((c) =>
            documentsApi.newExternalIds(
              sql,
              t,
              c,
              rows
                .filter((r) => r.connector_id === c)
                .map((r) => r.external_id),
            ),
          ),
        )
      ).flat(),
    }));

    // Assertions
    expect(result.first).toEqual({ deleted: 3, not_found: 0, tombstoned: 3 });
    expect(result.second).toEqual({ deleted: 6, not_found: 0, tombstoned: 3 });
    expect(result.again).toEqual({ deleted: 0, not_found: 6, tombstoned: 0 });
    expect(result.remaining).toBe(0);
    expect(result.fresh, "tombstoned external ids are not new").toEqual([]);
  });

  test("runs the same statements for 1 id and for 500 (soft and hard)", async () => {
    // Setup
    const [tenant] = twoTenants(f().tenants, prng(4024), 400);
    for (const hard of [false, true]) {
      // Action
      const few = await statementsOf(f().one, (sql) =>
        documentsApi.delete(
          sql,
          tenant.tenant_id,
          tenant.live.slice(0, 1),
          hard,
        ),
      );
      const many = await statementsOf(f().one, (sql) =>
        documentsApi.delete(
          sql,
          tenant.tenant_id,
          tenant.ids.slice(0, 500),
          hard,
        ),
      );

      // Assertions
      expect(few.own, hard ? "hard" : "soft").toBeGreaterThan(0);
      expect(many.own, hard ? "hard" : "soft").toBe(few.own);
    }
  });

  test("plans a hard delete of hundreds of ids for a handful of targets, not their count (the probes: test/plans.test.ts at 1M)", async () => {
    // Setup
    const [tenant] = twoTenants(f().tenants, prng(4027), 400);
    const ids = pick(tenant.ids, 300, prng(4028));

    // Action: the plans of the statements the call runs (auto_explain), rolled back
    const plans = await explainFunction(
      db(),
      "select api.delete_documents($1, $2::bigint[], true)",
      [tenant.tenant_id, ids],
      {
        runs: 1,
        rollback: true,
        pin: false,
      },
    );

    // Assertions
    const main = plans.find((p) => p.query.includes("delete from app.chunks"));
    expect(main, "the delete statement's plan").toBeDefined();
    // The ids are read through a scalar subquery, so the planner expects a handful of targets
    // (not 300) and probes the primary key for them (functions/api/documents.sql, "Plans").
    const target = [...walk(main!.plan)].find(
      (n) => n.subplanName === "CTE target",
    );
    expect(target?.actualRows).toBe(ids.length);
    expect(target?.planRows).toBeLessThan(50);
    // With that estimate the targets are primary key probes at the 1M tier (test/plans.test.ts);
    // here, at 10k, the tenant's 16 pages of documents may rightly cost less to scan whole.
    // The chunk delete likewise: a nested loop pruned at run time to one partition per
    // document at the 1M tier ("api.delete_documents (hard) of 300 ids at 1M").
  });

  test("bad input is refused with the documented codes", async () => {
    // Setup
    const sql = db().sql;
    const t = f().tenants[0]!.tenant_id;

    // Action, Assertions
    expect(
      await sqlState(
        sql`select api.delete_documents(${null}, ${[1]}::bigint[])`,
      ),
    ).toBe("QB001");
    expect(
      await sqlState(
        sql`select api.delete_documents(${-1}, ${[1]}::bigint[], true)`,
      ),
    ).toBe("QB005");
    expect(
      await sqlState(sql`select api.delete_documents(${t}, ${[]}::bigint[])`),
    ).toBe("QB002");
    expect(
      await sqlState(
        sql`select api.delete_documents(${t}, array(select generate_series(1, 10001))::bigint[])`,
      ),
    ).toBe("QB003");
    expect(
      await sqlState(
        sql`select api.delete_documents(${t}, array[1, null]::bigint[])`,
      ),
    ).toBe("QB007");
    expect(
      await sqlState(
        sql`select api.delete_documents(${t}, ${[1]}::bigint[], ${null})`,
      ),
    ).toBe("QB001");
  });
});
