// Connections through the run's PgBouncer (transaction pooling; test/harness/global-setup.ts).
import postgres from "postgres";
import { inject } from "vitest";
import { POOLED } from "../../scripts/lib/pooler.ts";

/** `url` (a test database's) through the pooler, as `role` if given. Throws when the pooler did not start. */
export function pooledUrl(url: string, role?: string): string {
  const { pooler, poolerError } = inject("server");
  if (!pooler)
    throw new Error(`no pooler in this run: ${poolerError ?? "not started"}`);
  const u = new URL(url);
  u.hostname = pooler.host;
  u.port = String(pooler.port);
  if (role) {
    u.username = role;
    u.password = "";
  }
  return u.toString();
}

/** A postgres.js client through the pooler: `prepare: false`, as transaction pooling needs. */
export function connectPooled(
  url: string,
  role: string | undefined,
  max: number,
): postgres.Sql {
  return postgres(pooledUrl(url, role), { ...POOLED, max });
}
