// api.classify_documents (seed 004's bulk classify), checked against the seed's "before" code
// (scripts/lib/before/documents.ts: one query per id) on the seeded data: both run on the same
// starting state, each in a transaction that is rolled back, and the results and a checksum of
// the rows they could have touched are compared (test/harness/fixtures.ts).
import { describe, expect, test } from "vitest";
import { classifyDocuments as classifyBefore } from "../../scripts/lib/before/documents.ts";
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

const db = useTestDatabase("classify_documents");
const f = useDocumentFixtures(db);
const CLASSIFICATIONS = ["invoice", "contract", "policy", "meeting_notes"];

describe("api.classify_documents", () => {
  test("same result and same rows as the per-id before code, on random documents of random tenants", async () => {
    const random = prng(4001);
    for (let round = 0; round < ROUNDS; round++) {
      // Setup, Action: a mix of ids and a classification, the api and the before code
      const { label, initial, api, before } = await compareWithBefore(
        f(),
        random,
        25,
        {
          api: documentsApi.classify,
          before: classifyBefore,
          draw: (r) => pick(CLASSIFICATIONS, 1, r)[0]!,
        },
      );

      // Assertions
      expect(api.result, label).toEqual(before.result);
      expect(api.result.updated!, label).toBeGreaterThan(0);
      expect(api.state, label).toEqual(before.state);
      expect(
        api.state.documents,
        `${label}: the call changed rows`,
      ).not.toEqual(initial.documents);
    }
  });

  test("duplicates count once; other tenants' ids, unknown ids and soft-deleted documents are not_found", async () => {
    // Setup
    const [tenant, other] = twoTenants(f().tenants, prng(4002), 30);
    const deleted = tenant.ids.find((id) => !tenant.live.includes(id));
    expect(deleted, "a soft-deleted document in the seed").toBeDefined();
    const live = tenant.live.slice(0, 2);
    const ids = [
      ...live,
      live[0]!,
      deleted!,
      other.ids[0]!,
      String(f().maxDocumentId + 5n),
    ];

    // Action
    const { result } = await rolledBack(f().one, [], (sql) =>
      documentsApi.classify(sql, tenant.tenant_id, ids, "report"),
    );

    // Assertions
    expect(result).toEqual({ updated: 2, not_found: 3 });
  });

  test("runs the same statements for 1 id and for 500", async () => {
    // Setup
    const [tenant] = twoTenants(f().tenants, prng(4003), 400);

    // Action
    const few = await statementsOf(f().one, (sql) =>
      documentsApi.classify(
        sql,
        tenant.tenant_id,
        tenant.live.slice(0, 1),
        "x",
      ),
    );
    const many = await statementsOf(f().one, (sql) =>
      documentsApi.classify(
        sql,
        tenant.tenant_id,
        tenant.ids.slice(0, 500),
        "x",
      ),
    );

    // Assertions
    expect(few.own).toBeGreaterThan(0);
    expect(many.own).toBe(few.own);
    expect(many.ri).toBe(0);
  });

  test("bad input is refused with the documented codes", async () => {
    // Setup
    const sql = db().sql;
    const t = f().tenants[0]!.tenant_id;

    // Action, Assertions
    expect(
      await sqlState(
        sql`select api.classify_documents(${null}, ${[1]}::bigint[], 'x')`,
      ),
    ).toBe("QB001");
    expect(
      await sqlState(
        sql`select api.classify_documents(${-1}, ${[1]}::bigint[], 'x')`,
      ),
    ).toBe("QB005");
    expect(
      await sqlState(
        sql`select api.classify_documents(${t}, ${null}::bigint[], 'x')`,
      ),
    ).toBe("QB001");
    expect(
      await sqlState(
        sql`select api.classify_documents(${t}, ${[]}::bigint[], 'x')`,
      ),
    ).toBe("QB002");
    expect(
      await sqlState(
        sql`select api.classify_documents(${t}, array(select generate_series(1, 10001))::bigint[], 'x')`,
      ),
    ).toBe("QB003");
    expect(
      await sqlState(
        sql`select api.classify_documents(${t}, array[1, null]::bigint[], 'x')`,
      ),
    ).toBe("QB007");
    expect(
      await sqlState(
        sql`select api.classify_documents(${t}, ${[1]}::bigint[], ${null})`,
      ),
    ).toBe("QB001");
    expect(
      await sqlState(
        sql`select api.classify_documents(${t}, ${[1]}::bigint[], ${"  "})`,
      ),
    ).toBe("QB008");
  });
});
