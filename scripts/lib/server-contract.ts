// What querybudget needs of a PostgreSQL server, wherever it comes from.

export const PG_MAJOR = 15;
export const PG_BIN = `/usr/lib/postgresql/${PG_MAJOR}/bin`;

/** The database every entry point works in; pg_cron is told to live there too. */
export const MAIN_DATABASE = "querybudget";

/** Loaded at server start: pg_cron's scheduler, statement statistics, plans of nested statements. */
export const PRELOAD_LIBRARIES = [
  "pg_cron",
  "pg_stat_statements",
  "auto_explain",
] as const;

/** Extensions the server must offer, and the Debian package that brings each. */
export const REQUIRED_EXTENSIONS: Record<string, string> = {
  pg_cron: "postgresql-15-cron",
  pg_stat_statements: "postgresql-contrib",
  pgtap: "postgresql-15-pgtap",
  hypopg: "postgresql-15-hypopg",
  pg_partman: "postgresql-15-partman",
};

export interface Server {
  kind: "external" | "container" | "local";
  /** The querybudget database. */
  url: string;
  /** The maintenance database (postgres), for CREATE DATABASE and friends. */
  adminUrl: string;
  /** Unix socket folder, when there is one we started. */
  socketDir?: string;
  logFile?: string;
  serverLog?: () => string;
  stop(): Promise<void>;
}

/** The same URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
