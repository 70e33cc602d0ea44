// PgBouncer in front of the test server (scripts/lib/pooler.ts, started by the global setup):
// transaction pooling with our roles, their settings reach pooled sessions, and a setting made
// for one transaction does not reach the next one that runs on the same server connection.
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { useTestDatabase } from "./harness/database.ts";
import { connectPooled } from "./harness/pooler.ts";

const db = useTestDatabase("pooler");
let app: postgres.Sql;

beforeAll(() => {
  app = connectPooled(db().url, "querybudget_app", 40);
});
afterAll(async () => {
  await app?.end({ timeout: 5 });
});

describe("pgbouncer in transaction mode", () => {
  test("the app role logs in through it, with jit off and its statement timeout", async () => {
    const [row] = await app<
      { who: string; jit: string; timeout: string }[]
    >`select current_user as who, current_setting('jit') as jit, current_setting('statement_timeout') as timeout`;
    expect(row).toEqual({ who: "querybudget_app", jit: "off", timeout: "5s" });
  });

  test("40 clients share at most default_pool_size server connections (reserve included)", async () => {
    const size = inject("server").pooler!.defaultPoolSize;
    const pids = await Promise.all(
      Array.from(
        { length: 40 },
        async () =>
          (
            await app<
              { pid: number }[]
            >`select pg_backend_pid() as pid, pg_sleep(0.05)`
          )[0]!.pid,
      ),
    );
    const distinct = new Set(pids).size;
    expect(distinct).toBeGreaterThan(0);
    expect(distinct).toBeLessThanOrEqual(2 * size);
  });

  test("a transaction-local tenant setting does not reach the next pooled transaction", async () => {
    for (let k = 0; k < 20; k++) {
      await app.begin(async (tx) => {
        await tx`select set_config('querybudget.tenant_id', ${String(k + 1)}, true)`;
      });
      const [row] = await app<
        { t: string | null }[]
      >`select current_setting('querybudget.tenant_id', true) as t`;
      expect(row!.t ?? "").toBe("");
    }
  });
});
