// Shared by the write api's tests (test/api/*-writes.test.ts): statement counts of a rolled-back
// call, batches as jsonb, and the tenants the seed gives.
import type postgres from "postgres";

// The statement counter of a rolled-back call, shared with the other api tests.
export { statementsOf } from "./fixtures.ts";

/** A batch argument, sent as text and cast to jsonb by the call. */
export const batch = (items: readonly unknown[] | unknown): string =>
  JSON.stringify(items);

/** n items made by `make(i)`, i from 0. */
export const itemsOf = <T>(n: number, make: (i: number) => T): T[] =>
  Array.from({ length: n }, (_, i) => make(i));

/** Two tenants (A, B) that both have users, agents, workflows and knowledge gaps: the two biggest. */
export async function twoTenantsWithData(
  sql: postgres.Sql,
): Promise<[string, string]> {
  const rows = await sql<{ t: string }[]>`
    select t.tenant_id::text as t from app.tenants t
    where exists (select from app.users u where u.tenant_id = t.tenant_id)
      and exists (select from app.workflows w where w.tenant_id = t.tenant_id)
      and exists (select from app.knowledge_gaps g where g.tenant_id = t.tenant_id)
    order by (select count(*) from app.users u where u.tenant_id = t.tenant_id) desc, t.tenant_id
    limit 2`;
  if (rows.length < 2)
    throw new Error("the seed gave fewer than two tenants with data");
  return [rows[0]!.t, rows[1]!.t];
}
