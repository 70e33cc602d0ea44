// What the global setup hands to every test file.
export interface TestServer {
  /** Where the server came from: DATABASE_URL, a container or a throwaway local cluster. */
  kind: "external" | "container" | "local";
  /** The main database: migrated, pg_cron lives here. */
  url: string;
  /** The maintenance database, for CREATE DATABASE. */
  adminUrl: string;
  /** Migrated and seeded at the 10k tier; per-file databases are copies of it. */
  template: string;
  /** Rows the template was seeded with. */
  templateRows: number;
}

declare module "vitest" {
  export interface ProvidedContext {
    server: TestServer;
  }
}
