// A database of its own for each test file: a copy of the seeded template, dropped after.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, inject } from "vitest";
import { withDatabase } from "../../scripts/lib/server-contract.ts";
import { ROOT } from "../../scripts/lib/sql-files.ts";
import type { Tier } from "./context.ts";
import { ensureTierTemplate } from "./global-setup.ts";

export interface TestDatabase {
  name: string;
  url: string;
  sql: postgres.Sql;
  /** The tier it was copied from. */
  tier: Tier;
}

export interface TestDatabaseOptions {
  /** Which seeded template to copy: "10k" (default) or "1M" (made on first use, see global-setup.ts). */
  tier?: Tier;
}

/** The idempotent file that sets the privileges on the database itself (CONNECT, TEMPORARY, CREATE). */
const DATABASE_PRIVILEGES = join(ROOT, "sql", "52_database_privileges.sql");

export async function createTestDatabase(
  label: string,
  options: TestDatabaseOptions = {},
): Promise<TestDatabase> {
  const { tier = "10k" } = options;
  const server = inject("server");
  const { template } = await ensureTierTemplate(server, tier);
  const name = `qb_${label.replace(/\W+/g, "_").toLowerCase().slice(0, 30)}_${randomBytes(3).toString("hex")}`;
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  try {
    // The 1M template is ~800 MB: a file copy (about 1 s) writes no WAL for it, unlike the
    // default WAL_LOG strategy (about 2 s, and 800 MB of WAL).
    await admin.unsafe(
      `create database ${name} template ${template}${tier === "10k" ? "" : " strategy file_copy"}`,
    );
  } finally {
    await admin.end();
  }
  const url = withDatabase(server.url, name);
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  // CREATE DATABASE ... TEMPLATE does not copy the privileges on the database itself (they are
  // in pg_database): PUBLIC would have TEMPORARY again. The copy gets them as a migrate gives them.
  await sql.unsafe(readFileSync(DATABASE_PRIVILEGES, "utf8"));
  return { name, url, sql, tier };
}

export async function dropTestDatabase(db: TestDatabase): Promise<void> {
  await db.sql.end({ timeout: 5 });
  const admin = postgres(inject("server").adminUrl, {
    max: 1,
    onnotice: () => {},
  });
  try {
    await admin.unsafe(`drop database if exists ${db.name} with (force)`);
  } finally {
    await admin.end();
  }
}

/** In a test file: `const db = useTestDatabase("api")`, then `db().sql` inside tests. `{ tier: "1M" }` copies the 1M template. */
export function useTestDatabase(
  label: string,
  options: TestDatabaseOptions = {},
): () => TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(label, options);
  });
  afterAll(async () => {
    if (db) await dropTestDatabase(db);
  });
  return () => {
    if (!db)
      throw new Error(
        "the test database is made in beforeAll; use it inside a test",
      );
    return db;
  };
}
