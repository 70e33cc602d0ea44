// Migrations: from scratch to the full schema, and a second run changes nothing.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { migrateDatabase } from "../scripts/lib/migrate.ts";
import { PG_BIN, withDatabase } from "../scripts/lib/server-contract.ts";
import { idempotentSqlFiles, routinesDefinedIn } from "../scripts/lib/sql-files.ts";

const name = `qb_migrate_${process.pid}`;
let url: string;

function schemaDump(): string {
  const r = spawnSync(join(PG_BIN, "pg_dump"), ["--schema-only", "--no-owner", "--restrict-key=querybudget", "-d", url], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
}

beforeAll(async () => {
  const admin = postgres(inject("server").adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  url = withDatabase(inject("server").url, name);
});

afterAll(async () => {
  const admin = postgres(inject("server").adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
});

describe("graphile-migrate", () => {
  test("migrates an empty database to the whole schema", async () => {
    await migrateDatabase(url, { quiet: true });
    const sql = postgres(url, { max: 1 });
    const [row] = await sql<{ migrations: number; tables: number }[]>`
      select (select count(*)::int from graphile_migrate.migrations) as migrations,
             (select count(*)::int from pg_class where relnamespace = 'app'::regnamespace and relkind in ('r', 'p')
                and not relispartition) as tables`;
    await sql.end();
    expect(row?.migrations).toBeGreaterThan(0);
    expect(row?.tables).toBe(16);
  });

  test("a second run changes nothing (the schema dump is identical)", async () => {
    const before = schemaDump();
    await migrateDatabase(url, { quiet: true });
    const after = schemaDump();
    expect(after).toBe(before);
    expect(before).toContain("CREATE TABLE app.chunks");
  });

  test("functions/ and sql/ are applied after the migrations", async () => {
    const files = idempotentSqlFiles();
    expect(files.length).toBeGreaterThan(0);
    const sql = postgres(url, { max: 1 });
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_proc where pronamespace in ('api'::regnamespace, 'maint'::regnamespace, 'perf'::regnamespace)`;
    await sql.end();
    expect(row?.n).toBeGreaterThan(0);
  });

  test("an upgrade replaces a routine whose return type or parameters changed, grants included", async () => {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    // The database has an older api.knowledge_gap_stats: another return type and parameter name.
    await sql.unsafe(`
      drop function api.knowledge_gap_stats(bigint);
      create function api.knowledge_gap_stats(tenant bigint) returns integer language sql as 'select 1'`);
    await migrateDatabase(url, { quiet: true });
    const [row] = await sql<{ result: string; app_may: boolean }[]>`
      select pg_get_function_result('api.knowledge_gap_stats(bigint)'::regprocedure) as result,
             has_function_privilege('querybudget_app', 'api.knowledge_gap_stats(bigint)', 'execute') as app_may`;
    await sql.end();
    expect(row).toEqual({ result: "jsonb", app_may: true });
  });
});

describe("routinesDefinedIn", () => {
  test("names the functions and procedures a file creates, schema-qualified, once each", () => {
    const text = `
      create or replace function api.a(p bigint) returns int language sql as 'select 1';
      CREATE OR REPLACE PROCEDURE maint.b() language plpgsql as $$ begin end $$;
      create or replace function api.a(p text) returns int language sql as 'select 2';
      create function api.not_replaceable() returns int language sql as 'select 3';`;
    expect(routinesDefinedIn(text)).toEqual(["api.a", "maint.b"]);
  });
});
