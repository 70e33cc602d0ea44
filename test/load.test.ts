// Correct under load (docs/operations.md "Load"): 32 clients for 15 s through PgBouncer in
// transaction pooling mode run the whole api's mix (scripts/lib/load.ts) on a copy of the 10k
// template. Asserted: no internal error (XX000), no deadlock (40P01), no row of another tenant
// in any result, no tenant setting or role carried between pooled transactions, and the data
// unchanged at the end (every write ran in a transaction rolled back). Throughput is reported,
// never asserted.
import { expect, test } from "vitest";
import {
  renderLoadMarkdown,
  runLoad,
  sessionTenants,
  type LoadResult,
} from "../scripts/lib/load.ts";
import { apiCalls } from "../scripts/lib/workload.ts";
import { useTestDatabase } from "./harness/database.ts";
import { pooledUrl } from "./harness/pooler.ts";

const db = useTestDatabase("load");
const CLIENTS = 32;
const SECONDS = 15;

/** Rows per app table: what the driver wrote must have been rolled back. */
async function rowCounts(): Promise<Record<string, number>> {
  const tables = await db().sql<{ t: string }[]>`
    select c.oid::regclass::text as t from pg_class c
    where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
    order by 1`;
  const counts: Record<string, number> = {};
  for (const { t } of tables) {
    const [row] = await db().sql.unsafe<{ n: number }[]>(
      `select count(*)::int as n from ${t}`,
    );
    counts[t] = row!.n;
  }
  return counts;
}

test(
  `${CLIENTS} clients for ${SECONDS} s through pgbouncer: no internal error, no deadlock, no other tenant's row, no setting carried over`,
  { timeout: 180_000 },
  async () => {
    const { sql, url } = db();
    const before = await rowCounts();
    const calls = await apiCalls(sql, { sets: 20 });
    const result: LoadResult = await runLoad({
      appUrl: pooledUrl(url, "querybudget_app"),
      rawUrl: pooledUrl(url),
      calls,
      clients: CLIENTS,
      seconds: SECONDS,
      maxCalls: 2_000_000,
      sessionTenants: await sessionTenants(sql, calls),
    });
    process.stderr.write(
      renderLoadMarkdown(result, {
        rows: db().tier === "10k" ? 10_000 : 1_000_000,
        pooler: "pgbouncer, transaction pooling",
      }) + "\n",
    );

    // the run did something: every workload in the mix was called
    expect(result.calls).toBeGreaterThan(CLIENTS);
    for (const r of result.routines)
      expect(r.calls, `${r.name} succeeded at least once`).toBeGreaterThan(0);
    expect(result.errors["XX000"], "internal errors").toBeUndefined();
    expect(result.errors["40P01"], "deadlocks").toBeUndefined();
    // a broken pooled connection or a driver failure is not a documented outcome either
    expect(
      Object.keys(result.errors).filter(
        (c) => c.startsWith("client:") || c.startsWith("08"),
      ),
    ).toEqual([]);
    expect(
      result.rowsChecked,
      "rows carrying a tenant were checked",
    ).toBeGreaterThan(0);
    expect(result.crossTenantRows, result.crossTenantExamples.join("\n")).toBe(
      0,
    );
    expect(result.probes).toBeGreaterThan(0);
    expect(
      result.leaks,
      "probes that saw a tenant setting or another role",
    ).toBe(0);
    // after the run, fresh pooled transactions see no tenant setting
    const app = (await import("./harness/pooler.ts")).connectPooled(
      url,
      "querybudget_app",
      8,
    );
    try {
      const seen = await Promise.all(
        Array.from({ length: 32 }, async () => {
          const [row] = await app<{ t: string | null }[]>`
            select current_setting('querybudget.tenant_id', true) as t`;
          return row!.t ?? "";
        }),
      );
      expect(seen.filter((t) => t !== "")).toEqual([]);
    } finally {
      await app.end({ timeout: 5 });
    }
    // every write was rolled back: the row counts are those of before
    expect(await rowCounts()).toEqual(before);
  },
);
