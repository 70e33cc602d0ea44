// A tenant of its own for a test, made as the superuser (outside the api under test), so the
// test's reference queries see only its rows.
import type postgres from "postgres";

export interface FreshTenant {
  tenant: string;
  /** its users' ids, in creation order */
  users: string[];
}

/** A new tenant named `label` with `users` users (emails `<label>-<i>@fresh.example.com`). */
export async function freshTenant(
  sql: postgres.Sql,
  label: string,
  users = 1,
): Promise<FreshTenant> {
  const [t] = await sql<
    { tenant_id: string }[]
  >`insert into app.tenants (name) values (${label}) returning tenant_id::text`;
  const rows = await sql<{ id: string }[]>`
    insert into app.users (tenant_id, email, display_name)
    select ${t!.tenant_id}, ${label} || '-' || i || '@fresh.example.com', 'User ' || i from generate_series(1, ${users}::int) i
    order by i
    returning id::text`;
  return { tenant: t!.tenant_id, users: rows.map((r) => r.id) };
}
