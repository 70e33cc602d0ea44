// What the global setup hands to every test file.

/** The seeded tiers: 10k rows (every test file's default) and 1M rows (plan and budget tests). */
export type Tier = "10k" | "1M";

export interface TierTemplate {
  /** The template database, migrated and seeded at this tier. */
  template: string;
  /** Rows (chunks and operations) it is seeded with. */
  rows: number;
  /**
   * false: made on first use (test/harness/global-setup.ts, ensureTierTemplate), by the first
   * test file that asks for the tier, so runs that do not need it do not pay for seeding it.
   */
  eager: boolean;
}

export interface TestServer {
  /** Where the server came from: DATABASE_URL, a container or a throwaway local cluster. */
  kind: "external" | "container" | "local";
  /** The main database: migrated, pg_cron lives here. */
  url: string;
  /** The maintenance database, for CREATE DATABASE. */
  adminUrl: string;
  /** Migrated and seeded at the 10k tier; per-file databases are copies of it (tiers["10k"].template). */
  template: string;
  /** Rows the template was seeded with. */
  templateRows: number;
  /** Every tier's template; `useTestDatabase(label, { tier: "1M" })` copies the 1M one. */
  tiers: Record<Tier, TierTemplate>;
  /**
   * PgBouncer in transaction pooling mode in front of the server (scripts/lib/pooler.ts),
   * started with it and stopped with it: `pooledUrl(db.url, role)` of test/harness/pooler.ts.
   * Absent when it could not start: `poolerError` says why (test/load.test.ts fails with it).
   */
  pooler?: { host: string; port: number; defaultPoolSize: number };
  poolerError?: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    server: TestServer;
  }
}
