// A database of its own for each test file: a copy of the seeded template, dropped after.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, inject } from "vitest";
import { withDatabase } from "../../scripts/lib/server-contract.ts";

export interface TestDatabase {
  name: string;
  url: string;
  sql: postgres.Sql;
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const server = inject("server");
  const name = `qb_${label.replace(/\W+/g, "_").toLowerCase().slice(0, 30)}_${randomBytes(3).toString("hex")}`;
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name} template ${server.template}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(server.url, name);
  return { name, url, sql: postgres(url, { max: 4, onnotice: () => {} }) };
}

export async function dropTestDatabase(db: TestDatabase): Promise<void> {
  await db.sql.end({ timeout: 5 });
  const admin = postgres(inject("server").adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${db.name} with (force)`);
  } finally {
    await admin.end();
  }
}

/** In a test file: `const db = useTestDatabase("api")`, then `db().sql` inside tests. */
export function useTestDatabase(label: string): () => TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(label);
  });
  afterAll(async () => {
    if (db) await dropTestDatabase(db);
  });
  return () => {
    if (!db) throw new Error("the test database is made in beforeAll; use it inside a test");
    return db;
  };
}
