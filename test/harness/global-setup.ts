// Once per test run: a server, the schema migrated into a template database and seeded at
// the 10k tier. Each test file then works in its own copy (test/harness/database.ts).
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { migrateDatabase } from "../../scripts/lib/migrate.ts";
import { seedDatabase } from "../../scripts/lib/seed.ts";
import { provisionServer } from "../../scripts/lib/server.ts";
import { withDatabase } from "../../scripts/lib/server-contract.ts";
import { elapsed, log } from "../../scripts/lib/log.ts";
import type { TestServer } from "./context.ts";

export const TEMPLATE = "querybudget_template";
export const TEMPLATE_ROWS = 10_000;

export default async function setup(project: TestProject) {
  const started = performance.now();
  const server = await provisionServer();
  try {
    const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${TEMPLATE}`);
    await admin.unsafe(`create database ${TEMPLATE}`);
    await admin.end();

    const templateUrl = withDatabase(server.url, TEMPLATE);
    await migrateDatabase(server.url, { quiet: true });
    await migrateDatabase(templateUrl, { quiet: true });
    const sql = postgres(templateUrl, { max: 1, onnotice: () => {} });
    await sql`create extension if not exists pgtap`;
    await seedDatabase(sql, { rows: TEMPLATE_ROWS, seed: 1 });
    await sql`checkpoint`;
    await sql.end();
    log(`test server ready: migrated, template seeded with ${TEMPLATE_ROWS} rows, ${elapsed(started)}`);
  } catch (error) {
    await server.stop();
    throw error;
  }
  const context: TestServer = { kind: server.kind, url: server.url, adminUrl: server.adminUrl, template: TEMPLATE, templateRows: TEMPLATE_ROWS };
  project.provide("server", context);
  return async () => {
    await server.stop();
  };
}
