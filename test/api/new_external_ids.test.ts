// api.new_external_ids (seed 004's connector sync: which external ids are new), checked
// against the seed's two "before" versions (scripts/lib/before/documents.ts: load every
// external id of the connector, or one query per id) on the seeded data.
import { describe, expect, test } from "vitest";
import {
  newExternalIds as perIdBefore,
  newExternalIdsLoadAll as loadAllBefore,
} from "../../scripts/lib/before/documents.ts";
import { explainFunction, walk } from "../../scripts/lib/plan/index.ts";
import { useTestDatabase } from "../harness/database.ts";
import { sqlState } from "../harness/errors.ts";
import {
  documentsApi,
  ROUNDS,
  shuffle,
  statementsOf,
  twoTenants,
  useDocumentFixtures,
  type TenantDocs,
} from "../harness/fixtures.ts";
import { pick, prng } from "../harness/random.ts";

const db = useTestDatabase("new_external_ids");
const f = useDocumentFixtures(db);

/** Up to n external ids each: stored for the connector, tombstoned, of another connector, new; plus 5 repeated; shuffled. */
async function externalIdMix(
  random: () => number,
  tenant: TenantDocs,
  connectorId: string,
  n: number,
): Promise<string[]> {
  const stored = await db().sql<{ external_id: string }[]>`
    select external_id from app.documents where tenant_id = ${tenant.tenant_id} and connector_id = ${connectorId}`;
  const tombstoned = await db().sql<{ external_id: string }[]>`
    select external_id from app.deleted_documents where tenant_id = ${tenant.tenant_id} and connector_id = ${connectorId}`;
  const elsewhere = await db().sql<{ external_id: string }[]>`
    select external_id from app.documents where connector_id is not null and connector_id <> ${connectorId} limit 200`;
  const fresh = Array.from(
    { length: n },
    (_, i) => `new-${Math.floor(random() * 1e9)}-${i}`,
  );
  const ids = [
    ...pick(
      stored.map((r) => r.external_id),
      n,
      random,
    ),
    ...pick(
      tombstoned.map((r) => r.external_id),
      n,
      random,
    ),
    ...pick(
      elsewhere.map((r) => r.external_id),
      n,
      random,
    ),
    ...fresh,
  ];
  return shuffle([...ids, ...pick(ids, 5, random)], random);
}

