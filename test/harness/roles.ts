import postgres from "postgres";

/**
 * A connection as one of our roles (querybudget_app, querybudget_monitor): a login where the
 * server allows it (the throwaway cluster trusts local logins), else SET ROLE on the test's own.
 */
export async function connectAs(
  url: string,
  role: string,
): Promise<postgres.Sql> {
  const u = new URL(url);
  u.username = role;
  u.password = "";
  const sql = postgres(u.toString(), { max: 1, onnotice: () => {} });
  try {
    await sql`select 1`;
    return sql;
  } catch {
    await sql.end();
    const fallback = postgres(url, { max: 1, onnotice: () => {} });
    await fallback.unsafe(`set role ${role}`);
    return fallback;
  }
}
