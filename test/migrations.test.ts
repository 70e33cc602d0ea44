// Migrations: from scratch to the full schema, and a second run changes nothing.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { migrateDatabase } from "../scripts/lib/migrate.ts";
import { PG_BIN, withDatabase } from "../scripts/lib/server-contract.ts";
import {
  idempotentSqlFiles,
  ROOT,
  routinesDefinedIn,
} from "../scripts/lib/sql-files.ts";

const name = `qb_migrate_${process.pid}`;
let url: string;

function schemaDump(): string {
  const r = spawnSync(
    join(PG_BIN, "pg_dump"),
    ["--schema-only", "--no-owner", "--restrict-key=querybudget", "-d", url],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
}

beforeAll(async () => {
  const admin = postgres(inject("server").adminUrl, {
    max: 1,
    onnotice: () => {},
  });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  url = withDatabase(inject("server").url, name);
});

afterAll(async () => {
  const admin = postgres(inject("server").adminUrl, {
    max: 1,
    onnotice: () => {},
  });
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
});

describe("graphile-migrate", () => {
  test("migrates an empty database to the whole schema", async () => {
    await migrateDatabase(url, { quiet: true });
    const sql = postgres(url, { max: 1 });
    const [row] = await sql<{ migrations: number; tables: string[] }[]>`
      select (select count(*)::int from graphile_migrate.migrations) as migrations,
             (select array_agg(relname::text order by relname) from pg_class where relnamespace = 'app'::regnamespace
                and relkind in ('r', 'p') and not relispartition) as tables`;
    await sql.end();
    // the tables the committed migrations create, read from their text
    const dir = join(ROOT, "migrations", "committed");
    const created = readdirSync(dir)
      .flatMap((f) =>
        [
          ...readFileSync(join(dir, f), "utf8").matchAll(
            /create table (?:if not exists )?app\.(\w+)/gi,
          ),
        ].map((m) => m[1]!),
      )
      .sort();
    expect(row?.migrations).toBeGreaterThan(0);
    expect(created.length).toBeGreaterThan(15);
    expect(row?.tables).toEqual(created);
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

describe("upgrades that create or replace cannot do alone", () => {
  test("a parameter added to a routine leaves no stale overload behind (calls stay unambiguous), grants included", async () => {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    // The database has the older api.workflows_by_status, without p_before_id: `create or
    // replace` of the new one would add a second overload instead of failing.
    await sql.unsafe(`
      drop function api.workflows_by_status(bigint, text, timestamptz, integer, bigint);
      create function api.workflows_by_status(p_tenant_id bigint, p_status text, p_before timestamptz default null, p_limit integer default 50)
      returns setof app.workflows language sql as 'select * from app.workflows where false'`);
    await migrateDatabase(url, { quiet: true });
    const rows = await sql<{ routine: string; app_may: boolean }[]>`
      select p.oid::regprocedure::text as routine, has_function_privilege('querybudget_app', p.oid, 'execute') as app_may
      from pg_proc p where p.pronamespace = 'api'::regnamespace and p.proname = 'workflows_by_status'`;
    await sql.end();
    expect(rows).toEqual([
      {
        routine:
          "api.workflows_by_status(bigint,text,timestamp with time zone,integer,bigint)",
        app_may: true,
      },
    ]);
  });

  test("an index made on only a partitioned parent is finished: each partition's built and attached, the parent valid", async () => {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    // as if the last migration had stopped after `create index ... on only app.messages`
    await sql.unsafe(`
      drop index app.messages_tenant_id_conversation_id_created_at_id_idx;
      create index messages_tenant_id_conversation_id_created_at_id_idx on only app.messages (tenant_id, conversation_id, created_at, id)`);
    const [before] = await sql<{ valid: boolean }[]>`
      select indisvalid as valid from pg_index where indexrelid = 'app.messages_tenant_id_conversation_id_created_at_id_idx'::regclass`;
    expect(before!.valid).toBe(false);
    await migrateDatabase(url, { quiet: true });
    const [after] = await sql<
      { valid: boolean; attached: number; partitions: number }[]
    >`
      select i.indisvalid as valid,
             (select count(*)::int from pg_inherits h where h.inhparent = i.indexrelid) as attached,
             (select count(*)::int from pg_inherits h where h.inhparent = 'app.messages'::regclass) as partitions
      from pg_index i where i.indexrelid = 'app.messages_tenant_id_conversation_id_created_at_id_idx'::regclass`;
    await sql.end();
    expect(after).toEqual({
      valid: true,
      attached: after!.partitions,
      partitions: after!.partitions,
    });
    expect(after!.partitions).toBeGreaterThan(1);
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