describe("api.new_external_ids", () => {
  test("the same ids, in the same order, as the load-all and the per-id before code", async () => {
    const random = prng(4031);
    for (let round = 0; round < ROUNDS; round++) {
      // Setup
      const [tenant] = twoTenants(f().tenants, random, 30);
      const connectorId = pick(tenant.connector_ids, 1, random)[0]!;
      const ids = await externalIdMix(
        random,
        tenant,
        connectorId,
        5 + Math.floor(random() * 30),
      );

      // Action
      const api = await documentsApi.newExternalIds(
        f().one,
        tenant.tenant_id,
        connectorId,
        ids,
      );
      const loadAll = await loadAllBefore(
        db().sql,
        tenant.tenant_id,
        connectorId,
        ids,
      );
      const perId = await perIdBefore(
        db().sql,
        tenant.tenant_id,
        connectorId,
        ids,
      );

      // Assertions
      const label = `tenant ${tenant.tenant_id}, connector ${connectorId}, ${ids.length} ids`;
      expect(api, label).toEqual(loadAll);
      expect(api, label).toEqual(perId);
      expect(api.length, `${label}: some are new`).toBeGreaterThan(0);
      expect(api.length, `${label}: some are not`).toBeLessThan(
        new Set(ids).size,
      );
    }
  });

  test("an empty array when nothing is new; soft-deleted documents are not new", async () => {
    // Setup
    const [row] = await db().sql<
      { tenant_id: string; connector_id: string; external_id: string }[]
    >`
      select tenant_id::text, connector_id::text, external_id from app.documents
      where connector_id is not null and status = 'deleted' order by id limit 1`;
    expect(row).toBeDefined();

    // Action
    const fresh = await documentsApi.newExternalIds(
      db().sql,
      row!.tenant_id,
      row!.connector_id,
      [row!.external_id],
    );

    // Assertions
    expect(fresh).toEqual([]);
  });

  test("runs the same statements for 1 id and for 500", async () => {
    // Setup
    const random = prng(4032);
    const [tenant] = twoTenants(f().tenants, random, 400);
    const connectorId = tenant.connector_ids[0]!;
    const mix = await externalIdMix(random, tenant, connectorId, 100);
    const ids = [
      ...mix,
      ...Array.from({ length: 500 }, (_, i) => `padding-${i}`),
    ].slice(0, 500);

    // Action
    const few = await statementsOf(f().one, (sql) =>
      documentsApi.newExternalIds(
        sql,
        tenant.tenant_id,
        connectorId,
        ids.slice(0, 1),
      ),
    );
    const many = await statementsOf(f().one, (sql) =>
      documentsApi.newExternalIds(
        sql,
        tenant.tenant_id,
        connectorId,
        ids.slice(0, 500),
      ),
    );

    // Assertions
    expect(ids.length).toBeGreaterThanOrEqual(500);
    expect(few.own).toBeGreaterThan(0);
    expect(many.own).toBe(few.own);
  });

  test("bad input is refused with the documented codes; a connector of another tenant is QB009", async () => {
    // Setup
    const sql = db().sql;
    const [a, b] = f().tenants.filter((t) => t.connector_ids.length > 0);
    const t = a!.tenant_id;
    const c = a!.connector_ids[0]!;

    // Action, Assertions
    expect(
      await sqlState(
        sql`select api.new_external_ids(${null}, ${c}, ${["x"]}::text[])`,
      ),
    ).toBe("QB001");
    expect(
      await sqlState(
        sql`select api.new_external_ids(${-1}, ${c}, ${["x"]}::text[])`,
      ),
    ).toBe("QB005");
    expect(
      await sqlState(
        sql`select api.new_external_ids(${t}, ${null}, ${["x"]}::text[])`,
      ),
    ).toBe("QB001");
    expect(
      await sqlState(
        sql`select api.new_external_ids(${t}, ${c}, ${null}::text[])`,
      ),
    ).toBe("QB001");
    expect(
      await sqlState(
        sql`select api.new_external_ids(${t}, ${c}, ${[]}::text[])`,
      ),
    ).toBe("QB002");
    expect(
      await sqlState(
        sql`select api.new_external_ids(${t}, ${c}, array(select g::text from generate_series(1, 10001) g))`,
      ),
    ).toBe("QB003");
    expect(
      await sqlState(
        sql`select api.new_external_ids(${t}, ${c}, array['a', null])`,
      ),
    ).toBe("QB007");
    expect(
      await sqlState(
        sql`select api.new_external_ids(${t}, ${b!.connector_ids[0]!}, ${["x"]}::text[])`,
      ),
    ).toBe("QB009");
    expect(
      await sqlState(
        sql`select api.new_external_ids(${t}, ${-1}, ${["x"]}::text[])`,
      ),
    ).toBe("QB009");
  });

  test("probes the unique indexes once per distinct id, with the cached generic plan too (last: it adds tombstones)", async () => {
    // Setup
    const random = prng(4033);
    const [tenant] = twoTenants(f().tenants, random, 400);
    const connectorId = tenant.connector_ids[0]!;
    const ids = await externalIdMix(random, tenant, connectorId, 100);
    const distinct = new Set(ids).size;
    // At the 10k tier a connector has a few tombstones, and a Seq Scan of app.deleted_documents
    // rightly costs less than index probes; a platform has many: 5,000 of another tenant's
    // connector, committed (this test comes last in the file) and analyzed.
    const [owner] = f().tenants.filter(
      (t) => t.tenant_id !== tenant.tenant_id && t.connector_ids.length > 0,
    );
    await db().sql`
      insert into app.deleted_documents (tenant_id, connector_id, external_id)
      select ${owner!.tenant_id}, ${owner!.connector_ids[0]!}, 'tombstone-' || g from generate_series(1, 5000) g`;
    await db().sql`analyze app.deleted_documents`;

    // Action: seven calls in one session (from the sixth on, the cached generic plan may be used), the last one's plans
    const plans = await explainFunction(
      db(),
      "select api.new_external_ids($1, $2, $3::text[])",
      [tenant.tenant_id, connectorId, ids],
      {
        runs: 7,
        pin: false,
      },
    );

    // Assertions
    const main = plans.find((p) => p.query.includes("app.deleted_documents"));
    expect(main, "the statement's plan").toBeDefined();
    const probes = (index: string) =>
      [...walk(main!.plan)]
        .filter((n) => n.indexName === index)
        .map((n) => n.actualLoops);
    const stored = probes("documents_tenant_id_connector_id_external_id_key");
    const tombstoned = probes(
      "deleted_documents_tenant_id_connector_id_external_id_key",
    );
    // every distinct id is looked up among the documents; those not found, among the tombstones
    expect(stored).toEqual([distinct]);
    expect(tombstoned.length).toBe(1);
    expect(tombstoned[0]).toBeGreaterThan(0);
    expect(tombstoned[0]).toBeLessThan(distinct);
    expect(
      [...walk(main!.plan)].filter((n) => n.nodeType === "Seq Scan"),
    ).toEqual([]);
  });
});
