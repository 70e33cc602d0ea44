// Once per test run: a server, the schema migrated into a template database and seeded at
// the 10k tier. Each test file then works in its own copy (test/harness/database.ts).
//
// The 1M tier (plan and budget tests: test/plans.test.ts, test/budgets.test.ts) has a template
// of its own, querybudget_template_1m, made on first use: the first test file that asks for it
// (`useTestDatabase(label, { tier: "1M" })`) migrates and seeds it (about 30 s, 45 s on busy
// cores) under an advisory lock, and later ones find it ready. A run of files that do not need
// it (the usual `npx vitest run test/x.test.ts`) does not pay for it.
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { migrateDatabase } from "../../scripts/lib/migrate.ts";
import { seedDatabase } from "../../scripts/lib/seed.ts";
import { startPooler, type Pooler } from "../../scripts/lib/pooler.ts";
import { provisionServer } from "../../scripts/lib/server.ts";
import { withDatabase } from "../../scripts/lib/server-contract.ts";
import { elapsed, log } from "../../scripts/lib/log.ts";
import type { TestServer, Tier, TierTemplate } from "./context.ts";

export const TEMPLATE = "querybudget_template";
export const TEMPLATE_ROWS = 10_000;
export const TEMPLATE_1M = "querybudget_template_1m";
export const TEMPLATE_1M_ROWS = 1_000_000;

/** Drops and makes `name`: migrated, pgTAP, seeded (seed 1), every page all-visible, checkpointed. No connection left open. */
async function buildTemplate(
  server: { url: string; adminUrl: string },
  name: string,
  rows: number,
): Promise<void> {
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(server.url, name);
  await migrateDatabase(url, { quiet: true });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`create extension if not exists pgtap`;
    // The seed ends with every page all-visible and written out: copies are made from the files.
    await seedDatabase(sql, { rows, seed: 1 });
  } finally {
    await sql.end();
  }
}

/**
 * Makes sure the tier's template exists and is complete; builds it if not. Safe to call from
 * several test files at once: the first builds it under an advisory lock (held on a connection
 * to the maintenance database), the others wait for the lock and then find it ready. A
 * finished template is marked `is_template` (the mark is set last, so a build that died half
 * way is rebuilt).
 */
export async function ensureTierTemplate(
  server: TestServer,
  tier: Tier,
): Promise<TierTemplate> {
  const t = server.tiers[tier];
  if (t.eager) return t;
  const lock = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  try {
    await lock`select pg_advisory_lock(hashtextextended(${`querybudget:template:${t.template}`}, 0))`;
    const [ready] = await lock<{ ready: boolean }[]>`
      select exists (select from pg_database where datname = ${t.template} and datistemplate) as ready`;
    if (!ready?.ready) {
      const started = performance.now();
      await buildTemplate(server, t.template, t.rows);
      await lock.unsafe(`alter database ${t.template} is_template true`);
      log(
        `template ${t.template} migrated and seeded with ${t.rows.toLocaleString("en-US")} rows, ${elapsed(started)}`,
      );
    }
  } finally {
    await lock.end();
  }
  return t;
}

export default async function setup(project: TestProject) {
  const started = performance.now();
  // The suite runs on the local cluster unless QB_SERVER or DATABASE_URL says otherwise: a
  // running container engine must not move it (test/container.test.ts tests that path).
  const server = await provisionServer({ defaultPath: "local" });
  try {
    await migrateDatabase(server.url, { quiet: true });
    await buildTemplate(server, TEMPLATE, TEMPLATE_ROWS);
    // A 1M template left by an earlier run against the same DATABASE_URL would hold old data
    // (seeded relative to another now()): made afresh on first use.
    const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
    try {
      await admin
        .unsafe(`alter database ${TEMPLATE_1M} is_template false`)
        .catch(() => {});
      await admin.unsafe(`drop database if exists ${TEMPLATE_1M} with (force)`);
    } finally {
      await admin.end();
    }
    log(
      `test server ready: migrated, template seeded with ${TEMPLATE_ROWS} rows, ${elapsed(started)} (the 1M template is made on first use)`,
    );
  } catch (error) {
    await server.stop();
    throw error;
  }
  // The pooler beside it (test/load.test.ts): a failure to start it fails that test, not the run.
  let pooler: Pooler | undefined;
  let poolerError: string | undefined;
  try {
    pooler = await startPooler(server);
  } catch (error) {
    poolerError = error instanceof Error ? error.message : String(error);
    log(`pgbouncer did not start: ${poolerError}`);
  }
  const context: TestServer = {
    kind: server.kind,
    url: server.url,
    adminUrl: server.adminUrl,
    template: TEMPLATE,
    templateRows: TEMPLATE_ROWS,
    tiers: {
      "10k": { template: TEMPLATE, rows: TEMPLATE_ROWS, eager: true },
      "1M": { template: TEMPLATE_1M, rows: TEMPLATE_1M_ROWS, eager: false },
    },
    pooler: pooler && {
      host: pooler.host,
      port: pooler.port,
      defaultPoolSize: pooler.settings.default_pool_size,
    },
    poolerError,
  };
  project.provide("server", context);
  return async () => {
    await pooler?.stop();
    await server.stop();
  };
}
