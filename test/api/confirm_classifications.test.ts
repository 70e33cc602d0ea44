// api.confirm_classifications (seed 004's bulk_confirm), checked against the seed's "before"
// code (scripts/lib/before/documents.ts: one call per id) on the seeded data, both rolled back
// (test/harness/fixtures.ts).
import { describe, expect, test } from "vitest";
import { confirmClassifications as confirmBefore } from "../../scripts/lib/before/documents.ts";
import { useTestDatabase } from "../harness/database.ts";
import { sqlState } from "../harness/errors.ts";
import {
  compareWithBefore,
  documentsApi,
  ROUNDS,
  statementsOf,
  twoTenants,
  useDocumentFixtures,
} from "../harness/fixtures.ts";
import { prng } from "../harness/random.ts";

const db = useTestDatabase("confirm_classifications");
const f = useDocumentFixtures(db);

describe("api.confirm_classifications", () => {
  test("same result and same rows as bulk_confirm's one call per id", async () => {
    const random = prng(4011);
    for (let round = 0; round < ROUNDS; round++) {
      // Setup, Action
      const { label, initial, api, before } = await compareWithBefore(
        f(),
        random,
        25,
        { api: documentsApi.confirm, before: confirmBefore },
      );

      // Assertions
      expect(api.result, label).toEqual(before.result);
      expect(api.result.confirmed!, label).toBeGreaterThan(0);
      expect(api.state, label).toEqual(before.state);
      expect(
        api.state.documents,
        `${label}: the call changed rows`,
      ).not.toEqual(initial.documents);
    }
  });

  test("runs the same statements for 1 id and for 500", async () => {
    // Setup
    const [tenant] = twoTenants(f().tenants, prng(4012), 400);

    // Action
    const few = await statementsOf(f().one, (sql) =>
      documentsApi.confirm(sql, tenant.tenant_id, tenant.live.slice(0, 1)),
    );
    const many = await statementsOf(f().one, (sql) =>
      documentsApi.confirm(sql, tenant.tenant_id, tenant.ids.slice(0, 500)),
    );

    // Assertions
    expect(few.own).toBeGreaterThan(0);
    expect(many.own).toBe(few.own);
  });

  test("bad input is refused with the documented codes", async () => {
    // Setup
    const sql = db().sql;
    const t = f().tenants[0]!.tenant_id;

    // Action, Assertions
    expect(
      await sqlState(
        sql`select api.confirm_classifications(${null}, ${[1]}::bigint[])`,
      ),
    ).toBe("QB001");
    expect(
      await sqlState(
        sql`select api.confirm_classifications(${-1}, ${[1]}::bigint[])`,
      ),
    ).toBe("QB005");
    expect(
      await sqlState(
        sql`select api.confirm_classifications(${t}, ${[]}::bigint[])`,
      ),
    ).toBe("QB002");
    expect(
      await sqlState(
        sql`select api.confirm_classifications(${t}, array(select generate_series(1, 10001))::bigint[])`,
      ),
    ).toBe("QB003");
    expect(
      await sqlState(
        sql`select api.confirm_classifications(${t}, array[null]::bigint[])`,
      ),
    ).toBe("QB007");
  });
});
